"""Polling a terminal: cheap when nothing changed, honest when it cannot be reached."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
import threading
from unittest.mock import patch
import zoneinfo

from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.zkteco.const import CONF_TIMEZONE, DOMAIN, USERS_REREAD_INTERVAL
from zksim import ZKSimulator, protocol as sim_protocol
from zksim.push import PushTerminal

from .conftest import BOTH_PROTOCOLS, poll, started, until, until_terminal

USERS_SENSOR = "sensor.principal_users"


@BOTH_PROTOCOLS
async def test_idle_poll_reads_counters_and_clock_only(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """Nothing new on the terminal: two small commands, no user list, no log."""
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert simulator.commands == [sim_protocol.CMD_GET_FREE_SIZES, sim_protocol.CMD_GET_TIME]


async def test_users_read_when_their_count_changes(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    simulator.add_user("9", "Marta Ruiz")
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert sim_protocol.CMD_PREPARE_BUFFER in simulator.commands
    assert init_integration.runtime_data.coordinator.data.users["9"].name == "Marta Ruiz"
    assert hass.states.get(USERS_SENSOR).state == "3"


async def test_users_read_again_now_and_then(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A rename keeps the user count: the list is read again every few minutes anyway."""
    simulator.add_user("123", "Ana Garcia Lopez")
    await poll(hass, init_integration)
    assert init_integration.runtime_data.coordinator.data.users["123"].name == "Ana Garcia"

    freezer.tick(USERS_REREAD_INTERVAL)
    await poll(hass, init_integration)
    assert init_integration.runtime_data.coordinator.data.users["123"].name == "Ana Garcia Lopez"


async def test_one_poll_on_setup_and_on_reload(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """Home Assistant runs already: the first refresh catches up, and no second poll follows
    (the terminal's clock is right: no set either, and no poll after it)."""
    simulator.set_clock(dt_util.now().replace(tzinfo=None))
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert simulator.commands.count(sim_protocol.CMD_GET_TIME) == 1
    simulator.reset_stats()
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert simulator.commands.count(sim_protocol.CMD_GET_TIME) == 1
    assert await hass.config_entries.async_unload(config_entry.entry_id)


@BOTH_PROTOCOLS
async def test_unreachable_then_back(
    short_timeout: None,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    """Entities go unavailable while the terminal is away and come back with it."""
    # Away for longer than a poll's two tries (a lost session is tried once more at once).
    simulator.reboot_duration = 1.0
    simulator.reboot()
    await poll(hass, init_integration)
    assert hass.states.get(USERS_SENSOR).state == STATE_UNAVAILABLE
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    await poll(hass, init_integration)
    assert hass.states.get(USERS_SENSOR).state == "2"


async def test_comm_key_changed_asks_for_it(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """A terminal that refuses the comm key starts the reauthentication flow."""
    simulator.comm_key = 4321
    simulator.reboot_duration = 0.05
    simulator.reboot()
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    await poll(hass, init_integration)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_no_poll_while_enrolling(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The terminal waits for a finger: polls leave it alone."""
    enrollment = init_integration.runtime_data.enrollment
    await enrollment.async_start("123", 1)
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert simulator.commands == []
    await enrollment.async_cancel()


@pytest.mark.parametrize("entry_options", [{CONF_TIMEZONE: "Pacific/Chatham"}])
async def test_timezone_read_off_the_event_loop(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """The chosen timezone may have to be read from disk: never in the event loop."""
    readers: list[int] = []
    real_zone = zoneinfo.ZoneInfo

    def zone(key: str) -> zoneinfo.ZoneInfo:
        readers.append(threading.get_ident())
        return real_zone(key)

    config_entry.add_to_hass(hass)
    with patch("zoneinfo.ZoneInfo", side_effect=zone):
        assert await hass.config_entries.async_setup(config_entry.entry_id)
    assert readers
    assert hass.loop_thread_id not in readers
    assert config_entry.runtime_data.coordinator.timezone == real_zone("Pacific/Chatham")
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_push_terminal_gone_while_enrolling_is_shown_gone(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """The enrollment may wait minutes for the terminal; its silence meanwhile is not hidden."""
    push = make_push_terminal(home_assistant_url)
    push_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await started(hass, push)
    runtime = push_entry.runtime_data
    await runtime.coordinator.async_refresh()
    push.add_user("123", "Ana Garcia")
    await until(lambda: "123" in runtime.coordinator.known_users())
    await runtime.enrollment.async_start("123", 1)
    await until_terminal(hass, push, lambda t: t.terminal.enrolling)

    await hass.async_add_executor_job(push.stop)
    # Time stands still only now: the simulated terminal's own waits run on the real clock.
    with freeze_time(dt_util.utcnow() + runtime.channel.contact_timeout + timedelta(seconds=1)):
        await runtime.coordinator.async_refresh()

    assert not runtime.coordinator.last_update_success
    assert runtime.channel.enrolling  # its own bound ends it; the terminal was not disturbed
    await runtime.enrollment.async_cancel()
