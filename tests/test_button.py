"""The dashboard's button that starts an enrollment with what the selects chose."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from zksim import ZKSimulator

BUTTON = "button.principal_enroll_fingerprint"


async def press(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: BUTTON}, blocking=True
    )


@pytest.mark.parametrize("platforms", [[Platform.BUTTON]])
async def test_entities(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_press_enrolls_the_chosen_finger(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Chosen on the dashboard, started with the button, followed on the enrollment sensor."""
    for entity_id, option in (
        ("select.principal_user_to_enroll", "Ana Garcia (123)"),
        ("select.principal_finger_to_enroll", "left_thumb"),
    ):
        await hass.services.async_call(
            SELECT_DOMAIN,
            SERVICE_SELECT_OPTION,
            {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option},
            blocking=True,
        )

    await press(hass)

    assert simulator.enrolling
    state = hass.states.get("sensor.principal_enrollment")
    assert state.state == "waiting_press_1"
    assert state.attributes["user_id"] == "123"
    assert state.attributes["finger_name"] == "Pulgar izquierdo"


async def test_press_without_a_user(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Nobody chosen yet: a translated error, and the terminal is not asked."""
    simulator.reset_stats()

    with pytest.raises(ServiceValidationError) as err:
        await press(hass)

    assert err.value.translation_key == "no_user_selected"
    assert str(err.value).startswith("Choose the user to enroll first")
    assert simulator.commands == []
