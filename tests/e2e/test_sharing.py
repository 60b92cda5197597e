"""Sharing new fingerprints on a real hass: a finger enrolled by the API document's request
reaches a second terminal on its own, and zkteco_fingerprint_shared says so over the websocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from custom_components.zkteco.enrollment import terminal_finger
from devtools.hass_runner import HassApi, HassWebSocket, TerminalConfig
from zksim import ZKSimulator

from .conftest import (
    DEVICE_ID,
    DOCUMENT_REQUEST,
    ENROLLMENT_FINISHED,
    TERMINAL_TIMEOUT,
    USER_ID,
    Client,
    LiveHass,
    next_event_data,
    run_api,
)

pytestmark = pytest.mark.e2e

SHARED = "zkteco_fingerprint_shared"
ALMACEN = "almacen"
DOCUMENT_FINGER = 1  # the finger the document's request enrolls


@pytest.fixture
def almacen(live_hass: LiveHass) -> Iterator[ZKSimulator]:
    """A second terminal, added through the config flow, that does not know Ana yet."""
    other = ZKSimulator(host="127.0.0.1", port=0, serial="CQUJ203960003").start()
    other.mac = "00:17:61:C8:31:09"  # two terminals never share a MAC
    terminal = TerminalConfig(port=other.port, device_id=ALMACEN)
    entry_id = run_api(live_hass, lambda api: api.add_terminal(live_hass.token, terminal))
    yield other
    run_api(live_hass, lambda api: api.remove_entry(live_hass.token, entry_id))
    other.stop()


async def principal_entry_id(api: HassApi, token: str) -> str:
    entries = await api.request(
        "GET", "/api/config/config_entries/entry", token, params={"domain": "zkteco"}
    )
    return next(str(entry["entry_id"]) for entry in entries if entry["title"] == DEVICE_ID)


async def set_sharing(client: Client, ws: HassWebSocket, *, share: bool) -> None:
    """Turn the option on or off as the options form does; back once the entry has reloaded."""
    api, token = client.api, client.live_hass.token
    entry_id = await principal_entry_id(api, token)
    await ws.call("config_entries/subscribe")
    subscription = ws.last_id
    flow = await api.request(
        "POST", "/api/config/config_entries/options/flow", token, json={"handler": entry_id}
    )
    result = await api.request(
        "POST",
        f"/api/config/config_entries/options/flow/{flow['flow_id']}",
        token,
        json={"share_fingerprints": share},
    )
    assert result["type"] == "create_entry"
    reloading = False
    async with asyncio.timeout(TERMINAL_TIMEOUT):
        while True:
            message = await ws.connection.receive_json()
            if message["type"] != "event" or message["id"] != subscription:
                continue
            for change in message["event"]:
                if change["type"] == "updated" and change["entry"]["entry_id"] == entry_id:
                    if change["entry"]["state"] != "loaded":
                        reloading = True
                    elif reloading:
                        return


@pytest.fixture
async def sharing(client: Client, ws: HassWebSocket, sim: ZKSimulator) -> AsyncIterator[None]:
    """The principal shares new fingerprints; the document's finger is free for the request."""
    sim.delete_template(sim_uid(sim, USER_ID), terminal_finger(DOCUMENT_FINGER))
    await set_sharing(client, ws, share=True)
    yield
    await set_sharing(client, ws, share=False)
    sim.delete_template(sim_uid(sim, USER_ID), terminal_finger(DOCUMENT_FINGER))


def sim_uid(sim: ZKSimulator, user_id: str) -> int:
    user = sim.user_by_id(user_id)
    assert user is not None
    return user.uid


def template(sim: ZKSimulator) -> bytes | None:
    user = sim.user_by_id(USER_ID)
    found = None if user is None else sim.template_of(user.uid, terminal_finger(DOCUMENT_FINGER))
    return None if found is None else found.template


@pytest.mark.usefixtures("sharing")
async def test_a_finger_enrolled_by_the_document_request_reaches_the_other_terminal(
    client: Client, ws: HassWebSocket, sim: ZKSimulator, almacen: ZKSimulator
) -> None:
    finished = await ws.subscribe_events(ENROLLMENT_FINISHED)
    shared = await ws.subscribe_events(SHARED)

    assert (await client.enroll(DOCUMENT_REQUEST)).status == 200
    for _press in range(3):
        assert sim.press_finger()

    assert (await next_event_data(ws, finished))["result"] == "success"
    assert await next_event_data(ws, shared) == {
        "device_id": DEVICE_ID,
        "user_id": USER_ID,
        "finger_index": DOCUMENT_FINGER,
        "finger_name": "Indice derecho",
        "copied_to": [ALMACEN],
        "failed": [],
    }
    assert template(almacen) is not None
    assert template(almacen) == template(sim)
    ana = almacen.user_by_id(USER_ID)
    assert ana is not None
    assert ana.name == "Ana Garcia"
