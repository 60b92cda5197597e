"""Keeps what Home Assistant knows about one terminal up to date."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import CoreState, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .attendance import AttendanceTracker, Collected, PunchRecord, collect
from .const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_PROTOCOL,
    CONF_TIMEZONE,
    CONNECT_TIMEOUT,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    PROTOCOL_UDP,
    USERS_REREAD_INTERVAL,
)
from .enrollment import (
    DeviceNotFound,
    EnrollmentManager,
    EnrollmentStatus,
    TerminalUnavailable,
)
from .pull.terminal import (
    Counters,
    TerminalAuthError,
    TerminalConfig,
    TerminalError,
    TerminalInfo,
    TerminalUser,
    ZKTerminal,
)
from .pull.worker import ConnectionLost, TerminalWorker, WorkerEvent

type ZKTecoConfigEntry = ConfigEntry[ZKTecoCoordinator]


@dataclass(frozen=True, slots=True, kw_only=True)
class ZKTecoData:
    """What the entities of one terminal show."""

    counters: Counters
    clock: datetime
    users: dict[str, TerminalUser]
    last_punch: PunchRecord | None = None
    enrollment: EnrollmentStatus | None = None


@dataclass(frozen=True, slots=True)
class _Poll:
    counters: Counters
    clock: datetime
    users: list[TerminalUser] | None
    attendance: Collected | None = field(default=None)


def terminal_config(data: dict[str, object]) -> TerminalConfig:
    """How to reach the terminal of a config entry (or of a config flow's input)."""
    return TerminalConfig(
        host=str(data[CONF_HOST]),
        port=int(str(data[CONF_PORT])),
        comm_key=int(str(data.get(CONF_COMM_KEY, 0))),
        udp=data.get(CONF_PROTOCOL) == PROTOCOL_UDP,
        timeout=CONNECT_TIMEOUT,
    )


class ZKTecoCoordinator(DataUpdateCoordinator[ZKTecoData]):
    """Polls one terminal through its worker, and hands its realtime events out."""

    config_entry: ZKTecoConfigEntry
    enrollment: EnrollmentManager

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ZKTecoConfigEntry,
        worker: TerminalWorker,
        info: TerminalInfo,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=DEFAULT_SCAN_INTERVAL,
        )
        self.worker = worker
        self.info = info
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        # Until async_setup() has read the chosen one (reading it may touch the disk).
        self.timezone: tzinfo = dt_util.get_default_time_zone()
        self.attendance = AttendanceTracker(hass, self)
        self._users_read_at = datetime.min.replace(tzinfo=UTC)

    async def async_setup(self) -> None:
        """Load the timezone and what was delivered before; listen to the realtime events."""
        entry = self.config_entry
        self.timezone = (
            await dt_util.async_get_time_zone(
                entry.options.get(CONF_TIMEZONE) or self.hass.config.time_zone
            )
            or self.timezone
        )
        await self.attendance.async_load()
        entry.async_on_unload(self.worker.async_add_listener(self._on_worker_event))
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

    @callback
    def async_publish(self, **changes: object) -> None:
        """Show new values without a poll (and without touching availability)."""
        if self.data is None:
            return
        self.data = replace(self.data, **changes)  # type: ignore[arg-type]
        self.async_update_listeners()

    @callback
    def _on_worker_event(self, event: WorkerEvent) -> None:
        if isinstance(event, ConnectionLost):
            LOGGER.debug("%s: the session broke while idle", self.name)
        self.attendance.on_event(event)

    async def _async_update_data(self) -> ZKTecoData:
        if self.data is not None and self.enrollment.active:
            return self.data  # polls would interrupt the terminal while it waits for a finger
        users_known = self.data.users if self.data is not None else None
        cursor = self.attendance.snapshot()
        in_sync = self.attendance.in_sync
        catch_up = self.hass.state is CoreState.running
        known_users_count = len(users_known) if users_known is not None else None
        now = dt_util.utcnow()
        users_stale = now - self._users_read_at >= USERS_REREAD_INTERVAL

        def poll(terminal: ZKTerminal) -> _Poll:
            counters = terminal.read_counters()
            clock = terminal.read_clock()
            reread = users_stale or counters.users != known_users_count
            users = terminal.read_users() if reread else None
            all_users = users if users is not None else list((users_known or {}).values())
            collected = (
                collect(terminal, counters, cursor, all_users, in_sync=in_sync)
                if catch_up
                else None
            )
            return _Poll(counters, clock, users, collected)

        try:
            result = await self.worker.async_run(poll)
        except TerminalAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except TerminalError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        if result.users is not None:
            self._users_read_at = now
        users = (
            {user.user_id: user for user in result.users}
            if result.users is not None
            else users_known or {}
        )
        last_punch = (
            self.attendance.apply(result.counters.records, result.attendance, users)
            if catch_up
            else None
        )
        previous = self.data
        return ZKTecoData(
            counters=result.counters,
            clock=self.localize(result.clock),
            users=users,
            last_punch=last_punch or (previous.last_punch if previous else None),
            enrollment=previous.enrollment if previous else None,
        )

    async def async_refresh_users(self) -> dict[str, TerminalUser]:
        """Read the users now (one may have been added at the terminal since the last poll)."""
        users = await self.worker.async_run(lambda terminal: terminal.read_users())
        by_id = {user.user_id: user for user in users}
        self.async_publish(users=by_id)
        return by_id


@callback
def async_find_coordinator(hass: HomeAssistant, device_id: str) -> ZKTecoCoordinator:
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
