"""End-to-end fixtures: a real `hass` subprocess and the simulated K40, used as a client would.

Home Assistant runs as its own process (devtools/hass_runner.py), onboarded and with the terminal
added through the config flow, all over HTTP. The simulator runs in this process so tests can
press fingers and read what reached it.

These tests run apart from the rest of the suite, without Home Assistant's test plugin:

    .venv/bin/python -m pytest -p no:homeassistant --confcutdir=tests/e2e tests/e2e

The plugin disables sockets before every test and fails any test after which a thread exists
that did not exist before it; a simulator and a hass living for the whole session cannot meet
that. `--confcutdir` keeps tests/conftest.py, which needs the plugin's fixtures, from loading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
import time

import aiohttp
import pytest

from devtools.hass_runner import HassRunner, HassWebSocket, TerminalConfig
from zksim import ZKSimulator

E2E_COMMAND = "python -m pytest -p no:homeassistant --confcutdir=tests/e2e tests/e2e"
DEVICE_ID = "principal"
USER_ID = "123"
SECONDS_TO_READY = pytest.StashKey[float]()


@dataclass(frozen=True)
class LiveHass:
    """A running, onboarded Home Assistant with the simulated terminal added."""

    url: str
    token: str  # the administrator's long-lived token
    reader_token: str  # a non-admin user's access token
    runner: HassRunner


def pytest_configure(config: pytest.Config) -> None:
    """Register the e2e marker."""
    config.addinivalue_line("markers", "e2e: end-to-end test against a real hass process")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Report how long hass took from start to onboarded with the terminal added."""
    if (seconds := config.stash.get(SECONDS_TO_READY, None)) is not None:
        terminalreporter.write_line(f"hass start -> onboarded, terminal added: {seconds:.1f} s")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with the right command in the reason, when the HA test plugin is loaded."""
    if not config.pluginmanager.has_plugin("homeassistant"):
        return
    skip = pytest.mark.skip(reason=f"end-to-end tests run apart: {E2E_COMMAND}")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _sockets_allowed(socket_enabled: None) -> None:
    """Every e2e test talks over real loopback sockets."""


@pytest.fixture(scope="session")
def sim() -> Iterator[ZKSimulator]:
    """The simulated K40, with the user of the API document."""
    simulator = ZKSimulator(host="127.0.0.1", port=0).start()
    simulator.add_user(USER_ID, "Ana Garcia")
    yield simulator
    simulator.stop()


@pytest.fixture(scope="session")
def live_hass(
    sim: ZKSimulator, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[LiveHass]:
    """A real hass on a free port in a temporary config dir, set up over HTTP."""
    runner = HassRunner(tmp_path_factory.mktemp("hass-config"))
    started = time.monotonic()
    runner.start()
    try:
        # A plain asyncio.run: nothing bound to an event loop outlives this fixture's set-up.
        state = asyncio.run(runner.set_up([TerminalConfig(port=sim.port)]))
        assert state.token is not None
        pytestconfig.stash[SECONDS_TO_READY] = time.monotonic() - started
        reader_token = asyncio.run(runner.login(state.reader))
        yield LiveHass(runner.url, state.token, reader_token, runner)
    finally:
        runner.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for one test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def ws(live_hass: LiveHass, http: aiohttp.ClientSession) -> AsyncIterator[HassWebSocket]:
    """A websocket API connection authenticated as the administrator."""
    connection = await HassWebSocket.connect(http, live_hass.url, live_hass.token)
    yield connection
    await connection.close()
