"""What the benchmarks in bench/ share: an in-process Home Assistant, a loop lag probe, a table.

The Home Assistant is the test harness's (pytest-homeassistant-custom-component) with this
repository's integration in place of the harness's own custom components.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
import gc
import logging
import tempfile
import time

from homeassistant import loader
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_test_home_assistant, mock_storage

import custom_components.zkteco  # noqa: F401  (ours, before Home Assistant looks for any)
from devtools.machine import describe_machine

LAG_SAMPLE = 0.01
LATE = 0.05  # a block longer than this is counted


@asynccontextmanager
async def benchmarked_home_assistant() -> AsyncIterator[HomeAssistant]:
    """A Home Assistant in this process, in a temporary config dir, its storage in memory."""
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as config_dir, mock_storage():
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            yield hass
            await hass.async_stop(force=True)


@dataclass
class LoopLagProbe:
    """Wakes every 10 ms; how late it wakes is how long something blocked the event loop.

    Counted only while the integration works: simulators and raw clients run in threads of the
    process too, and their garbage collections would stop the loop as well. On a shared machine
    the process may also wait for a core: `worst_cpu` counts only the event loop thread's own
    CPU time in a late wake-up, what the loop's callbacks (and the garbage collector) took.
    `worst_gc` is the longest garbage collection meanwhile, in any thread: a full collection
    walks every object of the process, Home Assistant's and the test harness's included.
    """

    worst: float = 0.0
    worst_cpu: float = 0.0
    late: list[float] = field(default_factory=list)
    late_cpu: list[float] = field(default_factory=list)
    worst_gc: float = 0.0
    watching: bool = False
    _gc_started: float = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + LAG_SAMPLE
            cpu = time.thread_time()
            await asyncio.sleep(LAG_SAMPLE)
            lag = loop.time() - expected
            own = min(lag, time.thread_time() - cpu)
            if self.watching:
                self.worst = max(self.worst, lag)
                self.worst_cpu = max(self.worst_cpu, own)
                if lag > LATE:
                    self.late.append(lag)
                if own > LATE:
                    self.late_cpu.append(own)

    @contextmanager
    def watch(self) -> Iterator[None]:
        self.watching = True
        gc.callbacks.append(self._on_gc)
        try:
            yield
        finally:
            gc.callbacks.remove(self._on_gc)
            self.watching = False

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.worst_gc = max(self.worst_gc, time.perf_counter() - self._gc_started)


@dataclass(frozen=True)
class Row:
    """A line of a benchmark's table: what was measured, the figure, the goal if there is one."""

    measure: str
    value: str
    goal: str = ""


def print_table(rows: list[Row]) -> None:
    """The machine, then the rows in aligned columns."""
    print(f"Machine: {describe_machine()}")
    width = max(len(row.measure) for row in rows)
    value_width = max(len(row.value) for row in rows)
    print(f"{'measure':<{width}}  {'value':<{value_width}}  goal")
    for row in rows:
        print(f"{row.measure:<{width}}  {row.value:<{value_width}}  {row.goal}")
