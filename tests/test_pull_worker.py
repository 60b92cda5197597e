"""The terminal's one thread: jobs one at a time, realtime events between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import logging
import threading

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.zkteco.channel import (
    ChannelEvent,
    ConnectionLost,
    Punch,
    SessionOpened,
    TerminalConnectionError,
)
from custom_components.zkteco.const import EVENT_ATTENDANCE, PROTOCOL_UDP
from custom_components.zkteco.pull import worker as worker_module
from custom_components.zkteco.pull.terminal import (
    TerminalConfig,
    TerminalEvent,
    TerminalRefusedError,
    ZKTerminal,
)
from custom_components.zkteco.pull.worker import TerminalWorker
from zksim import ZKSimulator, commands as sim_commands, protocol as sim_protocol
from zksim.records import EVENT_SIZES

from .conftest import PUNCH_ON_FEBRUARY_30, punch, until


@pytest.fixture(params=[False, True], ids=["tcp", "udp"])
def udp(request: pytest.FixtureRequest) -> bool:
    """The transport of the test's worker (a test that makes sense on one overrides it)."""
    return bool(request.param)


@asynccontextmanager
async def running_worker(
    hass: HomeAssistant, sim: ZKSimulator, udp: bool
) -> AsyncIterator[TerminalWorker]:
    started = TerminalWorker(
        hass, TerminalConfig("127.0.0.1", sim.port, udp=udp, timeout=1.0), "K40"
    )
    started.start()
    try:
        yield started
    finally:
        await started.async_stop()


@pytest.fixture
async def worker(
    hass: HomeAssistant, simulator: ZKSimulator, udp: bool
) -> AsyncIterator[TerminalWorker]:
    """A started worker with its session open; stopped afterwards."""
    async with running_worker(hass, simulator, udp) as started:
        await started.async_run(lambda terminal: terminal.read_counters())
        yield started


def refuse(monkeypatch: pytest.MonkeyPatch, command: int) -> None:
    monkeypatch.setitem(sim_commands.HANDLERS, command, lambda *_: sim_commands.error())


@pytest.fixture
async def quiet_worker(
    hass: HomeAssistant, simulator: ZKSimulator, udp: bool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TerminalWorker]:
    """A started worker of a terminal that sends no realtime events; nothing opened yet."""
    refuse(monkeypatch, sim_protocol.CMD_REG_EVENT)
    async with running_worker(hass, simulator, udp) as started:
        yield started


@pytest.fixture
def received(worker: TerminalWorker) -> list[ChannelEvent]:
    events: list[ChannelEvent] = []
    worker.async_add_listener(events.append)
    return events


def punches(events: list[ChannelEvent]) -> list[tuple[str, int]]:
    return [(event.user_id, event.punch) for event in events if isinstance(event, Punch)]


@pytest.mark.parametrize("event_size", EVENT_SIZES)
async def test_burst_of_events_in_order(
    simulator: ZKSimulator, received: list[ChannelEvent], event_size: int
) -> None:
    """Several events in one read, in any size the terminal sends, arrive in order."""
    simulator.event_size, simulator.event_window = event_size, 8
    for kind in range(5):
        punch(simulator, kind, user_id="7", kind=kind)
    await until(lambda: len(punches(received)) == 5)
    assert punches(received) == [("7", kind) for kind in range(5)]


async def test_events_during_a_job_come_before_its_result(
    simulator: ZKSimulator, worker: TerminalWorker, received: list[ChannelEvent]
) -> None:
    """A punch the terminal announced in the middle of a poll is handed over first."""

    def punch_then_read(terminal: ZKTerminal) -> int:
        sent = simulator.bytes_out
        punch(simulator, 0)
        assert simulator.wait_for(lambda sim: sim.bytes_out > sent)
        return terminal.read_counters().records

    records = await worker.async_run(punch_then_read)
    assert records == 21
    assert punches(received) == [("123", 0)]


@pytest.mark.parametrize("udp", [False], ids=["tcp"])  # UDP has no connection to see break
async def test_reconnects_after_the_session_breaks(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[ChannelEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Idle, the thread notices the break and opens a new session on its own."""
    monkeypatch.setattr(worker_module, "RECONNECT_INTERVAL", 0.05)
    simulator.reboot_duration = 0.1
    simulator.reboot()
    await until(lambda: SessionOpened() in received)
    assert received[0] == ConnectionLost()
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])


async def test_refused_events_said_once(
    quiet_worker: TerminalWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """Without realtime events the worker still serves jobs, and says so once."""
    for _ in range(2):
        await quiet_worker.async_run(lambda terminal: terminal.read_counters())
        await quiet_worker.async_run(lambda terminal: terminal.close())
    assert quiet_worker.realtime is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_no_jobs_after_stop(worker: TerminalWorker) -> None:
    await worker.async_stop()
    with pytest.raises(TerminalConnectionError):
        await worker.async_run(lambda terminal: terminal.read_counters())


def counters(terminal: ZKTerminal) -> int:
    return terminal.read_counters().records


async def test_malformed_event_does_not_stop_the_worker(
    simulator: ZKSimulator, worker: TerminalWorker, received: list[ChannelEvent]
) -> None:
    """A punch dated February 30th is dropped; the thread goes on serving jobs and events."""
    simulator.send_event(sim_protocol.EF_ATTLOG, PUNCH_ON_FEBRUARY_30)
    assert simulator.wait_for(lambda sim: sim_protocol.CMD_ACK_OK in sim.commands)
    async with asyncio.timeout(5):  # the job would wait forever for a dead thread
        assert await worker.async_run(counters) == 20
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])


async def test_unexpected_error_is_logged_once_and_survived(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[ChannelEvent],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug ends the session, not the thread; the job it was on still gets its result.

    Each bug is told once with its traceback, a second one too: the first does not hide it.
    """

    def broken(timeout: float) -> list[TerminalEvent]:
        raise RuntimeError("bug")

    def broken_otherwise(timeout: float) -> list[TerminalEvent]:
        raise KeyError("another bug")

    for bug in (broken, broken_otherwise):
        with monkeypatch.context() as patch:
            patch.setattr(worker.terminal, "read_events", bug)
            async with asyncio.timeout(5):
                for _ in range(2):
                    assert await worker.async_run(counters) == 20
    assert await worker.async_run(counters) == 20
    await until(lambda: SessionOpened() in received)
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [type(r.exc_info[1]) for r in errors if r.exc_info] == [RuntimeError, KeyError]


async def test_stop_fails_only_jobs_still_waiting(
    hass: HomeAssistant, simulator: ZKSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs a dead thread never ran fail at stop; one its caller gave up on is left alone."""
    dead = TerminalWorker(hass, TerminalConfig("127.0.0.1", simulator.port), "K40")
    monkeypatch.setattr(dead, "_run", lambda: None)
    dead.start()
    given_up = asyncio.ensure_future(dead.async_run(counters))
    waiting = asyncio.ensure_future(dead.async_run(counters))
    await asyncio.sleep(0)
    given_up.cancel()
    await asyncio.wait([given_up])
    await dead.async_stop()
    with pytest.raises(TerminalConnectionError):
        await waiting
    assert given_up.cancelled()


async def test_job_given_up_before_it_ran_is_skipped(
    hass: HomeAssistant, worker: TerminalWorker
) -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[ZKTerminal] = []

    def busy(terminal: ZKTerminal) -> None:
        started.set()
        release.wait(5)

    first = asyncio.ensure_future(worker.async_run(busy))
    await hass.async_add_executor_job(started.wait, 5)
    given_up = asyncio.ensure_future(worker.async_run(ran.append))
    await asyncio.sleep(0)
    given_up.cancel()
    await asyncio.wait([given_up])
    release.set()
    await first
    assert await worker.async_run(counters) == 20
    assert ran == []


def enrolling_then_lost(worker: TerminalWorker) -> Callable[[ZKTerminal], None]:
    """A job that leaves the terminal to be released, and the session lost."""

    def job(terminal: ZKTerminal) -> None:
        worker.release_on_reconnect()
        terminal.close()

    return job


async def test_refused_restore_starts_the_next_session_afresh(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[ChannelEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session in which the terminal would not leave enrollment is not kept half set up."""
    await worker.async_run(enrolling_then_lost(worker))
    with monkeypatch.context() as patch:
        refuse(patch, sim_protocol.CMD_ENABLEDEVICE)
        with pytest.raises(TerminalRefusedError):
            await worker.async_run(counters)
    assert await worker.async_run(counters) == 20
    await until(lambda: SessionOpened() in received)
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])


async def test_refused_release_is_retried_without_realtime_events(
    simulator: ZKSimulator, quiet_worker: TerminalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing else wakes the worker: it reconnects on its own until the terminal is released."""
    monkeypatch.setattr(worker_module, "RECONNECT_INTERVAL", 0.05)
    await quiet_worker.async_run(counters)
    simulator.set_enabled(False)
    with monkeypatch.context() as patch:
        refuse(patch, sim_protocol.CMD_ENABLEDEVICE)
        with pytest.raises(TerminalRefusedError):
            await quiet_worker.async_release()
        assert not quiet_worker.terminal.connected  # a refusing session is not kept
    assert simulator.wait_for(lambda sim: sim.enabled)


async def lose_session(simulator: ZKSimulator, how: str) -> None:
    """The terminal forgets the session while the worker is idle."""
    if how == "reboot":
        simulator.reboot_duration = 0.0
        simulator.reboot()
    else:  # an idle session expired by the terminal: a UDP session, or a TCP connection closed
        simulator.session_timeout = 0.05
    assert simulator.wait_for(lambda sim: sim.sessions == 0)
    simulator.session_timeout = None


@pytest.mark.parametrize(
    ("udp", "how"),
    [
        pytest.param(True, "reboot", id="udp_reboot"),
        pytest.param(True, "expire", id="udp_expired"),
        pytest.param(False, "reboot", id="tcp_reboot"),
    ],
)
async def test_job_on_a_forgotten_session_runs_on_a_new_one(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[ChannelEvent],
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """The next job succeeds, nothing is logged above DEBUG, and realtime events resume."""
    await lose_session(simulator, how)

    assert await worker.async_run(counters) == 20
    assert SessionOpened() in received
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []


async def test_job_on_a_closed_idle_session_without_events_runs_on_a_new_one(
    simulator: ZKSimulator, quiet_worker: TerminalWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """Not listening for events, the worker learns of the closed session from the next job."""
    await quiet_worker.async_run(counters)
    caplog.clear()
    await lose_session(simulator, "expire")

    assert await quiet_worker.async_run(counters) == 20

    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []


def losing_job(runs: list[bool]) -> Callable[[ZKTerminal], None]:
    def job(terminal: ZKTerminal) -> None:
        runs.append(True)
        raise TerminalConnectionError("lost")

    return job


@pytest.mark.parametrize(("reused", "runs"), [(True, 2), (False, 1)], ids=["reused", "new"])
async def test_only_a_reused_session_is_retried_and_only_once(
    worker: TerminalWorker, reused: bool, runs: int
) -> None:
    """A session opened for the job that fails at once says the terminal is not there."""
    if not reused:
        await worker.async_run(lambda terminal: terminal.close())
    ran: list[bool] = []

    with pytest.raises(TerminalConnectionError):
        await worker.async_run(losing_job(ran))

    assert len(ran) == runs


async def test_punch_during_a_transfer_is_dispatched_before_it_ends(
    simulator: ZKSimulator, worker: TerminalWorker, received: list[ChannelEvent]
) -> None:
    """A punch met while a long transfer runs reaches the event loop as it arrives."""
    dispatched = threading.Event()
    worker.async_add_listener(lambda event: isinstance(event, Punch) and dispatched.set())
    simulator.reply_delay = 0.01  # a slow terminal: the transfer takes several replies

    def transfer_while_someone_punches(terminal: ZKTerminal) -> bool:
        sent = simulator.bytes_out
        punch(simulator, 0)
        assert simulator.wait_for(lambda sim: sim.bytes_out > sent)
        terminal.read_attendance([])
        # Still inside the job: without the hand-over this waits for a punch held until it ends.
        return dispatched.wait(5)

    assert await worker.async_run(transfer_while_someone_punches)
    assert punches(received) == [("123", 0)]


async def test_failing_listener_costs_nothing_else(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[ChannelEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every other listener gets every event of the batch; the bug is told once, in full."""

    def failing(event: ChannelEvent) -> None:
        raise RuntimeError("listener bug")

    worker.async_add_listener(failing)
    after: list[ChannelEvent] = []
    worker.async_add_listener(after.append)
    simulator.event_window = 8
    for kind in range(3):
        punch(simulator, kind, kind=kind)

    await until(lambda: len(punches(after)) == 3)

    assert punches(received) == punches(after) == [("123", kind) for kind in range(3)]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info


@pytest.mark.parametrize("protocol", [PROTOCOL_UDP])
async def test_udp_terminal_back_from_a_reboot_at_the_next_poll(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Measured on a real hass before: every poll failed with a traceback, no punch arrived."""
    attendance = async_capture_events(hass, EVENT_ATTENDANCE)
    await lose_session(simulator, "reboot")
    caplog.clear()

    await init_integration.runtime_data.coordinator.async_refresh()

    assert init_integration.runtime_data.coordinator.last_update_success
    punch(simulator, 0)
    await until(lambda: len(attendance) == 1)
    assert [r for r in caplog.records if r.levelno > logging.INFO] == []
