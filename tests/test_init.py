"""Setting up and unloading a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_PORT, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.zkteco.const import CONF_DEVICE_ID, DOMAIN, EVENT_ATTENDANCE
from zksim import ZKSimulator

from .conftest import closed_port, entry_data, poll, punch, until

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
