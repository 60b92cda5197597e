"""Sensors: what the terminal holds, its clock, the last punch and the enrollment."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.zkteco.const import DEFAULT_SCAN_INTERVAL
from zksim import ZKSimulator
from zksim.protocol import CMD_PREPARE_BUFFER

ENROLLMENT_ATTRIBUTES = ("user_id", "finger_index", "finger_name", "presses")


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Entities disabled by default (the terminal's clock) are enabled too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.SENSOR]


async def poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the next scheduled poll run."""
    freezer.tick(DEFAULT_SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


@pytest.mark.freeze_time("2026-11-03 12:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_values_follow_the_terminal(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.add_user("50", "Nuevo Usuario")
    simulator.add_template("50", 3)
    simulator.punch("50")
    await poll(hass, freezer)

    assert state_of(hass, "sensor.principal_users") == "3"
    assert state_of(hass, "sensor.principal_fingerprints") == "2"
    assert state_of(hass, "sensor.principal_attendance_records") == "21"
    assert init_integration.runtime_data.coordinator.data.users["50"].name == "Nuevo Usuario"


async def test_users_read_only_when_their_count_changes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A poll reads the counters; the user table only when the user counter moved."""
    simulator.reset_stats()
    await poll(hass, freezer)
    assert simulator.commands
    assert CMD_PREPARE_BUFFER not in simulator.commands

    simulator.add_user("50", "Nuevo Usuario")
    simulator.reset_stats()
    await poll(hass, freezer)
    assert simulator.commands.count(CMD_PREPARE_BUFFER) == 1
    assert state_of(hass, "sensor.principal_users") == "3"


async def test_capacity_usage(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Usage is a percentage of what the terminal says it can hold, shown to one decimal."""
    simulator.capacity_users = 3
    simulator.capacity_fingers = 8
    simulator.capacity_records = 0
    await poll(hass, freezer)

    assert float(state_of(hass, "sensor.principal_user_capacity_used")) == pytest.approx(200 / 3)
    assert state_of(hass, "sensor.principal_fingerprint_capacity_used") == "12.5"
    assert state_of(hass, "sensor.principal_attendance_capacity_used") == "unknown"
    registry_entry = entity_registry.async_get("sensor.principal_user_capacity_used")
    assert registry_entry is not None
    assert registry_entry.options["sensor"]["suggested_display_precision"] == 1


async def test_enrollment_progress(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The enrollment sensor says whose finger is being enrolled and how far it got."""
    enrollment = init_integration.runtime_data.enrollment
    await enrollment.async_start("123", 1)
    state = hass.states.get("sensor.principal_enrollment")
    assert state is not None
    assert state.state == "waiting_press_1"
    assert {key: state.attributes[key] for key in ENROLLMENT_ATTRIBUTES} == {
        "user_id": "123",
        "finger_index": 1,
        "finger_name": "Indice derecho",
        "presses": 0,
    }
    await enrollment.async_cancel()
