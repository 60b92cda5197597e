"""Diagnostics: what support needs, without secrets, names, addresses or fingerprints."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant

from .combined import PULL, channels_of, push_of, push_polling
from .const import CONF_COMM_KEY, CONF_SOURCE_ADDRESS
from .coordinator import ZKTecoConfigEntry, ZKTecoRuntimeData
from .push.channel import PushChannel
from .push.server import async_get_push_hub
from .push_setup import listener_ports

# discovery_keys: DHCP discovery records the terminal's MAC there.
TO_REDACT = {
    CONF_COMM_KEY,
    CONF_HOST,
    CONF_NAME,
    CONF_SOURCE_ADDRESS,
    "discovery_keys",
    "mac",
    "serial_number",
    "title",
    "unique_id",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ZKTecoConfigEntry
) -> dict[str, Any]:
    """Counters, firmware and state of one terminal; users are counted, not listed."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    data = coordinator.data
    status = runtime.enrollment.status
    return async_redact_data(
        {
            "entry": entry.as_dict(),
            "terminal": asdict(runtime.channel.info),
            "realtime_events": runtime.channel.realtime,
            "last_update_success": coordinator.last_update_success,
            "counters": asdict(data.counters),
            "users": len(data.users),
            "clock": data.clock.isoformat(),
            "clock_keeping": runtime.clock.diagnostics(),
            "enrollment": status.state if status else None,
            "channels": _channels(hass, runtime),
        },
        TO_REDACT,
    )


def _channels(hass: HomeAssistant, runtime: ZKTecoRuntimeData) -> dict[str, Any]:
    """Each way the terminal is reached, and when it last spoke on it."""
    channels: dict[str, Any] = {}
    if PULL in channels_of(runtime.channel):
        channels[PULL] = {"last_poll_succeeded": runtime.coordinator.last_update_success}
    if (push := push_of(runtime.channel)) is not None:
        channels["push"] = _push(hass, push)
    return channels


def _push(hass: HomeAssistant, push: PushChannel) -> dict[str, Any]:
    """Per endpoint, when the terminal last called; what the server refused, and why."""
    hub = async_get_push_hub(hass)
    return {
        "polling": push_polling(push),
        "last_contact": push.last_contact.isoformat() if push.last_contact else None,
        "contacts": {endpoint: when.isoformat() for endpoint, when in push.contacts.items()},
        "pending_commands": [command.command.split(" ")[0] for command in push.queue.pending],
        "refused_from_another_address": hub.refused_source[push.serial],
        "refused_unknown_serial_numbers": hub.refused_unknown,
        "listener_ports": listener_ports(hass),
    }
