"""Repair issues: what Home Assistant cannot fix by retrying is told to the user, with a fix
where there is one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.zkteco.const import CONF_KEEP_CLOCK, CONF_TIMEZONE, DOMAIN
from zksim import ZKSimulator, commands as sim_commands, protocol as sim_protocol

from .conftest import entry_data, poll

OTHER_SERIAL = "CQUJ203960002"
MADRID = "Europe/Madrid"


@pytest.fixture
def entry_options() -> dict[str, object]:
    """The terminal's clock shows Madrid's time (Home Assistant's is another); it is not kept
    right automatically (the repair is how it is set then, or when keeping it fails)."""
    return {CONF_TIMEZONE: MADRID, CONF_KEEP_CLOCK: False}


def issue(hass: HomeAssistant, kind: str, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{kind}_{entry.entry_id}")


def issues(hass: HomeAssistant) -> set[str]:
    return {issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN}


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def set_terminal_clock(sim: ZKSimulator, timezone: str, off_by: timedelta) -> None:
    """The terminal's clock shows the time in ``timezone``, ``off_by`` ahead."""
    now = dt_util.now(dt_util.get_time_zone(timezone))
    sim.set_clock(now.replace(tzinfo=None) + off_by)


def refuse_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal refuses realtime events, as some firmware does (until monkeypatch.undo())."""
    monkeypatch.setitem(
        sim_commands.HANDLERS, sim_protocol.CMD_REG_EVENT, lambda *_: sim_commands.error()
    )


def terminal_clock_error(sim: ZKSimulator, timezone: str) -> timedelta:
    now = dt_util.now(dt_util.get_time_zone(timezone)).replace(tzinfo=None)
    return abs(sim.clock - now)


# -- another terminal at the address -------------------------------------------------------------


async def test_another_terminal_at_the_address(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Told once it is found, with how to fix it; gone once the right terminal answers."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="almacen", unique_id=OTHER_SERIAL, data=entry_data(simulator)
    )
    set_terminal_clock(simulator, hass.config.time_zone, timedelta(0))
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY

    found = issue(hass, "wrong_terminal", entry)
    assert found is not None
    assert found.severity is ir.IssueSeverity.ERROR
    assert not found.is_fixable  # Reconfigure is the fix: the issue says where it is
    assert found.translation_key == "wrong_terminal"
    assert found.translation_placeholders == {
        "name": "almacen",
        "host": "127.0.0.1",
        "port": str(simulator.port),
        "expected": OTHER_SERIAL,
        "found": simulator.serial,
    }

    simulator.serial = OTHER_SERIAL  # the right terminal is back at the address
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert issues(hass) == set()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_the_entry_removes_its_issues(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=OTHER_SERIAL, data=entry_data(simulator))
    await setup(hass, entry)
    assert issue(hass, "wrong_terminal", entry) is not None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert issues(hass) == set()


# -- realtime events refused ---------------------------------------------------------------------


async def test_realtime_events_refused(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    simulator: ZKSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Punches still arrive with each poll: said, with nothing to fix; gone once events work."""
    refuse_events(monkeypatch)
    await setup(hass, config_entry)
    refused = issue(hass, "realtime_refused", config_entry)
    assert refused is not None
    assert refused.severity is ir.IssueSeverity.WARNING
    assert not refused.is_fixable
    assert refused.translation_placeholders == {"name": "Principal"}

    monkeypatch.undo()  # a firmware update, say
    simulator.reboot_duration = 0.05
    simulator.reboot()
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    await poll(hass, config_entry)  # fails: the reboot broke the session
    await poll(hass, config_entry)  # a new session, with events
    assert issue(hass, "realtime_refused", config_entry) is None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_unloading_removes_what_polls_found(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    simulator: ZKSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry disabled or reloaded says nothing stale; the next set-up looks again."""
    refuse_events(monkeypatch)
    set_terminal_clock(simulator, MADRID, timedelta(hours=2))
    await setup(hass, config_entry)
    assert len(issues(hass)) == 2

    await hass.config_entries.async_unload(config_entry.entry_id)
    assert issues(hass) == set()


# -- the terminal's clock ------------------------------------------------------------------------


@pytest.mark.parametrize("off_by", [timedelta(minutes=-4), timedelta(0), timedelta(minutes=4)])
async def test_clock_a_little_off_is_fine(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator, off_by: timedelta
) -> None:
    set_terminal_clock(simulator, MADRID, off_by)
    await setup(hass, config_entry)

    assert issues(hass) == set()
    await hass.config_entries.async_unload(config_entry.entry_id)


async def start_fix(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    # As data: the oldest Home Assistant we support takes the issue id only there.
    result = await manager.async_init(DOMAIN, data={"issue_id": f"clock_wrong_{entry.entry_id}"})
    return dict(result)


async def submit_fix(hass: HomeAssistant, flow_id: str) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_configure(flow_id, {})
    await hass.async_block_till_done()
    return dict(result)


# Back to about 2000 as after a dead clock battery, hours off, a few minutes ahead.
@pytest.mark.parametrize(
    "off_by", [timedelta(days=-9800), timedelta(hours=-3), timedelta(minutes=6)]
)
async def test_wrong_clock_is_set_by_the_fix(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator, off_by: timedelta
) -> None:
    """The fix sets the terminal's clock to Home Assistant's time, in the terminal's timezone."""
    set_terminal_clock(simulator, MADRID, off_by)
    await setup(hass, config_entry)
    wrong = issue(hass, "clock_wrong", config_entry)
    assert wrong is not None
    assert wrong.is_fixable
    assert wrong.severity is ir.IssueSeverity.WARNING
    assert wrong.translation_placeholders == {"name": "Principal"}

    result = await start_fix(hass, config_entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    placeholders = result["description_placeholders"]
    assert placeholders["timezone"] == MADRID
    shown = datetime.fromisoformat(placeholders["terminal_clock"])
    assert abs(shown - simulator.clock) < timedelta(minutes=1)

    result = await submit_fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert terminal_clock_error(simulator, MADRID) < timedelta(minutes=1)
    assert issues(hass) == set()
    await poll(hass, config_entry)
    assert issues(hass) == set()
    await hass.config_entries.async_unload(config_entry.entry_id)


@pytest.fixture
async def clock_ahead(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator
) -> AsyncIterator[MockConfigEntry]:
    """The entry set up with its terminal's clock an hour ahead; unloaded afterwards."""
    set_terminal_clock(simulator, MADRID, timedelta(hours=1))
    await setup(hass, config_entry)
    assert issue(hass, "clock_wrong", config_entry) is not None
    yield config_entry
    if config_entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(config_entry.entry_id)


async def test_clock_set_on_the_terminal_removes_the_issue(
    hass: HomeAssistant, clock_ahead: MockConfigEntry, simulator: ZKSimulator
) -> None:
    set_terminal_clock(simulator, MADRID, timedelta(0))
    await poll(hass, clock_ahead)
    assert issues(hass) == set()


@pytest.mark.usefixtures("short_timeout")
async def test_fix_when_the_terminal_does_not_answer(
    hass: HomeAssistant, clock_ahead: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """Said in the fix's form, which can be submitted again."""
    result = await start_fix(hass, clock_ahead)

    simulator.unresponsive = True
    result = await submit_fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "clock_not_set"}
    assert issue(hass, "clock_wrong", clock_ahead) is not None

    simulator.unresponsive = False
    result = await submit_fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_fix_of_an_entry_unloaded_meanwhile(
    hass: HomeAssistant, clock_ahead: MockConfigEntry
) -> None:
    result = await start_fix(hass, clock_ahead)
    await hass.config_entries.async_unload(clock_ahead.entry_id)

    result = await submit_fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


# -- the clock kept right by Home Assistant ------------------------------------------------------


@pytest.mark.parametrize("entry_options", [{CONF_TIMEZONE: MADRID}])
async def test_a_clock_kept_right_raises_no_issue(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """Home Assistant sets it itself: nothing for the user to fix, not even for a moment."""
    raised: list[str] = []
    set_terminal_clock(simulator, MADRID, timedelta(hours=1))
    hass.bus.async_listen(
        ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED,
        lambda event: raised.append(event.data["issue_id"])
        if event.data["action"] == "create"
        else None,
    )
    await setup(hass, config_entry)
    await poll(hass, config_entry)

    assert terminal_clock_error(simulator, MADRID) < timedelta(minutes=1)
    assert raised == []
    await hass.config_entries.async_unload(config_entry.entry_id)


@pytest.mark.parametrize("entry_options", [{CONF_TIMEZONE: MADRID}])
async def test_a_clock_that_cannot_be_kept_right_is_an_issue(
    hass: HomeAssistant, config_entry: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The terminal acknowledges the set and keeps its own time: the user is told."""
    simulator.set_time_ignored = True
    set_terminal_clock(simulator, MADRID, timedelta(hours=1))
    await setup(hass, config_entry)
    await poll(hass, config_entry)

    assert issue(hass, "clock_wrong", config_entry) is not None
    await hass.config_entries.async_unload(config_entry.entry_id)
