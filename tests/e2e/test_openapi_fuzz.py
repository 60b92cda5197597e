"""Bad input, tried for real: openapi.yaml drives schemathesis against the running hass.

Each generated request goes to the real endpoints (enroll-finger, the users, deleting a finger)
with the administrator's token (schemathesis's negative cases also try it without one). Whatever
it holds, the answer is one the document lists, JSON with `success` and `message`, a 500 only
from the terminal that is switched off, and the terminal is left enabled and not enrolling, its
enrolled finger put back when a case deleted it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

from homeassistant.components.http.security_filter import FILTERS, UNSAFE_URL_BYTES
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import requests
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from custom_components.zkteco.enrollment import terminal_finger
from zksim import ZKSimulator

from .conftest import (
    DEVICE_ID,
    ENROLLED_USER_ID,
    SWITCHED_OFF_DEVICE_ID,
    USER_ID,
    LiveHass,
    cancel_enrollment,
    run_api,
)

pytestmark = pytest.mark.e2e

SCHEMA = schemathesis.openapi.from_path(Path(__file__).parents[2] / "openapi.yaml")
DOCUMENTED_STATUSES = {
    int(status)
    for path in SCHEMA.raw_schema["paths"].values()
    for operation in path.values()
    for status in operation["responses"]
}
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Bounded and reproducible: the same requests on every run and in CI.
FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# Random ids seldom name a terminal or a user: a share of the cases aims at ones that exist
# (the switched-off terminal included), the rest at whatever the schema allows.
KNOWN_TARGETS = [
    {"device_id": DEVICE_ID, "user_id": USER_ID},
    {"device_id": DEVICE_ID, "user_id": ENROLLED_USER_ID},
    {"device_id": SWITCHED_OFF_DEVICE_ID, "user_id": USER_ID},
]


def cases(mode: GenerationMode) -> st.SearchStrategy[Case[Any]]:
    """Requests to both paths: anywhere the schema allows, or at a known terminal and user."""
    return st.one_of(
        SCHEMA.as_strategy(generation_mode=mode),
        *(SCHEMA.as_strategy(generation_mode=mode, path_parameters=ids) for ids in KNOWN_TARGETS),
    )


def fully_unquoted(text: str) -> str:
    while (unquoted := unquote(text)) != text:
        text = unquoted
    return text


def texts(value: object) -> Iterator[str]:
    """Every key and value of a generated query, however nested, as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
    else:
        yield str(value)


def refused_by_home_assistant(case: Case[Any]) -> bool:
    """Whether Home Assistant's own HTTP layer answers before any view, in plain text.

    Its security filter refuses control characters and exploit patterns in the path and the
    query (400); ids that are no path segment ("", ".", "..") lead to no route (404).
    openapi.yaml does not exclude them.
    """
    # Schemathesis keeps the ids percent-encoded, as they go on the wire.
    ids = [fully_unquoted(value) for value in case.path_parameters.values()]
    query = list(texts(case.query or {}))
    return any(value in ("", ".", "..") for value in ids) or any(
        FILTERS.search(value) or any(byte in value for byte in UNSAFE_URL_BYTES)
        for value in ids + query
    )


def check_answer(case: Case[Any], response: Response, headers: dict[str, str]) -> None:
    """The document's promises for any request, and schemathesis's conformance checks."""
    assert response.status_code in DOCUMENTED_STATUSES, response.text
    if response.headers["content-type"][0].startswith("text/plain"):
        assert refused_by_home_assistant(case), response.text
        assert response.status_code in (400, 404)
        return
    if response.status_code == 500:  # only a terminal that cannot be reached may cause one
        assert case.path_parameters["device_id"] == SWITCHED_OFF_DEVICE_ID, response.text
    assert response.headers["content-type"][0].startswith("application/json")
    answer = response.json()
    assert isinstance(answer["success"], bool)
    assert isinstance(answer["message"], str)
    if answer["success"]:  # what was asked for, not just anything
        assert {key: answer["data"][key] for key in asked(case)} == asked(case)
    case.validate_response(response, checks=CHECKS, headers=headers)


def asked(case: Case[Any]) -> dict[str, Any]:
    """What a successful answer's data must be about: the path's ids and the finger."""
    ids = {
        key: fully_unquoted(value)
        for key, value in case.path_parameters.items()
        if f"{{{key}}}" in case.operation.path  # the known targets name a user for every path
    }
    if case.method == "POST":  # it was accepted: a JSON object
        return {**ids, "finger_index": cast(dict[str, Any], case.body)["finger_index"]}
    if "finger_index" in ids:
        return {**ids, "finger_index": int(ids["finger_index"])}
    return ids


def restore_terminal(
    live_hass: LiveHass, sim: ZKSimulator, case: Case[Any], response: Response
) -> None:
    """Undo what a case did, as a client would: cancel an enrollment, put a deleted finger back.

    The terminal must be usable again, and as the other tests expect it.
    """
    if response.status_code == 200 and case.method == "POST":
        run_api(live_hass, lambda api: cancel_enrollment(api, live_hass.token))
    if response.status_code == 200 and case.method == "DELETE":
        data = response.json()["data"]
        sim.add_template(data["user_id"], terminal_finger(data["finger_index"]))
    assert sim.wait_for(lambda terminal: terminal.enabled and not terminal.enrolling)


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    """One connection for all the cases of a run."""
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_any_request_gets_a_documented_answer(
    mode: GenerationMode,
    live_hass: LiveHass,
    sim: ZKSimulator,
    switched_off_terminal: tuple[str, ZKSimulator],
    http_session: requests.Session,
) -> None:
    """Valid and invalid requests alike: a documented answer, and the terminal left usable."""
    headers = {"Authorization": f"Bearer {live_hass.token}"}

    @FUZZ_SETTINGS
    @given(case=cases(mode))
    def request_once(case: Case[Any]) -> None:
        response = case.call(base_url=live_hass.url, session=http_session, headers=headers)
        try:
            check_answer(case, response, headers)
        finally:
            restore_terminal(live_hass, sim, case, response)

    request_once()
