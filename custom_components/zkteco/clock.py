"""Keeps the terminal's clock right, unless the entry's option ``keep_clock`` turns it off.

Punches are stamped by the terminal's clock, which keeps no timezone and drifts. Two rules set
it to Home Assistant's time in the entry's timezone, as the Set clock button does (the
coordinator's ``async_set_clock``: written, then read again at once):

- drift: a poll read it more than ``DRIFT_TOLERANCE`` (a minute) off. A reading is judged with
  what is not known of it: the terminal counts whole seconds, and it read its clock at some
  moment between the start and the end of the poll. Only a clock more than a minute off at
  every moment of that span is set: a clock about a minute off is not set on one poll and left
  on the next, and a slow poll (the user list, a catch-up) only makes the judgement cautious.
- daily: at 03:30 in the entry's timezone the set falls due, and is done after the next poll
  that reads the terminal (within a poll interval, or as soon as it is reachable again): a clock
  kept within a minute still gains or loses seconds. A quiet time rather than 24 h after the last
  set: few people punch then, so hardly a punch is stamped across the jump; it comes after every
  daylight-saving change (they all happen by 03:00 local time); and nothing has to be remembered
  across restarts. A day Home Assistant is not running at 03:30 goes without; the drift rule
  still holds.

The poll that follows a set tells whether it took. A set the terminal refuses or that does not
reach it, or a clock still off after it (the terminal keeps a time of its own), is tried again
``FIRST_RETRY`` later at the soonest, then twice as long each time, up to a day; a warning is
logged the first time, and an info once the clock is kept again. Never during an enrollment:
polls wait for it to end, and so does the set.

A terminal that calls Home Assistant (Push) cannot be asked for its clock: its polls read Home
Assistant's own time (push/channel.py), so the drift rule never applies to it. It takes its
clock from Home Assistant's ``Date:`` at each handshake; the daily set (the ``CHECK`` command:
the terminal handshakes again) is what keeps it right in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Final, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .channel import TerminalChannel, TerminalError
from .const import LOGGER

DRIFT_TOLERANCE: Final = timedelta(minutes=1)
CLOCK_RESOLUTION: Final = timedelta(seconds=1)
DAILY_AT: Final = time(3, 30)
FIRST_RETRY: Final = timedelta(minutes=15)
LONGEST_RETRY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ClockRead:
    """The terminal's clock as a poll read it (in the entry's timezone), and when (UTC) the poll
    started and ended."""

    clock: datetime
    started: datetime
    ended: datetime

    def off_by_more_than(self, tolerance: timedelta) -> bool:
        """Whether the clock was more than ``tolerance`` off, whenever in the poll it was read."""
        least = self.clock - self.ended
        most = self.clock + CLOCK_RESOLUTION - self.started
        return least > tolerance or most < -tolerance


class KeptClock(Protocol):
    """What the keeper needs of the coordinator."""

    @property
    def timezone(self) -> tzinfo: ...

    def async_add_clock_listener(self, listener: Callable[[ClockRead], None]) -> CALLBACK_TYPE:
        """Call ``listener`` with each reading of the terminal's clock."""

    async def async_set_clock(self) -> None:
        """Set the clock to Home Assistant's time, then poll; raise TerminalError if refused."""


class ClockKeeper:
    """Sets the terminal's clock when it drifts, and once a day."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        clock: KeptClock,
        channel: TerminalChannel,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._clock = clock
        self._channel = channel
        self._daily_due = False
        self._setting = False
        self._last_read: ClockRead | None = None
        self._wait: timedelta | None = None  # since the last failure: none while all is well
        self._retry_at: datetime | None = None
        self._cancel_daily: CALLBACK_TYPE | None = None
        self._keeping = False

    @property
    def in_hand(self) -> bool:
        """Whether the clock is left to the keeper: it keeps it, and its last set did not fail."""
        return self._keeping and self._wait is None

    def diagnostics(self) -> dict[str, Any]:
        """Whether it keeps the clock, and where it stands: a set due, a failure's next try."""
        return {
            "keeping": self._keeping,
            "daily_set_due": self._daily_due,
            "failing": self._wait is not None,
            "next_try": self._retry_at.isoformat() if self._retry_at else None,
        }

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Keep the clock right until the returned callback is called."""
        stop_reading = self._clock.async_add_clock_listener(self._on_read)
        self._schedule_daily(dt_util.utcnow())
        self._keeping = True

        @callback
        def stop() -> None:
            self._keeping = False
            stop_reading()
            if self._cancel_daily is not None:
                self._cancel_daily()

        return stop

    @callback
    def _schedule_daily(self, after: datetime) -> None:
        local = after.astimezone(self._clock.timezone)
        when = dt_util.find_next_time_expression_time(
            local, [DAILY_AT.second], [DAILY_AT.minute], [DAILY_AT.hour]
        )
        self._cancel_daily = async_track_point_in_utc_time(self._hass, self._on_daily, when)

    @callback
    def _on_daily(self, now: datetime) -> None:
        self._daily_due = True
        self._schedule_daily(now + CLOCK_RESOLUTION)

    @callback
    def _on_read(self, read: ClockRead) -> None:
        self._last_read = read
        if self._setting or self._channel.enrolling:
            return
        if self._retry_at is not None and read.ended < self._retry_at:
            return
        if self._daily_due or read.off_by_more_than(DRIFT_TOLERANCE):
            self._setting = True
            self._entry.async_create_task(self._hass, self._async_set(), "zkteco set clock")

    async def _async_set(self) -> None:
        if self._channel.enrolling:  # began since the poll: the next poll after it decides
            self._setting = False
            return
        started = dt_util.utcnow()
        try:
            await self._clock.async_set_clock()
        except TerminalError as err:
            self._failed(str(err))
            return
        finally:
            self._setting = False
        self._daily_due = False
        read = self._last_read
        if read is None or read.started < started:
            return  # not read again (the terminal went away meanwhile): the next poll tells
        if read.off_by_more_than(DRIFT_TOLERANCE):
            self._failed(f"it reads {read.clock:%Y-%m-%d %H:%M:%S} after being set")
        else:
            self._kept()

    def _failed(self, reason: str) -> None:
        first = self._wait is None
        self._wait = FIRST_RETRY if self._wait is None else min(self._wait * 2, LONGEST_RETRY)
        self._retry_at = dt_util.utcnow() + self._wait
        (LOGGER.warning if first else LOGGER.debug)(
            "%s: the terminal's clock could not be set (%s); trying again in %s",
            self._entry.title,
            reason,
            self._wait,
        )

    def _kept(self) -> None:
        if self._wait is not None:
            LOGGER.info("%s: the terminal's clock is kept right again", self._entry.title)
        self._wait = None
        self._retry_at = None
