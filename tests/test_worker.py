"""The terminal's one thread: jobs one at a time, realtime events between them."""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging

from homeassistant.core import HomeAssistant
import pytest

from custom_components.zkteco import worker as worker_module
from custom_components.zkteco.terminal import (
    Punch,
    TerminalConfig,
    TerminalConnectionError,
    ZKTerminal,
)
from custom_components.zkteco.worker import (
    ConnectionLost,
    SessionOpened,
    TerminalWorker,
    WorkerEvent,
)
from zksim import ZKSimulator, commands as sim_commands, protocol as sim_protocol

from .test_attendance import punch, until


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


@pytest.mark.parametrize("event_size", [12, 32, 36, 52])
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
