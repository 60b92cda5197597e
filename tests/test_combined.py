"""A terminal reached both ways (combined.py): one simulated K40 speaking pull and Push.

The simulator answers pull on loopback and, through zksim's PushTerminal wrapped around it, calls
Home Assistant's server as a Push terminal: the same users, fingers and punches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from freezegun import freeze_time
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.zkteco.channel import Capability, UserChanges
from custom_components.zkteco.combined import CombinedChannel, push_polling
from custom_components.zkteco.const import (
    CONF_ENROLLMENT_PATH,
    DEFAULT_UNLOCK_SECONDS,
    ENROLLMENT_PULL,
    ENROLLMENT_PUSH,
    EVENT_ATTENDANCE,
)
from custom_components.zkteco.enrollment import FingerAlreadyEnrolled
from zksim import ZKSimulator, protocol as sim_protocol
from zksim.push import PushTerminal

from .conftest import RIGHT_INDEX, RIGHT_THUMB, enroll, poll, punch, until, until_terminal


@pytest.fixture
async def channel(
    hass: HomeAssistant, two_way_entry: MockConfigEntry, two_way_terminal: PushTerminal
) -> AsyncIterator[CombinedChannel]:
    """The entry set up, its terminal polling Home Assistant."""
    two_way_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(two_way_entry.entry_id)
    await hass.async_block_till_done()
    channel = two_way_entry.runtime_data.channel
    assert isinstance(channel, CombinedChannel)
    two_way_terminal.start()
    await until(lambda: push_polling(channel.push))
    yield channel
    if two_way_entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(two_way_entry.entry_id)


async def test_each_punch_once(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """Pull delivers it; Push's copy is acknowledged to the terminal and not fired again."""
    events = async_capture_events(hass, EVENT_ATTENDANCE)
    punch(simulator, 1)
    await until_terminal(hass, two_way_terminal, lambda t: len(t.acknowledged["ATTLOG"]) >= 1)
    await until(lambda: len(events) >= 1)
    await poll(hass, two_way_entry)

    assert [event.data["user_id"] for event in events] == ["123"]


async def test_reads_and_actions_go_through_pull(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """Pull reads on demand and answers at once; the Push terminal gets no command for them."""
    simulator.reset_stats()
    users = await two_way_entry.runtime_data.coordinator.async_refresh_users()
    await channel.async_unlock(DEFAULT_UNLOCK_SECONDS)
    await two_way_entry.runtime_data.coordinator.async_set_clock()

    assert set(users) == {"123", "7"}
    assert await channel.async_enrolled_fingers(users["7"]) == {RIGHT_THUMB}
    assert simulator.relay_open
    assert sim_protocol.CMD_SET_TIME in simulator.commands
    assert two_way_terminal.results == []


async def test_people_and_fingers_go_through_pull(
    hass: HomeAssistant,
    channel: CombinedChannel,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """Pull writes and reads people and templates (Push cannot); presses are not reported
    while enrollment goes through Push."""
    templates = await channel.async_read_templates("7")
    await channel.async_write_user("55", UserChanges(name="Luis"))
    await channel.async_write_templates("55", templates)
    people = {person.user.user_id: person.fingers for person in await channel.async_read_people()}
    assert await channel.async_delete_finger("55", RIGHT_THUMB) is True
    await channel.async_delete_user("55")
    await channel.async_clear_attendance(len(simulator.records))

    assert people["55"] == {RIGHT_THUMB}
    assert simulator.user_by_id("55") is None
    assert simulator.records == []
    assert two_way_terminal.results == []
    assert Capability.ENROLLMENT_PRESSES not in channel.capabilities


@pytest.mark.parametrize("entry_options", [{CONF_ENROLLMENT_PATH: ENROLLMENT_PULL}])
async def test_enrollment_path_pull(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """Forced through pull while the terminal polls: the terminal's presses are followed."""
    assert channel.enrollment_channel() is channel.pull

    assert await enroll(hass, two_way_entry, simulator, 1) == "success"
    assert simulator.has_template("123", RIGHT_INDEX)
    assert two_way_terminal.results == []


@pytest.mark.parametrize("entry_options", [{CONF_ENROLLMENT_PATH: ENROLLMENT_PULL}])
async def test_finger_already_enrolled_then_cancel_through_pull(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    simulator: ZKSimulator,
) -> None:
    """Refused before it starts; the cancel action then reaches the terminal through pull."""
    enrollment = two_way_entry.runtime_data.enrollment
    with pytest.raises(FingerAlreadyEnrolled):
        await enrollment.async_start("7", 0)
    simulator.reset_stats()

    await enrollment.async_cancel()

    assert sim_protocol.CMD_CANCELCAPTURE in simulator.commands
    assert not channel.enrolling


@pytest.mark.parametrize("entry_options", [{CONF_ENROLLMENT_PATH: ENROLLMENT_PUSH}])
async def test_enrollment_path_push(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    two_way_terminal: PushTerminal,
) -> None:
    """Forced through Push: chosen even once the terminal stops polling."""
    await hass.async_add_executor_job(two_way_terminal.stop)

    assert channel.enrollment_channel() is channel.push
    assert channel.enrollment_timeout == channel.push.enrollment_timeout


async def test_while_push_enrolls_its_contact_stands_for_the_polls(
    hass: HomeAssistant,
    two_way_entry: MockConfigEntry,
    channel: CombinedChannel,
    simulator: ZKSimulator,
    two_way_terminal: PushTerminal,
) -> None:
    """Pull leaves the capture screen alone; a terminal that stops calling shows as gone."""
    runtime = two_way_entry.runtime_data
    await runtime.enrollment.async_start("123", 1)
    assert await hass.async_add_executor_job(simulator.wait_for, lambda sim: sim.enrolling)
    simulator.reset_stats()

    await hass.async_add_executor_job(two_way_terminal.stop)
    with freeze_time(dt_util.utcnow() + channel.push.contact_timeout + timedelta(seconds=1)):
        await runtime.coordinator.async_refresh()

    assert simulator.commands == []
    assert not runtime.coordinator.last_update_success
    await runtime.enrollment.async_cancel()
