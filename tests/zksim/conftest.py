"""Fixtures: simulators that always stop, real pyzk clients with short timeouts, a Push server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from zk import ZK

from zksim import ZKSimulator, protocol as p
from zksim.push import PushTerminal

CLIENT_TIMEOUT = 2.0
ROOT = Path(__file__).resolve().parents[2]

SimFactory = Callable[..., ZKSimulator]
ClientFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
def _allow_loopback(socket_enabled: None) -> None:
    """The HA test plugin blocks sockets; the simulator lives on them."""


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    """Start simulators (UDP on as well); every one is stopped and joined afterwards."""
    started: list[ZKSimulator] = []

    def factory(**kwargs: Any) -> ZKSimulator:
        kwargs.setdefault("udp", True)
        sim = ZKSimulator(**kwargs)
        sim.enroll_timeout = 2.0
        sim.reboot_duration = 0.2
        started.append(sim.start())
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> ZKSimulator:
    return make_sim(users=3)


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Real pyzk 0.9 clients; their sockets are closed at teardown."""
    clients: list[ZK] = []

    def factory(sim: ZKSimulator, udp: bool = False, connect: bool = True, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        zk = ZK("127.0.0.1", port=sim.port, force_udp=udp, ommit_ping=True, **kwargs)
        zk._ZK__sock.close()  # pyzk opens a socket in __init__ it never uses
        clients.append(zk)
        return zk.connect() if connect else zk

    yield factory
    for zk in clients:
        with contextlib.suppress(OSError):
            zk._ZK__sock.close()


@pytest.fixture(params=[False, True], ids=["tcp", "udp"])
def udp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@contextlib.contextmanager
def in_background(target: Callable[[], object]) -> Iterator[threading.Thread]:
    """Run target in a thread that is always joined (the HA plugin fails on leftovers)."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout=10)


class RawClient:
    """Minimal protocol client for what pyzk cannot show: events, checksums, refusals."""

    def __init__(self, sim: ZKSimulator, udp: bool = False) -> None:
        self.udp = udp
        self.address = ("127.0.0.1", sim.port)
        if udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.settimeout(CLIENT_TIMEOUT)
        else:
            self.sock = socket.create_connection(self.address, timeout=CLIENT_TIMEOUT)
        self.session_id = 0
        self.reply_id = 0
        self._rx = bytearray()
        self._frames: list[bytes] = []

    def send(self, command: int, payload: bytes = b"", reply_id: int | None = None) -> None:
        packet = p.build_packet(
            command, self.session_id, self.reply_id if reply_id is None else reply_id, payload
        )
        if self.udp:
            self.sock.sendto(packet, self.address)
        else:
            self.sock.sendall(p.tcp_frame(packet))

    def receive(self) -> p.Packet:
        """Next packet, however the stream happened to cut them."""
        if self.udp:
            return p.parse_packet(self.sock.recv(65536))
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the terminal")
            self._rx += data
            self._frames.extend(p.split_tcp_frames(self._rx))
        return p.parse_packet(self._frames.pop(0))

    def command(self, command: int, payload: bytes = b"") -> p.Packet:
        self.reply_id = (self.reply_id + 1) % p.USHRT_MAX
        self.send(command, payload)
        return self.receive()

    def connect(self) -> p.Packet:
        reply = self.command(p.CMD_CONNECT)
        self.session_id = reply.session_id
        return reply

    def ack(self) -> None:
        self.send(p.CMD_ACK_OK, reply_id=0)

    def next_event(self) -> p.Packet:
        """Receive a realtime event and acknowledge it, as clients must."""
        packet = self.receive()
        assert packet.command == p.CMD_REG_EVENT
        self.ack()
        return packet

    def close(self) -> None:
        self.sock.close()


RawFactory = Callable[..., RawClient]


@pytest.fixture
def make_raw() -> Iterator[RawFactory]:
    clients: list[RawClient] = []

    def factory(sim: ZKSimulator, udp: bool = False, connect: bool = True) -> RawClient:
        client = RawClient(sim, udp)
        clients.append(client)
        if connect:
            client.connect()
        return client

    yield factory
    for client in clients:
        client.close()


@contextlib.contextmanager
def zksim_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m zksim`` with these options; it must then stop cleanly on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zksim", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stdout is not None
        assert "stopped" in process.stdout.read()
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


# -- Push: a small Push server of our own (http.server on loopback) ---------------------

SERIAL = "CQUJ203960001"
TIME_SCALE = 0.02  # Delay=1 polls every 20 ms, ErrorDelay=3 waits 60 ms
HANDSHAKE_OPTIONS = {
    "ATTLOGStamp": "None",
    "OPERLOGStamp": "9999",
    "ErrorDelay": "3",
    "Delay": "1",
    "TransTimes": "00:00;14:05",
    "TransInterval": "1",
    "TransFlag": "TransData AttLog\tOpLog\tEnrollUser\tChgUser\tEnrollFP\tChgFP",
    "TimeZone": "1",
    "Realtime": "1",
    "Encrypt": "0",
}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    body: str
    requestline: str
    at: float


class Receiver:
    """A Push server: answers the handshake, acknowledges uploads, hands out queued commands."""

    def __init__(self) -> None:
        self.options = dict(HANDSHAKE_OPTIONS)
        self.bare_ok_handshake = False
        self.status = 200
        self.status_of_path: dict[str, int] = {}
        self.upload_reply: Callable[[int], str] = lambda count: f"OK: {count}"
        self.commands: list[str] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = HTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def requests(self, path: str, table: str | None = None) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if r.path == path and (table is None or r.query.get("table") == table)
            ]

    def queue(self, *commands: str) -> None:
        with self.lock:
            self.commands.extend(commands)

    def answer(self, request: Received) -> str:
        if request.path == "/iclock/cdata" and request.method == "GET":
            if self.bare_ok_handshake:
                return "OK"
            options = "".join(f"{key}={value}\n" for key, value in self.options.items())
            return f"GET OPTION FROM: {request.query['SN']}\n{options}"
        if request.path == "/iclock/cdata" and request.query.get("table") != "options":
            return self.upload_reply(len(request.body.splitlines()))
        if request.path == "/iclock/getrequest":
            with self.lock:
                commands, self.commands = self.commands, []
            return "".join(f"{command}\n" for command in commands) or "OK"
        return "OK"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def parse_request(self) -> bool:
                if not super().parse_request():
                    self._record("")  # refused like Home Assistant's server refuses it
                    return False
                return True

            def do_GET(self) -> None:
                self._serve("")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self._serve(self.rfile.read(length).decode())

            def _record(self, body: str) -> Received:
                parts = urlsplit((getattr(self, "path", None) or "").replace(".aspx", ""))
                request = Received(
                    getattr(self, "command", None) or "",
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    body,
                    self.raw_requestline.decode(errors="replace").rstrip("\r\n"),
                    time.monotonic(),
                )
                with receiver.lock:
                    receiver.received.append(request)
                return request

            def _serve(self, body: str) -> None:
                request = self._record(body)
                reply = receiver.answer(request).encode()
                self.send_response(receiver.status_of_path.get(request.path, receiver.status))
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


PushFactory = Callable[..., PushTerminal]


@pytest.fixture
def make_push(receiver: Receiver) -> Iterator[PushFactory]:
    """Push terminals with users 1..3 and a template for user 1, finger 5; always closed."""
    made: list[PushTerminal] = []

    def factory(start: bool = True, **kwargs: object) -> PushTerminal:
        push = PushTerminal(receiver.url, time_scale=TIME_SCALE, **kwargs)  # type: ignore[arg-type]
        push.terminal.add_numbered_users(3)
        push.terminal.add_template("1", 5)
        push.terminal.enroll_timeout = 2.0
        push.terminal.reboot_duration = 0.05
        made.append(push)
        return push.start() if start else push

    yield factory
    for push in made:
        push.close()


@pytest.fixture
def push(make_push: PushFactory) -> PushTerminal:
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    return push


def run_command(push: PushTerminal, receiver: Receiver, *commands: str) -> None:
    ids = [command.split(":")[1] for command in commands]
    receiver.queue(*commands)
    assert push.wait_for(lambda t: all((r := t.result(i)) and r.acknowledged for i in ids))


def result_lines(receiver: Receiver) -> list[str]:
    return [line for r in receiver.requests("/iclock/devicecmd") for line in r.body.splitlines()]
