"""Punches in Home Assistant: latency, the cost of an idle poll, catch-up, memory, loop blocks.

Run: .venv/bin/python bench/bench_attendance.py

The integration runs for real in an in-process Home Assistant (the test harness's instance)
against the simulated K40 over loopback; the raw pyzk figures are measured in the same run.
Prints a table, asserts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
import gc
import itertools
from pathlib import Path
import statistics
import sys
import threading
import time
import tracemalloc
from unittest.mock import AsyncMock, MagicMock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from zk import ZK
from zk.const import EF_ATTLOG

from custom_components.zkteco.const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_PROTOCOL,
    DOMAIN,
    EVENT_ATTENDANCE,
    PROTOCOL_TCP,
)
from custom_components.zkteco.coordinator import ZKTecoRuntimeData
from devtools.bench_harness import LoopLagProbe, Row, benchmarked_home_assistant, print_table
from zksim import Record, ZKSimulator

PUNCHES = 250
LOG_SIZES = (1_000, 10_000, 100_000)
# Punches made while Home Assistant was down, delivered by the catch-up that is measured.
MISSED_PUNCHES = 10
# Full-log downloads during which punches are made, and how often one is made meanwhile.
DOWNLOADS = 5
PUNCH_EVERY = 0.01
# Punches made right after a terminal is added, a quarter second apart.
SETTLING_PUNCHES = 16
SETTLING_EVERY = 0.25
IDLE_POLLS = 20
FIRST_PUNCH = datetime(2027, 1, 4, 8, 0, 0)


def simulator(records: int) -> ZKSimulator:
    sim = ZKSimulator(host="127.0.0.1", port=0)
    sim.add_user("123", "Ana Garcia")
    sim.add_user("7", "Luis Perez")
    sim.add_records(records, start=FIRST_PUNCH - timedelta(minutes=5 * records))
    sim.packed_records()  # packed once here, so no figure includes the simulator's packing
    return sim.start()


@asynccontextmanager
async def loaded_entry(hass: HomeAssistant, sim: ZKSimulator) -> AsyncIterator[MockConfigEntry]:
    """A config entry for the simulator, set up (its first sync included) and unloaded after."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"K40 {sim.port}",
        unique_id=sim.serial,
        data={
            CONF_DEVICE_ID: f"k40_{sim.port}",
            CONF_HOST: "127.0.0.1",
            CONF_PORT: sim.port,
            CONF_COMM_KEY: 0,
            CONF_PROTOCOL: PROTOCOL_TCP,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        yield entry
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()


async def timed[T](action: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


def raw_pyzk_download(sim: ZKSimulator) -> tuple[float, int]:
    """What peers do every poll: connect, get_attendance(), disconnect. Seconds and bytes."""
    sim.reset_stats()
    started = time.perf_counter()
    conn = ZK("127.0.0.1", port=sim.port, timeout=30, ommit_ping=True).connect()
    records = conn.get_attendance()
    conn.disconnect()
    elapsed = time.perf_counter() - started
    assert len(records) == len(sim.records)
    return elapsed, sim.bytes_in + sim.bytes_out


class Arrivals:
    """When each punch (by its time on the terminal) reached Home Assistant's bus."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.at: dict[str, float] = {}
        self.caught_up = 0
        self._changed = asyncio.Event()
        self.unsubscribe = hass.bus.async_listen(EVENT_ATTENDANCE, self._on_event)

    def _on_event(self, event: Event) -> None:
        self.at[event.data["time"][:19]] = time.perf_counter()
        self.caught_up += event.data["caught_up"]
        self._changed.set()

    async def wait(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(30):
            while not done():
                self._changed.clear()
                await self._changed.wait()


async def punch_latency(hass: HomeAssistant, probe: LoopLagProbe) -> list[float]:
    """Seconds from sim.punch() to the zkteco_attendance event on Home Assistant's bus."""
    sim = await hass.async_add_executor_job(simulator, 20)
    arrived: asyncio.Queue[float] = asyncio.Queue()

    def on_event(_event: Event) -> None:
        arrived.put_nowait(time.perf_counter())

    latencies = []
    try:
        with probe.watch():
            async with loaded_entry(hass, sim):
                unsubscribe = hass.bus.async_listen(EVENT_ATTENDANCE, on_event)
                for index in range(PUNCHES):
                    user = ("123", "7")[index % 2]
                    started = time.perf_counter()
                    sim.punch(user, timestamp=FIRST_PUNCH + timedelta(minutes=index))
                    latencies.append(await asyncio.wait_for(arrived.get(), 5) - started)
                unsubscribe()
    finally:
        await hass.async_add_executor_job(sim.stop)
    return latencies


async def idle_poll(runtime: ZKTecoRuntimeData) -> tuple[float, int]:
    """Median seconds and bytes of a poll that finds nothing new."""
    coordinator = runtime.coordinator
    terminal = runtime.channel.worker.terminal
    times, sizes = [], []
    for _ in range(IDLE_POLLS):
        before = sum(terminal.traffic())
        elapsed, _ = await timed(coordinator.async_refresh)
        times.append(elapsed)
        sizes.append(sum(terminal.traffic()) - before)
    return statistics.median(times), int(statistics.median(sizes))


async def log_sizes(hass: HomeAssistant, probe: LoopLagProbe, rows: list[Row]) -> None:
    for size in LOG_SIZES:
        sim = await hass.async_add_executor_job(simulator, size)
        try:
            raw_time, raw_bytes = await hass.async_add_executor_job(raw_pyzk_download, sim)
            with probe.watch():
                idle_time, idle_bytes, catch_up = await _setup_and_measure(hass, sim)
        finally:
            await hass.async_add_executor_job(sim.stop)
        label = f"{size:,} records"
        rows += [
            Row(f"{label}: raw pyzk get_attendance()", f"{raw_time * 1e3:.0f} ms, {raw_bytes:,} B"),
            Row(
                f"{label}: idle poll",
                f"{idle_time * 1000:.1f} ms, {idle_bytes:,} B",
                "constant in log size",
            ),
            Row(
                f"{label}: raw / idle poll",
                f"{raw_time / idle_time:,.0f}x time, {raw_bytes / idle_bytes:,.0f}x bytes",
                ">= 100x at 100,000",
            ),
            Row(
                f"{label}: catch-up of {MISSED_PUNCHES} missed / raw pyzk",
                f"{catch_up / raw_time:.3f} ({catch_up * 1000:.0f} ms)",
                "<= 1.2 at 100,000",
            ),
        ]


async def _setup_and_measure(hass: HomeAssistant, sim: ZKSimulator) -> tuple[float, int, float]:
    """Idle polls once the entry is set up; then Home Assistant is down while people punch.

    The catch-up is timed from the entry's set-up to the last missed punch on the bus: what
    the integration downloads and decodes to find them, against what raw pyzk downloads.
    """
    async with loaded_entry(hass, sim) as entry:
        idle_time, idle_bytes = await idle_poll(entry.runtime_data)
        await hass.config_entries.async_unload(entry.entry_id)
        newest = sim.records[-1].timestamp
        sim.log_history(
            Record(1, "123", newest + timedelta(minutes=1 + index))
            for index in range(MISSED_PUNCHES)
        )
        arrivals = Arrivals(hass)
        started = time.perf_counter()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await arrivals.wait(lambda: arrivals.caught_up >= MISSED_PUNCHES)
        catch_up = max(arrivals.at.values()) - started
        arrivals.unsubscribe()
        return idle_time, idle_bytes, catch_up


async def latency_after_setup(hass: HomeAssistant, probe: LoopLagProbe) -> list[float]:
    """Punches made every quarter second in the first seconds after a terminal is added."""
    sim = await hass.async_add_executor_job(simulator, 20)
    made: dict[str, float] = {}
    try:
        with probe.watch():
            arrivals = Arrivals(hass)
            async with loaded_entry(hass, sim):
                for minute in range(SETTLING_PUNCHES):
                    when = FIRST_PUNCH + timedelta(minutes=minute)
                    made[when.isoformat()] = time.perf_counter()
                    sim.punch("123", timestamp=when)
                    await asyncio.sleep(SETTLING_EVERY)
                await arrivals.wait(lambda: made.keys() <= arrivals.at.keys())
            arrivals.unsubscribe()
    finally:
        await hass.async_add_executor_job(sim.stop)
    return [arrivals.at[key] - at for key, at in made.items()]


def punch_until(sim: ZKSimulator, stop: threading.Event, minutes: Iterator[int]) -> list[str]:
    """On a thread of its own: a punch every 10 ms until ``stop``; the times punched."""
    made: list[str] = []
    while not stop.is_set():
        when = FIRST_PUNCH + timedelta(minutes=next(minutes))
        sim.punch("7", timestamp=when)
        made.append(when.isoformat())
        stop.wait(PUNCH_EVERY)
    return made


def departures(sim: ZKSimulator) -> dict[str, float]:
    """When each punch's realtime event left the simulator, by the punch's time.

    Timed from the wire: the simulator shares this process, and while it packs or sends its
    log its own queue holds events back, which is the simulator's time, not the integration's.
    """
    sent = {}
    for at, event, payload in sim.events_sent:
        if event == EF_ATTLOG:
            year, month, day, hour, minute, second = payload[26:32]
            when = datetime(2000 + year, month, day, hour, minute, second)
            sent.setdefault(when.isoformat(), at)
    return sent


async def latency_during_download(hass: HomeAssistant, probe: LoopLagProbe) -> list[float]:
    """Punches made while the whole 100,000-record log is downloaded (the worst case).

    A record logged without an event makes the next poll download the log; punches are made
    every 10 ms while that poll runs, each timed from its event's departure to the bus.
    """
    sim = await hass.async_add_executor_job(simulator, LOG_SIZES[-1])
    latencies: list[float] = []
    minutes = itertools.count()
    try:
        with probe.watch():
            async with loaded_entry(hass, sim) as entry:
                arrivals = Arrivals(hass)
                for _ in range(DOWNLOADS):
                    when = FIRST_PUNCH + timedelta(minutes=next(minutes))
                    sim.log_history([Record(1, "123", when)])
                    stop = threading.Event()
                    punching = hass.async_add_executor_job(punch_until, sim, stop, minutes)
                    await entry.runtime_data.coordinator.async_refresh()
                    stop.set()
                    made = await punching
                    await arrivals.wait(lambda made=made: set(made) <= arrivals.at.keys())
                    sent = departures(sim)
                    latencies += [arrivals.at[key] - sent[key] for key in made]
                arrivals.unsubscribe()
    finally:
        await hass.async_add_executor_job(sim.stop)
    return latencies


async def memory_after_sync(hass: HomeAssistant) -> tuple[int, int]:
    """Bytes still allocated once 100,000 records are synced (entry loaded), and the peak.

    Everything allocated counts, the simulator's own data excepted.
    """
    sim = await hass.async_add_executor_job(simulator, LOG_SIZES[-1])
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        tracemalloc.reset_peak()
        async with loaded_entry(hass, sim) as entry:
            await entry.runtime_data.coordinator.async_refresh()
            gc.collect()
            after = tracemalloc.take_snapshot()
            _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await hass.async_add_executor_job(sim.stop)
    ignore = [tracemalloc.Filter(False, "*/zksim/*"), tracemalloc.Filter(False, "*tracemalloc*")]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "filename")
    return sum(stat.size_diff for stat in diff), peak


async def main() -> None:
    rows: list[Row] = []
    async with benchmarked_home_assistant() as hass:
        hass.http = MagicMock()  # the REST view and the card are not measured here
        hass.http.async_register_static_paths = AsyncMock()
        hass.config.components.add("http")
        probe = LoopLagProbe()
        probe_task = asyncio.create_task(probe.run())
        latencies = sorted(await punch_latency(hass, probe))
        rows += [
            Row(
                f"punch -> HA event, p50 ({PUNCHES} punches)",
                f"{statistics.median(latencies) * 1000:.1f} ms",
            ),
            Row(
                "punch -> HA event, p95",
                f"{latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms",
                "< 1 s",
            ),
        ]
        settling = await latency_after_setup(hass, probe)
        window = SETTLING_PUNCHES * SETTLING_EVERY
        rows += [
            Row(
                f"punch in the first {window:.0f} s after set-up, max",
                f"{max(settling) * 1000:.1f} ms"
                f" ({max(settling) / statistics.median(latencies):.1f}x idle p50)",
                "< 1 s",
            )
        ]
        during = sorted(await latency_during_download(hass, probe))
        idle_p50 = statistics.median(latencies)
        rows += [
            Row(
                f"punch during a 100,000-record download, p50 ({len(during)} punches)",
                f"{statistics.median(during) * 1000:.1f} ms"
                f" ({statistics.median(during) / idle_p50:.1f}x idle p50)",
            ),
            Row(
                "punch during a 100,000-record download, max",
                f"{during[-1] * 1000:.1f} ms",
                "< 1 s",
            ),
        ]
        await log_sizes(hass, probe, rows)
        probe_task.cancel()  # tracemalloc's snapshots below block the loop themselves
        kept, peak = await memory_after_sync(hass)
        rows += [
            Row("memory kept after syncing 100,000", f"{kept / 1e6:.2f} MB", "a few MB"),
            Row("memory peak during that sync", f"{peak / 1e6:.1f} MB"),
        ]
        rows.append(
            Row(
                "longest event loop block",
                f"{probe.worst * 1000:.1f} ms ({len(probe.late)} over 50 ms)",
                "none over 50 ms",
            )
        )
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
