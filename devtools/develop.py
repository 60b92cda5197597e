"""scripts/develop: a live Home Assistant with two simulated K40s, set up and ready to use.

Side by side, the two ways of talking to a terminal: "principal", which Home Assistant calls
(`python -m zksim --demo` on port 4370), and "recepcion", which calls Home Assistant in Push
mode (`python -m zksim --push <Home Assistant's URL> --serial CQUJ203960002 --demo`). Starts a
real `hass` on 127.0.0.1 with `config/` as its config dir, completes onboarding and adds both
terminals through the config flow (all over HTTP), switches the Push terminal on once Home
Assistant knows it, puts the enrollment card on a dashboard, then prints how to log in and
ready curl lines. Ctrl-C stops Home Assistant, then the simulators. Run it again and it reuses
the owner, token and terminals; `--fresh` starts from nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time

import aiohttp

from devtools.hass_runner import (
    LOOPBACK,
    REPO_ROOT,
    HassError,
    HassRunner,
    PushTerminalConfig,
    RunnerState,
    TerminalConfig,
    ensure_card_dashboard,
    free_port,
    port_is_free,
)

CONFIG_DIR = REPO_ROOT / "config"
SIMULATOR_LOG_NAME = "zksim.log"
PUSH_SIMULATOR_LOG_NAME = "zksim-push.log"
PULL_TERMINAL = "principal"
PUSH_TERMINAL = "recepcion"
# Not the pull terminal's (CQUJ203960001): a terminal is known by its serial number.
PUSH_SERIAL = "CQUJ203960002"


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="scripts/develop", description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="wipe config/ and start over")
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's port")
    parser.add_argument("--sim-port", type=int, default=4370, help="the simulated K40's port")
    return parser.parse_args()


def port_or_free_one(wanted: int, what: str) -> int:
    """Return `wanted` when it is free, else any free port (and say so)."""
    if port_is_free(wanted):
        return wanted
    port = free_port()
    print(f"Port {wanted} is busy, {what} uses {port} instead.")
    return port


@contextmanager
def running_simulator(arguments: list[str], log_path: Path, started: str) -> Iterator[None]:
    """Run `python -m zksim` with `arguments` until the block ends.

    Its first line holds `started` once it runs: "listening on" when its socket is open,
    "pushing to" when its Push thread calls Home Assistant.
    """
    with log_path.open("ab") as log:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "zksim", *arguments],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            # Own session: Ctrl-C reaches only us, so hass stops before its terminal goes away.
            start_new_session=True,
        )
    try:
        assert simulator.stdout is not None
        if started not in simulator.stdout.readline():
            raise SystemExit(f"The simulator did not start, see {log_path}")
        yield
    finally:
        simulator.terminate()
        simulator.wait(10)


def pull_simulator(port: int) -> list[str]:
    """The arguments of the terminal Home Assistant calls, on `port`."""
    return ["--host", LOOPBACK, "--port", str(port), "--demo"]


def push_simulator(url: str) -> list[str]:
    """The arguments of the terminal that calls the Home Assistant at `url`."""
    return ["--push", url, "--serial", PUSH_SERIAL, "--demo"]


def print_welcome(
    runner: HassRunner, state: RunnerState, sim_port: int, seconds: float, card_path: str
) -> None:
    """Tell the user where Home Assistant is, how to log in and how to call the endpoint."""
    url = runner.url
    print(
        f"""
Home Assistant is ready at {url}  (set up in {seconds:.1f} s)
  Enrollment card: {url}{card_path}
  Log in as:     {state.admin.username} / {state.admin.password}   (administrator)
  Non-admin:     {state.reader.username} / {state.reader.password}
  Terminals:     two simulated K40s, demo users 123 Ana Garcia ... 128 Miguel Romero on each,
                 a punch every 20-40 s on each
    "{PULL_TERMINAL}"  Home Assistant calls it on {LOOPBACK}:{sim_port} (pull)
    "{PUSH_TERMINAL}"  it calls Home Assistant (Push, serial {PUSH_SERIAL}): {url}/iclock/
  Logs:          {runner.config_dir / "home-assistant.log"}, {CONFIG_DIR / SIMULATOR_LOG_NAME},
                 {CONFIG_DIR / PUSH_SIMULATOR_LOG_NAME}

Enroll a finger through the REST endpoint (demo presses follow after a few seconds); on the
Push terminal the answer comes once it polls (every 5 s):
  export TOKEN={state.token}
  curl -X POST {url}/devices/{PULL_TERMINAL}/users/123/enroll-finger \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{{"finger_index": 1}}'
  curl -X POST {url}/devices/{PUSH_TERMINAL}/users/123/enroll-finger \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{{"finger_index": 1}}'

Ctrl-C stops Home Assistant and the simulators.""",
        flush=True,
    )


async def add_card_dashboard(runner: HassRunner, state: RunnerState) -> str:
    """The demo dashboard: the enrollment card of the simulated terminal."""
    assert state.token is not None
    async with aiohttp.ClientSession() as session:
        return await ensure_card_dashboard(
            session, runner.url, state.token, state.terminals[PULL_TERMINAL].entry_id
        )


def wait_while_hass_runs(runner: HassRunner) -> None:
    """Sleep until Ctrl-C, or until hass exits by itself."""
    assert runner.process is not None
    while runner.process.poll() is None:
        time.sleep(0.5)
    print(f"Home Assistant exited with {runner.process.returncode}, see its log.")


def prepare_config_dir(fresh: bool) -> None:
    """Refuse a config dir a running hass holds; with --fresh, wipe it first."""
    HassRunner(CONFIG_DIR).raise_if_running()
    if fresh and CONFIG_DIR.exists():
        shutil.rmtree(CONFIG_DIR)
    CONFIG_DIR.mkdir(exist_ok=True)


def run_until_stopped(runner: HassRunner, sim_port: int) -> None:
    """Start the simulators and hass, set them up, wait; stop hass first, then the simulators.

    The Push terminal is switched on once its entry exists: before, Home Assistant would offer
    it as a discovered terminal.
    """
    started = time.monotonic()
    with running_simulator(
        pull_simulator(sim_port), CONFIG_DIR / SIMULATOR_LOG_NAME, "listening on"
    ):
        print(f"Starting Home Assistant on {runner.url} ...", flush=True)
        runner.start()
        try:
            terminals: list[TerminalConfig | PushTerminalConfig] = [
                TerminalConfig(port=sim_port, device_id=PULL_TERMINAL),
                PushTerminalConfig(serial_number=PUSH_SERIAL, device_id=PUSH_TERMINAL),
            ]
            state = asyncio.run(runner.set_up(terminals))
            with running_simulator(
                push_simulator(runner.url), CONFIG_DIR / PUSH_SIMULATOR_LOG_NAME, "pushing to"
            ):
                card_path = asyncio.run(add_card_dashboard(runner, state))
                print_welcome(runner, state, sim_port, time.monotonic() - started, card_path)
                wait_while_hass_runs(runner)
        finally:
            print("Stopping Home Assistant and the simulators ...", flush=True)
            runner.stop()


def main() -> None:
    """Run everything until Ctrl-C."""
    args = parse_args()
    # Ctrl-C and SIGTERM both raise KeyboardInterrupt, so the `finally` blocks stop hass and
    # then the simulator; SIGINT explicitly too, as a shell's background job starts with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        prepare_config_dir(args.fresh)
        sim_port = port_or_free_one(args.sim_port, "the simulator")
        runner = HassRunner(CONFIG_DIR, port_or_free_one(args.port, "Home Assistant"))
        run_until_stopped(runner, sim_port)
    except KeyboardInterrupt:
        pass
    except HassError as err:
        raise SystemExit(str(err)) from None
    print("Stopped.")


if __name__ == "__main__":
    main()
