"""Setting up and unloading a terminal."""

from __future__ import annotations

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from zksim import ZKSimulator


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The terminal is read, then its session closes on unload."""
    assert init_integration.state is ConfigEntryState.LOADED
    assert simulator.sessions == 1
    assert hass.states.get("sensor.principal_users").state == "2"
    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert simulator.wait_for(lambda sim: sim.sessions == 0)
