"""The dashboard's selects: which user and which finger the enrollment button enrolls."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.select import (
    ATTR_OPTION,
    ATTR_OPTIONS,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.zkteco.const import DEFAULT_SCAN_INTERVAL
from zksim import ZKSimulator

USER_SELECT = "select.principal_user_to_enroll"
FINGER_SELECT = "select.principal_finger_to_enroll"


async def select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option},
        blocking=True,
    )


@pytest.mark.parametrize("platforms", [[Platform.SELECT]])
async def test_entities(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """No user chosen yet; the right index finger, as in the document's example."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_choose_user_and_finger(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    await select(hass, USER_SELECT, "Luis Perez (7)")
    await select(hass, FINGER_SELECT, "left_thumb")

    assert hass.states.get(USER_SELECT).state == "Luis Perez (7)"
    assert hass.states.get(FINGER_SELECT).state == "left_thumb"
    manager = init_integration.runtime_data.enrollment
    assert (manager.selected_user_id, manager.selected_finger) == ("7", 5)


async def test_user_options_follow_the_terminal(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Users added or removed at the terminal show up with the next poll."""
    await select(hass, USER_SELECT, "Ana Garcia (123)")
    simulator.delete_user("123")

    async_fire_time_changed(hass, dt_util.utcnow() + DEFAULT_SCAN_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)

    state = hass.states.get(USER_SELECT)
    assert state.attributes[ATTR_OPTIONS] == ["Luis Perez (7)"]
    assert state.state == "unknown"


async def test_user_without_a_name_is_listed_by_id(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    simulator.add_user("9")
    async_fire_time_changed(hass, dt_util.utcnow() + DEFAULT_SCAN_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)

    options = hass.states.get(USER_SELECT).attributes[ATTR_OPTIONS]
    assert options == ["9", "Ana Garcia (123)", "Luis Perez (7)"]
    await select(hass, USER_SELECT, "9")
    assert init_integration.runtime_data.enrollment.selected_user_id == "9"
