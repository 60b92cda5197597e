"""The enroll-finger REST endpoint on a real hass, called the way the API document's clients do."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from zk import const

from devtools.hass_runner import HassWebSocket
from zksim import ZKSimulator

from .conftest import DEVICE_ID, USER_ID, LiveHass

pytestmark = pytest.mark.e2e

# The API document's request and its exact answer (shared/seeds/000_e111a841d2effbe2.txt).
DOCUMENT_PATH = f"/devices/{DEVICE_ID}/users/{USER_ID}/enroll-finger"
DOCUMENT_BODY = {"finger_index": 1}
DOCUMENT_RESPONSE: dict[str, Any] = {
    "success": True,
    "message": "Modo enrolamiento activado. El usuario debe poner el dedo 3 veces.",
    "data": {
        "user_id": "123",
        "device_id": "principal",
        "finger_index": 1,
        "finger_name": "Indice derecho",
    },
}
# What a request reaching the terminal would send; background polling sends other commands.
ENROLLMENT_COMMANDS = {const.CMD_STARTENROLL, const.CMD_CANCELCAPTURE, const.CMD_DISABLEDEVICE}
ENROLLMENT_FINISHED = "zkteco_enrollment_finished"
EVENT_TIMEOUT = 15.0


async def post_enroll(
    http: aiohttp.ClientSession, live_hass: LiveHass, body: Any, token: str | None
) -> tuple[int, Any]:
    """POST to the document's path; return the status and the decoded JSON answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(live_hass.url + DOCUMENT_PATH, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def wait_for_event(ws: HassWebSocket, subscription: int) -> dict[str, Any]:
    """Return the data of the subscription's next event."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        event = await ws.next_event(subscription)
    return dict(event["data"])


async def test_onboarding_and_config_flow_created_the_terminal(
    live_hass: LiveHass, http: aiohttp.ClientSession
) -> None:
    """The config flow over HTTP produced one loaded entry, titled as the user named it."""
    async with http.get(
        f"{live_hass.url}/api/config/config_entries/entry",
        params={"domain": "zkteco"},
        headers={"Authorization": f"Bearer {live_hass.token}"},
    ) as response:
        entries = await response.json()
    assert [(entry["title"], entry["state"]) for entry in entries] == [("Principal", "loaded")]


@pytest.mark.parametrize(("caller", "status"), [("no token", 401), ("non-admin user", 403)])
async def test_refused_callers_never_reach_the_terminal(
    caller: str, status: int, live_hass: LiveHass, http: aiohttp.ClientSession, sim: ZKSimulator
) -> None:
    """No token or a non-admin user: refused, and no enrollment command reaches the terminal."""
    token = live_hass.reader_token if caller == "non-admin user" else None
    commands_before = len(sim.commands)
    answer_status, answer = await post_enroll(http, live_hass, DOCUMENT_BODY, token)
    assert (answer_status, answer["success"]) == (status, False)
    assert not ENROLLMENT_COMMANDS & set(sim.commands[commands_before:])
    assert sim.enabled


async def test_document_request_gets_the_document_response(
    live_hass: LiveHass, http: aiohttp.ClientSession, ws: HassWebSocket, sim: ZKSimulator
) -> None:
    """The document's curl request answers the document's JSON: same keys, order and text."""
    finished = await ws.subscribe_events(ENROLLMENT_FINISHED)
    status, answer = await post_enroll(http, live_hass, DOCUMENT_BODY, live_hass.token)
    assert (status, answer) == (200, DOCUMENT_RESPONSE)
    assert list(answer) == list(DOCUMENT_RESPONSE)
    assert list(answer["data"]) == list(DOCUMENT_RESPONSE["data"])
    assert sim.enrolling
    # Leave finger 1 free and the terminal idle for the other tests.
    sim.cancel_enrollment()
    await wait_for_event(ws, finished)
    assert sim.enabled


async def test_three_presses_finish_the_enrollment_over_the_websocket(
    live_hass: LiveHass, http: aiohttp.ClientSession, ws: HassWebSocket, sim: ZKSimulator
) -> None:
    """Three good presses: zkteco_enrollment_finished (success) and a template on the terminal."""
    finished = await ws.subscribe_events(ENROLLMENT_FINISHED)
    status, _ = await post_enroll(http, live_hass, {"finger_index": 2}, live_hass.token)
    assert status == 200
    for _press in range(3):
        assert sim.press_finger()
    event = await wait_for_event(ws, finished)
    assert event["device_id"] == DEVICE_ID
    assert event["user_id"] == USER_ID
    assert event["finger_index"] == 2
    assert event["finger_name"] == "Medio derecho"
    assert event["result"] == "success"
    assert sim.has_template(USER_ID, 2)
    assert sim.enabled
