"""The REST endpoints on a real hass, called the way the API document's clients do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
import json
from typing import Any

import pytest
from zk import const

from custom_components.zkteco.enrollment import terminal_finger
from devtools.hass_runner import HassWebSocket, TerminalConfig
from zksim import ZKSimulator

from .conftest import (
    DEVICE_ID,
    DOCUMENT_PATH,
    DOCUMENT_REQUEST,
    DOCUMENT_RESPONSE,
    ENROLLED_FINGER,
    ENROLLED_FINGER_ON_TERMINAL,
    ENROLLED_USER_ID,
    ENROLLMENT_FINISHED,
    TERMINAL_TIMEOUT,
    USER_ID,
    Answer,
    Client,
    LiveHass,
    enroll_path,
    next_event_data,
    run_api,
)

pytestmark = pytest.mark.e2e

# What a request reaching the terminal would send; background polling sends other commands.
ENROLLMENT_COMMANDS = {const.CMD_STARTENROLL, const.CMD_CANCELCAPTURE, const.CMD_DISABLEDEVICE}


type NextEvent = Callable[[], Awaitable[dict[str, Any]]]


def finger(index: object) -> bytes:
    return json.dumps({"finger_index": index}).encode()


def refusal(answer: Answer, status: int) -> str:
    """An error answer: the status, JSON with success false, a message and a stable code."""
    assert (answer.status, answer.content_type) == (status, "application/json")
    parsed = answer.json()
    assert list(parsed) == ["success", "message", "error"]
    assert parsed["success"] is False
    assert parsed["message"]
    return str(parsed["error"])


@pytest.fixture
async def finished(ws: HassWebSocket) -> NextEvent:
    """The next zkteco_enrollment_finished, over the websocket API."""
    subscription = await ws.subscribe_events(ENROLLMENT_FINISHED)
    return lambda: next_event_data(ws, subscription)


async def test_onboarding_and_config_flow_created_the_terminal(client: Client) -> None:
    """The config flow over HTTP produced one loaded entry, titled by the device id typed."""
    entries = await client.api.request(
        "GET",
        "/api/config/config_entries/entry",
        client.live_hass.token,
        params={"domain": "zkteco"},
    )
    assert [(entry["title"], entry["state"]) for entry in entries] == [("principal", "loaded")]


def test_the_document_is_what_these_tests_send() -> None:
    """The request and answer below are the document's own, not a copy that could drift."""
    assert enroll_path() == DOCUMENT_PATH
    assert json.loads(DOCUMENT_REQUEST) == {"finger_index": 1}
    assert json.loads(DOCUMENT_RESPONSE)["data"]["finger_name"] == "Indice derecho"


@pytest.mark.parametrize("under_api", [False, True], ids=["document path", "under /api"])
async def test_document_request_gets_the_document_response(
    under_api: bool, client: Client, finished: NextEvent, sim: ZKSimulator
) -> None:
    """The document's curl request answers the document's JSON, byte for byte, at both paths."""
    answer = await client.enroll(DOCUMENT_REQUEST, enroll_path(under_api=under_api))
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert answer.body == DOCUMENT_RESPONSE
    assert sim.enrolling
    assert not sim.enabled
    # Leave finger 1 free and the terminal idle for the other tests.
    await client.cancel_enrollment()
    assert (await finished())["result"] == "cancelled"


async def test_three_presses_finish_the_enrollment_over_the_websocket(
    client: Client, finished: NextEvent, sim: ZKSimulator
) -> None:
    """Three good presses: zkteco_enrollment_finished (success) and a template on the terminal."""
    assert (await client.enroll(finger(2))).status == 200
    for _press in range(3):
        assert sim.press_finger()
    assert await finished() == {
        "user_id": USER_ID,
        "device_id": DEVICE_ID,
        "finger_index": 2,
        "finger_name": "Medio derecho",
        "result": "success",
    }
    assert sim.has_template(USER_ID, 7)  # the terminal's number of the right middle finger


def refused(
    name: str, body: bytes, status: int, code: str, *, caller: str = "admin", path: str = ""
) -> Any:
    return pytest.param(path or enroll_path(), body, caller, status, code, id=name)


@pytest.mark.parametrize(
    ("path", "body", "caller", "status", "code"),
    [
        refused("malformed JSON", b'{"finger_index": ', 400, "invalid_json"),
        refused("empty body", b"", 400, "invalid_json"),
        refused("not an object", b"[1]", 400, "invalid_json"),
        refused("no finger_index", b"{}", 400, "missing_finger_index"),
        refused("finger 10", finger(10), 400, "invalid_finger_index"),
        refused("finger -1", finger(-1), 400, "invalid_finger_index"),
        refused("finger as text", finger("1"), 400, "invalid_finger_index"),
        refused("finger true", finger(True), 400, "invalid_finger_index"),
        refused("finger 1.0", finger(1.0), 400, "invalid_finger_index"),
        refused("finger null", finger(None), 400, "invalid_finger_index"),
        refused(
            "unknown device", finger(1), 404, "device_not_found", path=enroll_path("desconocido")
        ),
        refused("unknown user", finger(1), 404, "user_not_found", path=enroll_path(user_id="999")),
        refused(
            "finger already enrolled",
            finger(ENROLLED_FINGER),
            409,
            "finger_already_enrolled",
            path=enroll_path(user_id=ENROLLED_USER_ID),
        ),
        refused("no token", finger(1), 401, "unauthorized", caller="nobody"),
        refused("invalid token", finger(1), 401, "unauthorized", caller="forger"),
        refused("non-admin user", finger(1), 403, "admin_required", caller="reader"),
    ],
)
async def test_refused_requests_never_start_an_enrollment(
    path: str, body: bytes, caller: str, status: int, code: str, client: Client, sim: ZKSimulator
) -> None:
    """Each documented refusal, for real: its status and code, and the terminal left alone."""
    token = {
        "admin": client.live_hass.token,
        "reader": client.live_hass.reader_token,
        "forger": "not-a-home-assistant-token",
        "nobody": None,
    }[caller]
    commands_before = len(sim.commands)
    answer = await client.enroll_as(token, body, path)
    assert refusal(answer, status) == code
    assert not ENROLLMENT_COMMANDS & set(sim.commands[commands_before:])


async def test_second_enrollment_while_one_runs(
    client: Client, finished: NextEvent, sim: ZKSimulator
) -> None:
    """A second request while the terminal waits for a finger: 409, the first one goes on."""
    assert (await client.enroll(finger(3))).status == 200
    second = await client.enroll(finger(4), enroll_path(under_api=True))
    assert refusal(second, 409) == "enrollment_in_progress"
    assert sim.enrolling
    await client.cancel_enrollment()
    event = await finished()
    assert (event["finger_index"], event["result"]) == (3, "cancelled")


@pytest.fixture
def hung_terminal(sim: ZKSimulator) -> Iterator[tuple[str, ZKSimulator]]:
    """The main terminal stops answering (its socket stays open); it recovers afterwards."""
    sim.unresponsive = True
    yield DEVICE_ID, sim
    sim.unresponsive = False


@pytest.fixture(params=["switched_off_terminal", "hung_terminal"])
def unreachable_terminal(request: pytest.FixtureRequest) -> tuple[str, ZKSimulator]:
    """A terminal hass cannot talk to: its device id and its simulator."""
    terminal: tuple[str, ZKSimulator] = request.getfixturevalue(request.param)
    return terminal


async def test_unreachable_terminal_answers_500(
    unreachable_terminal: tuple[str, ZKSimulator], client: Client
) -> None:
    """A terminal that is off or does not answer: 500 device_error, and it is left enabled."""
    device_id, terminal = unreachable_terminal
    async with asyncio.timeout(TERMINAL_TIMEOUT):
        answer = await client.enroll(finger(5), enroll_path(device_id))
    assert refusal(answer, 500) == "device_error"
    assert terminal.enabled
    assert not terminal.enrolling


# -- The users, in the document's style ----------------------------------------------------------

USERS_PATH = f"/devices/{DEVICE_ID}/users"


async def request(client: Client, method: str, path: str, token: str | None = "admin") -> Answer:
    """Any method as a client of the document writes it, with the administrator's token or none."""
    tokens = {"admin": client.live_hass.token, "reader": client.live_hass.reader_token}
    headers = {"Authorization": f"Bearer {tokens[token]}"} if token else {}
    async with client.http.request(method, client.live_hass.url + path, headers=headers) as answer:
        return Answer(answer.status, answer.content_type, await answer.read())


@pytest.mark.parametrize("prefix", ["", "/api/zkteco"], ids=["document path", "under /api"])
async def test_users_with_their_fingers(prefix: str, client: Client) -> None:
    """The users by the document's finger numbers and names, in the document's envelope."""
    answer = await request(client, "GET", prefix + USERS_PATH)

    assert (answer.status, answer.content_type) == (200, "application/json")
    body = answer.json()
    assert (body["success"], body["message"]) == (True, "Usuarios leídos del dispositivo.")
    users = {user["user_id"]: user for user in body["data"]["users"]}
    assert users[ENROLLED_USER_ID]["fingers"] == [
        {"finger_index": ENROLLED_FINGER, "finger_name": "Pulgar derecho"}
    ]
    assert "card" not in users[USER_ID]


async def test_finger_enrolled_by_the_document_then_deleted(
    client: Client, finished: NextEvent, sim: ZKSimulator
) -> None:
    """Enrolled through the document's request, seen in GET .../users/{id}, then deleted."""
    assert (await client.enroll(finger(8))).status == 200
    for _press in range(3):
        assert sim.press_finger()
    assert (await finished())["result"] == "success"
    user_path = f"{USERS_PATH}/{USER_ID}"
    fingers = (await request(client, "GET", user_path)).json()["data"]["fingers"]
    assert {"finger_index": 8, "finger_name": "Anular izquierdo"} in fingers

    answer = await request(client, "DELETE", f"{user_path}/fingers/8")

    assert answer.status == 200
    assert answer.json()["data"] == {
        "user_id": USER_ID,
        "device_id": DEVICE_ID,
        "finger_index": 8,
        "finger_name": "Anular izquierdo",
    }
    assert not sim.has_template(USER_ID, 1)  # the terminal's number of the left ring finger


@pytest.mark.parametrize(
    ("method", "path", "token", "status", "code"),
    [
        ("GET", "/devices/desconocido/users", "admin", 404, "device_not_found"),
        ("GET", f"{USERS_PATH}/999", "admin", 404, "user_not_found"),
        ("DELETE", f"{USERS_PATH}/{USER_ID}/fingers/9", "admin", 404, "finger_not_enrolled"),
        ("DELETE", f"{USERS_PATH}/{USER_ID}/fingers/10", "admin", 400, "invalid_finger_index"),
        ("GET", USERS_PATH, "reader", 403, "admin_required"),
        ("DELETE", f"{USERS_PATH}/{ENROLLED_USER_ID}/fingers/0", None, 401, "unauthorized"),
    ],
)
async def test_users_refused(
    method: str,
    path: str,
    token: str | None,
    status: int,
    code: str,
    client: Client,
    sim: ZKSimulator,
) -> None:
    """Each documented refusal, for real; the enrolled finger stays."""
    assert refusal(await request(client, method, path, token), status) == code
    assert sim.has_template(ENROLLED_USER_ID, ENROLLED_FINGER_ON_TERMINAL)


# -- Enroll once, use everywhere -----------------------------------------------------------------


def template_of(terminal: ZKSimulator, finger_on_terminal: int) -> bytes:
    ana = terminal.user_by_id(USER_ID)
    assert ana is not None
    template = terminal.template_of(ana.uid, finger_on_terminal)
    assert template is not None
    return template.template


@pytest.fixture
def second_terminal(live_hass: LiveHass) -> Iterator[ZKSimulator]:
    """A second K40, "almacen", added through the config flow; it knows Ana but none of her
    fingers."""
    other = ZKSimulator(host="127.0.0.1", port=0, serial="CQUJ203960003").start()
    other.add_user(USER_ID, "Ana Garcia")
    terminal = TerminalConfig(port=other.port, device_id="almacen")
    entry_id = run_api(live_hass, lambda api: api.add_terminal(live_hass.token, terminal))
    yield other
    run_api(live_hass, lambda api: api.remove_entry(live_hass.token, entry_id))
    other.stop()


async def test_finger_enrolled_by_the_document_copied_to_a_second_terminal(
    client: Client, finished: NextEvent, sim: ZKSimulator, second_terminal: ZKSimulator
) -> None:
    """Enrolled through the document's request, copied by zkteco.copy_fingerprints (called over
    Home Assistant's REST API, as a script would), and there on the other terminal."""
    assert (await client.enroll(finger(9))).status == 200
    for _press in range(3):
        assert sim.press_finger()
    assert (await finished())["result"] == "success"
    left_little = terminal_finger(9)

    answer = await client.api.request(
        "POST",
        "/api/services/zkteco/copy_fingerprints?return_response",
        client.live_hass.token,
        json={"user_id": USER_ID, "from_device": DEVICE_ID, "to_devices": ["almacen"]},
    )

    (result,) = answer["service_response"]["results"]
    assert result["device_id"] == "almacen"
    assert {"finger_index": 9, "finger_name": "Menique izquierdo"} in result["copied"]
    assert template_of(second_terminal, left_little) == template_of(sim, left_little)
    # Leave the principal as the other tests expect it.
    deleted = await request(client, "DELETE", f"{USERS_PATH}/{USER_ID}/fingers/9")
    assert deleted.status == 200
