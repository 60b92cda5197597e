"""ZKTeco fingerprint terminals in Home Assistant."""

from __future__ import annotations

from functools import partial
from typing import Final

from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .attendance import AttendanceTracker, bus_publisher, delivered_store
from .card import async_setup_card
from .channel import Counters, TerminalChannel
from .clock import ClockKeeper
from .combined import PULL, PUSH, CombinedChannel, channels_of
from .const import (
    CONF_DEVICE_ID,
    CONF_ENROLLMENT_PATH,
    CONF_KEEP_CLOCK,
    CONF_LISTENER_PORT,
    CONF_PUSH,
    CONF_SHARE_FINGERPRINTS,
    CONF_SOURCE_ADDRESS,
    DOMAIN,
    ENROLLMENT_AUTOMATIC,
)
from .coordinator import (
    ZKTecoConfigEntry,
    ZKTecoCoordinator,
    ZKTecoData,
    ZKTecoRuntimeData,
    async_entry_time_zone,
    translated_errors,
)
from .enrollment import EnrollmentManager
from .http import async_register_views
from .pull.channel import PullChannel, terminal_config
from .push.channel import PushChannel
from .push.server import async_get_push_hub
from .push_setup import async_release_listener, async_setup_push, async_use_listener
from .repairs import async_clear_all, async_right_terminal, async_watch, async_wrong_terminal
from .services import async_setup_services
from .sharing import async_share_new_fingers

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

NOTHING_COUNTED: Final = Counters(0, 0, 0, 0, 0, 0, 0)

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
    if (port := entry.options.get(CONF_LISTENER_PORT)) is not None:
        await _async_use_listener(hass, entry, port)
    channel = await _async_entry_channel(hass, entry)
    try:
        await _async_open(hass, entry, channel)
        runtime = await _async_set_up_parts(hass, entry, channel)
    except BaseException:
        await channel.async_stop()
        raise
    entry.runtime_data = runtime
    entry.async_on_unload(async_watch(hass, runtime))
    if entry.options.get(CONF_SHARE_FINGERPRINTS, False):
        entry.async_on_unload(async_share_new_fingers(hass, runtime))

    async def _async_on_stop(_event: Event) -> None:
        await _async_shutdown(runtime)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_use_listener(hass: HomeAssistant, entry: ZKTecoConfigEntry, port: int) -> None:
    """The plain listener the entry's options ask for, until the entry unloads."""
    try:
        await async_use_listener(hass, port, entry.entry_id)
    except OSError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="listener_port_taken",
            translation_placeholders={"port": str(port), "error": str(err)},
        ) from err
    entry.async_on_unload(partial(async_release_listener, hass, port, entry.entry_id))


async def _async_entry_channel(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> TerminalChannel:
    """Pull, Push or both, as the entry's data says; nothing opened yet."""
    push = (
        PushChannel(
            hass,
            str(entry.unique_id),
            entry.title,
            time_zone=await async_entry_time_zone(hass, entry),
            source_address=entry.options.get(CONF_SOURCE_ADDRESS),
        )
        if entry.data.get(CONF_PUSH)
        else None
    )
    if CONF_HOST not in entry.data:
        assert push is not None, "an entry has pull, Push or both"
        return push
    pull = PullChannel(hass, terminal_config(dict(entry.data)), entry.title)
    if push is None:
        return pull
    return CombinedChannel(
        pull, push, entry.options.get(CONF_ENROLLMENT_PATH, ENROLLMENT_AUTOMATIC)
    )


async def _async_open(
    hass: HomeAssistant, entry: ZKTecoConfigEntry, channel: TerminalChannel
) -> None:
    """Push is served at once, whether or not its terminal has called; pull is read once.

    Push first: what it stores is loaded before anything could stop it and save over it.
    """
    channels = channels_of(channel)
    if isinstance(push := channels.get(PUSH), PushChannel):
        await push.async_open(async_get_push_hub(hass))
    if isinstance(pull := channels.get(PULL), PullChannel):
        await _async_identify(hass, pull, entry)


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
    clock = ClockKeeper(hass, entry, coordinator, channel)
    coordinator.attendance = attendance
    await attendance.async_load()
    # Attendance first: a new session puts it out of sync before the coordinator polls.
    entry.async_on_unload(channel.async_add_listener(attendance.on_event))
    await coordinator.async_setup()
    entry.async_on_unload(channel.async_add_listener(enrollment.on_event))
    if entry.options.get(CONF_KEEP_CLOCK, True):
        entry.async_on_unload(clock.async_start())
    if isinstance(channel, PushChannel):
        await _async_first_push_refresh(coordinator, channel)
    else:
        await coordinator.async_config_entry_first_refresh()
    return ZKTecoRuntimeData(channel, coordinator, attendance, enrollment, clock)


async def _async_first_push_refresh(coordinator: ZKTecoCoordinator, channel: PushChannel) -> None:
    """A terminal that calls Home Assistant may not have called yet (just added, or not since
    Home Assistant started): the entry loads all the same, its entities unavailable and its
    Connectivity off until it calls; the users it told of before are known meanwhile."""
    await coordinator.async_refresh()
    if coordinator.data is None:
        users = await channel.async_read_users()
        coordinator.data = ZKTecoData(
            counters=NOTHING_COUNTED,
            clock=dt_util.now(coordinator.timezone),
            users={user.user_id: user for user in users},
        )


async def _async_identify(
    hass: HomeAssistant, channel: PullChannel, entry: ZKTecoConfigEntry
) -> None:
    with translated_errors(ConfigEntryNotReady):
        info = await channel.async_open()
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
    if entry.data.get(CONF_PUSH):
        await PushChannel.async_remove_stores(hass, str(entry.unique_id))


async def _async_shutdown(runtime: ZKTecoRuntimeData) -> None:
    await runtime.enrollment.async_shutdown()
    await runtime.channel.async_stop()
    # Saved last: a punch announced until the session closed is remembered as delivered.
    await runtime.attendance.async_save()
