"""Diagnostics: what support needs, without secrets, names, addresses or fingerprints."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant

from .const import CONF_COMM_KEY
from .coordinator import ZKTecoConfigEntry

# discovery_keys: DHCP discovery records the terminal's MAC there.
TO_REDACT = {
    CONF_COMM_KEY,
    CONF_HOST,
    CONF_NAME,
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
            "enrollment": status.state if status else None,
        },
        TO_REDACT,
    )
