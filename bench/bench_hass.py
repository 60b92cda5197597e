"""A real Home Assistant with the integration: start-up time, and the enroll request's answer.

Run: .venv/bin/python bench/bench_hass.py

`hass` runs as its own process (devtools/hass_runner.py), the simulated K40s in this one on
ephemeral loopback ports. For 0, 1 and 20 terminals a config dir is onboarded and the terminals
are added through the config flow; then hass is started again, timed from the process start
to its HTTP server answering, to every zkteco entry loaded, and to the end of start-up. The
enroll-finger request (each enrollment cancelled before the next) is timed against GET /api/,
sent alternately in the same run. Prints a table, asserts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
import statistics
import sys
import tempfile
import time

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.hass_runner import (
    HassApi,
    HassError,
    HassRunner,
    RunnerState,
    TerminalConfig,
    poll_until,
)
from devtools.machine import describe_machine
from zksim import ZKSimulator

TERMINAL_COUNTS = (0, 1, 20)
STARTS = 3  # timed starts per terminal count; the median is shown
REQUESTS = 30
ENROLL_PATH = "/devices/k40_0/users/123/enroll-finger"


@dataclass(frozen=True)
class StartUp:
    """Seconds from the process start to each milestone."""

    answering: float
    entries_loaded: float
    running: float


MILESTONES = [milestone.name for milestone in fields(StartUp)]


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    ratio: str = ""


@contextmanager
def simulators(count: int) -> Iterator[list[ZKSimulator]]:
    """`count` simulated K40s with distinct serial numbers, each with the document's user."""
    with ExitStack() as stack:
        sims = []
        for number in range(count):
            sim = stack.enter_context(ZKSimulator(serial=f"CQUJ2039{number:05d}"))
            sim.add_user("123", "Ana Garcia")
            sims.append(sim)
        yield sims


def prepare(config_dir: Path, sims: list[ZKSimulator]) -> tuple[HassRunner, RunnerState]:
    """Onboard a fresh config dir and add every terminal through the config flow; stop hass."""
    runner = HassRunner(config_dir)
    runner.start()
    try:
        terminals = [
            TerminalConfig(port=sim.port, device_id=f"k40_{number}")
            for number, sim in enumerate(sims)
        ]
        state = asyncio.run(runner.set_up(terminals, onboarding_examples=False))
    finally:
        runner.stop()
    return runner, state


async def entries_loaded(api: HassApi, token: str, count: int) -> bool:
    try:
        entries = await api.request(
            "GET", "/api/config/config_entries/entry", token, params={"domain": "zkteco"}
        )
    except HassError:  # the config API is not up yet
        return False
    return len(entries) == count and all(entry["state"] == "loaded" for entry in entries)


async def timed_start(runner: HassRunner, token: str, count: int) -> StartUp:
    """Start hass and time it; it is left running: a stop during start-up would lose data."""
    started = time.perf_counter()
    runner.start()
    async with aiohttp.ClientSession() as session:
        await runner.wait_until_answering(session)
        answering = time.perf_counter() - started
        api = HassApi(session, runner.url)
        await poll_until(lambda: entries_loaded(api, token, count), f"{count} entries loaded")
        loaded = time.perf_counter() - started
        await runner.wait_until_running(api, token)
        return StartUp(answering, loaded, time.perf_counter() - started)


def median_start(runner: HassRunner, token: str, count: int) -> StartUp:
    runs = []
    for _ in range(STARTS):
        runs.append(asyncio.run(timed_start(runner, token, count)))
        runner.stop()
    return StartUp(
        *(
            statistics.median(getattr(run, field) for run in runs)
            for field in StartUp.__annotations__
        )
    )


async def answer_time(send: Callable[[], Awaitable[int]]) -> float:
    started = time.perf_counter()
    status = await send()
    elapsed = time.perf_counter() - started
    if status != 200:
        raise HassError(f"answered {status}")
    return elapsed


async def request_times(
    runner: HassRunner, token: str, sim: ZKSimulator
) -> tuple[list[float], list[float]]:
    """Enroll requests and GET /api/, alternately; each enrollment is cancelled before the next."""
    headers = {"Authorization": f"Bearer {token}"}
    enroll_times, baseline_times = [], []
    async with aiohttp.ClientSession() as session:
        api = HassApi(session, runner.url)

        async def enroll() -> int:
            url = runner.url + ENROLL_PATH
            async with session.post(url, json={"finger_index": 1}, headers=headers) as response:
                return response.status

        async def baseline() -> int:
            async with session.get(f"{runner.url}/api/", headers=headers) as response:
                return response.status

        for _ in range(REQUESTS):
            baseline_times.append(await answer_time(baseline))
            enroll_times.append(await answer_time(enroll))
            await api.request(
                "POST", "/api/services/zkteco/cancel_enrollment", token, json={"device_id": "k40_0"}
            )
            await asyncio.to_thread(sim.wait_for, lambda terminal: not terminal.enrolling)
    return enroll_times, baseline_times


def measure_requests(runner: HassRunner, token: str, sim: ZKSimulator) -> list[Row]:
    """Start hass, time the requests, stop it."""
    asyncio.run(timed_start(runner, token, 1))
    try:
        enroll, baseline = asyncio.run(request_times(runner, token, sim))
    finally:
        runner.stop()
    return [
        *request_rows("GET /api/ (baseline)", baseline, baseline),
        *request_rows("POST enroll-finger -> 200", enroll, baseline),
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def request_rows(name: str, times: list[float], baseline: list[float]) -> list[Row]:
    return [
        Row(
            f"{name}, {label} ({REQUESTS} requests)",
            f"{percentile(times, fraction) * 1000:.1f} ms",
            f"{percentile(times, fraction) / percentile(baseline, fraction):.1f}x",
        )
        for label, fraction in (("p50", 0.5), ("p95", 0.95))
    ]


def start_rows(starts: dict[int, StartUp]) -> list[Row]:
    base = starts[0]
    return [
        Row(
            f"start -> {milestone.replace('_', ' ')}, {count} terminal{'s' * (count != 1)}",
            f"{getattr(start, milestone):.2f} s",
            f"{getattr(start, milestone) / getattr(base, milestone):.2f}x",
        )
        for milestone in MILESTONES
        for count, start in starts.items()
    ]


def main() -> None:
    began = time.perf_counter()
    starts: dict[int, StartUp] = {}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as workdir:
        for count in TERMINAL_COUNTS:
            with simulators(count) as sims:
                runner, state = prepare(Path(workdir) / f"terminals-{count}", sims)
                assert state.token is not None
                starts[count] = median_start(runner, state.token, count)
                if count == 1:
                    rows = measure_requests(runner, state.token, sims[0])
            print(f"measured {count} terminals", flush=True)
    rows = start_rows(starts) + rows
    print(f"Machine: {describe_machine()}")
    print(f"Start-up: median of {STARTS} starts, ratio to 0 terminals at the same milestone")
    print("Requests: ratio to GET /api/ at the same percentile")
    width = max(len(row.measure) for row in rows)
    value_width = max(len(row.value) for row in rows)
    print(f"{'measure':<{width}}  {'value':>{value_width}}  ratio")
    for row in rows:
        print(f"{row.measure:<{width}}  {row.value:>{value_width}}  {row.ratio}")
    print(f"(the whole benchmark took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
