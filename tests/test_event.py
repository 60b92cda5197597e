"""The punch event entity."""

from __future__ import annotations

from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events
from syrupy.assertion import SnapshotAssertion

from custom_components.zkteco.const import EVENT_ATTENDANCE
from zksim import ZKSimulator

from .conftest import punch, until

ENTITY_ID = "event.principal_punch"


@pytest.mark.usefixtures("init_integration")
async def test_punch_event_entity(
    hass: HomeAssistant, simulator: ZKSimulator, snapshot: SnapshotAssertion
) -> None:
    """Each punch triggers the entity with its kind as the event type."""
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    events = async_capture_events(hass, EVENT_ATTENDANCE)
    punch(simulator, 0, user_id="7", kind=4)
    punch(simulator, 1, kind=9)
    await until(lambda: len(events) == 2)
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state != STATE_UNKNOWN
    assert state.attributes == snapshot
