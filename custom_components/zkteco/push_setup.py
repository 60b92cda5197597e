"""Push mode on this Home Assistant: what every terminal that calls it shares.

- The hub (push/server.py) serves the terminals of the entries; a terminal it does not know is
  offered once as a discovered device (a config flow), and nothing it sends is used until a
  user accepts it (the hub refuses it meanwhile).
- The plain listener (push/listener.py) runs on each port an entry's options ask for, once per
  port, while an entry needs it.
- The address a terminal is told to call: Home Assistant's own on the network, or the
  listener's port when one runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util.hass_dict import HassKey
from yarl import URL

from .const import CONF_SERIAL_NUMBER, CONF_SOURCE_ADDRESS, DOMAIN
from .push.listener import PushListener, async_start_listener
from .push.server import PushDiscovery, PushHub, async_get_push_hub


@dataclass(slots=True)
class _Listeners:
    """The running listeners by port, and the entries that need each."""

    running: dict[int, PushListener] = field(default_factory=dict)
    users: dict[int, set[str]] = field(default_factory=dict)


DATA_LISTENERS: HassKey[_Listeners] = HassKey(f"{DOMAIN}_push_listeners")


@callback
def async_setup_push(hass: HomeAssistant) -> PushHub:
    """Serve `/iclock/` on Home Assistant's server; unknown terminals become discoveries."""
    hub = async_get_push_hub(hass)
    hub.discover = lambda discovery: _async_offer(hass, discovery)
    hass.data.setdefault(DATA_LISTENERS, _Listeners())
    return hub


@callback
def _async_offer(hass: HomeAssistant, discovery: PushDiscovery) -> None:
    discovery_flow.async_create_flow(
        hass,
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={CONF_SERIAL_NUMBER: discovery.serial, CONF_SOURCE_ADDRESS: discovery.address},
    )


async def async_use_listener(hass: HomeAssistant, port: int, entry_id: str) -> None:
    """Have the listener run on `port` for this entry; OSError when the port is taken."""
    listeners = hass.data[DATA_LISTENERS]
    if port not in listeners.running:
        listeners.running[port] = await async_start_listener(async_get_push_hub(hass), port)
    listeners.users.setdefault(port, set()).add(entry_id)


async def async_release_listener(hass: HomeAssistant, port: int, entry_id: str) -> None:
    """The entry no longer needs the listener on `port`: stopped when no entry does."""
    listeners = hass.data[DATA_LISTENERS]
    users = listeners.users.get(port, set())
    users.discard(entry_id)
    if not users and (listener := listeners.running.pop(port, None)) is not None:
        listeners.users.pop(port, None)
        await listener.async_stop()


def listener_ports(hass: HomeAssistant) -> list[int]:
    """The ports listeners run on, lowest first."""
    if (listeners := hass.data.get(DATA_LISTENERS)) is None:
        return []
    return sorted(listeners.running)


def terminal_server(hass: HomeAssistant) -> URL | None:
    """Where a terminal on the LAN reaches Home Assistant (None: it has no address yet)."""
    try:
        url = URL(get_url(hass, allow_internal=True, prefer_external=False))
    except NoURLAvailableError:
        return None
    if ports := listener_ports(hass):
        return url.with_scheme("http").with_port(ports[0])
    return url
