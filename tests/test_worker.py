"""The terminal's one thread: jobs one at a time, realtime events between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import threading

from homeassistant.core import HomeAssistant
import pytest

from custom_components.zkteco import worker as worker_module
from custom_components.zkteco.terminal import (
    Punch,
    TerminalConfig,
    TerminalConnectionError,
    TerminalEvent,
    TerminalRefusedError,
    ZKTerminal,
)
from custom_components.zkteco.worker import (
    ConnectionLost,
    SessionOpened,
    TerminalWorker,
    WorkerEvent,
)
from zksim import ZKSimulator, commands as sim_commands, protocol as sim_protocol
from zksim.records import EVENT_SIZES

from .conftest import PUNCH_ON_FEBRUARY_30, punch, until


@pytest.fixture
async def worker(hass: HomeAssistant, simulator: ZKSimulator) -> AsyncIterator[TerminalWorker]:
    """A started worker with its session open; stopped afterwards."""
    started = TerminalWorker(hass, TerminalConfig("127.0.0.1", simulator.port, timeout=1.0), "K40")
    started.start()
    await started.async_run(lambda terminal: terminal.read_counters())
    yield started
    await started.async_stop()


@pytest.fixture
def received(worker: TerminalWorker) -> list[WorkerEvent]:
    events: list[WorkerEvent] = []
    worker.async_add_listener(events.append)
    return events


def punches(events: list[WorkerEvent]) -> list[tuple[str, int]]:
    return [(event.user_id, event.punch) for event in events if isinstance(event, Punch)]


@pytest.mark.parametrize("event_size", EVENT_SIZES)
async def test_burst_of_events_in_order(
    simulator: ZKSimulator, received: list[WorkerEvent], event_size: int
) -> None:
    """Several events in one read, in any size the terminal sends, arrive in order."""
    simulator.event_size, simulator.event_window = event_size, 8
    for kind in range(5):
        punch(simulator, kind, user_id="7", kind=kind)
    await until(lambda: len(punches(received)) == 5)
    assert punches(received) == [("7", kind) for kind in range(5)]


async def test_events_during_a_job_come_before_its_result(
    simulator: ZKSimulator, worker: TerminalWorker, received: list[WorkerEvent]
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


async def test_reconnects_after_the_session_breaks(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[WorkerEvent],
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
    hass: HomeAssistant,
    simulator: ZKSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without realtime events the worker still serves jobs, and says so once."""
    monkeypatch.setitem(
        sim_commands.HANDLERS, sim_protocol.CMD_REG_EVENT, lambda *_: sim_commands.error()
    )
    refused = TerminalWorker(hass, TerminalConfig("127.0.0.1", simulator.port), "K40")
    refused.start()
    try:
        for _ in range(2):
            await refused.async_run(lambda terminal: terminal.read_counters())
            await refused.async_run(lambda terminal: terminal.close())
    finally:
        await refused.async_stop()
    assert refused.realtime is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_no_jobs_after_stop(worker: TerminalWorker) -> None:
    await worker.async_stop()
    with pytest.raises(TerminalConnectionError):
        await worker.async_run(lambda terminal: terminal.read_counters())


def counters(terminal: ZKTerminal) -> int:
    return terminal.read_counters().records


async def test_malformed_event_does_not_stop_the_worker(
    simulator: ZKSimulator, worker: TerminalWorker, received: list[WorkerEvent]
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
    received: list[WorkerEvent],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug ends the session, not the thread; the job it was on still gets its result."""

    def broken(timeout: float) -> list[TerminalEvent]:
        raise RuntimeError("bug")

    monkeypatch.setattr(worker.terminal, "read_events", broken)
    async with asyncio.timeout(5):
        for _ in range(2):
            assert await worker.async_run(counters) == 20
    monkeypatch.undo()
    assert await worker.async_run(counters) == 20
    await until(lambda: SessionOpened() in received)
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info


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


async def test_refused_restore_starts_the_next_session_afresh(
    simulator: ZKSimulator,
    worker: TerminalWorker,
    received: list[WorkerEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session in which the terminal would not leave enrollment is not kept half set up."""
    await worker.async_run(lambda terminal: terminal.close())
    worker.restore_on_reconnect(True)
    with monkeypatch.context() as patch:
        patch.setitem(
            sim_commands.HANDLERS, sim_protocol.CMD_ENABLEDEVICE, lambda *_: sim_commands.error()
        )
        with pytest.raises(TerminalRefusedError):
            await worker.async_run(counters)
    assert await worker.async_run(counters) == 20
    await until(lambda: SessionOpened() in received)
    punch(simulator, 0)
    await until(lambda: punches(received) == [("123", 0)])
