"""Keeps what Home Assistant polls from one terminal up to date, and holds its entry's parts.

The coordinator's data is what a poll reads: counters, clock, users. What the terminal pushes
(punches, the enrollment's progress) is followed by the attendance tracker and the enrollment
manager, side by side with it in the entry's runtime data. The clock keeper (clock.py) hears
each poll's reading of the terminal's clock, and sets it through the coordinator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, CoreState, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .attendance import AttendanceTracker
from .channel import (
    ChannelEvent,
    ConnectionLost,
    Counters,
    SessionOpened,
    TerminalAuthError,
    TerminalChannel,
    TerminalError,
    TerminalUser,
    UsersChanged,
)
from .clock import ClockKeeper, ClockRead
from .const import (
    CONF_DEVICE_ID,
    CONF_TIMEZONE,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    USERS_REREAD_INTERVAL,
)
from .enrollment import DeviceNotFound, EnrollmentManager, TerminalUnavailable

type ZKTecoConfigEntry = ConfigEntry[ZKTecoRuntimeData]


@dataclass(frozen=True, slots=True)
class ZKTecoRuntimeData:
    """What one terminal's entry holds, side by side: each part depends on the channel only."""

    channel: TerminalChannel
    coordinator: ZKTecoCoordinator
    attendance: AttendanceTracker
    enrollment: EnrollmentManager
    clock: ClockKeeper


@dataclass(frozen=True, slots=True, kw_only=True)
class ZKTecoData:
    """What the entities of one terminal show."""

    counters: Counters
    clock: datetime
    users: dict[str, TerminalUser]


class ZKTecoCoordinator(DataUpdateCoordinator[ZKTecoData]):
    """Polls one terminal through its channel: counters, clock and users.

    Each poll also runs the attendance's catch-up (``attendance``), in the same exchange.
    """

    config_entry: ZKTecoConfigEntry
    attendance: AttendanceTracker

    def __init__(
        self, hass: HomeAssistant, entry: ZKTecoConfigEntry, channel: TerminalChannel
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=DEFAULT_SCAN_INTERVAL,
        )
        self._channel = channel
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        # Until async_setup() has read the chosen one (reading it may touch the disk).
        self.timezone: tzinfo = dt_util.get_default_time_zone()
        self._users_read_at = datetime.min.replace(tzinfo=UTC)
        self._clock_listeners: list[Callable[[ClockRead], None]] = []

    async def async_setup(self) -> None:
        """Load the timezone; listen to the channel's events."""
        entry = self.config_entry
        self.timezone = await async_entry_time_zone(self.hass, entry)
        entry.async_on_unload(self._channel.async_add_listener(self._on_event))
        # Punches missed while Home Assistant was down are delivered once it has started:
        # automations are not listening before that. Once it runs, the first refresh does it.
        if self.hass.state is not CoreState.running:
            entry.async_on_unload(async_at_started(self.hass, self._async_catch_up))

    async def _async_catch_up(self, _hass: HomeAssistant) -> None:
        # Not debounced: live punches are held until this poll, never for a cooldown.
        await self.async_refresh()

    def localize(self, when: datetime) -> datetime:
        """Attach the terminal's timezone to a time read from its clock."""
        return when.replace(tzinfo=self.timezone)

    def known_users(self) -> dict[str, TerminalUser]:
        """The users the last poll read (none before the first)."""
        return self.data.users if self.data is not None else {}

    @callback
    def async_add_clock_listener(self, listener: Callable[[ClockRead], None]) -> CALLBACK_TYPE:
        """Call ``listener`` with each reading of the terminal's clock, before it is shown."""
        self._clock_listeners.append(listener)
        return lambda: self._clock_listeners.remove(listener)

    @callback
    def async_publish(self, **changes: object) -> None:
        """Show new values without a poll (and without touching availability)."""
        self.data = replace(self.data, **changes)  # type: ignore[arg-type]
        self.async_update_listeners()

    @callback
    def async_count_new_finger(self) -> None:
        """An enrollment succeeded: one fingerprint more, before the next poll reads it."""
        counters = self.data.counters
        self.async_publish(counters=replace(counters, fingers=counters.fingers + 1))

    @callback
    def _on_event(self, event: ChannelEvent) -> None:
        if isinstance(event, ConnectionLost):
            LOGGER.debug("%s: the session broke while idle", self.name)
        elif isinstance(event, SessionOpened) and self.data is not None:
            # Events may have been missed since the last session: the log is read at once, not
            # through the debounced refresh (live punches wait for this poll). Before the first
            # data, the first refresh is running already.
            self.config_entry.async_create_task(self.hass, self.async_refresh())
        elif isinstance(event, UsersChanged) and self.data is not None:
            self.async_publish(users={user.user_id: user for user in event.users})

    async def _async_update_data(self) -> ZKTecoData:
        if self.data is not None and self._channel.enrolling:
            # A poll would interrupt the terminal while it waits for a finger; its contact is
            # still followed, so that Connectivity tells when it is gone meanwhile.
            with translated_errors():
                await self._channel.async_check_contact()
            return self.data
        users_known = self.data.users if self.data is not None else None
        known_users_count = len(users_known) if users_known is not None else None
        now = dt_util.utcnow()
        users_stale = now - self._users_read_at >= USERS_REREAD_INTERVAL

        def read_users(counters: Counters) -> bool:
            return users_stale or counters.users != known_users_count

        catch_up = (
            self.attendance.catch_up(list((users_known or {}).values()))
            if self.hass.state is CoreState.running
            else None
        )
        with translated_errors():
            result = await self._channel.async_poll(read_users, catch_up)
        if result.users is not None:
            self._users_read_at = now
        users = (
            {user.user_id: user for user in result.users}
            if result.users is not None
            else users_known or {}
        )
        if catch_up is not None:
            self.attendance.apply(result.counters.records, result.caught_up, users)
        read = ClockRead(self.localize(result.clock), started=now, ended=dt_util.utcnow())
        for listener in list(self._clock_listeners):
            listener(read)
        return ZKTecoData(counters=result.counters, clock=read.clock, users=users)

    async def async_set_clock(self) -> None:
        """Set the terminal's clock to Home Assistant's time in its timezone, then read it again.

        Raises TerminalError when the terminal does not take it.
        """
        timezone = self.timezone
        # Taken right before it is sent: exchanges may be queued before.
        await self._channel.async_write_clock(lambda: wall_clock(timezone))
        await self.async_refresh()

    async def async_refresh_users(self) -> dict[str, TerminalUser]:
        """Read the users now (one may have been added at the terminal since the last poll)."""
        users = await self._channel.async_read_users()
        by_id = {user.user_id: user for user in users}
        self.async_publish(users=by_id)
        return by_id


@contextmanager
def translated_errors(
    unavailable: type[UpdateFailed | ConfigEntryNotReady] = UpdateFailed,
) -> Iterator[None]:
    """What Home Assistant makes of a terminal's failure: reauthentication, or ``unavailable``."""
    try:
        yield
    except TerminalAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except TerminalError as err:
        raise unavailable(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err


async def async_entry_time_zone(hass: HomeAssistant, entry: ConfigEntry) -> tzinfo:
    """The timezone the terminal's clock is set to: the entry's option, else Home Assistant's."""
    return (
        await dt_util.async_get_time_zone(entry.options.get(CONF_TIMEZONE) or hass.config.time_zone)
        or dt_util.get_default_time_zone()
    )


def wall_clock(timezone: tzinfo) -> datetime:
    """Home Assistant's time as a clock in ``timezone`` shows it (terminals keep no timezone)."""
    return dt_util.now(timezone).replace(tzinfo=None)


@callback
def async_find_terminal(hass: HomeAssistant, device_id: str) -> ZKTecoRuntimeData:
    """The terminal with this config-flow device id, or this device registry id.

    Raises DeviceNotFound when no terminal has it, and TerminalUnavailable when its entry is not
    set up (Home Assistant could not reach the terminal yet, say).
    """
    registry = dr.async_get(hass)
    # Ignored discoveries have no data, so no device id.
    entries: list[ZKTecoConfigEntry] = hass.config_entries.async_entries(
        DOMAIN, include_ignore=False
    )
    for entry in entries:
        if entry.data[CONF_DEVICE_ID] == device_id or any(
            device.id == device_id
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        ):
            if entry.state is not ConfigEntryState.LOADED:
                raise TerminalUnavailable(error=entry.reason or entry.state.value)
            return entry.runtime_data
    raise DeviceNotFound(device_id=device_id)
