"""A simulated K40 in Push mode calling a real hass, added through the config flow over REST.

A hass of its own (the terminal's device id is the API document's "principal", taken in the
session's hass by the pull terminal), the terminal (zksim's PushTerminal, the real HTTP client)
in this process. The terminal's clock runs five times faster than the handshake asks: it polls
every second (Delay=5) and waits 6 s after a failure (ErrorDelay=30).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from devtools.hass_runner import HassApi, HassRunner, HassWebSocket, PushTerminalConfig
from zksim.push import PushTerminal
from zksim.records import Record

from .conftest import (
    DEVICE_ID,
    DOCUMENT_REQUEST,
    DOCUMENT_RESPONSE,
    ENROLLMENT_FINISHED,
    EVENT_TIMEOUT,
    USER_ID,
    Client,
    LiveHass,
    enroll_path,
    next_event_data,
)

pytestmark = pytest.mark.e2e

PUSH_SERIAL = "CQUJ203960002"
TIME_SCALE = 0.2
ATTENDANCE = "zkteco_attendance"
CHECK_OUT = 1
FINGERPRINT = 1
# The terminal's own number (FID) of the document's finger 1, the right index.
DOCUMENT_FINGER_ON_TERMINAL = 6
# Four of the terminal's 500-line batches; the first is stored before the restart.
BACKLOG = 2000
BATCH = 500
BACKLOG_TIMEOUT = 90.0

type Delivered = tuple[str, str, bool]  # user id, time, caught up


@pytest.fixture(scope="module")
def push_hass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHass]:
    """A real hass with the Push terminal added through the config flow (it has not called)."""
    runner = HassRunner(tmp_path_factory.mktemp("hass-push-config"))
    runner.start()
    try:
        terminal = PushTerminalConfig(serial_number=PUSH_SERIAL, device_id=DEVICE_ID)
        state = asyncio.run(runner.set_up([terminal], onboarding_examples=False))
        assert state.token is not None
        reader_token = asyncio.run(runner.login(state.reader))
        yield LiveHass(runner.url, state.token, reader_token, runner)
    finally:
        runner.stop()


@pytest.fixture(scope="module")
def push(push_hass: LiveHass) -> Iterator[PushTerminal]:
    """The terminal, switched on; the document's user added on its keypad (and uploaded)."""
    terminal = PushTerminal(push_hass.url, serial=PUSH_SERIAL, time_scale=TIME_SCALE)
    terminal.terminal.enroll_timeout = 30.0
    with terminal:
        assert terminal.wait_for(lambda t: t.polls >= 1, EVENT_TIMEOUT)
        terminal.add_user(USER_ID, "Ana Garcia")
        assert terminal.wait_for(lambda t: t.unacknowledged["OPERLOG"] == 0, EVENT_TIMEOUT)
        yield terminal


@pytest.fixture
async def push_ws(push_hass: LiveHass, http: aiohttp.ClientSession) -> AsyncIterator[HassWebSocket]:
    """A websocket API connection to the Push terminal's hass, as its administrator."""
    connection = await HassWebSocket.connect(http, push_hass.url, push_hass.token)
    yield connection
    await connection.close()


def delivered(data: dict[str, Any]) -> Delivered:
    return str(data["user_id"]), data["time"][:19], bool(data["caught_up"])


async def test_the_config_flow_added_the_push_terminal(
    push_hass: LiveHass, http: aiohttp.ClientSession, push: PushTerminal
) -> None:
    """One loaded entry, titled by its device id; the terminal polls with the handshake's Delay."""
    entries = await Client(push_hass, http).api.request(
        "GET", "/api/config/config_entries/entry", push_hass.token, params={"domain": "zkteco"}
    )
    assert [(entry["title"], entry["state"]) for entry in entries] == [(DEVICE_ID, "loaded")]
    assert push.server_options["Realtime"] == "1"
    assert push.server_options["Delay"] == "5"


async def test_push_punch_arrives_over_the_websocket(
    push_ws: HassWebSocket, push: PushTerminal
) -> None:
    """A finger on the Push terminal: zkteco_attendance with who, when, how and what kind."""
    punches = await push_ws.subscribe_events(ATTENDANCE)
    record = push.terminal.punch(USER_ID, punch=CHECK_OUT, status=FINGERPRINT)
    data = await next_event_data(push_ws, punches)
    assert data["time"].startswith(record.timestamp.isoformat())
    assert {key: value for key, value in data.items() if key not in ("time", "name")} == {
        "device_id": DEVICE_ID,
        "serial_number": PUSH_SERIAL,
        "user_id": USER_ID,
        "punch": CHECK_OUT,
        "kind": "check_out",
        "verify": FINGERPRINT,
        "verified_by": "fingerprint",
        "caught_up": False,
    }


async def test_push_punch_names_a_user_added_at_the_terminal(
    push_ws: HassWebSocket, push: PushTerminal
) -> None:
    """The user the terminal uploaded names the punches that follow, as on pull."""
    punches = await push_ws.subscribe_events(ATTENDANCE)
    push.terminal.punch(USER_ID)
    assert (await next_event_data(push_ws, punches))["name"] == "Ana Garcia"


async def test_document_request_enrolls_on_the_push_terminal(
    push_hass: LiveHass, http: aiohttp.ClientSession, push_ws: HassWebSocket, push: PushTerminal
) -> None:
    """The document's request: the document's answer byte for byte once the terminal took the
    command at its poll, then three presses on the terminal finish it."""
    finished = await push_ws.subscribe_events(ENROLLMENT_FINISHED)
    answer = await Client(push_hass, http).enroll(DOCUMENT_REQUEST, enroll_path())
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert answer.body == DOCUMENT_RESPONSE
    assert push.wait_for(lambda t: t.terminal.enrolling, EVENT_TIMEOUT)
    for _press in range(3):
        assert push.terminal.press_finger()
    assert await next_event_data(push_ws, finished) == {
        "user_id": USER_ID,
        "device_id": DEVICE_ID,
        "finger_index": 1,
        "finger_name": "Indice derecho",
        "result": "success",
    }
    assert push.terminal.has_template(USER_ID, DOCUMENT_FINGER_ON_TERMINAL)


async def receive(ws: HassWebSocket, subscription: int, count: int) -> list[Delivered]:
    """The next `count` punches over the websocket."""
    got: list[Delivered] = []
    async with asyncio.timeout(BACKLOG_TIMEOUT):
        while len(got) < count:
            got.append(delivered((await ws.next_event(subscription))["data"]))
    return got


async def first_batch_then_stop(push_hass: LiveHass, push: PushTerminal) -> list[Delivered]:
    """The terminal posts its backlog; hass stores and fires the first batch, whose answer is
    lost; the terminal is cut off, hass stopped (SIGTERM) with the terminal still holding it."""
    async with aiohttp.ClientSession() as http:
        ws = await HassWebSocket.connect(http, push_hass.url, push_hass.token)
        subscription = await ws.subscribe_events(ATTENDANCE)
        push.lose_upload_replies = 1
        push.start()
        first = await receive(ws, subscription, BATCH)
        push.unreachable = True
        await ws.close()
    await asyncio.to_thread(push_hass.runner.stop)
    return first


async def the_rest_after_a_start(push_hass: LiveHass, push: PushTerminal) -> list[Delivered]:
    """hass started again; the terminal reaches it again and posts what it holds."""
    runner = push_hass.runner
    runner.start()
    async with aiohttp.ClientSession() as http:
        await runner.wait_until_answering(http)
        ws = await HassWebSocket.connect(http, push_hass.url, push_hass.token)
        subscription = await ws.subscribe_events(ATTENDANCE)
        await runner.wait_until_running(HassApi(http, push_hass.url), push_hass.token)
        push.unreachable = False
        rest = await receive(ws, subscription, BACKLOG - BATCH)
        # Anything fired twice would have come before the last batch: nothing more to wait for.
        await ws.close()
    return rest


def test_restart_in_the_middle_of_a_backlog_loses_and_doubles_nothing(
    push_hass: LiveHass, push: PushTerminal
) -> None:
    """2,000 punches held while the terminal was off: the first batch is fired, hass restarts
    before the terminal hears so, and every punch still arrives exactly once, caught up."""
    push.stop()
    start = push.terminal.clock.replace(microsecond=0) - timedelta(days=1)
    backlog = [Record(1, USER_ID, start + timedelta(seconds=second)) for second in range(BACKLOG)]
    push.terminal.log_history(backlog)
    first = asyncio.run(first_batch_then_stop(push_hass, push))
    rest = asyncio.run(the_rest_after_a_start(push_hass, push))
    expected = [(USER_ID, record.timestamp.isoformat(), True) for record in backlog]
    assert first + rest == expected
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0, EVENT_TIMEOUT)
    first_line = f"{USER_ID}\t{backlog[0].timestamp:%Y-%m-%d %H:%M:%S}\t"
    posts = [e.body for e in push.exchanges if "table=ATTLOG" in e.path]
    assert sum(body.startswith(first_line) for body in posts) == 2  # sent again after the start
