"""ZKSimulator: a Terminal served over the network."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from .server import Server
from .terminal import Terminal


class ZKSimulator(Terminal):
    """A simulated K40 on host:port (TCP, plus UDP on the same port when udp=True)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        udp: bool = False,
        comm_key: int = 0,
        serial: str = "CQUJ203960001",
        users: int = 0,
        records: int = 0,
    ) -> None:
        super().__init__(serial)
        self.host = host
        self.udp = udp
        self.comm_key = comm_key
        self._server = Server(self, host, port, udp)
        self._emit = self._server.emit
        self.add_numbered_users(users)
        self.add_records(records)

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        """Close every socket and join the server thread; safe to call twice."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self if self._server.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def sessions(self) -> int:
        return self._server.session_count

    def reboot(self) -> None:
        """Power cycle: sessions drop, enrollment ends, accepts again after reboot_duration."""
        self.reset_runtime_state()
        self._server.reboot(self.reboot_duration)

    @property
    def rebooting(self) -> bool:
        return self._server.rebooting

    @property
    def reboots(self) -> int:
        """Power cycles so far, asked for or by CMD_RESTART: a client that timed out on its
        restart cannot tell whether the terminal got it."""
        return self._server.reboots
