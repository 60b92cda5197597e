"""End-to-end fixtures: a real `hass` subprocess and the simulated K40, used as a client would.

Home Assistant runs as its own process (devtools/hass_runner.py), onboarded and with the terminal
added through the config flow, all over HTTP. The simulator runs in this process so tests can
press fingers, punch and read what reached it.

These tests run apart from the rest of the suite, without Home Assistant's test plugin:

    .venv/bin/python -m pytest -p no:homeassistant --confcutdir=tests/e2e tests/e2e

The plugin disables sockets before every test and fails any test after which a thread exists
that did not exist before it; a simulator and a hass living for the whole session cannot meet
that. `--confcutdir` keeps tests/conftest.py, which needs the plugin's fixtures, from loading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import tempfile
import time
from typing import Any

import aiohttp
import pytest

from devtools.hass_runner import HassApi, HassRunner, HassWebSocket, TerminalConfig
from zksim import ZKSimulator

E2E_COMMAND = "python -m pytest -p no:homeassistant --confcutdir=tests/e2e tests/e2e"
DEVICE_ID = "principal"
USER_ID = "123"
# A second user who already has a finger on the terminal, for "finger already enrolled".
ENROLLED_USER_ID = "7"
ENROLLED_FINGER = 0
# The terminal's own number (FID) of finger index 0, the right thumb.
ENROLLED_FINGER_ON_TERMINAL = 5
SWITCHED_OFF_DEVICE_ID = "apagado"
SECONDS_TO_READY = pytest.StashKey[float]()
# hass's own wait for one exchange with the terminal is 5 s; a restore after a failure adds one.
TERMINAL_TIMEOUT = 30.0
EVENT_TIMEOUT = 15.0
RELAYED_ATTENDANCE = "e2e_relayed_attendance"
# An automation, as a user would write one: it re-fires every punch under another name, so the
# tests can see which punches automations get.
RELAY_AUTOMATION = f"""
automation:
  - alias: Relay punches
    triggers:
      - trigger: event
        event_type: zkteco_attendance
    actions:
      - event: {RELAYED_ATTENDANCE}
        event_data:
          user_id: "{{{{ trigger.event.data.user_id }}}}"
          time: "{{{{ trigger.event.data.time }}}}"
"""


@dataclass(frozen=True)
class LiveHass:
    """A running, onboarded Home Assistant with the simulated terminal added."""

    url: str
    token: str  # the administrator's long-lived token
    reader_token: str  # a non-admin user's access token
    runner: HassRunner


@dataclass(frozen=True)
class Answer:
    """What the enroll-finger endpoint answered."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def pytest_configure(config: pytest.Config) -> None:
    """Register the e2e marker; keep the fuzzer's cache out of the repository."""
    config.addinivalue_line("markers", "e2e: end-to-end test against a real hass process")
    # Hypothesis caches what it learns from the source in ./.hypothesis; the fuzzer runs
    # derandomized, so the cache only litters the tree (and the main suite's collection).
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "zkteco-e2e-hypothesis")
    )


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
    """The simulated K40: the API document's user, and one whose finger 0 is enrolled."""
    simulator = ZKSimulator(host="127.0.0.1", port=0).start()
    simulator.add_user(USER_ID, "Ana Garcia")
    simulator.add_user(ENROLLED_USER_ID, "Luis Perez")
    simulator.add_template(ENROLLED_USER_ID, ENROLLED_FINGER_ON_TERMINAL)
    yield simulator
    simulator.stop()


@pytest.fixture(scope="session")
def live_hass(
    sim: ZKSimulator, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[LiveHass]:
    """A real hass on a free port in a temporary config dir, set up over HTTP."""
    runner = HassRunner(
        tmp_path_factory.mktemp("hass-config"), extra_configuration=RELAY_AUTOMATION
    )
    started = time.monotonic()
    runner.start()
    try:
        # A plain asyncio.run: nothing bound to an event loop outlives this fixture's set-up.
        state = asyncio.run(
            runner.set_up([TerminalConfig(port=sim.port)], onboarding_examples=False)
        )
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


def run_api[T](live_hass: LiveHass, call: Callable[[HassApi], Awaitable[T]]) -> T:
    """Make HTTP API calls from synchronous code (fixtures, the fuzzer)."""

    async def in_a_session() -> T:
        async with aiohttp.ClientSession() as session:
            return await call(HassApi(session, live_hass.url))

    return asyncio.run(in_a_session())


@pytest.fixture
def switched_off_terminal(live_hass: LiveHass) -> Iterator[tuple[str, ZKSimulator]]:
    """A second terminal added through the config flow, then switched off (its port closed).

    Its device id and its simulator: hass knows it, its users included, and cannot reach it.
    """
    other = ZKSimulator(host="127.0.0.1", port=0, serial="CQUJ203960002").start()
    # Two terminals never share a MAC: Home Assistant would make them one device, named by
    # whichever was added last (before 2026.4 it keeps that name once this one is removed).
    other.mac = "00:17:61:C8:31:08"
    other.add_user(USER_ID, "Ana Garcia")
    terminal = TerminalConfig(port=other.port, device_id=SWITCHED_OFF_DEVICE_ID)
    entry_id = run_api(live_hass, lambda api: api.add_terminal(live_hass.token, terminal))
    other.stop()
    yield SWITCHED_OFF_DEVICE_ID, other
    run_api(live_hass, lambda api: api.remove_entry(live_hass.token, entry_id))


@pytest.fixture(autouse=True)
def terminal_left_usable(sim: ZKSimulator) -> Iterator[None]:
    """After every test the terminal is enabled and not enrolling: nobody is locked out."""
    yield
    assert sim.wait_for(lambda terminal: terminal.enabled and not terminal.enrolling)


def enroll_path(
    device_id: str = DEVICE_ID, user_id: str = USER_ID, *, under_api: bool = False
) -> str:
    """The enroll-finger path: the document's, or the same one under /api/zkteco."""
    path = f"/devices/{device_id}/users/{user_id}/enroll-finger"
    return f"/api/zkteco{path}" if under_api else path


async def cancel_enrollment(api: HassApi, token: str, device_id: str = DEVICE_ID) -> None:
    """The zkteco.cancel_enrollment action over REST, as an automation or a script would call it."""
    await api.request(
        "POST", "/api/services/zkteco/cancel_enrollment", token, json={"device_id": device_id}
    )


@dataclass(frozen=True)
class Client:
    """A client of the live hass's REST API, as the API document's users write them."""

    live_hass: LiveHass
    http: aiohttp.ClientSession

    @property
    def api(self) -> HassApi:
        return HassApi(self.http, self.live_hass.url)

    async def enroll(self, body: bytes, path: str | None = None) -> Answer:
        """POST raw bytes as the administrator, as the document's curl does."""
        return await self.enroll_as(self.live_hass.token, body, path)

    async def enroll_as(self, token: str | None, body: bytes, path: str | None = None) -> Answer:
        """POST raw bytes with any token, or none; return the answer as it came."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.live_hass.url + (path or enroll_path())
        async with self.http.post(url, data=body, headers=headers) as response:
            return Answer(response.status, response.content_type, await response.read())

    async def cancel_enrollment(self) -> None:
        await cancel_enrollment(self.api, self.live_hass.token)


@pytest.fixture
def client(live_hass: LiveHass, http: aiohttp.ClientSession) -> Client:
    """The REST client of one test."""
    return Client(live_hass, http)


async def next_event_data(ws: HassWebSocket, subscription: int) -> dict[str, Any]:
    """Return the data of the subscription's next event."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        event = await ws.next_event(subscription)
    return dict(event["data"])


# The user's API document as they gave it (shared/seeds/000_e111a841d2effbe2.txt).
API_DOCUMENT = (Path(__file__).parents[1] / "fixtures" / "enroll_finger_api.txt").read_text()


def _document_part(pattern: str) -> str:
    found = re.search(pattern, API_DOCUMENT, re.DOTALL)
    assert found is not None, pattern
    return found.group(1)


def _document_response() -> bytes:
    """The example answer exactly as the document prints it (the first one; both are equal)."""
    start = API_DOCUMENT.index('{\n  "success"')
    _, end = json.JSONDecoder().raw_decode(API_DOCUMENT, start)
    return API_DOCUMENT[start:end].encode()


DOCUMENT_PATH = _document_part(r"https://your-server\.com(\S+)")
DOCUMENT_REQUEST = _document_part(r"-d '(.*?)'").encode()  # with the curl line's own spacing
DOCUMENT_RESPONSE = _document_response()
ENROLLMENT_FINISHED = "zkteco_enrollment_finished"
