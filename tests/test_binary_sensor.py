"""The connectivity sensor, and every entity going unavailable while the terminal is away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.zkteco.const import DEFAULT_SCAN_INTERVAL, DOMAIN
from zksim import ZKSimulator
from zksim.push import PushTerminal

from .conftest import until_terminal

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


# -- the channels, and when a Push terminal last called ------------------------------------------


def attributes(hass: HomeAssistant) -> dict[str, Any]:
    state = hass.states.get(CONNECTIVITY)
    assert state is not None
    return dict(state.attributes)


@pytest.mark.usefixtures("init_integration")
async def test_pull_channel(hass: HomeAssistant) -> None:
    assert attributes(hass)["channels"] == ["pull"]
    assert "last_push_contact" not in attributes(hass)


async def test_attributes_are_translated(hass: HomeAssistant) -> None:
    for language in ("en", "es"):
        strings = await async_get_translations(hass, language, "entity", [DOMAIN])
        prefix = f"component.{DOMAIN}.entity.binary_sensor.connectivity.state_attributes"
        assert strings[f"{prefix}.channels.name"]
        assert strings[f"{prefix}.last_push_contact.name"]


async def test_push_channel_before_and_after_the_terminal_calls(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """Off and never contacted until it calls; then on, with the time of its last call."""
    push_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(CONNECTIVITY).state == STATE_OFF
    assert attributes(hass)["channels"] == ["push"]
    assert attributes(hass)["last_push_contact"] is None

    push = make_push_terminal(home_assistant_url).start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    await push_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    assert hass.states.get(CONNECTIVITY).state == STATE_ON
    assert attributes(hass)["last_push_contact"] == push_entry.runtime_data.channel.last_contact
    await hass.config_entries.async_unload(push_entry.entry_id)
