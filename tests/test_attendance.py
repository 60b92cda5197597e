"""Each punch reaches Home Assistant once, in order, live or caught up from the log."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
import logging
from types import SimpleNamespace
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, EVENT_STATE_CHANGED
from homeassistant.core import CoreState, Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.zkteco.attendance import (
    AttendanceTracker,
    Cursor,
    delivered_store,
    needs_download,
)
from custom_components.zkteco.channel import Capability, Punch, TerminalError
from custom_components.zkteco.const import (
    CONF_TIMEZONE,
    DOMAIN,
    EVENT_ATTENDANCE,
)
from custom_components.zkteco.pull import worker
from zksim import (
    ClockReading,
    Record,
    ZKSimulator,
    commands as sim_commands,
    protocol as sim_protocol,
)
from zksim.records import pack_attlog_event

from .conftest import (
    BOTH_PROTOCOLS,
    HISTORY_RECORDS,
    PUNCH_TIME,
    RIGHT_INDEX,
    poll,
    punch,
    until,
)

DOWNLOAD = sim_protocol.CMD_PREPARE_BUFFER

type Captured = list[Event]


@pytest.fixture
def entry_options() -> dict[str, object]:
    """A terminal whose clock shows Madrid's time."""
    return {CONF_TIMEZONE: "Europe/Madrid"}


@pytest.fixture
def events(hass: HomeAssistant) -> Captured:
    return async_capture_events(hass, EVENT_ATTENDANCE)


def log_without_event(
    sim: ZKSimulator, minute: int, user_id: str = "7", start: datetime = PUNCH_TIME
) -> None:
    """A punch the terminal logged but never announced (its event was lost)."""
    log_at(sim, start + timedelta(minutes=minute), user_id)


def log_at(sim: ZKSimulator, when: datetime | ClockReading, user_id: str = "7") -> None:
    user = sim.user_by_id(user_id)
    assert user is not None
    sim.log_history([Record(user.uid, user_id, when)])


def log_impossible_date(sim: ZKSimulator) -> None:
    """A record stamped 30 February, as real terminals write them (pyzk issues 175, 244)."""
    log_at(sim, ClockReading(2026, 2, 30, 8, 0, 0))


def stored_cursor(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, Any]:
    """What is written on disk about the punches delivered."""
    return dict(hass_storage[f"{DOMAIN}.{entry.entry_id}.attendance"]["data"])


def attendance_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name == "custom_components.zkteco"
    ]


def delivered(events: Captured) -> list[tuple[str, str, bool]]:
    """(user, time of day, caught up) of each event, in the order they fired."""
    return [
        (event.data["user_id"], event.data["time"][11:16], event.data["caught_up"])
        for event in events
    ]


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("init_integration")
async def test_first_setup_delivers_no_history(hass: HomeAssistant, events: Captured) -> None:
    """The log's history is shown as the last punch, not replayed as events."""
    assert events == []
    state = hass.states.get("sensor.principal_last_punch")
    assert state is not None
    assert state.state == "2026-11-02T08:35:00+00:00"  # 09:35 in Madrid, the 20th record


async def test_punch_fires_one_event(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Everything an automation needs, with the time in the terminal's timezone."""
    punch(simulator, 0, kind=1)
    await until(lambda: len(events) == 1)
    await poll(hass, init_integration)
    assert [event.data for event in events] == snapshot
    assert events[0].data["time"] == "2026-11-03T09:00:00+01:00"


async def test_user_without_a_name(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Terminals allow nameless users: the event says so rather than inventing a name."""
    simulator.add_user("9")
    await poll(hass, init_integration)
    simulator.punch("9")
    await until(lambda: len(events) == 1)
    assert (events[0].data["user_id"], events[0].data["name"]) == ("9", None)


@BOTH_PROTOCOLS
async def test_burst_in_one_read(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Several events sent back to back are delivered each once, in order."""
    simulator.event_window = 8
    for minute in range(6):
        punch(simulator, minute, user_id=("123", "7")[minute % 2])
    await until(lambda: len(events) == 6)
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert DOWNLOAD not in simulator.commands  # the counter agrees with the events
    assert delivered(events) == [
        (("123", "7")[minute % 2], f"09:0{minute}", False) for minute in range(6)
    ]


@pytest.mark.parametrize("record_size", [8, 16, 40])
@pytest.mark.parametrize("event_size", [12, 32, 36, 52])
async def test_event_and_log_agree_on_each_format(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    record_size: int,
    event_size: int,
) -> None:
    """A punch seen live is recognised in the log, whatever layouts the terminal uses."""
    simulator.record_size, simulator.event_size = record_size, event_size
    punch(simulator, 0)
    await until(lambda: len(events) == 1)
    log_without_event(simulator, 1)
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert DOWNLOAD in simulator.commands
    assert delivered(events) == [("123", "09:00", False), ("7", "09:01", True)]
    assert events[0].data["name"] == "Ana Garcia"


async def test_restart_catches_up_in_order(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Punches made while Home Assistant was down come once each, marked caught up."""
    punch(simulator, 0)
    await until(lambda: len(events) == 1)  # delivered live, not yet confirmed by a poll
    await unload(hass, init_integration)
    punch(simulator, 1, user_id="7")
    punch(simulator, 2)
    await setup(hass, init_integration)
    await poll(hass, init_integration)
    assert delivered(events) == [
        ("123", "09:00", False),
        ("7", "09:01", True),
        ("123", "09:02", True),
    ]
    assert events[1].data["name"] == "Luis Perez"
    await unload(hass, init_integration)
    await setup(hass, init_integration)
    assert len(events) == 3


async def test_catch_up_waits_until_home_assistant_has_started(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Automations are armed only once Home Assistant runs: punches wait for that, and only that.

    A refresh asked for during the start (update_entity in a script, say) puts the debounced
    refresh in its 10 s cooldown: the catch-up does not wait for it (no time passes here).
    """
    await unload(hass, init_integration)
    punch(simulator, 1)
    hass.set_state(CoreState.starting)
    await setup(hass, init_integration)
    runtime = init_integration.runtime_data
    await runtime.coordinator.async_request_refresh()
    announced: list[object] = []
    stop_listening = runtime.channel.async_add_listener(announced.append)
    punch(simulator, 2, user_id="7")
    await until(lambda: any(isinstance(event, Punch) for event in announced))
    stop_listening()
    assert events == []  # the live punch is held until the start is over

    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await until(lambda: len(events) == 2)
    assert delivered(events) == [("123", "09:01", True), ("7", "09:02", False)]


@BOTH_PROTOCOLS
async def test_offline_terminal_catches_up(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """A reboot drops the session; the punches made meanwhile come with the next poll."""
    simulator.reboot_duration = 0.2
    simulator.reboot()
    punch(simulator, 0)
    punch(simulator, 1, user_id="7")
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    await poll(hass, init_integration)
    if len(events) < 2:  # the poll found the session gone (UDP has no connection to lose)
        await poll(hass, init_integration)
    assert delivered(events) == [("123", "09:00", True), ("7", "09:01", True)]


@BOTH_PROTOCOLS
async def test_live_punch_after_reconnect_follows_missed_ones(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Back online, a live punch waits for the ones made while the terminal was away, only.

    A refresh asked for just before (as homeassistant.update_entity does) puts the debounced
    refresh in its 10 s cooldown: the catch-up poll does not wait for it (no time passes here).
    """
    monkeypatch.setattr(worker, "RECONNECT_INTERVAL", 0.05)
    await init_integration.runtime_data.coordinator.async_request_refresh()
    simulator.reboot_duration = 0.1
    simulator.reboot()
    punch(simulator, 0)
    simulator.reset_stats()
    simulator.reply_delay = 0.02  # the catch-up poll is still running when the next punch comes
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    # Over UDP only a command shows that the terminal forgot the session (and it is no poll).
    session = init_integration.runtime_data.channel.worker
    with contextlib.suppress(TerminalError):
        await session.async_run(lambda terminal: terminal.read_clock())
    await hass.async_add_executor_job(
        simulator.wait_for, lambda sim: sim_protocol.CMD_REG_EVENT in sim.commands
    )
    punch(simulator, 1, user_id="7")
    await until(lambda: len(events) == 2)
    simulator.reply_delay = 0
    await poll(hass, init_integration)
    assert delivered(events) == [("123", "09:00", True), ("7", "09:01", False)]


async def test_cleared_log(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """After the log is cleared, punches count from zero, without repeats or losses."""
    simulator.clear_attendance()
    await poll(hass, init_integration)
    await unload(hass, init_integration)
    punch(simulator, 0)
    await setup(hass, init_integration)
    punch(simulator, 1, user_id="7")
    await until(lambda: len(events) == 2)
    await poll(hass, init_integration)
    await unload(hass, init_integration)
    simulator.clear_attendance()  # and refilled to the same count meanwhile
    for minute in (2, 3):
        punch(simulator, minute)
    await setup(hass, init_integration)
    await poll(hass, init_integration)
    assert delivered(events) == [
        ("123", "09:00", True),
        ("7", "09:01", False),
        ("123", "09:02", True),
        ("123", "09:03", True),
    ]


async def test_wrapped_log(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """A full log that dropped its oldest records: only what follows the last known is new."""
    await unload(hass, init_integration)
    kept = simulator.records[HISTORY_RECORDS // 2 :]
    simulator.clear_attendance()
    simulator.log_history(kept)
    log_without_event(simulator, 0)
    await setup(hass, init_integration)
    assert delivered(events) == [("7", "09:00", True)]


@pytest.mark.parametrize("minute", [0, 1], ids=["same_second", "later"])
async def test_anchor_no_longer_in_the_log(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    minute: int,
) -> None:
    """The last known punch reads differently now: what follows it is new, not the history.

    With 8-byte records the log holds the user's number, not their id: once the user is
    deleted, their punch decodes as another id and the anchor cannot be found by its key.
    """
    simulator.record_size = 8
    punch(simulator, 0)
    await until(lambda: len(events) == 1)
    await poll(hass, init_integration)  # the live punch becomes the anchor
    assert simulator.delete_user("123")
    log_without_event(simulator, minute)
    await poll(hass, init_integration)
    assert delivered(events) == [("123", "09:00", False), ("7", f"09:0{minute}", True)]


async def test_older_log_is_not_replayed(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """A log put back to an older state (a restored copy) holds nothing new: none of it fires."""
    await unload(hass, init_integration)
    older = simulator.records[: HISTORY_RECORDS // 2]
    simulator.clear_attendance()
    simulator.log_history(older)
    await setup(hass, init_integration)
    assert events == []


async def test_events_refused_fall_back_to_polling(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A terminal that refuses realtime events: said once, and every poll delivers."""
    monkeypatch.setitem(
        sim_commands.HANDLERS,
        sim_protocol.CMD_REG_EVENT,
        lambda *_: sim_commands.error(),
    )
    config_entry.add_to_hass(hass)
    await setup(hass, config_entry)
    punch(simulator, 0)
    await poll(hass, config_entry)
    simulator.reboot_duration = 0.05
    simulator.reboot()
    await hass.async_add_executor_job(simulator.wait_for, lambda sim: not sim.rebooting)
    punch(simulator, 1, user_id="7")
    await poll(hass, config_entry)  # fails: the reboot broke the session
    await poll(hass, config_entry)  # opens a new session, refused events again
    assert delivered(events) == [("123", "09:00", True), ("7", "09:01", True)]
    assert attendance_warnings(caplog) == [
        "Principal does not send realtime events; punches arrive with each poll instead"
    ]
    await unload(hass, config_entry)


async def test_punches_during_enrollment_on_one_session(
    hass: HomeAssistant, config_entry: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Enrollment and punches share the terminal's only session."""
    simulator.max_sessions = 1
    config_entry.add_to_hass(hass)
    await setup(hass, config_entry)
    enrollment = config_entry.runtime_data.enrollment
    await enrollment.async_start("123", 1)
    punch(simulator, 0, user_id="7")
    for _ in range(3):
        assert simulator.press_finger()
    punch(simulator, 1, user_id="7")
    await until(lambda: len(events) == 2 and not enrollment.active)
    await poll(hass, config_entry)
    assert simulator.has_template("123", RIGHT_INDEX)
    assert simulator.sessions == 1
    assert delivered(events) == [("7", "09:00", False), ("7", "09:01", False)]
    await unload(hass, config_entry)


@pytest.mark.usefixtures("init_integration")
async def test_last_punch_sensor(
    hass: HomeAssistant, events: Captured, simulator: ZKSimulator
) -> None:
    """The sensor shows the newest punch and who made it."""
    punch(simulator, 0, user_id="7", kind=1)
    await until(lambda: len(events) == 1)
    state = hass.states.get("sensor.principal_last_punch")
    assert state is not None
    assert state.state == "2026-11-03T08:00:00+00:00"
    assert state.attributes["user_id"] == "7"
    assert state.attributes["name"] == "Luis Perez"
    assert state.attributes["kind"] == "check_out"
    assert state.attributes["verified_by"] == "fingerprint"


@pytest.mark.usefixtures("init_integration")
async def test_an_automation_on_the_punch_sees_it_as_the_last(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """What a punch's event starts (in a task of its own, as automations run) reads the sensor
    already showing that punch."""
    seen: list[str] = []

    async def read_sensor() -> None:
        seen.append(hass.states.get("sensor.principal_last_punch").state)

    @callback
    def start_automation(_event: Event) -> None:
        hass.async_create_task(read_sensor())

    hass.bus.async_listen(EVENT_ATTENDANCE, start_automation)
    punch(simulator, 0, user_id="7")
    await until(lambda: bool(seen))

    assert seen == ["2026-11-03T08:00:00+00:00"]


async def test_last_punch_sensor_shows_a_catch_up_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Ten punches delivered together change the sensor twice, the first at once and then the
    newest: each still fires its event, and the recorder is not handed ten states nobody saw."""
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    for minute in range(10):
        log_without_event(simulator, minute)
    await poll(hass, init_integration)
    await hass.async_block_till_done()

    assert len(events) == 10
    shown = [
        event.data["new_state"].state
        for event in changes
        if event.data["entity_id"] == "sensor.principal_last_punch"
    ]
    assert shown == ["2026-11-03T08:00:00+00:00", "2026-11-03T08:09:00+00:00"]


@pytest.mark.parametrize("record_size", [8, 16, 40])
async def test_impossible_date_is_skipped_and_said_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    caplog: pytest.LogCaptureFixture,
    record_size: int,
) -> None:
    """A record dated 30 February costs that record only, and one warning without its data."""
    simulator.record_size = record_size
    log_impossible_date(simulator)
    log_without_event(simulator, 1)
    await poll(hass, init_integration)
    log_without_event(simulator, 2)
    await poll(hass, init_integration)
    await unload(hass, init_integration)
    await setup(hass, init_integration)  # a new session reads the log again
    assert delivered(events) == [("7", "09:01", True), ("7", "09:02", True)]
    assert hass.states.get("sensor.principal_users").state == "2"
    assert attendance_warnings(caplog) == [
        "Principal: skipped 1 new attendance records with an impossible date"
    ]


async def test_newest_record_impossible(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The last record known cannot be read: the next ones are found after it all the same."""
    log_without_event(simulator, 1)
    log_impossible_date(simulator)
    await poll(hass, init_integration)
    log_without_event(simulator, 2)
    await poll(hass, init_integration)
    await unload(hass, init_integration)
    log_without_event(simulator, 3)
    await setup(hass, init_integration)
    assert delivered(events) == [("7", "09:01", True), ("7", "09:02", True), ("7", "09:03", True)]
    assert len(attendance_warnings(caplog)) == 1


async def test_first_setup_with_an_impossible_newest_record(
    hass: HomeAssistant, config_entry: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """The history shown is its newest readable punch; later ones come after it."""
    log_impossible_date(simulator)
    config_entry.add_to_hass(hass)
    await setup(hass, config_entry)
    state = hass.states.get("sensor.principal_last_punch")
    assert state is not None
    assert state.state == "2026-11-02T08:35:00+00:00"  # the 20th record
    log_without_event(simulator, 1)
    await poll(hass, config_entry)
    assert delivered(events) == [("7", "09:01", True)]
    await unload(hass, config_entry)


async def test_cleared_log_with_a_clock_gone_back(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """A dead clock battery: cleared, the log fills with punches stamped 2000-01-01 again.

    Every one is delivered, though its time is before the last punch delivered.
    """
    await unload(hass, init_integration)
    simulator.clear_attendance()
    reset = datetime(2000, 1, 1, 0, 0, 0)
    log_without_event(simulator, 1, start=reset)
    log_without_event(simulator, 2, user_id="123", start=reset)
    await setup(hass, init_integration)
    assert delivered(events) == [("7", "00:01", True), ("123", "00:02", True)]
    for minute in range(3, 3 + HISTORY_RECORDS):  # refilled past the old count
        log_without_event(simulator, minute, start=reset)
    await poll(hass, init_integration)
    assert len(events) == 2 + HISTORY_RECORDS


async def test_cleared_log_with_a_punch_in_the_last_ones_second(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """Cleared, the log may hold another user's punch in the very second of the last one known.

    A clock that went back repeats its seconds: that punch is new, and so is the one before it.
    """
    punch(simulator, 0)
    await until(lambda: len(events) == 1)
    await poll(hass, init_integration)  # the live punch becomes the anchor
    await unload(hass, init_integration)
    simulator.clear_attendance()
    log_without_event(simulator, -5)
    log_without_event(simulator, 0)
    await setup(hass, init_integration)
    assert delivered(events) == [
        ("123", "09:00", False),
        ("7", "08:55", True),
        ("7", "09:00", True),
    ]


async def test_punch_never_logged_is_forgotten(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """An event whose record never reaches the log stops costing a download once one shows it."""
    user = simulator.user_by_id("123")
    assert user is not None
    announced = Record(user.uid, "123", PUNCH_TIME)
    simulator.send_event(sim_protocol.EF_ATTLOG, pack_attlog_event(announced, 32))
    await until(lambda: len(events) == 1)
    await poll(hass, init_integration)  # the counter does not explain the event: a download
    simulator.reset_stats()
    await poll(hass, init_integration)
    assert DOWNLOAD not in simulator.commands
    cursor = init_integration.runtime_data.attendance.snapshot()
    assert cursor is not None
    assert cursor.unconfirmed == ()
    log_without_event(simulator, 1)
    await poll(hass, init_integration)
    assert delivered(events) == [("123", "09:00", False), ("7", "09:01", True)]


async def test_caught_up_punch_of_a_new_user_has_the_name(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: Captured, simulator: ZKSimulator
) -> None:
    """A user added at the terminal since the last poll: the poll that reads them names them."""
    simulator.add_user("9", "Marta Ruiz")
    log_without_event(simulator, 0, user_id="9")
    await poll(hass, init_integration)
    assert [(event.data["user_id"], event.data["name"]) for event in events] == [
        ("9", "Marta Ruiz")
    ]


async def test_delivered_punch_is_written_at_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: Captured,
    simulator: ZKSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """A crash just after a punch should find it written: nothing waits to write it."""
    punch(simulator, 0)
    await until(lambda: len(events) == 1)
    async_fire_time_changed(hass)  # the writes due now, not the ones due later
    await hass.async_block_till_done()
    assert stored_cursor(hass_storage, init_integration)["unconfirmed"] == [
        ["123", "2026-11-03T09:00:00", 1, 0]
    ]


@pytest.mark.parametrize(
    ("records", "cursor", "expected"),
    [
        (20, None, True),
        (20, Cursor(20, None), False),
        (22, Cursor(20, None, (("1", "t", 1, 0), ("2", "t", 1, 0))), False),
        (21, Cursor(20, None), True),
        (21, Cursor(20, None, (("1", "t", 1, 0), ("2", "t", 1, 0))), True),
        (3, Cursor(20, None), True),
    ],
    ids=["first", "idle", "explained", "missed", "cleared_and_refilled", "cleared"],
)
def test_needs_download(records: int, cursor: Cursor | None, expected: bool) -> None:
    """Only a counter the realtime events do not explain costs a download."""
    assert needs_download(records, cursor) is expected


@pytest.mark.parametrize(
    ("capabilities", "reads_the_log"), [(frozenset(), False), ({Capability.READ_LOG}, True)]
)
def test_the_log_is_awaited_only_where_the_channel_can_read_it(
    hass: HomeAssistant, capabilities: frozenset[Capability], reads_the_log: bool
) -> None:
    """A channel that cannot read the log (Push: the terminal re-sends what was not
    acknowledged) gets no catch-up to run in its polls, and its punches wait for none."""
    published: list[object] = []
    tracker = AttendanceTracker(
        SimpleNamespace(capabilities=capabilities),  # type: ignore[arg-type]
        delivered_store(hass, "entry"),
        name="Principal",
        users=dict,
        localize=lambda when: when,
        publish=published.append,
    )
    tracker.on_event(Punch("123", PUNCH_TIME, 1, 0))
    assert (tracker.catch_up([]) is not None) is reads_the_log
    assert len(published) == (0 if reads_the_log else 1)
