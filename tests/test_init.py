"""Setting up and unloading a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
import socket
from typing import Any
from unittest.mock import patch

from freezegun import freeze_time
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import (
    CONF_PORT,
    EVENT_HOMEASSISTANT_STOP,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.zkteco.combined import CombinedChannel, push_polling
from custom_components.zkteco.const import (
    CONF_DEVICE_ID,
    CONF_LISTENER_PORT,
    CONF_PUSH,
    DOMAIN,
    EVENT_ATTENDANCE,
)
from custom_components.zkteco.push_setup import listener_ports
from zksim import ZKSimulator
from zksim.push import PushTerminal

from .conftest import (
    PUSH_SERIAL,
    RIGHT_INDEX,
    RIGHT_THUMB,
    closed_port,
    enroll,
    entry_data,
    poll,
    punch,
    until,
    until_terminal,
)

SECOND_SERIAL = "CQUJ203960002"


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


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


async def test_unreachable_terminal_retries(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Nothing answers at the address: Home Assistant tries again later."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_PORT: closed_port()}
    )
    await setup_entry(hass, config_entry)

    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_serial_mismatch_retries(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Another terminal answers at the address (e.g. a DHCP lease moved): not this entry's."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SECOND_SERIAL, data=entry_data(simulator))
    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert simulator.wait_for(lambda sim: sim.sessions == 0)


async def test_wrong_comm_key_starts_reauth(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator
) -> None:
    simulator.comm_key = 4321
    await setup_entry(hass, config_entry)

    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [(flow["context"]["source"], flow["context"]["entry_id"]) for flow in flows] == [
        (SOURCE_REAUTH, config_entry.entry_id)
    ]
    assert simulator.wait_for(lambda sim: sim.sessions == 0)


@pytest.fixture
def second_simulator(socket_enabled: None) -> Iterator[ZKSimulator]:
    """Another K40 with one user."""
    with ZKSimulator(serial=SECOND_SERIAL) as sim:
        sim.mac = "00:17:61:C8:31:08"  # two terminals never share a MAC
        sim.add_user("1", "Marta Ruiz")
        yield sim


async def test_two_terminals(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    second_simulator: ZKSimulator,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Each terminal has its own device, entities and session."""
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Almacen",
        unique_id=SECOND_SERIAL,
        data=entry_data(second_simulator, device_id="almacen"),
    )
    await setup_entry(hass, second)

    assert second.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.principal_users").state == "2"
    assert hass.states.get("sensor.almacen_users").state == "1"
    for entry in (init_integration, second):
        (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        assert device.serial_number == entry.unique_id
        assert device.name == entry.title
        assert {
            registry_entry.device_id
            for registry_entry in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        } == {device.id}
    assert second.runtime_data.coordinator.device_id == "almacen"
    assert second.data[CONF_DEVICE_ID] == "almacen"
    await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert second_simulator.wait_for(lambda sim: sim.sessions == 0)
    assert init_integration.state is ConfigEntryState.LOADED


async def test_home_assistant_stop_closes_session(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """A terminal accepts few sessions: one left open would block it until it times out."""
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()

    assert simulator.wait_for(lambda sim: sim.sessions == 0)


async def test_removing_the_entry_forgets_delivered_punches(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Nothing of a deleted terminal stays in Home Assistant's storage."""
    key = f"{DOMAIN}.{init_integration.entry_id}.attendance"
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert key in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_punch_while_unloading_is_delivered_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """A punch that comes as the session closes is remembered: a reload does not repeat it."""
    events = async_capture_events(hass, EVENT_ATTENDANCE)
    worker = init_integration.runtime_data.channel.worker
    stop = worker.async_stop

    async def punch_then_stop() -> None:
        punch(simulator, 0)
        await until(lambda: len(events) == 1)
        await stop()

    with patch.object(worker, "async_stop", punch_then_stop):
        assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await poll(hass, init_integration)

    assert len(events) == 1


# -- terminals that call Home Assistant (Push) ---------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_push_entry_loads_before_the_terminal_calls(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """Added before the terminal calls: loaded, off; its punches fire as it posts them."""
    await setup_entry(hass, push_entry)
    assert push_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("binary_sensor.principal_connectivity").state == STATE_OFF
    assert hass.states.get("sensor.principal_users").state == STATE_UNAVAILABLE
    events = async_capture_events(hass, EVENT_ATTENDANCE)

    push = make_push_terminal(home_assistant_url).start()
    push.terminal.punch("2", timestamp=dt_util.now().replace(tzinfo=None))
    await until(lambda: len(events) == 1)
    await poll(hass, push_entry)

    assert events[0].data["user_id"] == "2"
    assert events[0].data["serial_number"] == PUSH_SERIAL
    assert events[0].data["caught_up"] is False
    assert hass.states.get("binary_sensor.principal_connectivity").state == STATE_ON
    assert hass.states.get("sensor.principal_users").state == "3"


@pytest.mark.usefixtures("socket_enabled")
async def test_a_user_the_push_terminal_uploads_names_its_next_punch(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """Added at the terminal's keypad: its USER upload names the punch that follows at once,
    not after the next re-read of the users."""
    await setup_entry(hass, push_entry)
    push = make_push_terminal(home_assistant_url).start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    await poll(hass, push_entry)
    events = async_capture_events(hass, EVENT_ATTENDANCE)

    push.add_user("77", "Luis Perez")
    await until_terminal(hass, push, lambda t: len(t.acknowledged.get("OPERLOG", [])) >= 1)
    push.terminal.punch("77", timestamp=dt_util.now().replace(tzinfo=None))
    await until(lambda: len(events) == 1)

    assert events[0].data["name"] == "Luis Perez"


async def test_removing_a_push_entry_forgets_its_terminal(
    hass: HomeAssistant, push_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Its queue, its journal of punches and what it told of itself go with it."""
    await setup_entry(hass, push_entry)
    assert await hass.config_entries.async_unload(push_entry.entry_id)
    assert any(key.startswith(f"{DOMAIN}.push.{PUSH_SERIAL}.") for key in hass_storage)

    await hass.config_entries.async_remove(push_entry.entry_id)
    await hass.async_block_till_done()

    assert [key for key in hass_storage if PUSH_SERIAL in key] == []


@pytest.mark.parametrize("entry_options", [{CONF_LISTENER_PORT: 0}])
@pytest.mark.usefixtures("socket_enabled")
async def test_listener_runs_while_an_entry_needs_it(
    hass: HomeAssistant, push_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, push_entry)
    assert len(listener_ports(hass)) == 1

    assert await hass.config_entries.async_unload(push_entry.entry_id)
    assert listener_ports(hass) == []


@pytest.mark.usefixtures("socket_enabled")
async def test_listener_port_taken(hass: HomeAssistant, push_entry: MockConfigEntry) -> None:
    """Another program holds the port: the entry waits for it, and says why."""
    with socket.socket() as holder:
        holder.bind(("", 0))
        holder.listen()
        port = holder.getsockname()[1]
        push_entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(push_entry, options={CONF_LISTENER_PORT: port})
        await setup_entry(hass, push_entry)

    assert push_entry.state is ConfigEntryState.SETUP_RETRY
    assert str(port) in str(push_entry.reason)
    assert listener_ports(hass) == []


async def test_discovery_attaches_push_and_enrollment_follows_the_polls(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """One entry, both channels: enrollment through Push while it polls, else through pull."""
    events = async_capture_events(hass, EVENT_ATTENDANCE)
    two_way_terminal.start()
    await until(lambda: init_integration.data.get(CONF_PUSH) is True)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    channel = init_integration.runtime_data.channel
    assert isinstance(channel, CombinedChannel)
    await until(lambda: push_polling(channel.push))

    assert await enroll(hass, init_integration, simulator, 1) == "success"
    assert [result.cmd for result in two_way_terminal.results] == ["ENROLL_FP"]
    assert simulator.has_template("123", RIGHT_INDEX)

    await hass.async_add_executor_job(two_way_terminal.stop)
    silence = channel.push.contact_timeout + timedelta(seconds=1)
    with freeze_time(dt_util.utcnow() + silence, tick=True):
        assert channel.enrollment_channel() is channel.pull
        assert await enroll(hass, init_integration, simulator, 0) == "success"
    assert [result.cmd for result in two_way_terminal.results] == ["ENROLL_FP"]
    assert simulator.has_template("123", RIGHT_THUMB)

    punch(simulator, 1)
    await until(lambda: len(events) == 1)
    await poll(hass, init_integration)
    assert len(events) == 1
    assert (
        len(dr.async_entries_for_config_entry(dr.async_get(hass), init_integration.entry_id)) == 1
    )
