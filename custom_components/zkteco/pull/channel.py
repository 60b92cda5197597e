"""The pull channel: Home Assistant calls the terminal, through its one worker thread.

Polls, enrollment, the clock, the door, restarts, people and fingers are jobs of the worker
(``worker.py``); realtime events come from its session. The attendance log can be read on
demand, in the same exchange as a poll.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Final

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback

from ..channel import (
    Capability,
    CatchUp,
    ChannelListener,
    Counters,
    FingerTemplate,
    Person,
    Polled,
    TerminalError,
    TerminalInfo,
    TerminalUser,
    TerminalWriteUncertainError,
    UserChanges,
)
from ..const import CONF_COMM_KEY, CONF_PROTOCOL, CONNECT_TIMEOUT, PROTOCOL_UDP
from .rows import FINGERS
from .terminal import TerminalConfig, ZKTerminal
from .worker import TerminalWorker

CAPABILITIES: Final = frozenset({Capability.READ_LOG, Capability.ENROLLMENT_PRESSES})
# Longer than the terminal's own wait for a press, so the terminal normally reports the timeout;
# this only ends an enrollment whose end the terminal never announced.
ENROLLMENT_TIMEOUT: Final = timedelta(seconds=75)


def terminal_config(data: dict[str, object]) -> TerminalConfig:
    """How to reach the terminal of a config entry (or of a config flow's input)."""
    return TerminalConfig(
        host=str(data[CONF_HOST]),
        port=int(str(data[CONF_PORT])),
        comm_key=int(str(data.get(CONF_COMM_KEY, 0))),
        udp=data.get(CONF_PROTOCOL) == PROTOCOL_UDP,
        timeout=CONNECT_TIMEOUT,
    )


class PullChannel:
    """One terminal over the ZK pull protocol (port 4370)."""

    capabilities = CAPABILITIES
    enrollment_timeout = ENROLLMENT_TIMEOUT

    def __init__(self, hass: HomeAssistant, config: TerminalConfig, name: str) -> None:
        self._worker = TerminalWorker(hass, config, name)
        self._info: TerminalInfo | None = None
        # From the start of an enrollment to its release: a poll would interrupt the terminal
        # while it waits for a finger.
        self._enrolling = False

    @property
    def worker(self) -> TerminalWorker:
        """The worker, for benchmarks and tests that measure or break its traffic."""
        return self._worker

    @property
    def info(self) -> TerminalInfo:
        assert self._info is not None, "read by async_open()"
        return self._info

    @property
    def realtime(self) -> bool | None:
        return self._worker.realtime

    @property
    def enrolling(self) -> bool:
        return self._enrolling

    async def async_open(self) -> TerminalInfo:
        """Start the worker and read what the terminal says about itself (stop it after)."""
        self._worker.start()
        self._info = await self._worker.async_run(lambda terminal: terminal.read_info())
        return self._info

    async def async_stop(self) -> None:
        await self._worker.async_stop()

    @callback
    def async_add_listener(self, listener: ChannelListener) -> Callable[[], None]:
        return self._worker.async_add_listener(listener)

    async def async_poll[T](
        self, read_users: Callable[[Counters], bool], catch_up: CatchUp[T] | None = None
    ) -> Polled[T]:
        def poll(terminal: ZKTerminal) -> Polled[T]:
            counters = terminal.read_counters()
            clock = terminal.read_clock()
            users = terminal.read_users() if read_users(counters) else None
            caught_up = catch_up(counters, users, terminal) if catch_up is not None else None
            return Polled(counters, clock, users, caught_up)

        return await self._worker.async_run(poll)

    async def async_check_contact(self) -> None:
        """Nothing to check: an enrollment waits on an open session, and losing it ends the
        enrollment (the next poll then finds the terminal gone)."""

    async def async_read_users(self) -> list[TerminalUser]:
        return await self._worker.async_run(lambda terminal: terminal.read_users())

    async def async_start_enrollment(self, user: TerminalUser, finger: int) -> bool:
        worker = self._worker
        asked_to_enroll = False

        # Safe to run again on a new session (the worker does when the old one turns out lost):
        # start_enrollment first cancels whatever enrollment the lost session may have left, and
        # nothing has been reported to the caller yet.
        def begin(terminal: ZKTerminal) -> bool:
            nonlocal asked_to_enroll
            if terminal.has_template(user.uid, finger):
                return False
            asked_to_enroll = True
            worker.release_on_reconnect()
            terminal.start_enrollment(user.user_id, finger)
            return True

        self._enrolling = True
        try:
            started = await worker.async_run(begin)
        except TerminalError:
            # Still enrolling when it was asked to: it may wait for a finger although the
            # answer was lost, and only a release ends that.
            self._enrolling = asked_to_enroll
            raise
        self._enrolling = started
        return started

    async def async_enrolled_fingers(self, user: TerminalUser) -> frozenset[int]:
        # One small question per finger: the template table would bring every template.
        def enrolled(terminal: ZKTerminal) -> frozenset[int]:
            return frozenset(
                finger for finger in FINGERS if terminal.has_template(user.uid, finger)
            )

        return await self._worker.async_run(enrolled)

    async def async_end_enrollment(self) -> None:
        """Out of enrollment mode and enabled.

        A release that fails closes the session: until one succeeds, every new session starts
        with it.
        """
        try:
            await self._worker.async_release()
        finally:
            self._enrolling = False

    async def async_write_clock(self, clock: Callable[[], datetime]) -> None:
        await self._worker.async_run(lambda terminal: terminal.write_clock(clock()))

    async def async_unlock(self, seconds: int) -> None:
        await self._worker.async_run(lambda terminal: terminal.unlock(seconds))

    async def async_restart(self) -> None:
        await self._worker.async_run(lambda terminal: terminal.restart())

    async def async_write_user(self, user_id: str, changes: UserChanges) -> TerminalUser:
        return await self._async_write(lambda terminal: terminal.write_user(user_id, changes))

    async def async_delete_user(self, user_id: str) -> None:
        await self._async_write(lambda terminal: terminal.delete_user(user_id))

    async def async_delete_finger(self, user_id: str, finger: int) -> bool:
        return await self._async_write(
            lambda terminal: terminal.delete_fingerprint(user_id, finger)
        )

    async def async_clear_attendance(self, delivered: int) -> None:
        await self._async_write(lambda terminal: terminal.clear_attendance(delivered))

    async def async_write_templates(
        self, user_id: str, templates: Collection[FingerTemplate]
    ) -> None:
        await self._async_write(lambda terminal: terminal.write_templates(user_id, templates))

    async def async_read_templates(self, user_id: str) -> list[FingerTemplate]:
        return await self._worker.async_run(lambda terminal: terminal.read_templates(user_id))

    async def async_read_people(self) -> list[Person]:
        # The template table in one transfer, rather than ten questions per user.
        def read(terminal: ZKTerminal) -> list[Person]:
            users = terminal.read_users()
            fingers: defaultdict[int, set[int]] = defaultdict(set)
            for enrolled in terminal.enrolled_fingers():
                fingers[enrolled.uid].add(enrolled.finger)
            return [Person(user, frozenset(fingers[user.uid])) for user in users]

        return await self._worker.async_run(read)

    async def _async_write[T](self, write: Callable[[ZKTerminal], T]) -> T:
        """Run a write once: the worker runs a job again when its session turns out lost, but a
        write whose answer was lost may have been carried out (a user deleted twice would read
        as unknown, a log cleared twice as undelivered)."""
        lost: TerminalWriteUncertainError | None = None

        def once(terminal: ZKTerminal) -> T:
            nonlocal lost
            if lost is not None:
                raise lost
            try:
                return write(terminal)
            except TerminalWriteUncertainError as err:
                lost = err
                raise

        return await self._worker.async_run(once)
