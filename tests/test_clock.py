"""The terminal's clock kept right: set when it drifts more than a minute, and once a day, in the
entry's timezone (Bogota here, while Home Assistant runs on UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.zkteco.clock import DAILY_AT, FIRST_RETRY, LONGEST_RETRY
from custom_components.zkteco.const import CONF_KEEP_CLOCK, CONF_TIMEZONE, DOMAIN
from zksim import PushTerminal, ZKSimulator, protocol as sim_protocol
from zksim.terminal import Terminal

from .conftest import BOTH_PROTOCOLS, poll, until_terminal

IN_BOGOTA = {CONF_TIMEZONE: "America/Bogota"}
BOGOTA = dt_util.get_time_zone("America/Bogota")
COULD_NOT_SET = "the terminal's clock could not be set"
# Set within a poll's time: what the clocks differ by is the time between two reads.
RIGHT = timedelta(seconds=5)


@pytest.fixture
def entry_options() -> dict[str, object]:
    return IN_BOGOTA


@pytest.fixture(autouse=True)
async def home_assistant_in_utc(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Home Assistant's own timezone is UTC; the terminal shows Bogota's time, right."""
    await hass.config.async_set_time_zone("UTC")
    simulator.set_clock(bogota_now())


def bogota_now() -> datetime:
    return dt_util.now(BOGOTA).replace(tzinfo=None)


def set_off_by(simulator: ZKSimulator, off_by: timedelta) -> None:
    """The terminal's clock ``off_by`` Bogota's time; the commands so far forgotten."""
    simulator.set_clock(bogota_now() + off_by)
    simulator.reset_stats()


def clock_error(terminal: Terminal) -> timedelta:
    return abs(terminal.clock - bogota_now())


def sets(simulator: ZKSimulator) -> int:
    return simulator.commands.count(sim_protocol.CMD_SET_TIME)


def next_daily_set() -> datetime:
    """The next 03:30 in Bogota (08:30 UTC)."""
    return dt_util.find_next_time_expression_time(
        dt_util.now(BOGOTA), [DAILY_AT.second], [DAILY_AT.minute], [DAILY_AT.hour]
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and COULD_NOT_SET in record.getMessage()
    ]


# -- drift -------------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_minutes_off_is_set_after_the_next_poll(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Set to Bogota's time, not Home Assistant's, and read again at once."""
    set_off_by(simulator, timedelta(minutes=5))

    await poll(hass, init_integration)

    assert sets(simulator) == 1
    assert clock_error(simulator) < RIGHT
    assert abs(init_integration.runtime_data.coordinator.data.clock - dt_util.utcnow()) < RIGHT


@pytest.mark.parametrize(
    "off_by",
    [timedelta(seconds=-60), timedelta(seconds=-30), timedelta(seconds=30), timedelta(seconds=60)],
)
async def test_a_minute_off_or_less_is_left_alone(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    off_by: timedelta,
) -> None:
    """Exactly a minute off is not more than a minute, whatever the poll took."""
    set_off_by(simulator, off_by)

    for _ in range(3):
        await poll(hass, init_integration)

    assert sets(simulator) == 0


async def test_set_at_setup(
    hass: HomeAssistant, simulator: ZKSimulator, config_entry: MockConfigEntry
) -> None:
    """The first poll is judged too: a terminal showing UTC is set to Bogota's time, and no
    repair is left to say its clock is wrong."""
    simulator.set_clock(dt_util.utcnow().replace(tzinfo=None))
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert sets(simulator) == 1
    assert clock_error(simulator) < RIGHT
    assert not ir.async_get(hass).async_get_issue(DOMAIN, f"clock_wrong_{config_entry.entry_id}")
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_drifting_clock_is_set_once_more_than_a_minute_off(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A terminal gaining 90 s a day is left alone for 16 hours, then set."""
    simulator.clock_drift = 90.0
    set_off_by(simulator, timedelta(0))

    freezer.tick(timedelta(hours=16))  # 60 s ahead
    await poll(hass, init_integration)
    assert sets(simulator) == 0

    freezer.tick(timedelta(hours=1))
    await poll(hass, init_integration)
    assert sets(simulator) == 1
    assert clock_error(simulator) < RIGHT


@pytest.mark.parametrize("entry_options", [{**IN_BOGOTA, CONF_KEEP_CLOCK: False}])
async def test_option_off_never_sets(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Neither when it drifts nor at the daily time: the button and the repair still do."""
    set_off_by(simulator, timedelta(hours=2))

    await poll(hass, init_integration)
    async_fire_time_changed(hass, next_daily_set())
    await poll(hass, init_integration)

    assert sets(simulator) == 0


# -- a terminal whose clock cannot be kept -------------------------------------------------------


def refuse_set_time(simulator: ZKSimulator, refused: bool) -> None:
    simulator.refused_commands = {sim_protocol.CMD_SET_TIME} if refused else set()


def keep_own_time(simulator: ZKSimulator, kept: bool) -> None:
    """It acknowledges the set and goes on with its own time."""
    simulator.set_time_ignored = kept


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(refuse_set_time, "can't set time"), (keep_own_time, "after being set")],
)
async def test_a_terminal_that_does_not_take_the_time_is_asked_again_later_only(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    fault: Callable[[ZKSimulator, bool], None],
    reason: str,
) -> None:
    """Set once, not at each poll, with one warning; then again after a while, twice as long
    each time; the entry stays loaded and its entities available."""
    fault(simulator, True)
    set_off_by(simulator, timedelta(minutes=5))

    for _ in range(5):
        await poll(hass, init_integration)
    assert sets(simulator) == 1
    (warning,) = warnings(caplog)
    assert reason in warning
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.principal_users").state != STATE_UNAVAILABLE

    freezer.tick(FIRST_RETRY)
    await poll(hass, init_integration)
    await poll(hass, init_integration)
    assert sets(simulator) == 2
    freezer.tick(FIRST_RETRY)
    await poll(hass, init_integration)
    assert sets(simulator) == 2  # the second wait is twice as long
    assert len(warnings(caplog)) == 1

    fault(simulator, False)
    freezer.tick(FIRST_RETRY)
    await poll(hass, init_integration)
    assert sets(simulator) == 3
    assert clock_error(simulator) < RIGHT
    assert "the terminal's clock is kept right again" in caplog.text


@pytest.mark.usefixtures("short_timeout")
async def test_a_terminal_gone_when_setting(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The set fails with the terminal: logged once, and the entry stays loaded."""
    simulator.set_clock(bogota_now() + timedelta(minutes=5))
    simulator.dropped_commands = {sim_protocol.CMD_SET_TIME}

    await poll(hass, init_integration)
    await poll(hass, init_integration)

    assert init_integration.state is ConfigEntryState.LOADED
    assert clock_error(simulator) > timedelta(minutes=4)
    assert len(warnings(caplog)) == 1


# -- once a day --------------------------------------------------------------------------------


async def test_set_daily_at_half_past_three_in_bogota(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A clock 45 s off is left alone until 03:30 in Bogota (not 03:30 UTC), then set; and
    again the next day."""
    daily = next_daily_set()
    set_off_by(simulator, timedelta(seconds=45))

    async_fire_time_changed(hass, daily - timedelta(minutes=1))
    await poll(hass, init_integration)
    assert sets(simulator) == 0

    async_fire_time_changed(hass, daily)
    await poll(hass, init_integration)
    assert sets(simulator) == 1
    assert clock_error(simulator) < RIGHT
    await poll(hass, init_integration)
    assert sets(simulator) == 1

    async_fire_time_changed(hass, daily + timedelta(days=1))
    await poll(hass, init_integration)
    assert sets(simulator) == 2


async def test_not_during_an_enrollment(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """The daily set waits for the enrollment to end."""
    simulator.set_clock(bogota_now() + timedelta(minutes=5))
    runtime = init_integration.runtime_data
    await runtime.enrollment.async_start("123", 1)
    assert simulator.enrolling
    simulator.reset_stats()

    async_fire_time_changed(hass, next_daily_set())
    await poll(hass, init_integration)
    assert sets(simulator) == 0

    await runtime.enrollment.async_cancel()
    await poll(hass, init_integration)
    assert sets(simulator) == 1
    assert clock_error(simulator) < RIGHT


# -- a terminal that calls Home Assistant --------------------------------------------------------


async def test_push_terminal_is_set_daily(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """Its clock cannot be read: a drifted one is not seen at a poll, and the daily CHECK makes
    it take Home Assistant's time (Bogota's) again."""
    push_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    push = make_push_terminal(home_assistant_url).start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    assert clock_error(push.terminal) < RIGHT
    push.terminal.set_clock(bogota_now() + timedelta(minutes=5))

    await poll(hass, push_entry)
    assert push.handshakes == 1

    async_fire_time_changed(hass, next_daily_set())
    await poll(hass, push_entry)
    assert push.handshakes == 2
    assert clock_error(push.terminal) < RIGHT
    await hass.config_entries.async_unload(push_entry.entry_id)


async def test_asked_again_daily_for_ever(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Waits grow to a day and stay there, however long the terminal refuses."""
    refuse_set_time(simulator, True)
    set_off_by(simulator, timedelta(minutes=5))

    for _ in range(60):
        await poll(hass, init_integration)
        freezer.tick(LONGEST_RETRY)
    await poll(hass, init_integration)

    assert sets(simulator) == 61
    assert len(warnings(caplog)) == 1
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
