"""The dashboard's button that starts an enrollment with what the selects chose."""

from __future__ import annotations

from datetime import datetime, timedelta
import time

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.zkteco.const import (
    CONF_TIMEZONE,
    DEFAULT_UNLOCK_SECONDS,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from zksim import ZKSimulator, protocol as sim_protocol

from .conftest import poll

BUTTON = "button.principal_enroll_fingerprint"
SET_CLOCK = "button.principal_set_clock"
OPEN_DOOR = "button.principal_open_door"
RESTART = "button.principal_restart"
USERS_SENSOR = "sensor.principal_users"
MADRID = "Europe/Madrid"
DEAD_BATTERY = datetime(2000, 1, 1)
BOTH_TRANSPORTS = [PROTOCOL_TCP, PROTOCOL_UDP]


async def press(hass: HomeAssistant, button: str = BUTTON) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: button}, blocking=True
    )


def madrid_now() -> datetime:
    return dt_util.now(dt_util.get_time_zone(MADRID)).replace(tzinfo=None)


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


@pytest.mark.parametrize("entry_options", [{CONF_TIMEZONE: MADRID}])
@pytest.mark.parametrize("protocol", BOTH_TRANSPORTS)
async def test_set_clock(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Home Assistant's time in the terminal's timezone; the clock read again at once."""
    simulator.set_clock(DEAD_BATTERY)

    await press(hass, SET_CLOCK)

    assert abs(simulator.clock - madrid_now()) < timedelta(minutes=1)
    coordinator = init_integration.runtime_data.coordinator
    assert abs(coordinator.data.clock - dt_util.utcnow()) < timedelta(minutes=1)


@pytest.mark.parametrize("protocol", BOTH_TRANSPORTS)
async def test_open_door(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """The lock opens for the default time (the manual leaves a zero delay undefined)."""
    await press(hass, OPEN_DOOR)

    assert simulator.relay_open
    assert simulator.relay_open_until is not None
    assert simulator.relay_open_until - time.monotonic() <= DEFAULT_UNLOCK_SECONDS


@pytest.mark.usefixtures("short_timeout")
@pytest.mark.parametrize("button", [SET_CLOCK, OPEN_DOOR])
async def test_press_on_a_terminal_that_does_not_answer(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry, button: str
) -> None:
    """A translated error; the clock is not set, the door stays closed."""
    simulator.set_clock(DEAD_BATTERY)
    simulator.unresponsive = True

    with pytest.raises(HomeAssistantError) as err:
        await press(hass, button)

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"
    assert str(err.value).startswith("The terminal could not be reached")
    simulator.unresponsive = False
    assert abs(simulator.clock - DEAD_BATTERY) < timedelta(minutes=1)
    assert not simulator.relay_open


@pytest.mark.usefixtures("short_timeout")
@pytest.mark.parametrize("protocol", BOTH_TRANSPORTS)
@pytest.mark.parametrize("acknowledged", [True, False])
async def test_restart(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    acknowledged: bool,
) -> None:
    """Real terminals restart without answering (zk-protocol); Home Assistant reconnects."""
    simulator.ack_restart = acknowledged
    simulator.reboot_duration = 0.1

    await press(hass, RESTART)

    # Restarted and back: the button may have timed out before the terminal got the command.
    assert await hass.async_add_executor_job(
        simulator.wait_for, lambda sim: sim.reboots == 1 and not sim.rebooting
    )
    await poll(hass, init_integration)
    assert hass.states.get(USERS_SENSOR).state not in (STATE_UNAVAILABLE, None)
    assert simulator.sessions == 1


async def test_restart_refused(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A terminal that says no is told; one that keeps silent is taken as restarting, since real
    terminals restart without answering (zk-protocol)."""
    simulator.refused_commands = {sim_protocol.CMD_RESTART}

    with pytest.raises(HomeAssistantError) as err:
        await press(hass, RESTART)

    assert err.value.translation_key == "device_error"
    assert not simulator.rebooting
