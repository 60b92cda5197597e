"""Push terminals calling Home Assistant: the cost of their polls.

Run: .venv/bin/python bench/bench_push.py

Home Assistant runs in this process (the test harness's instance) with its own HTTP server on a
loopback port, the Push hub's views on it. The terminals are zksim's PushTerminal, the real HTTP
client of the reference, run in a child process (this script with `--poll`): their threads then
cost this process nothing, so the CPU time measured here is Home Assistant's alone. Each answer
time is taken by the terminal, from connecting to the answer's last byte.

The baseline, measured in the same run by the same terminals: a bare aiohttp server in this
process answering `OK` to every `/iclock/` request (no Home Assistant middleware, no hub).
Prints a table, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
import json
from pathlib import Path
import sys
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from custom_components.zkteco.push.lines import AttLogUpload, DeviceInfo, OperLogUpload
from custom_components.zkteco.push.queue import CommandQueue
from custom_components.zkteco.push.server import ServedTerminal, async_get_push_hub
from devtools.bench_harness import Row, benchmarked_home_assistant, print_table
from zksim.push import PushTerminal

POLLING_TERMINALS = 50
POLL_DELAY = 1  # seconds between a terminal's polls: the handshake's Delay
WARM_UP = 5.0  # handshakes, options uploads and the first polls happen before the window
POLLING_WINDOW = 30.0
IDLE_WINDOW = 10.0
SERIAL_PREFIX = "BENCH"


@dataclass(frozen=True)
class Polling:
    """What one measuring window saw: answer times, polls answered, CPU seconds spent.

    `idle_load` is the CPU seconds a second this process spends when nobody calls it (the
    harness's own timers): taken off, so a poll's CPU is what answering it costs.
    """

    answer_times: list[float]
    polls: int
    cpu: float
    idle_load: float

    @property
    def p95(self) -> float:
        return percentile(self.answer_times, 0.95)

    @property
    def cpu_per_poll(self) -> float:
        return (self.cpu - self.idle_load * POLLING_WINDOW) / self.polls


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def serials(count: int) -> list[str]:
    return [f"{SERIAL_PREFIX}{index:04}" for index in range(count)]


# -- the child process: the polling terminals -------------------------------------------------


def run_pollers(url: str, count: int, warm_up: float, window: float) -> None:
    """Start `count` Push terminals calling `url`, then report one window's getrequest times.

    Started a poll interval apart in all, so their polls spread over each second as independent
    terminals' polls do. Prints `measuring` when the window opens, then the answer times (JSON).
    """
    terminals = [PushTerminal(url, serial=serial, delay=POLL_DELAY) for serial in serials(count)]
    for terminal in terminals:
        terminal.start()
        time.sleep(POLL_DELAY / count)
    time.sleep(warm_up)
    marks = [len(terminal.exchanges) for terminal in terminals]
    print("measuring", flush=True)
    time.sleep(window)
    times = [
        exchange.elapsed
        for terminal, mark in zip(terminals, marks, strict=True)
        for exchange in terminal.exchanges[mark:]
        if "/getrequest" in exchange.path and exchange.status == 200
    ]
    print(json.dumps(times), flush=True)
    for terminal in terminals:
        terminal.stop()


async def measure_polling(url: str, polls_answered: Callable[[], int], idle_load: float) -> Polling:
    """Run the polling terminals against `url`; this process's CPU time during their window."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--poll",
        url,
        str(POLLING_TERMINALS),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    assert (await child.stdout.readline()).strip() == b"measuring"
    cpu, polls = time.process_time(), polls_answered()
    answer_times = json.loads(await child.stdout.readline())
    cpu, polls = time.process_time() - cpu, polls_answered() - polls
    await child.wait()
    return Polling(answer_times, polls, cpu, idle_load)


async def idle_load() -> float:
    """This process's CPU seconds a second while nobody calls it."""
    started = time.process_time()
    await asyncio.sleep(IDLE_WINDOW)
    return (time.process_time() - started) / IDLE_WINDOW


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a loopback port; yield its base URL."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def bare_polling(idle: float) -> Polling:
    """The baseline: an aiohttp handler that answers `OK` to every request."""
    polls = 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal polls
        polls += request.path.endswith("/getrequest")
        return web.Response(text="OK", content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/iclock/{path:.*}", answer)
    async with serving(app) as url:
        return await measure_polling(url, lambda: polls, idle)


# -- Home Assistant ---------------------------------------------------------------------------


class PollCounter:
    """A sink that keeps nothing and counts polls: the hub's own cost, no channel's."""

    def __init__(self) -> None:
        self.polls = 0

    async def async_store_punches(self, upload: AttLogUpload) -> None:
        """Nothing is punched while terminals only poll."""

    async def async_store_operations(self, upload: OperLogUpload) -> None:
        """Nothing is enrolled either."""

    def device_info(self, info: DeviceInfo) -> None:
        """Counts are not looked at."""

    def contacted(self, endpoint: str) -> None:
        self.polls += endpoint == "getrequest"


async def hub_polling(hass: HomeAssistant, idle: float) -> Polling:
    """The terminals, configured, poll the hub's views on Home Assistant's server."""
    hub = async_get_push_hub(hass)
    counter = PollCounter()
    queues = [CommandQueue(hass, serial) for serial in serials(POLLING_TERMINALS)]
    for queue in queues:
        await queue.async_load()
        hub.async_add_terminal(
            ServedTerminal(
                queue.serial, counter, queue, dt_util.get_default_time_zone(), delay=POLL_DELAY
            )
        )
    try:
        async with serving(hass.http.app) as url:
            return await measure_polling(url, lambda: counter.polls, idle)
    finally:
        for queue in queues:
            queue.async_unload()


async def main() -> None:
    rows: list[Row] = []
    async with benchmarked_home_assistant() as hass:
        assert await async_setup_component(hass, "http", {})
        idle = await idle_load()
        bare = await bare_polling(idle)
        hub = await hub_polling(hass, idle)
        rows += polling_rows(hub, bare)
    print_table(rows)


def polling_rows(hub: Polling, bare: Polling) -> list[Row]:
    label = f"{POLLING_TERMINALS} terminals polling every {POLL_DELAY} s"
    return [
        Row(
            f"{label}: getrequest answer, p95 ({len(hub.answer_times)} polls)",
            f"{hub.p95 * 1000:.1f} ms (bare aiohttp {bare.p95 * 1000:.1f} ms,"
            f" {hub.p95 / bare.p95:.1f}x)",
        ),
        Row(
            f"{label}: Home Assistant CPU per poll answered",
            f"{hub.cpu_per_poll * 1e6:.0f} us (bare aiohttp {bare.cpu_per_poll * 1e6:.0f} us,"
            f" {hub.cpu_per_poll / bare.cpu_per_poll:.1f}x)",
        ),
        Row(
            f"{label}: CPU share of one core",
            f"{hub.cpu / POLLING_WINDOW:.1%} (bare aiohttp {bare.cpu / POLLING_WINDOW:.1%},"
            f" idle {hub.idle_load:.1%})",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poll", nargs=2, metavar=("URL", "TERMINALS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.poll:
        url, count = arguments.poll
        run_pollers(url, int(count), WARM_UP, POLLING_WINDOW)
    else:
        asyncio.run(main())
