"""ZKTeco fingerprint terminals in Home Assistant."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .attendance import AttendanceTracker, bus_publisher, delivered_store
from .card import async_setup_card
from .channel import TerminalAuthError, TerminalChannel, TerminalError
from .const import CONF_DEVICE_ID, DOMAIN
from .coordinator import ZKTecoConfigEntry, ZKTecoCoordinator, ZKTecoRuntimeData
from .enrollment import EnrollmentManager
from .http import async_register_views
from .pull.channel import PullChannel, terminal_config
from .push_setup import async_setup_push
from .repairs import async_clear_all, async_right_terminal, async_watch, async_wrong_terminal
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.SELECT,
    Platform.SENSOR,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, the REST view and the Push server, shared by every terminal."""
    async_setup_services(hass)
    async_register_views(hass)
    async_setup_push(hass)
    await async_setup_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> bool:
    """Open the terminal's channel, read it once, then set up its entities."""
    channel = PullChannel(hass, terminal_config(dict(entry.data)), entry.title)
    try:
        await _async_identify(hass, channel, entry)
        runtime = await _async_set_up_parts(hass, entry, channel)
    except BaseException:
        await channel.async_stop()
        raise
    entry.runtime_data = runtime
    entry.async_on_unload(async_watch(hass, runtime))

    async def _async_on_stop(_event: Event) -> None:
        await _async_shutdown(runtime)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_set_up_parts(
    hass: HomeAssistant, entry: ZKTecoConfigEntry, channel: TerminalChannel
) -> ZKTecoRuntimeData:
    """The parts side by side, each listening to the channel; the first poll done."""
    device_id: str = entry.data[CONF_DEVICE_ID]
    coordinator = ZKTecoCoordinator(hass, entry, channel)
    attendance = AttendanceTracker(
        channel,
        delivered_store(hass, entry.entry_id),
        name=entry.title,
        users=coordinator.known_users,
        localize=coordinator.localize,
        publish=bus_publisher(hass, device_id, channel.info.serial_number),
    )
    enrollment = EnrollmentManager(
        hass,
        entry,
        channel,
        coordinator,
        device_id=device_id,
        on_enrolled=coordinator.async_count_new_finger,
    )
    coordinator.attendance = attendance
    await attendance.async_load()
    # Attendance first: a new session puts it out of sync before the coordinator polls.
    entry.async_on_unload(channel.async_add_listener(attendance.on_event))
    await coordinator.async_setup()
    entry.async_on_unload(channel.async_add_listener(enrollment.on_event))
    await coordinator.async_config_entry_first_refresh()
    return ZKTecoRuntimeData(channel, coordinator, attendance, enrollment)


async def _async_identify(
    hass: HomeAssistant, channel: PullChannel, entry: ZKTecoConfigEntry
) -> None:
    try:
        info = await channel.async_open()
    except TerminalAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except TerminalError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    if entry.unique_id and info.serial_number != entry.unique_id:
        # Retrying finds the right terminal if it comes back; a repair tells how to follow it.
        async_wrong_terminal(hass, entry, info.serial_number)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="wrong_terminal",
            translation_placeholders={"serial_number": info.serial_number},
        )
    async_right_terminal(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> bool:
    """Leave the terminal enabled and idle, remember what was delivered, close the session."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await _async_shutdown(entry.runtime_data)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> None:
    """Forget what was delivered and what was wrong: a terminal added again starts afresh."""
    async_clear_all(hass, entry)
    await delivered_store(hass, entry.entry_id).async_remove()


async def _async_shutdown(runtime: ZKTecoRuntimeData) -> None:
    await runtime.enrollment.async_shutdown()
    await runtime.channel.async_stop()
    # Saved last: a punch announced until the session closed is remembered as delivered.
    await runtime.attendance.async_save()
