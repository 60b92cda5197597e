"""The enrollment card's websocket commands, over Home Assistant's real websocket API."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from zksim import ZKSimulator

from .conftest import add_unreachable_terminal, until

ANA = {"user_id": "123", "name": "Ana Garcia"}
LUIS = {"user_id": "7", "name": "Luis Perez"}


async def ask(hass: HomeAssistant, hass_ws_client: WebSocketGenerator, **msg: Any) -> Any:
    """Send one command as the administrator and return its answer (result or error)."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(msg)
    return await client.receive_json()


async def test_users_of_the_terminal(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, init_integration: MockConfigEntry
) -> None:
    answer = await ask(hass, hass_ws_client, type="zkteco/users", device_id="principal")
    assert answer["success"]
    result = answer["result"]
    assert result["device_id"] == "principal"
    assert sorted(result["users"], key=lambda user: user["user_id"]) == [ANA, LUIS]


async def test_terminal_chosen_as_a_device(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
) -> None:
    """The card's editor picks a device: its registry id names the terminal as well."""
    [device] = dr.async_entries_for_config_entry(dr.async_get(hass), init_integration.entry_id)
    answer = await ask(hass, hass_ws_client, type="zkteco/users", device_id=device.id)
    assert answer["result"]["device_id"] == "principal"
    answer = await ask(
        hass, hass_ws_client, type="zkteco/enrolled_fingers", device_id=device.id, user_id="7"
    )
    assert answer["result"] == {"user_id": "7", "fingers": [0]}


async def test_enrolled_fingers_read_from_the_terminal(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    """Asked of the terminal each time: a finger enrolled at its keypad shows at once.

    The terminal numbers its fingers its own way; the card gets the API document's numbers.
    """
    fingers = {"type": "zkteco/enrolled_fingers", "device_id": "principal", "user_id": "123"}
    assert (await ask(hass, hass_ws_client, **fingers))["result"]["fingers"] == []
    simulator.add_template("123", 3)  # the terminal's left index: the document's 6
    simulator.add_template("123", 9)  # the terminal's right little: the document's 4
    assert (await ask(hass, hass_ws_client, **fingers))["result"]["fingers"] == [4, 6]


@pytest.mark.parametrize(
    ("msg", "translation_key"),
    [
        ({"type": "zkteco/users", "device_id": "nope"}, "device_not_found"),
        (
            {"type": "zkteco/enrolled_fingers", "device_id": "nope", "user_id": "7"},
            "device_not_found",
        ),
        (
            {"type": "zkteco/enrolled_fingers", "device_id": "principal", "user_id": "999"},
            "user_not_found",
        ),
    ],
)
async def test_unknown_terminal_or_person(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
    msg: dict[str, str],
    translation_key: str,
) -> None:
    answer = await ask(hass, hass_ws_client, **msg)
    assert not answer["success"]
    assert answer["error"]["translation_key"] == translation_key


async def test_fingers_not_asked_while_the_terminal_waits_for_a_finger(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    enrollment = init_integration.runtime_data.enrollment
    await enrollment.async_start("123", 1)
    answer = await ask(
        hass, hass_ws_client, type="zkteco/enrolled_fingers", device_id="principal", user_id="7"
    )
    assert answer["error"]["translation_key"] == "enrollment_in_progress"
    assert simulator.enrolling
    await enrollment.async_cancel()


@pytest.mark.usefixtures("short_timeout")
async def test_terminal_gone(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    simulator.stop()
    answer = await ask(
        hass, hass_ws_client, type="zkteco/enrolled_fingers", device_id="principal", user_id="7"
    )
    assert answer["error"]["translation_key"] == "device_error"


async def test_terminal_not_set_up(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, simulator: ZKSimulator
) -> None:
    await add_unreachable_terminal(hass, simulator)
    answer = await ask(hass, hass_ws_client, type="zkteco/users", device_id="principal")
    assert answer["error"]["translation_key"] == "device_error"


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "zkteco/users", "device_id": "principal"},
        {"type": "zkteco/enrolled_fingers", "device_id": "principal", "user_id": "7"},
    ],
)
async def test_administrators_only(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
    init_integration: MockConfigEntry,
    msg: dict[str, str],
) -> None:
    hass_admin_user.groups = []
    answer = await ask(hass, hass_ws_client, **msg)
    assert answer["error"]["code"] == "unauthorized"


async def test_no_enrollment_running(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, init_integration: MockConfigEntry
) -> None:
    answer = await ask(hass, hass_ws_client, type="zkteco/enrollment", device_id="principal")
    assert answer["result"] == {"device_id": "principal", "reports_presses": True, "running": None}


async def test_running_enrollment_picked_up(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    """A card opened mid-way follows the enrollment from where it is; once over, it is not."""
    enrollment = init_integration.runtime_data.enrollment
    await enrollment.async_start("123", 6)
    simulator.press_finger()
    await until(lambda: enrollment.status is not None and enrollment.status.presses == 1)
    message = {"type": "zkteco/enrollment", "device_id": "principal"}
    answer = await ask(hass, hass_ws_client, **message)
    assert answer["result"]["running"] == {"user_id": "123", "finger_index": 6, "presses": 1}
    await enrollment.async_cancel()
    assert (await ask(hass, hass_ws_client, **message))["result"]["running"] is None


async def test_push_enrollment_reports_no_presses(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, push_entry: MockConfigEntry
) -> None:
    """Over Push the terminal's screen guides the person: the card is told not to count."""
    push_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(push_entry.entry_id)
    await hass.async_block_till_done()
    answer = await ask(hass, hass_ws_client, type="zkteco/enrollment", device_id="principal")
    assert answer["result"]["reports_presses"] is False
