"""Push terminals calling Home Assistant: polls, punches, a backlog.

Run: .venv/bin/python bench/bench_push.py

Home Assistant runs in this process (the test harness's instance) with its own HTTP server on a
loopback port, the Push hub's views on it. The terminals are zksim's PushTerminal, the real HTTP
client of the reference, run in a child process (this script with `--child`): their threads then
cost this process nothing, so its CPU time, memory and event loop are Home Assistant's alone.
Times that cross the two processes are on the system's monotonic clock.

- 50 terminals polling every second (the handshake's `Delay=1`): this process's CPU time per
  poll answered (its idle load taken off) and the p95 of the `getrequest` answer time, taken by
  the terminal from connecting to the answer's last byte;
- a punch on the terminal -> `zkteco_attendance` on the bus, over 250 punches, each made once
  the one before is acknowledged;
- a backlog of 100,000 punches the terminal holds when switched on, posted in its batch size
  (500): from switching it on to the last event, how many were fired once, twice, never; the
  loop lag probe watches meanwhile; the memory peak (tracemalloc) is taken in a second run of
  its own, tracemalloc slowing everything down; a third run has the objects of Home
  Assistant's start-up frozen (`gc.freeze()`, which an integration must not call: it changes
  the whole process), so that its loop blocks are the backlog's own work, and counts the
  objects the backlog moves into the garbage collector's oldest generation (a full collection,
  which walks every object of the process, comes once those exceed a quarter of it);
- the enroll-finger REST request (`{"finger_index": n}` for fingers 0-9 in turn, an
  administrator's token) -> its 200, which comes once the terminal took the command at its next
  poll (every 5 s, as the handshake sets it); three presses finish each enrollment before the
  next finger's request. Its bound is the poll interval: no baseline.

Punches and enrollments go through a Push terminal's config entry, set up as Home Assistant
sets it up. The baseline of the other figures, measured in the same run by the same terminals: a
bare aiohttp server in this process answering `OK` to every request and `OK: <n>` to every
upload (no Home Assistant middleware, no hub, nothing stored). Prints a table, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
import gc
import json
from pathlib import Path
import statistics
import sys
import time
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockConfigEntry

from custom_components.zkteco.const import (
    CONF_DEVICE_ID,
    CONF_PUSH,
    DOMAIN,
    EVENT_ATTENDANCE,
    EVENT_ENROLLMENT_FINISHED,
)
from custom_components.zkteco.push import commands
from custom_components.zkteco.push.queue import CommandQueue
from custom_components.zkteco.push.server import PushHub, ServedTerminal, async_get_push_hub
from custom_components.zkteco.push.uploads import AttLogUpload, DeviceInfo, OperLogUpload
from devtools.bench_harness import LoopLagProbe, Row, benchmarked_home_assistant, print_table
from zksim.push import UPLOAD_ACK, PushTerminal

POLLING_TERMINALS = 50
POLL_DELAY = 1  # seconds between a terminal's polls: the handshake's Delay
WARM_UP = 5.0  # handshakes, options uploads and the first polls happen before the window
POLLING_WINDOW = 30.0
IDLE_WINDOW = 10.0
SERIAL_PREFIX = "BENCH"
PUSH_SERIAL = "BENCHPUSH"
ENROLL_SERIAL = "BENCHENROLL"
DEVICE_ID = "k40_push"
ENROLLMENTS = 10  # one a finger
PUNCHES = 250
BACKLOG = 100_000
PEOPLE = (("123", "Ana Garcia"), ("7", "Luis Perez"))
FIRST_PUNCH = datetime(2027, 1, 4, 8, 0, 0)
TERMINAL_TIMEOUT = 30.0
BACKLOG_TIMEOUT = 600.0


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


# -- the child process: the terminals ---------------------------------------------------------


def run_pollers(url: str, count: int) -> None:
    """Start `count` Push terminals calling `url`, then report one window's getrequest times.

    Started a poll interval apart in all, so their polls spread over each second as independent
    terminals' polls do. Prints `measuring` when the window opens, then the answer times (JSON).
    """
    terminals = [PushTerminal(url, serial=serial, delay=POLL_DELAY) for serial in serials(count)]
    for terminal in terminals:
        terminal.start()
        time.sleep(POLL_DELAY / count)
    time.sleep(WARM_UP)
    marks = [len(terminal.exchanges) for terminal in terminals]
    print("measuring", flush=True)
    time.sleep(POLLING_WINDOW)
    times = [
        exchange.elapsed
        for terminal, mark in zip(terminals, marks, strict=True)
        for exchange in terminal.exchanges[mark:]
        if "/getrequest" in exchange.path and exchange.status == 200
    ]
    print(json.dumps(times), flush=True)
    for terminal in terminals:
        terminal.stop()


def one_terminal(url: str, serial: str = PUSH_SERIAL, *, with_people: bool = True) -> PushTerminal:
    """The terminal of the punch figures, with the two people who punch on it."""
    terminal = PushTerminal(url, serial=serial, delay=POLL_DELAY)
    for user_id, name in PEOPLE if with_people else ():
        terminal.terminal.add_user(user_id, name)
    return terminal


def run_puncher(url: str, count: int) -> None:
    """Punch `count` times, each once the one before is acknowledged; print when (JSON).

    Prints `ready` once the terminal polls, then `{punch time: monotonic seconds}`: the clock
    is the system's, the same in the parent process.
    """
    with one_terminal(url) as terminal:
        terminal.wait_for(lambda t: t.polls >= 1, TERMINAL_TIMEOUT)
        print("ready", flush=True)
        punched: dict[str, float] = {}
        for index in range(count):
            when = FIRST_PUNCH + timedelta(minutes=index)
            user_id = PEOPLE[index % 2][0]
            punched[f"{user_id} {when.isoformat()}"] = time.monotonic()
            terminal.terminal.punch(user_id, timestamp=when)
            terminal.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0, TERMINAL_TIMEOUT)
        print(json.dumps(punched), flush=True)


def run_backlog(url: str, count: int) -> None:
    """A terminal holding `count` punches nobody received calls `url`; they go out in batches.

    Prints `ready` with the log in place, the monotonic second it is switched on, then, once
    all is acknowledged, the number of ATTLOG posts and of those not acknowledged (JSON).
    """
    terminal = one_terminal(url)
    terminal.terminal.add_records(count, start=FIRST_PUNCH - timedelta(minutes=5 * count))
    print("ready", flush=True)
    print(json.dumps(time.monotonic()), flush=True)
    with terminal:
        terminal.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0, BACKLOG_TIMEOUT)
    posts = [e for e in terminal.exchanges if "table=ATTLOG" in e.path]
    refused = [e for e in posts if not UPLOAD_ACK.match(e.reply.strip())]
    print(json.dumps({"posts": len(posts), "refused": len(refused)}), flush=True)


def run_enrollee(url: str, count: int) -> None:
    """The terminal of the enroll figure: its user added on the keypad (uploaded to Home
    Assistant), then `count` capture screens, each given three good presses. Prints `ready`."""
    with one_terminal(url, ENROLL_SERIAL, with_people=False) as terminal:
        terminal.wait_for(lambda t: t.polls >= 1, TERMINAL_TIMEOUT)
        terminal.add_user(*PEOPLE[0])
        terminal.wait_for(lambda t: t.acknowledged["OPERLOG"], TERMINAL_TIMEOUT)
        print("ready", flush=True)
        for _ in range(count):
            terminal.wait_for(lambda t: t.terminal.enrolling, TERMINAL_TIMEOUT)
            for _press in range(3):
                terminal.terminal.press_finger()
        # The results and the template uploads go out before the terminal is switched off.
        terminal.wait_for(
            lambda t: all(r.acknowledged for r in t.results) and not t.unacknowledged["OPERLOG"],
            TERMINAL_TIMEOUT,
        )


CHILD_MODES: dict[str, Callable[[str, int], None]] = {
    "poll": run_pollers,
    "punch": run_puncher,
    "backlog": run_backlog,
    "enroll": run_enrollee,
}


class Child:
    """This script run as the terminals' process; its lines read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode().strip()

    async def json(self) -> Any:
        return json.loads(await self.line())


@asynccontextmanager
async def terminals_calling(url: str, mode: str, count: int) -> AsyncIterator[Child]:
    """Run a child mode against `url` until it has said all it says."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", mode, url, str(count), stdout=asyncio.subprocess.PIPE
    )
    try:
        yield Child(process)
    finally:
        await process.wait()


async def measure_polling(url: str, polls_answered: Callable[[], int], idle_load: float) -> Polling:
    """Run the polling terminals against `url`; this process's CPU time during their window."""
    async with terminals_calling(url, "poll", POLLING_TERMINALS) as child:
        assert await child.line() == "measuring"
        cpu, polls = time.process_time(), polls_answered()
        answer_times = await child.json()
        cpu, polls = time.process_time() - cpu, polls_answered() - polls
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


# -- the baseline -----------------------------------------------------------------------------


class BareServer:
    """An aiohttp handler answering `OK` to every request, `OK: <n>` to every upload.

    Counts polls and notes when each punch line arrived (monotonic, by the punch's time).
    """

    def __init__(self) -> None:
        self.polls = 0
        self.arrived: dict[str, float] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/iclock/{path:.*}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.polls += request.path.endswith("/getrequest")
        text = "OK"
        if request.query.get("table") == "ATTLOG":
            lines = (await request.text()).splitlines()
            for line in lines:
                user_id, when = line.split("\t")[:2]
                self.arrived[f"{user_id} {when.replace(' ', 'T')}"] = now
            text = f"OK: {len(lines)}"
        return web.Response(text=text, content_type="text/plain")


async def bare_polling(idle: float) -> Polling:
    server = BareServer()
    async with serving(server.app) as url:
        return await measure_polling(url, lambda: server.polls, idle)


async def bare_punches() -> list[float]:
    """Seconds from each punch to its line reaching the bare server."""
    server = BareServer()
    async with serving(server.app) as url, terminals_calling(url, "punch", PUNCHES) as child:
        assert await child.line() == "ready"
        punched: dict[str, float] = await child.json()
    return [server.arrived[when] - at for when, at in punched.items()]


async def bare_backlog() -> float:
    """Seconds from switching the terminal on to the last line of its backlog arriving."""
    server = BareServer()
    async with serving(server.app) as url, terminals_calling(url, "backlog", BACKLOG) as child:
        assert await child.line() == "ready"
        switched_on: float = await child.json()
        await child.json()
    return max(server.arrived.values()) - switched_on


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


async def hub_polling(hass: HomeAssistant, hub: PushHub, url: str, idle: float) -> Polling:
    """The terminals, configured, poll the hub's views on Home Assistant's server."""
    counter = PollCounter()
    queues = [CommandQueue(hass, serial) for serial in serials(POLLING_TERMINALS)]
    served = []
    for queue in queues:
        await queue.async_load()
        served.append(
            hub.async_add_terminal(
                ServedTerminal(
                    queue.serial, counter, queue, dt_util.get_default_time_zone(), delay=POLL_DELAY
                )
            )
        )
    try:
        return await measure_polling(url, lambda: counter.polls, idle)
    finally:
        for stop_serving, queue in zip(served, queues, strict=True):
            stop_serving()
            queue.async_unload()


class Arrivals:
    """When each punch (by its time on the terminal) reached Home Assistant's bus, how often."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.at: dict[str, float] = {}
        self.fired: Counter[str] = Counter()
        self.unsubscribe = hass.bus.async_listen(EVENT_ATTENDANCE, self._on_event)

    @callback  # in the event loop, as it is fired: not an executor job per event
    def _on_event(self, event: Event) -> None:
        when = f"{event.data['user_id']} {event.data['time'][:19]}"
        self.at[when] = time.monotonic()
        self.fired[when] += 1


@asynccontextmanager
async def push_entry(hass: HomeAssistant, serial: str) -> AsyncIterator[MockConfigEntry]:
    """A Push terminal's config entry, set up (its terminal need not have called), removed after.

    Removing it removes its stores: each run starts with a terminal never seen.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=DEVICE_ID,
        unique_id=serial,
        data={CONF_DEVICE_ID: DEVICE_ID, CONF_PUSH: True},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    try:
        yield entry
    finally:
        await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()


async def ha_punches(hass: HomeAssistant, url: str, probe: LoopLagProbe) -> list[float]:
    """Seconds from each punch on the terminal to its zkteco_attendance event."""
    arrivals = Arrivals(hass)
    with probe.watch():
        async with push_entry(hass, PUSH_SERIAL), terminals_calling(url, "punch", PUNCHES) as child:
            assert await child.line() == "ready"
            punched: dict[str, float] = await child.json()
    arrivals.unsubscribe()
    return [arrivals.at[when] - at for when, at in punched.items()]


async def ha_enrollments(hass: HomeAssistant, url: str) -> list[float]:
    """Seconds from the enroll-finger request to its 200, the terminal polling every Delay.

    The terminal (its user added on its keypad) gets three good presses on each capture
    screen; the next request, for the next finger, follows the end of the one before.
    """
    token = await admin_token(hass)
    finished = asyncio.Queue[Event]()
    stop_listening = hass.bus.async_listen(
        EVENT_ENROLLMENT_FINISHED, callback(lambda event: finished.put_nowait(event))
    )
    path = f"{url}/api/zkteco/devices/{DEVICE_ID}/users/{PEOPLE[0][0]}/enroll-finger"
    answer_times = []
    async with (
        push_entry(hass, ENROLL_SERIAL),
        terminals_calling(url, "enroll", ENROLLMENTS) as child,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        assert await child.line() == "ready"
        for finger in range(ENROLLMENTS):
            started = time.monotonic()
            async with http.post(path, json={"finger_index": finger}) as response:
                assert response.status == 200, await response.text()
            answer_times.append(time.monotonic() - started)
            async with asyncio.timeout(TERMINAL_TIMEOUT):
                await finished.get()
    stop_listening()
    return answer_times


async def admin_token(hass: HomeAssistant) -> str:
    """An administrator's access token, as the API document's clients send one."""
    user = await hass.auth.async_create_user("bench", group_ids=[GROUP_ID_ADMIN])
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return hass.auth.async_create_access_token(refresh)


@dataclass(frozen=True)
class Backlog:
    seconds: float
    fired_once: int
    fired_twice: int
    missing: int
    posts: int
    refused: int


async def ha_backlog(hass: HomeAssistant, url: str) -> Backlog:
    """A terminal's 100,000 punches nobody received: from switching it on to the last event."""
    arrivals = Arrivals(hass)
    async with (
        push_entry(hass, PUSH_SERIAL),
        terminals_calling(url, "backlog", BACKLOG) as child,
    ):
        assert await child.line() == "ready"
        switched_on: float = await child.json()
        uploads = await child.json()
    arrivals.unsubscribe()
    fired = arrivals.fired.values()
    return Backlog(
        seconds=max(arrivals.at.values()) - switched_on,
        fired_once=sum(count == 1 for count in fired),
        fired_twice=sum(count > 1 for count in fired),
        missing=BACKLOG - len(arrivals.fired),
        **uploads,
    )


@dataclass
class Promotions:
    """Objects moved into the garbage collector's oldest generation (2) while counting.

    Only a collection of generation 1 moves objects there; a full collection follows once the
    objects moved since the last one exceed a quarter of those in it (CPython's rule).
    """

    promoted: int = 0
    oldest: int = 0
    _before: int = 0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 1:
            return
        if phase == "start":
            self._before = len(gc.get_objects(2))
        else:
            self.promoted += len(gc.get_objects(2)) - self._before


@contextmanager
def frozen_start_up() -> Iterator[Promotions]:
    """The objects there are now frozen (out of every collection) while counting promotions:
    the oldest generation holds only what came since, and is cheap to count."""
    gc.collect()
    promotions = Promotions(oldest=len(gc.get_objects(2)))
    gc.freeze()
    gc.callbacks.append(promotions.on_gc)
    try:
        yield promotions
    finally:
        gc.callbacks.remove(promotions.on_gc)
        gc.unfreeze()


async def backlog_memory_peak(hass: HomeAssistant, url: str) -> int:
    """The peak of what this process allocates while the backlog goes through (bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        await ha_backlog(hass, url)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class FrozenBacklog:
    probe: LoopLagProbe
    promotions: Promotions


async def frozen_backlog(hass: HomeAssistant, url: str) -> FrozenBacklog:
    """The backlog's loop blocks with start-up's objects frozen (the backlog's own work), and
    what it promotes to the oldest generation."""
    probe = LoopLagProbe()
    probe_task = asyncio.create_task(probe.run())
    try:
        with frozen_start_up() as promotions, probe.watch():
            await ha_backlog(hass, url)
    finally:
        probe_task.cancel()
    return FrozenBacklog(probe, promotions)


async def main() -> None:
    rows: list[Row] = []
    async with benchmarked_home_assistant() as hass:
        assert await async_setup_component(hass, "http", {})
        # The REST view and the Push views, before Home Assistant's server starts.
        assert await async_setup_component(hass, DOMAIN, {})
        probe = LoopLagProbe()
        probe_task = asyncio.create_task(probe.run())
        idle = await idle_load()
        bare = await bare_polling(idle)
        bare_latencies = await bare_punches()
        bare_backlog_seconds = await bare_backlog()
        hub = async_get_push_hub(hass)
        async with serving(hass.http.app) as url:
            rows += polling_rows(await hub_polling(hass, hub, url, idle), bare)
            rows += punch_rows(await ha_punches(hass, url, probe), bare_latencies)
            with probe.watch():
                backlog = await ha_backlog(hass, url)
            probe_task.cancel()  # tracemalloc slows everything: no loop figures from that run
            peak = await backlog_memory_peak(hass, url)
            frozen = await frozen_backlog(hass, url)
            rows += backlog_rows(backlog, bare_backlog_seconds, peak, frozen.promotions)
            rows += enroll_rows(await ha_enrollments(hass, url))
        rows += loop_rows(probe, frozen.probe)
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


def punch_rows(latencies: list[float], bare: list[float]) -> list[Row]:
    p50, bare_p50 = statistics.median(latencies), statistics.median(bare)
    return [
        Row(
            f"punch on the terminal -> zkteco_attendance, p50 ({PUNCHES} punches)",
            f"{p50 * 1000:.1f} ms (to a bare aiohttp server {bare_p50 * 1000:.1f} ms,"
            f" {p50 / bare_p50:.1f}x)",
            "<= 10 ms",
        ),
        Row(
            "punch on the terminal -> zkteco_attendance, p95",
            f"{percentile(latencies, 0.95) * 1000:.1f} ms"
            f" (bare aiohttp {percentile(bare, 0.95) * 1000:.1f} ms)",
            "<= 10 ms",
        ),
    ]


def backlog_rows(
    backlog: Backlog, bare_seconds: float, peak: int, promotions: Promotions
) -> list[Row]:
    label = f"backlog of {BACKLOG:,} punches"
    return [
        Row(
            f"{label} in {backlog.posts} posts: switched on -> last event",
            f"{backlog.seconds:.1f} s (to a bare aiohttp server {bare_seconds:.1f} s,"
            f" {backlog.seconds / bare_seconds:.1f}x)",
        ),
        Row(
            f"{label}: fired once / twice / never",
            f"{backlog.fired_once:,} / {backlog.fired_twice} / {backlog.missing}"
            f" ({backlog.refused} posts refused)",
            f"{BACKLOG:,} / 0 / 0",
        ),
        Row(f"{label}: memory peak (tracemalloc, its own run)", f"{peak / 1e6:.1f} MB"),
        Row(
            f"{label}: objects moved to the GC's oldest generation (frozen run)",
            f"{promotions.promoted:,} (a full collection after"
            f" {promotions.oldest // 4:,}: a quarter of {promotions.oldest:,})",
        ),
    ]


def enroll_rows(answer_times: list[float]) -> list[Row]:
    delay = commands.DEFAULT_DELAY
    label = f"enroll-finger request -> 200, the terminal polling every {delay} s"
    p50 = statistics.median(answer_times)
    return [
        Row(
            f"{label}, p50 ({len(answer_times)} requests)",
            f"{p50:.2f} s ({p50 / delay:.2f}x Delay)",
        ),
        Row(f"{label}, max", f"{max(answer_times):.2f} s", f"<= Delay ({delay} s)"),
    ]


def loop_rows(probe: LoopLagProbe, frozen: LoopLagProbe) -> list[Row]:
    return [
        Row(
            "longest event loop block (punches and backlog), the loop's own CPU",
            f"{probe.worst_cpu * 1000:.1f} ms ({len(probe.late_cpu)} over 50 ms;"
            f" longest garbage collection {probe.worst_gc * 1000:.0f} ms)",
            "none over 50 ms",
        ),
        Row(
            "longest event loop block, wall clock (the machine's other load included)",
            f"{probe.worst * 1000:.1f} ms ({len(probe.late)} over 50 ms)",
        ),
        Row(
            "longest event loop block, backlog with start-up's objects frozen, the loop's CPU",
            f"{frozen.worst_cpu * 1000:.1f} ms ({len(frozen.late_cpu)} over 50 ms;"
            f" longest garbage collection {frozen.worst_gc * 1000:.0f} ms)",
            "none over 50 ms",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "URL", "COUNT"), help=argparse.SUPPRESS
    )
    arguments = parser.parse_args()
    if arguments.child:
        mode, url, count = arguments.child
        CHILD_MODES[mode](url, int(count))
    else:
        asyncio.run(main())
