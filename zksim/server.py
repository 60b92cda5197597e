"""TCP and UDP front of the terminal: sessions, framing, realtime events and faults.

One background thread owns every socket. Other threads (tests, the asyncio loop) only
post work to it, so no socket is ever touched by two threads.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import errno
import functools
import itertools
import logging
import math
import queue
import random
import selectors
import socket
import struct
import threading
import time
from typing import Protocol

from . import protocol as p
from .commands import After, PendingEvent, Reply, Session, handle
from .terminal import Terminal

_LOGGER = logging.getLogger(__name__)

TICK = 0.02  # resolution of timers: event retries, timeouts, demo presses
EVENT_RETRY_AFTER = 1.0  # an unacknowledged realtime event is sent again after this long
EVENT_TRIES = 3
SEGMENT_PAUSE = 0.005  # between the pieces of a reply cut by tcp_segment: each is read alone
SEND_TIMEOUT = 5.0  # a client that stops reading must not hang the terminal
UDP_PORT_ATTEMPTS = 20


class _Link(Protocol):
    """How packets reach one client: wire() frames them, transmit() sends the frames."""

    def wire(self, packets: list[bytes]) -> list[bytes]: ...

    def transmit(self, frames: list[bytes]) -> None: ...


class _TcpLink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rx = bytearray()

    def wire(self, packets: list[bytes]) -> list[bytes]:
        # One buffer per reply, sent with one sendall: pyzk reads a reply with one recv().
        return [b"".join(p.tcp_frame(packet) for packet in packets)]

    def transmit(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.sock.sendall(frame)

    def close(self, reset: bool = False) -> None:
        if reset:
            # RST, not FIN: pyzk loops forever on recv() == b"" in the middle of a transfer.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


class _UdpLink:
    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self.sock = sock
        self.address = address

    def wire(self, packets: list[bytes]) -> list[bytes]:
        return packets

    def transmit(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.sock.sendto(frame, self.address)


def _first_half(frames: list[bytes]) -> list[bytes]:
    """What leaves before the line drops: half the datagrams, or half the TCP bytes."""
    if len(frames) > 1:
        return frames[: len(frames) // 2]
    return [frames[0][: len(frames[0]) // 2]]


@dataclass(eq=False)
class _TcpConnection:
    link: _TcpLink
    session: Session | None = None


class Server:
    """Serves one Terminal on a TCP port and, optionally, the same UDP port."""

    def __init__(self, terminal: Terminal, host: str, port: int, udp: bool) -> None:
        self._terminal = terminal
        self._host = host
        self._requested_port = port
        self._udp_enabled = udp
        self.port = 0
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._tcp: dict[socket.socket, _TcpConnection] = {}
        self._sessions: dict[int, Session] = {}
        self._links: dict[int, _Link] = {}
        self._posted: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._boot_until = 0.0
        self.reboots = 0
        self._session_ids = itertools.count(random.randint(0x100, 0x7FFF))

    # -- lifecycle (any thread) -------------------------------------------------------
    def start(self) -> None:
        """Bind and serve; a stopped server cannot be started again."""
        self._bind()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, self._drain_wake)
        self._thread = threading.Thread(target=self._run, name=f"zksim:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            self._selector.close()  # never started (or already stopped): nothing else is open
            return
        self._stop.set()
        self._wake()
        self._thread.join()
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _bind(self) -> None:
        """TCP first (it picks the ephemeral port), then UDP on the same number."""
        for _attempt in range(UDP_PORT_ATTEMPTS):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._requested_port))
            listener.listen(16)
            port = listener.getsockname()[1]
            try:
                self._udp = self._bind_udp(port)
            except OSError as err:
                listener.close()
                if err.errno != errno.EADDRINUSE or self._requested_port:
                    raise
                continue
            self._listener, self.port = listener, port
            listener.setblocking(False)
            self._selector.register(listener, selectors.EVENT_READ, self._accept)
            if self._udp is not None:
                self._selector.register(self._udp, selectors.EVENT_READ, self._read_udp)
            return
        raise OSError(errno.EADDRINUSE, "no port free for both TCP and UDP")

    def _bind_udp(self, port: int) -> socket.socket | None:
        if not self._udp_enabled:
            return None
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((self._host, port))
        except OSError:
            udp.close()
            raise
        return udp

    # -- cross-thread entry points ------------------------------------------------------
    def post(self, work: Callable[[], None]) -> None:
        self._posted.put(work)
        self._wake()

    def _wake(self) -> None:
        if self._wake_writer is None:
            return  # not started yet: the posted work runs once the loop does
        # BlockingIOError: the socketpair is full of wake-ups, the loop is awake anyway;
        # OSError: the loop has already ended and closed it.
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\x00")

    def emit(self, event: int, payload: bytes, target: int | None) -> None:
        """Event sink of the Terminal: queue a realtime event for delivery."""
        self.post(functools.partial(self._queue_event, event, payload, target))

    def reboot(self, duration: float) -> None:
        """Down at once, and for ``duration`` after the sessions dropped: a client that waits
        for the end of the reboot never finds its old session still open."""
        self._boot_until = math.inf
        self.post(functools.partial(self._power_cycle, duration))

    @property
    def rebooting(self) -> bool:
        return time.monotonic() < self._boot_until

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # -- loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _mask in self._selector.select(TICK):
                    key.data(key.fileobj)
                self._run_posted()
                self._tick(time.monotonic())
        finally:
            self._drop_everything()
            self._close_sockets()

    def _run_posted(self) -> None:
        while not self._posted.empty():
            self._posted.get_nowait()()

    def _power_cycle(self, duration: float) -> None:
        self._drop_everything()
        self._boot_until = time.monotonic() + duration
        self.reboots += 1

    def _drain_wake(self, sock: socket.socket) -> None:
        sock.recv(4096)

    def _close_sockets(self) -> None:
        self._selector.close()
        for sock in (self._listener, self._udp, self._wake_reader, self._wake_writer):
            if sock is not None:
                sock.close()

    def _tick(self, now: float) -> None:
        self._terminal.tick(now)
        self._retry_events(now)
        timeout = self._terminal.session_timeout
        if timeout is not None:
            for session in list(self._sessions.values()):
                if now - session.last_seen > timeout:
                    self._end_session(session)

    # -- TCP ----------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _address = listener.accept()
        except BlockingIOError:
            return
        if self.rebooting:
            sock.close()
            return
        sock.settimeout(SEND_TIMEOUT)
        connection = _TcpConnection(_TcpLink(sock))
        self._tcp[sock] = connection
        self._selector.register(
            sock, selectors.EVENT_READ, functools.partial(self._read_tcp, connection)
        )

    def _read_tcp(self, connection: _TcpConnection, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data or self.rebooting:
            self._drop_tcp(connection)
            return
        self._terminal.bytes_in += len(data)
        connection.link.rx += data
        try:
            frames = list(p.split_tcp_frames(connection.link.rx))
        except p.TcpFramingError:
            self._drop_tcp(connection)
            return
        for frame in frames:
            if sock not in self._tcp:
                return  # an earlier frame ended the connection
            connection.session = self._on_frame(frame, connection.link, connection.session, True)

    def _drop_tcp(self, connection: _TcpConnection, reset: bool = False) -> None:
        sock = connection.link.sock
        if self._tcp.pop(sock, None) is None:
            return
        self._selector.unregister(sock)
        connection.link.close(reset)
        if connection.session is not None:
            self._forget_session(connection.session)

    # -- UDP ----------------------------------------------------------------------------
    def _read_udp(self, sock: socket.socket) -> None:
        try:
            frame, address = sock.recvfrom(65536)
        except OSError:
            return
        self._terminal.bytes_in += len(frame)
        if self.rebooting or len(frame) < p.HEADER_SIZE:
            return
        session_id = p.HEADER.unpack_from(frame)[2]
        session = self._sessions.get(session_id)
        link = self._links.get(session_id) if session else None
        if link is None or getattr(link, "address", None) != address:
            session, link = None, _UdpLink(sock, address)
        self._on_frame(frame, link, session, False)

    # -- packets --------------------------------------------------------------------------
    def _on_frame(
        self, frame: bytes, link: _Link, session: Session | None, tcp: bool
    ) -> Session | None:
        """Handle one packet; returns the session bound to the link afterwards."""
        if len(frame) < p.HEADER_SIZE:
            return session
        packet = p.parse_packet(frame)
        if not packet.checksum_ok:
            return session  # a damaged packet is dropped silently, like the firmware does
        self._terminal.commands.append(packet.command)
        if self._terminal.unresponsive:
            return session
        if packet.command == p.CMD_CONNECT:
            return self._connect(packet, link, session, tcp)
        if session is None:
            self._send(link, packet, Reply([(p.CMD_ACK_UNAUTH, b"")]), packet.session_id)
            return None
        session.last_seen = time.monotonic()
        if packet.command == p.CMD_ACK_OK:
            self._event_acknowledged(session)  # the client acknowledges a realtime event
            return session
        if packet.command in self._terminal.dropped_commands:
            self._end_session(session, reset=True)
            return None
        if packet.command in self._terminal.refused_commands:
            reply = Reply([(p.CMD_ACK_ERROR, b"")])
        else:
            try:
                reply = handle(self._terminal, session, packet.command, packet.payload)
            except (struct.error, ValueError, KeyError):
                _LOGGER.exception("command %s failed", packet.command)
                reply = Reply([(p.CMD_ACK_ERROR, b"")])
        if packet.command in self._terminal.lost_replies:
            self._end_session(session, reset=True)
            return None
        return self._reply(session, link, packet, reply)

    def _connect(
        self, packet: p.Packet, link: _Link, previous: Session | None, tcp: bool
    ) -> Session | None:
        if previous is not None:
            self._forget_session(previous)
        limit = self._terminal.max_sessions
        if limit is not None and len(self._sessions) >= limit:
            # A busy terminal refuses with CMD_ACK_ERROR and hangs up (pyzk: ZKErrorResponse).
            self._send(link, packet, Reply([(p.CMD_ACK_ERROR, b"")]), 0)
            self._close_link(link)
            return None
        sid = self._new_session_id()
        keyed = bool(self._terminal.comm_key)
        session = Session(sid, tcp, authenticated=not keyed, last_seen=time.monotonic())
        self._sessions[sid] = session
        self._links[sid] = link
        answer = p.CMD_ACK_UNAUTH if keyed else p.CMD_ACK_OK
        self._send(link, packet, Reply([(answer, b"")]), sid)
        return session

    def _new_session_id(self) -> int:
        while True:
            sid = next(self._session_ids) % 0xFFFF or 1
            if sid not in self._sessions:
                return sid

    def _reply(
        self, session: Session, link: _Link, packet: p.Packet, reply: Reply
    ) -> Session | None:
        if reply.buffered and self._terminal.drop_in_buffered_read:
            self._terminal.drop_in_buffered_read = False
            self._send(link, packet, reply, session.sid, first_half=True)
            self._end_session(session, reset=True)
            return None
        if reply.after is After.REBOOT:
            # Restarting from its answer on: whoever has read it finds the terminal down.
            self.reboot(self._terminal.reboot_duration)
        self._send(link, packet, reply, session.sid)
        if reply.after is After.CLOSE:
            self._end_session(session)
            return None
        if reply.after is After.REBOOT:
            self._terminal.reset_runtime_state()
        return session

    def _send(
        self, link: _Link, request: p.Packet, reply: Reply, sid: int, first_half: bool = False
    ) -> None:
        if self._terminal.reply_delay:
            self._stop.wait(self._terminal.reply_delay)
        corrupt = self._terminal.corrupt_checksum > 0
        if corrupt:
            self._terminal.corrupt_checksum -= 1
        packets = [
            p.build_packet(
                command,
                reply.session_fields.get(index, sid),
                request.reply_id,
                payload,
                corrupt=corrupt,
                plain=self._terminal.plain_checksum,
            )
            for index, (command, payload) in enumerate(reply.packets)
        ]
        frames = link.wire(packets)
        if first_half:
            frames = _first_half(frames)
        try:
            self._transmit(link, frames)
        except OSError:
            _LOGGER.debug("client went away while we answered %s", request.command)

    def _transmit(self, link: _Link, frames: list[bytes]) -> None:
        # Counted before sending: a client that compares right after reading sees it all.
        self._terminal.bytes_out += sum(map(len, frames))
        segment = self._terminal.tcp_segment
        if not (segment and isinstance(link, _TcpLink)):
            link.transmit(frames)
            return
        link.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece goes now
        stream = b"".join(frames)
        for start in range(0, len(stream), segment):
            if start:
                self._stop.wait(SEGMENT_PAUSE)
            link.transmit([stream[start : start + segment]])

    # -- sessions -----------------------------------------------------------------------
    def _close_link(self, link: _Link) -> None:
        if isinstance(link, _TcpLink):
            connection = self._tcp.get(link.sock)
            if connection is not None:
                self._drop_tcp(connection)

    def _end_session(self, session: Session, reset: bool = False) -> None:
        link = self._links.get(session.sid)
        if isinstance(link, _TcpLink) and link.sock in self._tcp:
            self._drop_tcp(self._tcp[link.sock], reset)
        else:
            self._forget_session(session)

    def _forget_session(self, session: Session) -> None:
        if self._sessions.pop(session.sid, None) is not None:
            self._links.pop(session.sid, None)
            self._terminal.session_closed(session.sid)

    def _drop_everything(self) -> None:
        for connection in list(self._tcp.values()):
            self._drop_tcp(connection)
        for session in list(self._sessions.values()):
            self._forget_session(session)

    # -- realtime events ----------------------------------------------------------------
    def _queue_event(self, event: int, payload: bytes, target: int | None) -> None:
        """Attendance goes to sessions registered for it; enrollment to the enroller."""
        packet = p.build_packet(
            p.CMD_REG_EVENT, event, 0, payload, plain=self._terminal.plain_checksum
        )
        for session in list(self._sessions.values()):
            if target is None:
                wanted = session.authenticated and bool(session.event_mask & event)
            else:
                wanted = session.sid == target
            if wanted:
                session.outbox.append(packet)
                self._pump(session)

    def _pump(self, session: Session) -> None:
        """Send queued events while fewer than event_window await their ACK."""
        while session.outbox and len(session.in_flight) < self._terminal.event_window:
            packet = session.outbox.popleft()
            session.in_flight.append(PendingEvent(packet, time.monotonic()))
            self._send_event(session, packet)
            event, payload = p.HEADER.unpack_from(packet)[2], packet[p.HEADER_SIZE :]
            self._terminal.events_sent.append((time.perf_counter(), event, payload))

    def _send_event(self, session: Session, packet: bytes) -> None:
        link = self._links.get(session.sid)
        if link is None or self._terminal.unresponsive:
            return
        try:
            self._transmit(link, link.wire([packet]))
        except OSError:
            self._end_session(session)

    def _event_acknowledged(self, session: Session) -> None:
        # ACKs carry no event id (reply number 0 both ways): they match in order.
        if session.in_flight:
            session.in_flight.popleft()
            self._pump(session)

    def _retry_events(self, now: float) -> None:
        for session in list(self._sessions.values()):
            due = [e for e in session.in_flight if now - e.sent_at >= EVENT_RETRY_AFTER]
            for event in due:
                if event.tries >= EVENT_TRIES:
                    session.in_flight.remove(event)  # given up: the client is not listening
                    continue
                event.sent_at, event.tries = now, event.tries + 1
                self._send_event(session, event.packet)
            if due:
                self._pump(session)
