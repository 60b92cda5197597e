"""The one module that talks to pyzk, and the home of every workaround for its bugs.

Everything here is synchronous and runs on the terminal's worker thread, never in the event loop.

What pyzk 0.9 gets wrong, and what we do instead:
- ``connect()`` pings through a subprocess unless told not to, probes the port with a second
  connection that waits 10 s, and ignores a refused TCP connection until the first send. We open
  the socket ourselves with the configured timeout (pyzk's default is 60 s).
- Its UDP socket is not connected: a datagram from any address is taken for the terminal's, so
  anyone on the network can fire punches. Ours is connected to the terminal. Its TCP session has
  no keepalive; ours has, so a terminal that vanished is noticed while the session is idle. Its
  TCP socket keeps Nagle on, so a command sent right after a realtime event's acknowledgement
  waits for the terminal's delayed ACK; ours has TCP_NODELAY.
- A reply is read with one ``recv()``: TCP may split or join packets, and a realtime event that
  arrives just before the reply is taken for the reply. The length a TCP frame announces is
  trusted, up to 4 GiB. We read whole frames of at most 64 KiB, check the reply's checksum (in
  the SDK's form or the plain one) and set realtime events aside for the event reader.
- Buffered reads (``read_with_buffer``) reassemble chunks by guessing at partial TCP reads; ours
  reads frame by frame.
- ``get_attendance()`` reads every user and matches each record with a linear search (minutes at
  100,000 records and 3,000 users), decodes all of the log, and fails on all of it for one record
  with an impossible date (pyzk #175, #244); we decode only the records asked for, and a record
  that cannot be decoded reads as None.
- ``get_users()`` and ``get_attendance()`` take the row layout from the table's size divided by
  the row counter read before the transfer, which a row added or deleted in between breaks; we
  check it against the counter read after. ``get_users()`` also names a user without a name
  "NN-<user id>"; we keep the name empty, and do not keep the password at all.
- ``enroll_user()`` blocks for minutes, leaves the terminal in enrollment mode on a socket
  timeout, assumes each read returns exactly one event and returns only a bool. We start the
  enrollment and read its events like any other realtime event; the caller owns the outcome.
- ``live_capture()`` parses some event sizes only (0.9: not the 10 and 14 bytes of ZEM560 and
  ZEM300), assumes one event per read, and fails on a punch with an impossible date.
- ``set_user()`` and ``save_user_template()`` pick the user row layout from a guess that only
  pyzk's own connect (over TCP) or ``get_users()`` corrects: over UDP they write 28-byte rows
  to a terminal of 72-byte ones. ``set_user()`` also turns any privilege but 0 and 14 into 0,
  wipes the password and group it is not given, and silently cuts or drops what does not fit
  or encode. We read the user's row and write it back with only the given fields changed,
  and refuse what the row cannot hold before anything is written (the rows: rows.py).
- ``delete_user_template(user_id=...)`` over TCP packs the user id as a str and dies in
  ``struct.pack``; ``delete_user()``, ``delete_user_template()`` and ``get_user_template()``
  pack the uid signed (uids above 32767 fail). We send those commands ourselves.
- ``save_user_template()`` rebuilds the user from pyzk's ``User`` (dropping bytes it does not
  know), and its ``Finger`` repr shows template bytes: we upload the terminal's own row and
  the templates from bytes that never enter a repr, log or exception message.
- ``get_user_extend_fmt()`` answers a refusal by sending reply codes as commands;
  ``get_pin_width()`` fails on a width of 0; ``restart()`` waits for an ACK that zk-protocol
  says terminals do not send.

pyzk ships no type information: ``_PyZK`` declares the part of it we use, so that its ``Any``
stays in this module.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
import select
import socket
import struct
from typing import TYPE_CHECKING, Any, Final, Self, TypedDict, cast

from zk import ZK, const
from zk.base import make_commkey
from zk.exception import ZKError, ZKErrorResponse, ZKNetworkError

from ..channel import (
    Counters,
    EnrollmentOutcome,
    EnrollmentResult,
    FingerScored,
    FingerTemplate,
    Punch,
    TerminalAuthError,
    TerminalConnectionError,
    TerminalError,
    TerminalInfo,
    TerminalInputError,
    TerminalRefusedError,
    TerminalUndeliveredError,
    TerminalUnknownUserError,
    TerminalUser,
    TerminalWriteUncertainError,
    UserChanges,
)
from ..const import CONNECT_TIMEOUT, LOGGER
from .rows import (
    FINGERS,
    USER_LAYOUTS,
    EnrolledFinger,
    changed_row,
    check_fingers,
    check_templates,
    enrolled_fingers,
    new_user_row,
    nul_terminated,
    table_row_size,
    template_of,
    user_change,
    user_upload,
)

# EF_ENROLLFINGER's result, as the firmware reports it (the old firmware's ERR_ENROLLED=2,
# ERR_FAIL=4, ERR_REPEAT=5, ERR_CANCEL=6, and 7 busy); anything else is a plain failure.
ENROLL_OUTCOMES: Final = {
    0: EnrollmentOutcome.SUCCESS,
    2: EnrollmentOutcome.ALREADY_ENROLLED,
    4: EnrollmentOutcome.CAPTURE_FAILED,
    5: EnrollmentOutcome.DUPLICATE,
    6: EnrollmentOutcome.TIMEOUT_OR_CANCELLED,
    7: EnrollmentOutcome.BUSY,
}
_TCP_TOP: Final = struct.Struct("<HHI")
_HEADER: Final = struct.Struct("<4H")
_CMD_PREPARE_BUFFER: Final = 1503
_CMD_READ_BUFFER: Final = 1504
_CMD_GET_USER_TEMPLATE: Final = 88
_CMD_SAVE_USER_TEMPLATES: Final = 110
# What pyzk's save_user_template and HR_save_usertemplates send with it (meaning undocumented).
_SAVE_USER_TEMPLATES_ARGUMENTS: Final = struct.pack("<IHH", 12, 0, 8)
_CMD_DELETE_TEMPLATE_BY_USER_ID: Final = 134  # zk-protocol's CMD_DEL_FPTMP
_DELETE_TEMPLATE_BY_USER_ID: Final = struct.Struct("<24sB")
_UID_AND_FINGER: Final = struct.Struct("<Hb")
_UID: Final = struct.Struct("<H")
_TCP_MAX_CHUNK: Final = 0xFFC0
# zk-protocol (protocol.md, "Packet Fields") documents the length as 2 bytes and 2 zero bytes,
# and the SDK's chunks (0xFFC0 bytes and a header) fit in it: a longer frame is a corrupt length.
_TCP_MAX_PACKET: Final = 0xFFFF
# A session that stays silent is probed after a minute, then every 10 s: a terminal that lost
# power or its network is noticed within 90 s, and the realtime session opened again.
_TCP_KEEPALIVE: Final = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
_UDP_MAX_CHUNK: Final = 16 * 1024
_UDP_MAX_DATAGRAM: Final = 65535

EVENT_MASK: Final[int] = const.EF_ATTLOG | const.EF_ENROLLFINGER | const.EF_FPFTR
UNLOCK_SECONDS: Final = range(1, 61)


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    """How to reach one terminal."""

    host: str
    port: int
    comm_key: int = 0
    udp: bool = False
    timeout: float = CONNECT_TIMEOUT


class AttendanceLog:
    """The terminal's whole log as transferred; records are decoded only when asked for.

    A record that cannot be decoded reads as None: real terminals log impossible dates such as
    30 February (pyzk issues 175 and 244), and one such record must not hide the others.
    """

    def __init__(
        self, total: int, records: bytes, decode: Callable[[bytes], list[Punch | None]], size: int
    ) -> None:
        self.total = total
        self._records = records
        self._decode = decode
        self._size = size

    def punches(self, first: int = 0) -> list[Punch | None]:
        """The records from index ``first`` on, oldest first."""
        return self._decode(self._records[first * self._size :])

    def punch(self, index: int) -> Punch | None:
        return self._decode(self._records[index * self._size : (index + 1) * self._size])[0]

    def newest(self, end: int | None = None) -> Punch | None:
        """The newest record that can be read, among the first ``end`` (all by default)."""
        last = self.total if end is None else min(end, self.total)
        return next(filter(None, map(self.punch, range(last - 1, -1, -1))), None)

    def oldest(self) -> Punch | None:
        """The oldest record that can be read."""
        return next(filter(None, map(self.punch, range(self.total))), None)


_EMPTY_LOG: Final = AttendanceLog(0, b"", lambda _: [], 1)


type TerminalEvent = Punch | FingerScored | EnrollmentResult


def checksum(packet: bytes) -> int:
    """ZK checksum of a packet (header with a zero checksum, then payload).

    The same arithmetic as pyzk's ``__create_checksum``, without its quadratic slicing.
    """
    words = struct.unpack_from(f"<{len(packet) // 2}H", packet)
    total = sum(words) + (packet[-1] if len(packet) % 2 else 0)
    folded = 0 if total == 0 else (total - 1) % 0xFFFF + 1
    result = ~folded
    while result < 0:
        result += 0xFFFF
    return result


def decode_time(value: int) -> datetime:
    """Decode the terminal's packed timestamp (zkemsdk's DecodeTime)."""
    value, second = divmod(value, 60)
    value, minute = divmod(value, 60)
    value, hour = divmod(value, 24)
    value, day = divmod(value, 31)
    year, month = divmod(value, 12)
    return datetime(year + 2000, month + 1, day + 1, hour, minute, second)


def _decode_time_bytes(raw: bytes) -> datetime:
    return decode_time(int.from_bytes(raw, "little"))


class _Reply(TypedDict):
    """What pyzk's commands expect from its ``__send_command``."""

    status: bool
    code: int


if TYPE_CHECKING:

    class _PyZK:
        """The part of pyzk 0.9's ``ZK`` we use, with the types it has at run time.

        Attributes named ``_ZK__*`` are its private ones, as name mangling spells them.
        """

        tcp: bool
        is_connect: bool
        users: int
        fingers: int
        records: int
        cards: int
        users_cap: int
        fingers_cap: int
        rec_cap: int
        _ZK__address: tuple[str, int]
        _ZK__timeout: float
        _ZK__password: int
        _ZK__sock: socket.socket
        _ZK__session_id: int
        _ZK__reply_id: int
        _ZK__header: tuple[int, ...]
        _ZK__response: int
        _ZK__data: bytes
        _ZK__data_recv: bytes
        _ZK__tcp_length: int

        def __init__(
            self,
            ip: str,
            port: int,
            timeout: float,
            password: int,
            force_udp: bool,
            ommit_ping: bool,
        ) -> None: ...
        def _ZK__create_header(
            self, command: int, command_string: bytes, session_id: int, reply_id: int
        ) -> bytes: ...
        def read_sizes(self) -> bool: ...
        def get_serialnumber(self) -> str: ...
        def get_device_name(self) -> str: ...
        def get_firmware_version(self) -> str: ...
        def get_platform(self) -> str: ...
        def get_mac(self) -> str: ...
        def get_time(self) -> datetime: ...
        def set_time(self, timestamp: datetime) -> bool: ...
        def reg_event(self, flags: int) -> None: ...
        def cancel_capture(self) -> bool: ...
        def enable_device(self) -> bool: ...
        def free_data(self) -> bool: ...
        def refresh_data(self) -> bool: ...
        def unlock(self, time: int) -> bool: ...
        def clear_attendance(self) -> bool: ...
        def _send_with_buffer(self, buffer: bytes) -> None: ...

else:
    _PyZK = ZK


class _FramedZK(_PyZK):
    """pyzk's client with a transport that reads whole frames and sets realtime events aside."""

    def __init__(self, config: TerminalConfig) -> None:
        super().__init__(
            config.host,
            port=config.port,
            timeout=config.timeout,
            password=config.comm_key,
            force_udp=config.udp,
            ommit_ping=True,
        )
        self.pending_events: deque[tuple[int, bytes]] = deque()
        # Called when a realtime event was set aside while a command waited for its reply.
        self.on_event_set_aside: Callable[[], None] | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def sock(self) -> socket.socket:
        return self._ZK__sock

    def connect(self) -> Self:
        """Open the session like pyzk does, minus the ping and the second probe connection."""
        self.sock.close()  # pyzk opened a UDP socket in __init__ that we do not use
        if self.tcp:
            self._ZK__sock = socket.create_connection(self._ZK__address, timeout=self._ZK__timeout)
            _keep_alive(self.sock)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self._ZK__sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.settimeout(self._ZK__timeout)
            # Connected, the socket takes datagrams from the terminal only: anyone else on the
            # network could otherwise fire punches (events carry no session id to check).
            self.sock.connect(self._ZK__address)
        self._ZK__session_id = 0
        self._ZK__reply_id = const.USHRT_MAX - 1
        reply = self.send_command(const.CMD_CONNECT)
        self._ZK__session_id = self._ZK__header[2]
        if reply["code"] == const.CMD_ACK_UNAUTH:
            reply = self.send_command(const.CMD_AUTH, self._make_commkey())
        if reply["code"] == const.CMD_ACK_UNAUTH:
            raise TerminalAuthError("The terminal refused the comm key")
        if not reply["status"]:
            raise TerminalRefusedError(f"The terminal refused the session ({reply['code']})")
        self.is_connect = True
        return self

    def _make_commkey(self) -> bytes:
        return cast(
            bytes,
            make_commkey(self._ZK__password, self._ZK__session_id),
        )

    def send_command(self, command: int, payload: bytes = b"") -> _Reply:
        return self._ZK__send_command(command, payload)

    # pyzk calls its private __send_command everywhere; defining the mangled name replaces it.
    def _ZK__send_command(
        self, command: int, command_string: bytes = b"", response_size: int = 8
    ) -> _Reply:
        packet = self._ZK__create_header(
            command, command_string, self._ZK__session_id, self._ZK__reply_id
        )
        self.send_packet(packet)
        reply = self.receive_reply()
        header = _HEADER.unpack_from(reply)
        self._ZK__header = header
        self._ZK__response = header[0]
        self._ZK__reply_id = header[3]
        self._ZK__data_recv = reply
        self._ZK__data = reply[8:]
        self._ZK__tcp_length = len(reply)
        if header[0] == const.CMD_ACK_UNAUTH and self.is_connect:
            # A terminal that rebooted, or expired an idle UDP session, answers the forgotten
            # session like this: the session is lost, not the command refused.
            raise ZKNetworkError("the terminal no longer knows this session")
        ok = header[0] in (const.CMD_ACK_OK, const.CMD_PREPARE_DATA, const.CMD_DATA)
        return {"status": ok, "code": header[0]}

    def send_packet(self, packet: bytes) -> None:
        try:
            if self.tcp:
                self.sock.sendall(
                    _TCP_TOP.pack(
                        const.MACHINE_PREPARE_DATA_1, const.MACHINE_PREPARE_DATA_2, len(packet)
                    )
                    + packet
                )
            else:
                self.sock.send(packet)
        except OSError as err:
            raise ZKNetworkError(str(err)) from err
        self.bytes_out += len(packet) + (_TCP_TOP.size if self.tcp else 0)

    def receive_packet(self) -> bytes:
        """Read one whole packet (header and payload) from the terminal."""
        try:
            if self.tcp:
                top = self._receive_exactly(_TCP_TOP.size)
                magic1, magic2, length = _TCP_TOP.unpack(top)
                if (magic1, magic2) != (const.MACHINE_PREPARE_DATA_1, const.MACHINE_PREPARE_DATA_2):
                    raise ZKNetworkError("TCP packet invalid")
                if length > _TCP_MAX_PACKET:
                    raise ZKNetworkError(f"a frame of {length} bytes announced")
                packet = self._receive_exactly(length)
                self.bytes_in += _TCP_TOP.size
            else:
                packet = self.sock.recv(_UDP_MAX_DATAGRAM)
        except OSError as err:
            raise ZKNetworkError(str(err)) from err
        if len(packet) < _HEADER.size:
            raise ZKNetworkError("packet too short")
        self.bytes_in += len(packet)
        return packet

    def _receive_exactly(self, size: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            chunk = self.sock.recv(size - len(buffer))
            if not chunk:
                raise ZKNetworkError("the terminal closed the connection")
            buffer += chunk
        return bytes(buffer)

    def receive_reply(self) -> bytes:
        """Read packets until the reply, acknowledging and keeping the events on the way."""
        while True:
            packet = self.receive_packet()
            command, _, event, _ = _HEADER.unpack_from(packet)
            if command == const.CMD_REG_EVENT:
                self.acknowledge_event()
                self.pending_events.append((event, packet[_HEADER.size :]))
                if self.on_event_set_aside is not None:
                    self.on_event_set_aside()
                continue
            if command != const.CMD_DATA:
                _verify_checksum(packet)
            return packet

    def acknowledge_event(self) -> None:
        """Tell the terminal an event arrived (pyzk's ``__ack_ok`` would not count the bytes)."""
        self.send_packet(
            self._ZK__create_header(
                const.CMD_ACK_OK, b"", self._ZK__session_id, const.USHRT_MAX - 1
            )
        )

    def read_with_buffer(self, command: int, fct: int = 0, ext: int = 0) -> tuple[bytes, int]:
        """Read a large table in chunks, the way the terminal hands it out."""
        self.send_command(_CMD_PREPARE_BUFFER, struct.pack("<bhii", 1, command, fct, ext))
        data = self._ZK__data
        code = self._ZK__response
        if code == const.CMD_DATA:
            return data, len(data)
        if code != const.CMD_ACK_OK:
            raise ZKErrorResponse(f"buffered read refused ({code})")
        size = struct.unpack_from("<I", data, 1)[0]
        max_chunk = _TCP_MAX_CHUNK if self.tcp else _UDP_MAX_CHUNK
        chunks = [
            self._read_chunk(start, min(max_chunk, size - start))
            for start in range(0, size, max_chunk)
        ]
        self.free_data()
        joined = b"".join(chunks)
        return joined, len(joined)

    def read_table(
        self, command: int, fct: int, count: Callable[[], int], row_sizes: Collection[int]
    ) -> tuple[bytes, int]:
        """A whole table (users, attendance) and the size of its rows; no rows when it is empty.

        The table does not say how large its rows are. pyzk divides its size by the row counter
        read before the transfer, which goes wrong when a row is added or deleted in between: we
        read the counter again after it.
        """
        self.read_sizes()
        counted_before = count()
        if counted_before == 0:
            return b"", 0
        data, _ = self.read_with_buffer(command, fct)
        size = struct.unpack_from("<I", data)[0]
        if size == 0:  # emptied since the counter was read
            return b"", 0
        if len(data) < 4 + size:
            raise ZKErrorResponse(f"a table of {size} bytes came with {len(data) - 4}")
        self.read_sizes()
        row_size = table_row_size(size, row_sizes, counted_before, count())
        return data[4 : 4 + size], row_size

    def _read_chunk(self, start: int, size: int) -> bytes:
        reply = self.send_command(_CMD_READ_BUFFER, struct.pack("<ii", start, size))
        if reply["code"] == const.CMD_DATA:
            return self._ZK__data
        if reply["code"] == const.CMD_PREPARE_DATA:
            return self.receive_prepared_data()
        raise ZKErrorResponse(f"chunk {start}+{size} refused ({reply['code']})")

    def receive_prepared_data(self) -> bytes:
        """After CMD_PREPARE_DATA the terminal sends data packets, then an ACK."""
        parts: list[bytes] = []
        while True:
            packet = self.receive_reply()
            command = _HEADER.unpack_from(packet)[0]
            if command == const.CMD_ACK_OK:
                return b"".join(parts)
            if command != const.CMD_DATA:
                raise ZKErrorResponse(f"unexpected packet {command} in a data transfer")
            parts.append(packet[_HEADER.size :])

    def user_rows(self) -> tuple[int, list[tuple[TerminalUser, bytes]]]:
        """The user table: its row size (0 when empty), and each user with its raw row."""
        rows, row_size = self.read_table(
            const.CMD_USERTEMP_RRQ, const.FCT_USER, lambda: self.users, USER_LAYOUTS
        )
        if not rows:
            return 0, []
        layout, decode = USER_LAYOUTS[row_size]
        return row_size, [
            (decode(layout.unpack_from(rows, start)), rows[start : start + row_size])
            for start in range(0, len(rows), row_size)
        ]

    def find_user(self, user_id: str) -> tuple[TerminalUser, bytes]:
        """The user with this user id, and their raw row."""
        _row_size, rows = self.user_rows()
        for user, row in rows:
            if user.user_id == user_id:
                return user, row
        raise TerminalUnknownUserError(f"no user {user_id!r} on the terminal")

    def empty_table_row_size(self) -> int:
        """The user row size of a terminal without users: its ~UserExtFmt, else pyzk's guess.

        pyzk's own get_user_extend_fmt answers a refusal by sending reply codes as commands.
        """
        reply = self.send_command(const.CMD_OPTIONS_RRQ, b"~UserExtFmt\x00")
        if reply["status"]:
            return 72 if nul_terminated(self._ZK__data).partition("=")[2] == "1" else 28
        return 72 if self.tcp else 28

    def pin_width(self) -> int | None:
        """How many characters a user id may have, None when the terminal does not say.

        pyzk's get_pin_width fails with an IndexError on a width of 0.
        """
        reply = self.send_command(const.CMD_GET_PINWIDTH, b" P")
        width = self._ZK__data[:1]
        return width[0] if reply["status"] and width and width[0] else None

    def read_template(self, uid: int, finger: int) -> bytes | None:
        """What the terminal sends for a finger; None when it has none (refused or just ACKed)."""
        reply = self.send_command(_CMD_GET_USER_TEMPLATE, _UID_AND_FINGER.pack(uid, finger))
        if reply["code"] == const.CMD_DATA:
            return self._ZK__data
        if reply["code"] == const.CMD_PREPARE_DATA:
            return self.receive_prepared_data()
        return None

    def delete_template(self, user: TerminalUser, finger: int) -> bool:
        """Delete one finger; False when the terminal had none (or refused).

        Over TCP pyzk 0.9's delete_user_template(user_id=...) packs the user id as a str and
        dies in struct.pack; we send the same CMD_DEL_FPTMP with the id encoded. Terminals that
        do not know it, and UDP sessions (as in pyzk), get the vendor manual's
        CMD_DELETE_USERTEMP by uid, which pyzk packs signed (uids above 32767 fail).
        """
        if self.tcp:
            payload = _DELETE_TEMPLATE_BY_USER_ID.pack(user.user_id.encode(), finger)
            reply = self.send_command(_CMD_DELETE_TEMPLATE_BY_USER_ID, payload)
            if reply["code"] != const.CMD_ACK_UNKNOWN:
                return reply["status"]
        payload = _UID_AND_FINGER.pack(user.uid, finger)
        return self.send_command(const.CMD_DELETE_USERTEMP, payload)["status"]


def _verify_checksum(packet: bytes) -> None:
    """Accept either form of checksum terminals send; refuse a packet that has neither.

    The SDK checksums the header before it counts the reply number up, and the terminals
    captured (pyzk's test.py, zk-protocol's test vectors) answer the same way. Others checksum
    the header as sent, the plain way (issue 9); pyzk checks neither.
    """
    command, expected, session, reply = _HEADER.unpack_from(packet)
    payload = packet[_HEADER.size :]
    previous = reply - 1 if reply else const.USHRT_MAX - 1
    sdk_form = checksum(_HEADER.pack(command, 0, session, previous) + payload)
    plain_form = checksum(_HEADER.pack(command, 0, session, reply) + payload)
    if expected not in (sdk_form, plain_form):
        raise ZKNetworkError("reply with a wrong checksum")


@contextmanager
def _outcome_unknown_on_drop() -> Iterator[None]:
    """A write whose answer never came may have been carried out: the caller must know."""
    try:
        yield
    except (ZKNetworkError, OSError) as err:
        raise TerminalWriteUncertainError(str(err) or type(err).__name__) from err


@contextmanager
def _errors_translated() -> Iterator[None]:
    """Turn pyzk's and the socket's exceptions into ours."""
    try:
        yield
    except TerminalError:
        raise
    except (ZKNetworkError, OSError) as err:
        raise TerminalConnectionError(str(err) or type(err).__name__) from err
    except ZKErrorResponse as err:
        raise TerminalRefusedError(str(err)) from err
    except (ZKError, struct.error, ValueError, IndexError) as err:
        raise TerminalConnectionError(f"malformed answer: {err}") from err


def _attendance_decoder(
    record_size: int, uid_to_user_id: dict[int, str]
) -> Callable[[tuple[Any, ...]], Punch]:
    """Decoders for the record layouts terminals use (8, 16 and 40 bytes).

    They raise ValueError on an impossible date.
    """
    if record_size == 8:  # uid, status, time, punch
        return lambda f: Punch(
            uid_to_user_id.get(f[0], str(f[0])), _decode_time_bytes(f[2]), f[1], f[3]
        )
    if record_size == 16:  # user id, time, status, punch, reserved, work code
        return lambda f: Punch(str(f[0]), _decode_time_bytes(f[1]), f[2], f[3])
    # uid, user id, status, time, punch, reserved
    return lambda f: Punch(nul_terminated(f[1]), _decode_time_bytes(f[3]), f[2], f[4])


def _decoded_or_none(
    decode: Callable[[tuple[Any, ...]], Punch], fields: tuple[Any, ...]
) -> Punch | None:
    try:
        return decode(fields)
    except ValueError:  # an impossible date: the caller skips the record and says so
        return None


_RECORD_LAYOUTS: Final = {
    8: struct.Struct("<HB4sB"),
    16: struct.Struct("<I4sBB2sI"),
    40: struct.Struct("<H24sB4sB8s"),
}


def _decode_event(event: int, payload: bytes) -> TerminalEvent | None:
    """The event, or None for the ones we do not use and the ones we cannot make sense of."""
    try:
        return _decode_known_event(event, payload)
    except ValueError as err:
        # A garbled event must not cost the session; its bytes may identify a person.
        LOGGER.debug("Ignoring realtime event %s of %d bytes: %s", event, len(payload), err)
        return None


def _decode_known_event(event: int, payload: bytes) -> TerminalEvent | None:
    if event == const.EF_ATTLOG:
        return _decode_punch_event(payload)
    if event == const.EF_FPFTR:
        return FingerScored(payload[0] if payload else 0)
    if event == const.EF_ENROLLFINGER:
        result, size = struct.unpack_from("<HH", payload.ljust(4, b"\x00"))
        return EnrollmentResult(ENROLL_OUTCOMES.get(result, EnrollmentOutcome.FAILED), size)
    return None


# Punches with a numeric user id, by payload size (as pyzk's live_capture tells them apart): 2
# bytes on ZEM560 (10) and ZEM300 (14, 4 more bytes), 4 bytes on others (12). pyzk and its ports
# take the number for the user id, not the uid, and no capture or document says otherwise.
_NUMERIC_PUNCH_EVENTS: Final = {
    10: struct.Struct("<HBB6s"),
    12: struct.Struct("<IBB6s"),
    14: struct.Struct("<HBB6s4x"),
}
# Punches with the user id as text: 32 bytes, or more with padding (36, 37, 52).
_TEXT_PUNCH_EVENT: Final = struct.Struct("<24sBB6s")


def _decode_punch_event(payload: bytes) -> Punch:
    if len(payload) >= _TEXT_PUNCH_EVENT.size:
        raw_id, status, punch, when = _TEXT_PUNCH_EVENT.unpack_from(payload)
        user_id = nul_terminated(raw_id)
    elif layout := _NUMERIC_PUNCH_EVENTS.get(len(payload)):
        number, status, punch, when = layout.unpack(payload)
        user_id = str(number)
    else:
        raise ValueError("no punch is that long")
    year, month, day, hour, minute, second = when
    return Punch(user_id, datetime(year + 2000, month, day, hour, minute, second), status, punch)


class ZKTerminal:
    """A synchronous session with one terminal; one thread at a time may use it."""

    def __init__(
        self,
        config: TerminalConfig,
        on_events: Callable[[list[TerminalEvent]], None] | None = None,
    ) -> None:
        """``on_events`` is given the events that arrive while a command runs, as they arrive.

        Without it they wait for the next ``read_events()``.
        """
        self._config = config
        self._on_events = on_events
        self._zk: _FramedZK | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def connected(self) -> bool:
        return self._zk is not None

    @property
    def _session(self) -> _FramedZK:
        if self._zk is None:
            raise TerminalConnectionError("not connected")
        return self._zk

    def fileno(self) -> int:
        return self._session.sock.fileno()

    def connect(self) -> None:
        zk = _FramedZK(self._config)
        try:
            with _errors_translated():
                zk.connect()
        except TerminalError:
            _close_quietly(zk)
            raise
        if self._on_events is not None:
            zk.on_event_set_aside = self._hand_over_set_aside
        self._zk = zk

    def _hand_over_set_aside(self) -> None:
        if self._on_events is not None and (events := self._take_set_aside()):
            self._on_events(events)

    def close(self) -> None:
        """End the session politely when the terminal still listens, and drop the socket."""
        if (zk := self._zk) is None:
            return
        self._zk = None
        if zk.is_connect:
            try:
                zk.sock.settimeout(min(self._config.timeout, 1.0))
                zk.send_packet(
                    zk._ZK__create_header(const.CMD_EXIT, b"", zk._ZK__session_id, zk._ZK__reply_id)
                )
            except ZKError:
                pass
        self.bytes_in += zk.bytes_in
        self.bytes_out += zk.bytes_out
        _close_quietly(zk)

    def traffic(self) -> tuple[int, int]:
        """Bytes received and sent so far, over every session."""
        zk = self._zk
        return (
            self.bytes_in + (zk.bytes_in if zk else 0),
            self.bytes_out + (zk.bytes_out if zk else 0),
        )

    @contextmanager
    def _call(self) -> Iterator[_FramedZK]:
        with _errors_translated():
            yield self._session

    def read_info(self) -> TerminalInfo:
        with self._call() as zk:
            return TerminalInfo(
                serial_number=zk.get_serialnumber(),
                model=zk.get_device_name(),
                firmware=zk.get_firmware_version(),
                platform=zk.get_platform(),
                mac=zk.get_mac(),
            )

    def read_counters(self) -> Counters:
        with self._call() as zk:
            zk.read_sizes()
            return Counters(
                users=zk.users,
                fingers=zk.fingers,
                records=zk.records,
                cards=zk.cards,
                users_capacity=zk.users_cap,
                fingers_capacity=zk.fingers_cap,
                records_capacity=zk.rec_cap,
            )

    def read_clock(self) -> datetime:
        with self._call() as zk:
            return zk.get_time()

    def read_users(self) -> list[TerminalUser]:
        with self._call() as zk:
            return [user for user, _row in zk.user_rows()[1]]

    def read_attendance(self, users: list[TerminalUser]) -> AttendanceLog:
        """Transfer the whole log (the protocol offers no other way); decode it lazily."""
        with self._call() as zk:
            records, record_size = zk.read_table(
                const.CMD_ATTLOG_RRQ, 0, lambda: zk.records, _RECORD_LAYOUTS
            )
            if not records:
                return _EMPTY_LOG
            layout = _RECORD_LAYOUTS[record_size]
            decode_one = _attendance_decoder(
                record_size, {user.uid: user.user_id for user in users}
            )

            def decode(rows: bytes) -> list[Punch | None]:
                return [_decoded_or_none(decode_one, fields) for fields in layout.iter_unpack(rows)]

            return AttendanceLog(len(records) // record_size, records, decode, record_size)

    def has_template(self, uid: int, finger: int) -> bool:
        """Whether the terminal sends a template; a missing one is refused or just acknowledged."""
        with self._call() as zk:
            return zk.read_template(uid, finger) is not None

    def register_events(self, mask: int = EVENT_MASK) -> None:
        with self._call() as zk:
            zk.reg_event(mask)

    def read_events(self, timeout: float) -> list[TerminalEvent]:
        """Events set aside during commands, then whatever arrives within ``timeout`` seconds."""
        with self._call() as zk:
            events = self._take_set_aside()
            wait = 0.0 if events else timeout
            while select.select([zk.sock], [], [], wait)[0]:
                packet = zk.receive_packet()
                command, _, event, _ = _HEADER.unpack_from(packet)
                if command == const.CMD_REG_EVENT:
                    zk.acknowledge_event()
                    if decoded := _decode_event(event, packet[_HEADER.size :]):
                        events.append(decoded)
                wait = 0.0
            return events

    def _take_set_aside(self) -> list[TerminalEvent]:
        zk = self._session
        raw = list(zk.pending_events)
        zk.pending_events.clear()
        return [decoded for event, payload in raw if (decoded := _decode_event(event, payload))]

    def start_enrollment(self, user_id: str, finger: int) -> None:
        """Put the terminal in enrollment mode; it answers once it waits for the first press."""
        with self._call() as zk:
            zk.cancel_capture()
            if zk.tcp:
                payload = struct.pack("<24sbb", user_id.encode(), finger, 1)
            elif user_id.isdigit():
                payload = struct.pack("<Ib", int(user_id), finger)
            else:  # pyzk would fail on int() and the session would be dropped for nothing
                raise TerminalRefusedError(f"over UDP the user id must be a number, not {user_id}")
            reply = zk.send_command(const.CMD_STARTENROLL, payload)
            if not reply["status"]:
                raise TerminalRefusedError(f"enrollment refused ({reply['code']})")

    def end_enrollment(self) -> None:
        """Leave enrollment mode and let people use the terminal again."""
        with self._call() as zk:
            zk.cancel_capture()
            zk.enable_device()

    def write_clock(self, when: datetime) -> None:
        """Set the clock to ``when``, the terminal's local time (it keeps no timezone)."""
        with self._call() as zk:
            zk.set_time(when)

    def write_user(self, user_id: str, changes: UserChanges) -> TerminalUser:
        """Add the user, or make the changes to them; returns the user as written.

        Values the terminal cannot store raise TerminalInputError before anything is written
        (characters before anything is sent, lengths once the terminal's row layout and PIN
        width are known).
        """
        change = user_change(user_id, changes)
        with self._call() as zk:
            row_size, rows = zk.user_rows()
            existing = next((row for user, row in rows if user.user_id == user_id), None)
            if existing is not None:
                row = bytearray(existing)
            else:
                row_size = row_size or zk.empty_table_row_size()
                uid = max((user.uid for user, _row in rows), default=0) + 1
                if uid > 0xFFFF:
                    raise TerminalRefusedError("the terminal has no user number left")
                row = new_user_row(row_size, uid, user_id, zk.pin_width())
            written = changed_row(change, row, row_size)
            with _outcome_unknown_on_drop():
                reply = zk.send_command(const.CMD_USER_WRQ, written)
                if not reply["status"]:
                    raise TerminalRefusedError(f"user {user_id!r} refused ({reply['code']})")
                zk.refresh_data()
            layout, decode = USER_LAYOUTS[row_size]
            return decode(layout.unpack(written))

    def delete_user(self, user_id: str) -> None:
        """Delete the user and their fingerprints.

        The fingers go first: no document says firmware drops a deleted user's templates,
        and a user given the same uid later would inherit them.
        """
        with self._call() as zk:
            user, _row = zk.find_user(user_id)
            with _outcome_unknown_on_drop():
                for finger in FINGERS:
                    zk.delete_template(user, finger)
                reply = zk.send_command(const.CMD_DELETE_USER, _UID.pack(user.uid))
                if not reply["status"]:
                    raise TerminalRefusedError(
                        f"user {user_id!r} refused after their fingerprints went ({reply['code']})"
                    )
                zk.refresh_data()

    def delete_fingerprint(self, user_id: str, finger: int) -> bool:
        """Delete one finger (0-9); False when the terminal had none."""
        check_fingers([finger])
        with self._call() as zk:
            user, _row = zk.find_user(user_id)
            with _outcome_unknown_on_drop():
                deleted = zk.delete_template(user, finger)
                if deleted:
                    zk.refresh_data()
                return deleted

    def read_templates(self, user_id: str) -> list[FingerTemplate]:
        """The person's templates, finger by finger; they stay in memory only."""
        with self._call() as zk:
            user, _row = zk.find_user(user_id)
            found = ((finger, zk.read_template(user.uid, finger)) for finger in FINGERS)
            return [
                FingerTemplate(finger, template)
                for finger, data in found
                if data and (template := template_of(data))
            ]

    def write_templates(self, user_id: str, templates: Collection[FingerTemplate]) -> None:
        """Store these fingers for an existing user (replacing them), all in one command.

        The user's row and every template go up in one buffer that CMD_SAVE_USERTEMPS stores
        at once: a refused or broken upload stores nothing. Only a connection lost after the
        save was sent leaves the outcome open: TerminalWriteUncertainError says so.
        """
        check_templates(templates)
        with self._call() as zk:
            user, row = zk.find_user(user_id)
            zk._send_with_buffer(user_upload(user.uid, row, templates))
            with _outcome_unknown_on_drop():
                reply = zk.send_command(_CMD_SAVE_USER_TEMPLATES, _SAVE_USER_TEMPLATES_ARGUMENTS)
                if not reply["status"]:
                    raise TerminalRefusedError(
                        f"templates of {user_id!r} refused ({reply['code']})"
                    )
                zk.refresh_data()
                zk.free_data()

    def enrolled_fingers(self) -> list[EnrolledFinger]:
        """Every user's enrolled fingers, from the template table (the templates are dropped)."""
        with self._call() as zk:
            zk.read_sizes()
            if zk.fingers == 0:
                return []
            table, _size = zk.read_with_buffer(const.CMD_DB_RRQ, const.FCT_FINGERTMP)
            return enrolled_fingers(table)

    def unlock(self, seconds: int) -> None:
        """Open the lock relay for 1 to 60 seconds."""
        if isinstance(seconds, bool) or seconds not in UNLOCK_SECONDS:
            raise TerminalInputError("seconds", "out_of_range")
        with self._call() as zk:
            zk.unlock(seconds)

    def restart(self) -> None:
        """Restart the terminal; the session ends with it."""
        with self._call() as zk:
            try:
                reply: _Reply | None = zk.send_command(const.CMD_RESTART)
            except ZKNetworkError:
                reply = None  # zk-protocol: terminals restart without answering
            if reply is not None and not reply["status"]:
                raise TerminalRefusedError(f"restart refused ({reply['code']})")
            zk.is_connect = False  # the terminal forgot the session: no goodbye
        self.close()

    def clear_attendance(self, delivered: int) -> None:
        """Clear the log, which must hold exactly the ``delivered`` punches, no more.

        The count is read right before the clear: a punch that came after the caller's
        last read is not lost, the clear is refused (TerminalUndeliveredError).
        """
        with self._call() as zk:
            zk.read_sizes()
            if zk.records != delivered:
                raise TerminalUndeliveredError(
                    f"the terminal holds {zk.records} punches, {delivered} were delivered"
                )
            with _outcome_unknown_on_drop():
                zk.clear_attendance()


def _keep_alive(sock: socket.socket) -> None:
    """Have the system probe an idle session, with our timings where the platform has them."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _TCP_KEEPALIVE:
        if (option := getattr(socket, name, None)) is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _close_quietly(zk: _FramedZK) -> None:
    with suppress(OSError):
        zk.sock.close()
