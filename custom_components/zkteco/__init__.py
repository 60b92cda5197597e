"""ZKTeco fingerprint terminals in Home Assistant."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .attendance import delivered_store
from .const import DOMAIN
from .coordinator import ZKTecoConfigEntry, ZKTecoCoordinator, terminal_config
from .enrollment import EnrollmentManager
from .http import async_register_views
from .pull.terminal import TerminalAuthError, TerminalError, TerminalInfo
from .pull.worker import TerminalWorker
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
    """Register the actions and the REST view, shared by every terminal."""
    async_setup_services(hass)
    async_register_views(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> bool:
    """Open the terminal's worker, read it once, then set up its entities."""
    worker = TerminalWorker(hass, terminal_config(dict(entry.data)), entry.title)
    worker.start()
    try:
        info = await _async_identify(hass, worker, entry)
        coordinator = ZKTecoCoordinator(hass, entry, worker, info)
        coordinator.enrollment = EnrollmentManager(hass, coordinator)
        await coordinator.async_setup()
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        await worker.async_stop()
        raise
    entry.async_on_unload(worker.async_add_listener(coordinator.enrollment.on_event))
    entry.runtime_data = coordinator
    entry.async_on_unload(async_watch(hass, coordinator))

    async def _async_on_stop(_event: Event) -> None:
        await _async_shutdown(coordinator)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_identify(
    hass: HomeAssistant, worker: TerminalWorker, entry: ZKTecoConfigEntry
) -> TerminalInfo:
    try:
        info = await worker.async_run(lambda terminal: terminal.read_info())
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
    return info


async def async_unload_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> bool:
    """Leave the terminal enabled and idle, remember what was delivered, close the session."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await _async_shutdown(entry.runtime_data)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> None:
    """Forget what was delivered and what was wrong: a terminal added again starts afresh."""
    async_clear_all(hass, entry)
    await delivered_store(hass, entry.entry_id).async_remove()


async def _async_shutdown(coordinator: ZKTecoCoordinator) -> None:
    await coordinator.enrollment.async_shutdown()
    await coordinator.worker.async_stop()
    # Saved last: a punch announced until the session closed is remembered as delivered.
    await coordinator.attendance.async_save()
