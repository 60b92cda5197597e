"""The REST view of the user's API document, through Home Assistant's real HTTP stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from http import HTTPStatus
import json
from pathlib import Path
import re
from typing import Any
from unittest.mock import patch

from aiohttp import ClientResponse
from homeassistant.auth.const import GROUP_ID_READ_ONLY, GROUP_ID_USER
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
import yaml

import custom_components.zkteco
from custom_components.zkteco.channel import TerminalNotSupportedError
from custom_components.zkteco.enrollment import EnrollmentError
from custom_components.zkteco.http import JSON, EnrollFingerView, FingerView, UsersView, UserView
from custom_components.zkteco.pull.channel import PullChannel, terminal_config
from zksim import ZKSimulator, protocol as p

from .conftest import BOTH_PROTOCOLS, RIGHT_THUMB, add_unreachable_terminal

# The user's API document, as they gave it: the contract these tests hold the view to.
API_DOCUMENT = (Path(__file__).parent / "fixtures" / "enroll_finger_api.txt").read_text()
DOCUMENT_URL = re.search(r"https://your-server\.com(\S+)", API_DOCUMENT)
DOCUMENT_BODY = re.search(r"-d '(.*?)'", API_DOCUMENT, re.DOTALL)
assert DOCUMENT_URL is not None
assert DOCUMENT_BODY is not None
DOCUMENT_PATH = DOCUMENT_URL.group(1)
DOCUMENT_REQUEST = DOCUMENT_BODY.group(1).encode()


def _document_response() -> bytes:
    """The example answer exactly as the document prints it (the first one; both are equal)."""
    start = API_DOCUMENT.index('{\n  "success"')
    _, end = json.JSONDecoder().raw_decode(API_DOCUMENT, start)
    return API_DOCUMENT[start:end].encode()


DOCUMENT_RESPONSE = _document_response()
TRANSLATIONS = Path(custom_components.zkteco.__file__).parent / "translations"
PATHS = [DOCUMENT_PATH, f"/api/zkteco{DOCUMENT_PATH}"]
ANA = "/devices/principal/users/123/enroll-finger"
# Errors of the actions and the dashboard only: no REST client can get them.
ACTION_ONLY_ERRORS = {
    "no_user_selected",
    "confirm_required",
    "attendance_undelivered",
    "no_fingerprints",
    "copy_failed",
    "value_empty",
    "value_too_long",
    "value_control_character",
    "value_not_encodable",
    "value_not_digits",
    "value_out_of_range",
    "value_repeated",
}
VIEWS = [EnrollFingerView, UsersView, UserView, FingerView]


async def post(client: Any, body: bytes | None, path: str = ANA) -> tuple[ClientResponse, str]:
    """Send like the document's curl does; the answer is JSON whatever the outcome."""
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert response.content_type == "application/json"
    return response, await response.text()


def refusal(answer: str) -> dict[str, Any]:
    """An error answer: success false, a message and a stable code."""
    parsed = json.loads(answer)
    assert parsed["success"] is False
    assert list(parsed) == ["success", "message", "error"]
    return parsed


def assert_terminal_untouched(simulator: ZKSimulator) -> None:
    """Refused before the terminal: not one command, and it stays enabled and idle."""
    assert simulator.commands == []
    assert simulator.enabled
    assert not simulator.enrolling


@pytest.mark.parametrize("path", PATHS)
async def test_document_request_gets_document_response(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    path: str,
) -> None:
    """The document's request, sent to Home Assistant, answers the document's bytes."""
    response = await (await hass_client()).post(
        path, data=DOCUMENT_REQUEST, headers={"Content-Type": "application/json"}
    )

    assert response.status == HTTPStatus.OK
    assert response.content_type == "application/json"
    assert await response.read() == DOCUMENT_RESPONSE
    assert simulator.enrolling
    assert not simulator.enabled


def bad_body(body: bytes | None, name: str) -> Any:
    return pytest.param(ANA, body, HTTPStatus.BAD_REQUEST, id=name)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        bad_body(None, "no_body"),
        bad_body(b'{"finger_index": ', "malformed_json"),
        bad_body(b"[1]", "json_array"),
        bad_body(b"1", "json_number"),
        bad_body(b"{}", "missing_finger_index"),
        bad_body(b'{"finger_index": "1"}', "string"),
        bad_body(b'{"finger_index": true}', "boolean"),
        bad_body(b'{"finger_index": 1.5}', "fraction"),
        bad_body(b'{"finger_index": null}', "null"),
        bad_body(b'{"finger_index": -1}', "negative"),
        bad_body(b'{"finger_index": 10}', "above_9"),
        pytest.param(
            "/devices/almacen/users/123/enroll-finger",
            b'{"finger_index": 1}',
            HTTPStatus.NOT_FOUND,
            id="unknown_device",
        ),
    ],
)
async def test_refused_before_the_terminal(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    path: str,
    body: bytes | None,
    status: HTTPStatus,
) -> None:
    """A body the document does not allow, or no such terminal: refused, the terminal not asked."""
    simulator.reset_stats()

    response, answer = await post(await hass_client(), body, path)

    assert response.status == status
    refusal(answer)
    assert answer == snapshot
    assert_terminal_untouched(simulator)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/devices/principal/users/999/enroll-finger", HTTPStatus.NOT_FOUND, id="user"),
        pytest.param(
            "/devices/principal/users/7/enroll-finger", HTTPStatus.CONFLICT, id="enrolled"
        ),
    ],
)
async def test_refused_after_asking_the_terminal(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    path: str,
    status: HTTPStatus,
) -> None:
    """No such user on the terminal (read again, it may be new), or the finger is taken."""
    response, answer = await post(await hass_client(), b'{"finger_index": 0}', path)

    assert response.status == status
    refusal(answer)
    assert answer == snapshot
    assert simulator.enabled
    assert not simulator.enrolling


async def test_error_message_in_server_language(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The users write Spanish: a Spanish Home Assistant answers in Spanish."""
    hass.config.language = "es"

    _, answer = await post(await hass_client(), b'{"finger_index": 10}')

    assert refusal(answer)["message"] == (
        "finger_index debe ser un número entero de 0 a 9 (se recibió 10)."
    )


async def test_enrollment_already_running(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """Two requests at once: one enrollment starts, the other is told the terminal is busy."""
    client = await hass_client()

    answers = await asyncio.gather(
        post(client, b'{"finger_index": 1}'),
        post(client, b'{"finger_index": 2}', "/devices/principal/users/7/enroll-finger"),
    )

    statuses = sorted(response.status for response, _ in answers)
    assert statuses == [HTTPStatus.OK, HTTPStatus.CONFLICT]
    refused = next(answer for response, answer in answers if response.status != HTTPStatus.OK)
    refusal(refused)
    assert refused == snapshot
    assert simulator.enrolling


@pytest.fixture
def short_timeout() -> Iterator[None]:
    """Exchanges give up after 0.2 s, so an unresponsive terminal fails the test quickly."""

    def config(data: dict[str, object]) -> Any:
        return replace(terminal_config(data), timeout=0.2)

    with patch("custom_components.zkteco.terminal_config", config):
        yield


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(ZKSimulator.stop, id="stopped"),
        pytest.param(lambda sim: setattr(sim, "unresponsive", True), id="unresponsive"),
    ],
)
async def test_terminal_failure(
    hass: HomeAssistant,
    short_timeout: None,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    fault: Any,
) -> None:
    """The terminal cannot be reached or does not answer: 500, and it is not left enrolling."""
    fault(simulator)

    response, answer = await post(await hass_client(), b'{"finger_index": 1}')

    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    refused = refusal(answer)
    assert refused["error"] == "device_error"
    assert refused["message"].startswith("The terminal could not be reached or did not answer: ")
    assert not simulator.enrolling
    assert simulator.enabled


async def test_terminal_not_set_up(
    hass: HomeAssistant, simulator: ZKSimulator, hass_client: ClientSessionGenerator
) -> None:
    """404 is for a device id no terminal has; a terminal not reached yet answers 500."""
    await add_unreachable_terminal(hass, simulator)

    response, answer = await post(await hass_client(), b'{"finger_index": 1}')

    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    refused = refusal(answer)
    assert refused["error"] == "device_error"
    # Why, as the entry's setup said it.
    assert refused["message"].startswith(
        "The terminal could not be reached or did not answer: Cannot reach the terminal: "
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no_token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="bad_token"),
    ],
)
async def test_unauthenticated(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
) -> None:
    """No valid token: 401 in the document's shape, and the failed attempt is logged as such."""
    simulator.reset_stats()
    client = await hass_client_no_auth()

    response = await client.post(ANA, json={"finger_index": 1}, headers=headers)

    assert response.status == HTTPStatus.UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.content_type == "application/json"
    answer = await response.text()
    refusal(answer)
    assert answer == snapshot
    assert "Login attempt or request with invalid authentication" in caplog.text
    assert_terminal_untouched(simulator)


@pytest.fixture(params=[GROUP_ID_USER, GROUP_ID_READ_ONLY])
async def non_admin_token(hass: HomeAssistant, request: pytest.FixtureRequest) -> str:
    """A token of an ordinary user, then of a read-only one."""
    user = await hass.auth.async_create_user("Recepción", group_ids=[request.param])
    refresh_token = await hass.auth.async_create_refresh_token(user, "https://example.com/app")
    return hass.auth.async_create_access_token(refresh_token)


async def test_not_an_administrator(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    non_admin_token: str,
) -> None:
    """Authenticated but not an administrator: 403, nothing reaches the terminal."""
    simulator.reset_stats()
    client = await hass_client(non_admin_token)

    response, answer = await post(client, b'{"finger_index": 1}')

    assert response.status == HTTPStatus.FORBIDDEN
    refusal(answer)
    assert answer == snapshot
    assert_terminal_untouched(simulator)


def _all_subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_all_subclasses(direct)}}


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_error_has_a_message(language: str) -> None:
    """Each error code a client can get has its message in both languages."""
    translations = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))[
        "exceptions"
    ]

    codes = {error.code for error in _all_subclasses(EnrollmentError) | {EnrollmentError}}

    assert codes <= set(translations)


def test_openapi_describes_the_views() -> None:
    """openapi.yaml names the views' paths and methods, the document's answer and every error
    code."""
    spec = yaml.safe_load((Path(__file__).parents[1] / "openapi.yaml").read_text())
    responses = spec["components"]["responses"]
    status_of = {error.code: error.status for error in _all_subclasses(EnrollmentError)}
    documented: set[str] = set()

    assert {path: set(spec["paths"][path]) for path in spec["paths"]} == {
        path: {method for method in ("get", "post", "delete") if hasattr(view, method)}
        for view in VIEWS
        for path in (view.url, *view.extra_urls)
    }
    for path in spec["paths"].values():
        (operation,) = path.values()
        for status, reference in operation["responses"].items():
            content = responses[reference["$ref"].rsplit("/", 1)[1]]["content"][JSON]
            if status == "200":
                if "post" in path:
                    assert content["example"] == json.loads(DOCUMENT_RESPONSE)
                continue
            codes = content["schema"]["allOf"][1]["properties"]["error"]["enum"]
            assert {status_of[code] for code in codes} == {int(status)}
            assert content["example"]["error"] in codes
            documented.update(codes)
    assert documented == set(status_of) - ACTION_ONLY_ERRORS


# -- The terminal's people, in the document's style ----------------------------------------------

USERS = "/devices/principal/users"
LUIS_THUMB = f"{USERS}/7/fingers/0"


async def call(client: Any, method: str, path: str) -> tuple[ClientResponse, dict[str, Any]]:
    response = await client.request(method, path)
    assert response.content_type == "application/json"
    return response, json.loads(await response.text())


@BOTH_PROTOCOLS
@pytest.mark.parametrize("prefix", ["", "/api/zkteco"])
async def test_users(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    prefix: str,
) -> None:
    """The users with the document's finger numbers and names; no card number unless asked."""
    simulator.add_user("123", "Ana Garcia", password="1234", card=4242)

    response, answer = await call(await hass_client(), "GET", prefix + USERS)

    assert response.status == HTTPStatus.OK
    assert answer == {
        "success": True,
        "message": "Usuarios leídos del dispositivo.",
        "data": {
            "device_id": "principal",
            "users": [
                {
                    "user_id": "123",
                    "name": "Ana Garcia",
                    "privilege": "user",
                    "has_card": True,
                    "fingers": [],
                },
                {
                    "user_id": "7",
                    "name": "Luis Perez",
                    "privilege": "admin",
                    "has_card": False,
                    "fingers": [{"finger_index": 0, "finger_name": "Pulgar derecho"}],
                },
            ],
        },
    }


async def test_one_user_with_card_number(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    simulator.add_user("123", "Ana Garcia", card=4242)

    response, answer = await call(
        await hass_client(), "GET", f"/api/zkteco{USERS}/123?include_card=true"
    )

    assert response.status == HTTPStatus.OK
    assert answer["message"] == "Usuario leído del dispositivo."
    assert answer["data"] == {
        "device_id": "principal",
        "user_id": "123",
        "name": "Ana Garcia",
        "privilege": "user",
        "has_card": True,
        "card": 4242,
        "fingers": [],
    }


@BOTH_PROTOCOLS
@pytest.mark.parametrize("prefix", ["", "/api/zkteco"])
async def test_delete_finger(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    prefix: str,
) -> None:
    """The document's finger 0 is the terminal's right thumb (its number 5)."""
    response, answer = await call(await hass_client(), "DELETE", prefix + LUIS_THUMB)

    assert response.status == HTTPStatus.OK
    assert answer == {
        "success": True,
        "message": "Huella eliminada del dispositivo.",
        "data": {
            "user_id": "7",
            "device_id": "principal",
            "finger_index": 0,
            "finger_name": "Pulgar derecho",
        },
    }
    assert simulator.templates == []


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/devices/almacen/users", HTTPStatus.NOT_FOUND, "device_not_found"),
        ("GET", f"{USERS}/999", HTTPStatus.NOT_FOUND, "user_not_found"),
        ("DELETE", f"{USERS}/999/fingers/0", HTTPStatus.NOT_FOUND, "user_not_found"),
        ("DELETE", f"{USERS}/123/fingers/1", HTTPStatus.NOT_FOUND, "finger_not_enrolled"),
        ("DELETE", f"{USERS}/7/fingers/10", HTTPStatus.BAD_REQUEST, "invalid_finger_index"),
        ("DELETE", f"{USERS}/7/fingers/pulgar", HTTPStatus.BAD_REQUEST, "invalid_finger_index"),
        ("DELETE", f"{USERS}/7/fingers/-1", HTTPStatus.BAD_REQUEST, "invalid_finger_index"),
    ],
)
async def test_users_refused(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    method: str,
    path: str,
    status: HTTPStatus,
    code: str,
) -> None:
    response, answer = await call(await hass_client(), method, path)

    assert response.status == status
    assert refusal(json.dumps(answer))["error"] == code
    assert simulator.has_template("7", RIGHT_THUMB)


@pytest.mark.parametrize(("method", "path"), [("GET", USERS), ("DELETE", LUIS_THUMB)])
async def test_users_for_administrators_only(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    non_admin_token: str,
    method: str,
    path: str,
) -> None:
    """401 without a token, 403 for a non-administrator; the terminal is not asked."""
    simulator.reset_stats()

    anonymous, answer = await call(await hass_client_no_auth(), method, path)
    assert anonymous.status == HTTPStatus.UNAUTHORIZED
    assert refusal(json.dumps(answer))["error"] == "unauthorized"
    forbidden, answer = await call(await hass_client(non_admin_token), method, path)
    assert forbidden.status == HTTPStatus.FORBIDDEN
    assert refusal(json.dumps(answer))["error"] == "admin_required"
    assert simulator.commands == []


@BOTH_PROTOCOLS
@pytest.mark.usefixtures("short_timeout")
@pytest.mark.parametrize("fault", ["dropped_commands", "lost_replies"])
async def test_delete_finger_dropped_mid_way(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    fault: str,
) -> None:
    """500 write_uncertain: the client is told the finger may or may not be gone."""
    setattr(simulator, fault, {p.CMD_DEL_USER_TEMP, p.CMD_DELETE_USERTEMP})

    response, answer = await call(await hass_client(), "DELETE", LUIS_THUMB)

    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert refusal(json.dumps(answer))["error"] == "write_uncertain"
    assert answer["message"].startswith(
        "The terminal stopped answering after the change was sent: it may or may not have been"
    )
    assert simulator.has_template("7", RIGHT_THUMB) is (fault == "dropped_commands")


async def test_not_supported_by_the_connection(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    with patch.object(
        PullChannel, "async_read_people", side_effect=TerminalNotSupportedError("no")
    ):
        response, answer = await call(await hass_client(), "GET", USERS)

    assert response.status == HTTPStatus.NOT_IMPLEMENTED
    assert refusal(json.dumps(answer))["error"] == "not_supported"


@pytest.mark.parametrize(
    "query",
    [
        "include_card=yes",
        "include_card=True",
        "include_card=true&include_card=false",
        "include_cards=true",
        "=",
    ],
)
async def test_query_is_include_card_true_or_false(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    query: str,
) -> None:
    """A misspelt parameter or value would silently leave the card numbers out: refused (found
    by the fuzzer)."""
    simulator.reset_stats()

    response, answer = await call(await hass_client(), "GET", f"{USERS}?{query}")

    assert response.status == HTTPStatus.BAD_REQUEST
    assert refusal(json.dumps(answer))["error"] == "invalid_query"
    assert simulator.commands == []
