"""A terminal reached both ways: Home Assistant calls it (pull) and it calls Home Assistant (Push).

The user's K40 does both (issue 10): pull on port 4370, and Push to its Cloud Server. The entry
has one channel, ``CombinedChannel``, and the parts above it see one terminal:

- reads, polls, the attendance catch-up, the clock, the door and restarts go through pull, as
  the design asks (pull reads on demand; Push can only wait for the terminal);
- enrollment goes through Push while the terminal polls Home Assistant within its expected
  interval (the path that works on Push firmware), else through pull, unless the entry's
  option ``enrollment_path`` forces one. That choice is made here and nowhere else;
- events: pull's (punches, presses, sessions), and the enrollment's from the channel it went
  through. Push's punches are acknowledged to the terminal (its channel journals them) but not
  emitted: pull's realtime events, its log and the catch-up already deliver each punch exactly
  once, and the same punch from both would be two.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .channel import (
    Capability,
    CatchUp,
    ChannelEvent,
    ChannelListener,
    Counters,
    EnrollmentResult,
    FingerScored,
    FingerTemplate,
    Person,
    Polled,
    TerminalChannel,
    TerminalInfo,
    TerminalUser,
    UserChanges,
)
from .const import ENROLLMENT_AUTOMATIC, ENROLLMENT_PULL, ENROLLMENT_PUSH
from .push.channel import PushChannel

PULL: Final = "pull"
PUSH: Final = "push"
# What the Push terminal calls to take its commands.
POLL_ENDPOINT: Final = "getrequest"
_ENROLLMENT_EVENTS: Final = (FingerScored, EnrollmentResult)


class CombinedChannel:
    """One terminal over pull and Push; ``enrollment_path`` is the entry's option."""

    def __init__(
        self, pull: TerminalChannel, push: PushChannel, enrollment_path: str = ENROLLMENT_AUTOMATIC
    ) -> None:
        self.pull = pull
        self.push = push
        self._enrollment_path = enrollment_path
        # The channel the last enrollment went through, until it is ended.
        self._enrolling_via: TerminalChannel | None = None

    @property
    def info(self) -> TerminalInfo:
        return self.pull.info

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Pull's; the presses are reported only while enrollment goes through pull."""
        if self.enrollment_channel() is self.pull:
            return self.pull.capabilities
        return self.pull.capabilities - {Capability.ENROLLMENT_PRESSES}

    @property
    def realtime(self) -> bool | None:
        return self.pull.realtime

    @property
    def enrolling(self) -> bool:
        return self.pull.enrolling or self.push.enrolling

    @property
    def enrollment_timeout(self) -> timedelta:
        return (self._enrolling_via or self.enrollment_channel()).enrollment_timeout

    def enrollment_channel(self) -> TerminalChannel:
        """Where an enrollment goes now."""
        if self._enrollment_path == ENROLLMENT_PULL:
            return self.pull
        if self._enrollment_path == ENROLLMENT_PUSH or push_polling(self.push):
            return self.push
        return self.pull

    @callback
    def async_add_listener(self, listener: ChannelListener) -> Callable[[], None]:
        def from_pull(event: ChannelEvent) -> None:
            if not isinstance(event, _ENROLLMENT_EVENTS) or self._enrolling_via is not self.push:
                listener(event)

        def from_push(event: ChannelEvent) -> None:
            # Punches are pull's to deliver (see the module's docstring).
            if isinstance(event, _ENROLLMENT_EVENTS) and self._enrolling_via is self.push:
                listener(event)

        remove_pull = self.pull.async_add_listener(from_pull)
        remove_push = self.push.async_add_listener(from_push)

        def remove() -> None:
            remove_pull()
            remove_push()

        return remove

    async def async_check_contact(self) -> None:
        """Through the channel the terminal is enrolling on (pull's polls wait meanwhile)."""
        await (self._enrolling_via or self.pull).async_check_contact()

    async def async_poll[T](
        self, read_users: Callable[[Counters], bool], catch_up: CatchUp[T] | None = None
    ) -> Polled[T]:
        return await self.pull.async_poll(read_users, catch_up)

    async def async_read_users(self) -> list[TerminalUser]:
        return await self.pull.async_read_users()

    async def async_enrolled_fingers(self, user: TerminalUser) -> frozenset[int]:
        return await self.pull.async_enrolled_fingers(user)

    async def async_start_enrollment(self, user: TerminalUser, finger: int) -> bool:
        self._enrolling_via = channel = self.enrollment_channel()
        started = False
        try:
            started = await channel.async_start_enrollment(user, finger)
        finally:
            if not started and not channel.enrolling:
                self._enrolling_via = None
        return started

    async def async_end_enrollment(self) -> None:
        """End it where it went; with none started here, through pull (the cancel action takes
        a terminal out of an enrollment another client started)."""
        channel = self._enrolling_via or self.pull
        try:
            await channel.async_end_enrollment()
        finally:
            self._enrolling_via = None

    async def async_write_clock(self, clock: Callable[[], datetime]) -> None:
        await self.pull.async_write_clock(clock)

    async def async_unlock(self, seconds: int) -> None:
        await self.pull.async_unlock(seconds)

    async def async_restart(self) -> None:
        await self.pull.async_restart()

    async def async_write_user(self, user_id: str, changes: UserChanges) -> TerminalUser:
        return await self.pull.async_write_user(user_id, changes)

    async def async_delete_user(self, user_id: str) -> None:
        await self.pull.async_delete_user(user_id)

    async def async_delete_finger(self, user_id: str, finger: int) -> bool:
        return await self.pull.async_delete_finger(user_id, finger)

    async def async_read_people(self) -> list[Person]:
        return await self.pull.async_read_people()

    async def async_clear_attendance(self, delivered: int) -> None:
        await self.pull.async_clear_attendance(delivered)

    async def async_read_templates(self, user_id: str) -> list[FingerTemplate]:
        return await self.pull.async_read_templates(user_id)

    async def async_write_templates(
        self, user_id: str, templates: Collection[FingerTemplate]
    ) -> None:
        await self.pull.async_write_templates(user_id, templates)

    async def async_stop(self) -> None:
        try:
            await self.pull.async_stop()
        finally:
            await self.push.async_stop()


def push_polling(push: PushChannel) -> bool:
    """Whether the Push terminal polled for commands within its expected interval."""
    polled = push.contacts.get(POLL_ENDPOINT)
    return polled is not None and dt_util.utcnow() - polled <= push.contact_timeout


def channels_of(channel: TerminalChannel) -> dict[str, TerminalChannel]:
    """The ways an entry's terminal is reached, by name (for diagnostics and the sensor)."""
    if isinstance(channel, CombinedChannel):
        return {PULL: channel.pull, PUSH: channel.push}
    return {PUSH if isinstance(channel, PushChannel) else PULL: channel}


def push_of(channel: TerminalChannel) -> PushChannel | None:
    """The Push side of an entry's channel, if it has one."""
    if isinstance(channel, CombinedChannel):
        return channel.push
    return channel if isinstance(channel, PushChannel) else None
