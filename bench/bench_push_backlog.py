"""A Push terminal's backlog: 100,000 ATTLOG lines in 500-line batches, each batch sent twice.

Run: .venv/bin/python bench/bench_push_backlog.py

The hub answers the batches as it answers a terminal (`PushHub.async_handle`, without the HTTP
server), the Push channel stores them (journal written and fsynced per batch) and the attendance
tracker fires `zkteco_attendance` for each new punch. Every batch is sent a second time, as a
terminal does when an answer is lost. Prints the time, the longest event-loop block, the peak
memory and the events fired; asserts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
import gc
import logging
from pathlib import Path
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_test_home_assistant, mock_storage

from custom_components.zkteco.attendance import AttendanceTracker, bus_publisher, delivered_store
from custom_components.zkteco.const import EVENT_ATTENDANCE
from custom_components.zkteco.push.channel import PushChannel
from custom_components.zkteco.push.server import PushHub, PushRequest
from devtools.machine import describe_machine

LINES = 100_000
BATCH = 500
LAG_SAMPLE = 0.01
FIRST = datetime(2026, 1, 5, 7, 0, 0)


def batches() -> list[bytes]:
    lines = [
        f"{1 + i % 50}\t{FIRST + timedelta(seconds=37 * i):%Y-%m-%d %H:%M:%S}\t0\t1\t0\t0\t0\n"
        for i in range(LINES)
    ]
    return ["".join(lines[i : i + BATCH]).encode() for i in range(0, LINES, BATCH)]


@contextmanager
def gc_pauses() -> Iterator[list[float]]:
    """The garbage collector's pauses: a full collection of Home Assistant's heap blocks the
    event loop whatever the code running in it does."""
    pauses: list[float] = []
    started = 0.0

    def watch(phase: str, _info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started)

    gc.callbacks.append(watch)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(watch)


async def worst_lag(stop: asyncio.Event) -> float:
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not stop.is_set():
        expected = loop.time() + LAG_SAMPLE
        await asyncio.sleep(LAG_SAMPLE)
        worst = max(worst, loop.time() - expected)
    return worst


async def run(hass: HomeAssistant, serial: str, *, measure_memory: bool) -> dict[str, float]:
    hub = PushHub(hass)
    zone = dt_util.get_default_time_zone()
    channel = PushChannel(hass, serial, serial, time_zone=zone)
    tracker = AttendanceTracker(
        channel,
        delivered_store(hass, serial),
        name=serial,
        users=dict,
        localize=lambda when: when.replace(tzinfo=zone),
        publish=bus_publisher(hass, "bench", serial),
    )
    channel.async_add_listener(tracker.on_event)
    fired = 0

    @callback
    def count(_event: Event) -> None:
        nonlocal fired
        fired += 1

    unsubscribe = hass.bus.async_listen(EVENT_ATTENDANCE, count)
    await channel.async_open(hub)
    bodies = batches()
    query = {"SN": serial, "table": "ATTLOG"}
    stop = asyncio.Event()
    lag = asyncio.create_task(worst_lag(stop))
    if measure_memory:
        tracemalloc.start()
    started = time.perf_counter()
    for body in bodies:
        for _ in range(2):  # the answer to the first post is lost: the terminal sends it again
            answer = await hub.async_handle(PushRequest("POST", "/iclock/cdata", query, body))
            assert answer.text.startswith("OK:"), answer.text
    await hass.async_block_till_done()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
    if measure_memory:
        tracemalloc.stop()
    stop.set()
    worst = await lag
    unsubscribe()
    await channel.async_stop()
    return {"seconds": elapsed, "lag": worst, "peak": peak, "fired": fired}


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as config_dir, mock_storage():
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            with gc_pauses() as pauses:
                timed = await run(hass, "BENCH0000001", measure_memory=False)
            memory = await run(hass, "BENCH0000002", measure_memory=True)
    print(describe_machine())
    print(f"{LINES:,} ATTLOG lines in {BATCH}-line batches, each batch posted twice")
    print(f"  time                      {timed['seconds']:.2f} s")
    print(f"  longest event-loop block  {timed['lag'] * 1000:.0f} ms")
    print(f"  longest GC pause in it    {max(pauses, default=0) * 1000:.0f} ms")
    print(f"  peak memory (tracemalloc) {memory['peak'] / 1e6:.1f} MB")
    print(f"  zkteco_attendance fired   {timed['fired']:,} (each punch once: {LINES:,})")


if __name__ == "__main__":
    asyncio.run(main())
