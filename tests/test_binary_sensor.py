"""The connectivity sensor, and every entity going unavailable while the terminal is away."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
)

from custom_components.zkteco.const import DEFAULT_SCAN_INTERVAL
from zksim import ZKSimulator

CONNECTIVITY = "binary_sensor.principal_connectivity"
USERS = "sensor.principal_users"


async def poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the next scheduled poll run."""
    freezer.tick(DEFAULT_SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def states(hass: HomeAssistant) -> tuple[str, str]:
    """The connectivity sensor's state, and a sensor's that depends on the terminal."""
    connectivity, users = hass.states.get(CONNECTIVITY), hass.states.get(USERS)
    assert connectivity is not None
    assert users is not None
    return connectivity.state, users.state


@pytest.mark.usefixtures("init_integration")
async def test_connected(hass: HomeAssistant) -> None:
    assert states(hass) == (STATE_ON, "2")


@pytest.mark.usefixtures("short_timeout", "init_integration")
async def test_unreachable_and_back(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Entities go unavailable, connectivity says off; each change is logged once."""
    simulator.unresponsive = True
    for _ in range(3):
        await poll(hass, freezer)
        assert states(hass) == (STATE_OFF, STATE_UNAVAILABLE)

    simulator.unresponsive = False
    for _ in range(2):
        await poll(hass, freezer)
        assert states(hass) == (STATE_ON, "2")

    assert caplog.text.count("Error fetching Principal data") == 1
    assert caplog.text.count("Fetching Principal data recovered") == 1
