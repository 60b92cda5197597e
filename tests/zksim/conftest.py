"""Fixtures: simulators that always stop, and real pyzk clients with short timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from pathlib import Path
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import pytest
from zk import ZK

from zksim import ZKSimulator, protocol as p

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
