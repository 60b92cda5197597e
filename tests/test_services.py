"""The actions: enrollment, the door, people and fingers, the attendance log."""

from __future__ import annotations

from http import HTTPStatus
import time
from typing import Any
from unittest.mock import patch

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.zkteco.channel import TerminalConnectionError, TerminalNotSupportedError
from custom_components.zkteco.const import (
    DEFAULT_UNLOCK_SECONDS,
    DOMAIN,
    EVENT_ATTENDANCE,
    EVENT_ENROLLMENT_FINISHED,
)
from custom_components.zkteco.coordinator import ZKTecoCoordinator
from custom_components.zkteco.pull.channel import PullChannel
from zksim import ZKSimulator, protocol as p

from .conftest import (
    BOTH_PROTOCOLS,
    HISTORY_RECORDS,
    LUIS_THUMB_TEMPLATE,
    RIGHT_INDEX,
    RIGHT_THUMB,
    add_unreachable_terminal,
    poll,
    punch,
    template_of,
    until,
)

ANA_INDEX = {"device_id": "principal", "user_id": "123", "finger_index": 1}


async def enroll(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "enroll_finger", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def cancel(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, "cancel_enrollment", data, blocking=True)


async def test_response_equals_rest_data(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """One implementation behind both: the action answers the REST view's `data`."""
    client = await hass_client()
    rest = await client.post("/devices/principal/users/123/enroll-finger", json={"finger_index": 1})
    assert rest.status == HTTPStatus.OK
    await cancel(hass, device_id="principal")

    assert await enroll(hass, **ANA_INDEX) == (await rest.json())["data"]
    assert simulator.enrolling


@pytest.mark.parametrize("finger_index", [1, "1"], ids=["number", "text_from_ui_select"])
async def test_terminal_picked_as_a_device(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    finger_index: int | str,
) -> None:
    """The UI's device selector sends Home Assistant's device id; the finger select sends text."""
    (device,) = dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)

    response = await enroll(hass, device_id=device.id, user_id="123", finger_index=finger_index)

    assert response == {
        "user_id": "123",
        "device_id": "principal",
        "finger_index": 1,
        "finger_name": "Indice derecho",
    }
    assert simulator.enrolling


@pytest.mark.parametrize(
    ("data", "translation_key"),
    [
        pytest.param({**ANA_INDEX, "finger_index": 10}, "invalid_finger_index", id="above_9"),
        pytest.param({**ANA_INDEX, "finger_index": -1}, "invalid_finger_index", id="negative"),
        pytest.param({**ANA_INDEX, "finger_index": 1.5}, "invalid_finger_index", id="fraction"),
        pytest.param({**ANA_INDEX, "finger_index": True}, "invalid_finger_index", id="boolean"),
        pytest.param({**ANA_INDEX, "finger_index": "uno"}, "invalid_finger_index", id="word"),
        pytest.param({**ANA_INDEX, "device_id": "almacen"}, "device_not_found", id="device"),
        pytest.param({**ANA_INDEX, "user_id": "999"}, "user_not_found", id="user"),
        pytest.param(
            {**ANA_INDEX, "user_id": "7", "finger_index": 0},
            "finger_already_enrolled",
            id="enrolled",
        ),
    ],
)
async def test_invalid_input(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    data: dict[str, Any],
    translation_key: str,
) -> None:
    """What the caller got wrong is a translated validation error; the terminal stays usable."""
    with pytest.raises(ServiceValidationError) as err:
        await enroll(hass, **data)

    assert err.value.translation_key == translation_key
    assert not simulator.enrolling
    assert simulator.enabled


async def test_enrollment_already_running(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    await enroll(hass, **ANA_INDEX)

    with pytest.raises(HomeAssistantError) as err:
        await enroll(hass, **{**ANA_INDEX, "finger_index": 2})

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "enrollment_in_progress"


async def test_terminal_unreachable(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    simulator.stop()

    with pytest.raises(HomeAssistantError) as err:
        await enroll(hass, **ANA_INDEX)

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"


async def test_terminal_not_set_up(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """A terminal Home Assistant could not reach yet exists: unreachable, not unknown."""
    await add_unreachable_terminal(hass, simulator)

    with pytest.raises(HomeAssistantError) as err:
        await enroll(hass, **ANA_INDEX)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"

    with pytest.raises(ServiceValidationError) as err:
        await enroll(hass, **{**ANA_INDEX, "device_id": "almacen"})
    assert err.value.translation_key == "device_not_found"


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("enroll_finger", ANA_INDEX),
        ("cancel_enrollment", {"device_id": "principal"}),
        ("open_door", {"device_id": "principal"}),
        ("set_user", {"device_id": "principal", "user_id": "123", "name": "Eva"}),
        ("delete_user", {"device_id": "principal", "user_id": "123"}),
        ("delete_fingerprint", {"device_id": "principal", "user_id": "7", "finger_index": 0}),
        ("get_users", {"device_id": "principal"}),
        ("clear_attendance_log", {"device_id": "principal", "confirm": True}),
        ("copy_fingerprints", {"user_id": "7", "from_device": "principal", "to_devices": "all"}),
    ],
)
async def test_administrators_only(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    hass_read_only_user: MockUser,
    service: str,
    data: dict[str, Any],
) -> None:
    simulator.reset_stats()

    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            service,
            data,
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
            return_response=service == "get_users",
        )

    assert simulator.commands == []


async def test_cancel(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    await enroll(hass, **ANA_INDEX)
    finished = async_capture_events(hass, EVENT_ENROLLMENT_FINISHED)

    await cancel(hass, device_id="principal")
    await hass.async_block_till_done()

    assert not simulator.enrolling
    assert simulator.enabled
    assert [event.data["result"] for event in finished] == ["cancelled"]


async def test_cancel_releases_a_terminal_enrolling_for_someone_else(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Started by another program, or before Home Assistant restarted: nothing else ends it."""
    assert simulator.start_enrollment(0, "123", 1)  # on another client's session
    simulator.set_enabled(False)
    finished = async_capture_events(hass, EVENT_ENROLLMENT_FINISHED)

    await cancel(hass, device_id="principal")
    await hass.async_block_till_done()

    assert not simulator.enrolling
    assert simulator.enabled
    assert finished == []  # Home Assistant ran no enrollment to report on


async def test_cancel_on_an_unreachable_terminal(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    simulator.stop()

    with pytest.raises(HomeAssistantError) as err:
        await cancel(hass, device_id="principal")

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"


async def open_door(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, "open_door", data, blocking=True)


@pytest.mark.parametrize("seconds", [1, 60])
async def test_open_door_for_seconds(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry, seconds: int
) -> None:
    await open_door(hass, device_id="principal", seconds=seconds)

    assert simulator.relay_open
    assert simulator.relay_open_until is not None
    assert seconds - 1 < simulator.relay_open_until - time.monotonic() <= seconds


async def test_open_door_for_the_default_time(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Picked as a device in the UI; without seconds, the documented default."""
    (device,) = dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)

    await open_door(hass, device_id=device.id)

    assert simulator.relay_open_until is not None
    remaining = simulator.relay_open_until - time.monotonic()
    assert DEFAULT_UNLOCK_SECONDS - 1 < remaining <= DEFAULT_UNLOCK_SECONDS


@pytest.mark.parametrize("seconds", [0, 61, -1, 1.5, "uno"])
async def test_open_door_refuses_seconds_out_of_range(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry, seconds: object
) -> None:
    simulator.reset_stats()

    with pytest.raises(vol.Invalid):
        await open_door(hass, device_id="principal", seconds=seconds)

    assert simulator.commands == []
    assert not simulator.relay_open


async def test_open_door_of_an_unknown_terminal(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await open_door(hass, device_id="almacen")

    assert err.value.translation_key == "device_not_found"
    assert not simulator.relay_open


@pytest.mark.usefixtures("short_timeout")
async def test_open_door_on_a_terminal_that_does_not_answer(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    simulator.unresponsive = True

    with pytest.raises(HomeAssistantError) as err:
        await open_door(hass, device_id="principal", seconds=5)

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"
    assert not simulator.relay_open


# -- People, fingers and the attendance log ----------------------------------------------------

PRINCIPAL = {"device_id": "principal"}
# The document's finger 0 (right thumb) of Luis, user 7, enrolled on the simulator.
LUIS_THUMB = {**PRINCIPAL, "user_id": "7", "finger_index": 0}


NO_RESPONSE = {"delete_user", "clear_attendance_log"}


async def act(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any] | None:
    """Call an action the way an automation does; its response when it gives one."""
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=service not in NO_RESPONSE
    )
    return None if response is None else dict(response)


async def users_of(hass: HomeAssistant, **options: Any) -> dict[str, dict[str, Any]]:
    response = await act(hass, "get_users", **PRINCIPAL, **options)
    assert response is not None
    assert response["device_id"] == "principal"
    return {user["user_id"]: user for user in response["users"]}


def known_users(entry: MockConfigEntry) -> dict[str, str]:
    """The users the entities and the card show: id to name."""
    return {
        user_id: user.name for user_id, user in entry.runtime_data.coordinator.data.users.items()
    }


@BOTH_PROTOCOLS
async def test_set_user_adds_a_person(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A new person with everything given; the entities and the card know them at once."""
    response = await act(
        hass,
        "set_user",
        **PRINCIPAL,
        user_id="42",
        name="Eva Ruiz",
        privilege="admin",
        card="12345678",
        password="2468",
    )

    assert response == {
        "device_id": "principal",
        "user_id": "42",
        "name": "Eva Ruiz",
        "privilege": "admin",
        "has_card": True,
    }
    user = simulator.user_by_id("42")
    assert user is not None
    assert (user.name, user.privilege, user.card, user.password) == (
        "Eva Ruiz",
        14,
        12345678,
        "2468",
    )
    assert known_users(init_integration)["42"] == "Eva Ruiz"


@BOTH_PROTOCOLS
async def test_set_user_keeps_what_is_not_given(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A rename keeps the card, the privilege, the password and the fingers."""
    simulator.add_user("7", "Luis Perez", privilege=14, password="1357", card=99)

    await act(hass, "set_user", **PRINCIPAL, user_id="7", name="Luis Pérez Gil")

    user = simulator.user_by_id("7")
    assert user is not None
    assert (user.name, user.privilege, user.card, user.password) == (
        "Luis Pérez Gil",
        14,
        99,
        "1357",
    )
    assert simulator.has_template("7", RIGHT_THUMB)
    assert known_users(init_integration)["7"] == "Luis Pérez Gil"  # same count: read anyway


@pytest.mark.parametrize(
    ("change", "translation_key"),
    [
        pytest.param({"name": "Ana\tGarcia"}, "value_control_character", id="tab_in_name"),
        pytest.param({"name": "Ana\nGarcia"}, "value_control_character", id="newline_in_name"),
        pytest.param({"name": "A" * 25}, "value_too_long", id="name_too_long"),
        pytest.param({"password": "12ab"}, "value_not_digits", id="password_not_digits"),
        pytest.param({"card": -1}, "value_out_of_range", id="negative_card"),
        pytest.param({"card": 2**32}, "value_out_of_range", id="card_too_big"),
    ],
)
async def test_set_user_refuses_what_the_terminal_cannot_store(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    change: dict[str, Any],
    translation_key: str,
) -> None:
    """Refused with a translated error before anything is written."""
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, "set_user", **PRINCIPAL, user_id="123", **change)

    assert err.value.translation_key == translation_key
    assert p.CMD_USER_WRQ not in simulator.commands
    assert simulator.user_by_id("123") == simulator.users[0]
    assert simulator.users[0].name == "Ana Garcia"


@pytest.mark.parametrize("card", [1.5, True, "12a"])
async def test_set_user_refuses_a_card_that_is_no_whole_number(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry, card: object
) -> None:
    with pytest.raises(vol.Invalid):
        await act(hass, "set_user", **PRINCIPAL, user_id="123", card=card)

    assert p.CMD_USER_WRQ not in simulator.commands


@BOTH_PROTOCOLS
async def test_delete_user(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    await act(hass, "delete_user", **PRINCIPAL, user_id="7")

    assert simulator.user_by_id("7") is None
    assert simulator.templates == []
    assert "7" not in known_users(init_integration)


@BOTH_PROTOCOLS
async def test_delete_fingerprint(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """The document's index 0 is the terminal's right thumb; the others stay."""
    simulator.add_template("7", RIGHT_INDEX)

    response = await act(hass, "delete_fingerprint", **LUIS_THUMB)

    assert response == {
        "user_id": "7",
        "device_id": "principal",
        "finger_index": 0,
        "finger_name": "Pulgar derecho",
    }
    assert not simulator.has_template("7", RIGHT_THUMB)
    assert simulator.has_template("7", RIGHT_INDEX)
    await hass.async_block_till_done()
    assert init_integration.runtime_data.coordinator.data.counters.fingers == 1


@pytest.mark.parametrize(
    ("service", "data", "translation_key"),
    [
        ("delete_user", {"user_id": "999"}, "user_not_found"),
        ("delete_fingerprint", {"user_id": "999", "finger_index": 0}, "user_not_found"),
        ("delete_fingerprint", {"user_id": "123", "finger_index": 1}, "finger_not_enrolled"),
        ("delete_fingerprint", {"user_id": "7", "finger_index": 10}, "invalid_finger_index"),
        ("delete_fingerprint", {"user_id": "7", "finger_index": "diez"}, "invalid_finger_index"),
        ("set_user", {"user_id": "123", "device_id": "almacen"}, "device_not_found"),
        ("clear_attendance_log", {}, "confirm_required"),
        ("clear_attendance_log", {"confirm": False}, "confirm_required"),
    ],
)
async def test_refused_input(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    translation_key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, service, **{**PRINCIPAL, **data})

    assert err.value.translation_key == translation_key
    assert len(simulator.users) == 2
    assert simulator.has_template("7", RIGHT_THUMB)
    assert len(simulator.records) == HISTORY_RECORDS


@BOTH_PROTOCOLS
async def test_get_users(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Fingers by the document's numbers and names; no card number, password or template."""
    simulator.add_user("123", "Ana Garcia", password="1234", card=4242)
    simulator.add_template("7", RIGHT_INDEX)

    users = await users_of(hass)

    assert users == {
        "123": {
            "user_id": "123",
            "name": "Ana Garcia",
            "privilege": "user",
            "has_card": True,
            "fingers": [],
        },
        "7": {
            "user_id": "7",
            "name": "Luis Perez",
            "privilege": "admin",
            "has_card": False,
            "fingers": [
                {"finger_index": 0, "finger_name": "Pulgar derecho"},
                {"finger_index": 1, "finger_name": "Indice derecho"},
            ],
        },
    }


async def test_get_users_with_card_numbers(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    simulator.add_user("123", "Ana Garcia", card=4242)

    users = await users_of(hass, include_card=True)

    assert {user_id: user["card"] for user_id, user in users.items()} == {"123": 4242, "7": None}


@BOTH_PROTOCOLS
async def test_clear_attendance_log(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """Every punch was delivered: the log is cleared, and later punches still arrive once."""
    delivered = async_capture_events(hass, EVENT_ATTENDANCE)
    punch(simulator, 1)
    await until(lambda: len(delivered) == 1)

    await act(hass, "clear_attendance_log", **PRINCIPAL, confirm=True)

    assert simulator.records == []
    assert init_integration.runtime_data.coordinator.data.counters.records == 0
    punch(simulator, 2)
    await until(lambda: len(delivered) == 2)
    await poll(hass, init_integration)
    await poll(hass, init_integration)
    assert [event.data["time"][11:16] for event in delivered] == ["09:01", "09:02"]


async def test_clear_attendance_log_refused_while_punches_are_undelivered(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A punch logged without an event reaches Home Assistant at the next poll; not cleared."""
    simulator.add_records(1)

    with pytest.raises(HomeAssistantError) as err:
        await act(hass, "clear_attendance_log", **PRINCIPAL, confirm=True)

    assert err.value.translation_key == "attendance_undelivered"
    assert len(simulator.records) == HISTORY_RECORDS + 1
    await poll(hass, init_integration)
    await act(hass, "clear_attendance_log", **PRINCIPAL, confirm=True)
    assert simulator.records == []


FINGER_DELETES = {p.CMD_DELETE_USERTEMP, p.CMD_DEL_USER_TEMP}  # by uid, and by user id (TCP)
WRITES = [
    pytest.param("set_user", {"user_id": "123", "name": "Eva"}, {p.CMD_USER_WRQ}, id="set_user"),
    pytest.param("delete_user", {"user_id": "7"}, {p.CMD_DELETE_USER}, id="delete_user"),
    pytest.param(
        "delete_fingerprint",
        {"user_id": "7", "finger_index": 0},
        FINGER_DELETES,
        id="delete_fingerprint",
    ),
    pytest.param(
        "clear_attendance_log", {"confirm": True}, {p.CMD_CLEAR_ATTLOG}, id="clear_attendance_log"
    ),
]


def assert_unchanged(simulator: ZKSimulator) -> None:
    assert [(user.user_id, user.name) for user in simulator.users] == [
        ("123", "Ana Garcia"),
        ("7", "Luis Perez"),
    ]
    assert len(simulator.records) == HISTORY_RECORDS


@pytest.mark.parametrize(
    ("service", "data", "commands", "translation_key"),
    [
        ("set_user", {"user_id": "123", "name": "Eva"}, {p.CMD_USER_WRQ}, "terminal_refused"),
        ("delete_user", {"user_id": "7"}, {p.CMD_DELETE_USER}, "terminal_refused"),
        ("clear_attendance_log", {"confirm": True}, {p.CMD_CLEAR_ATTLOG}, "terminal_refused"),
        # Terminals answer a finger they do not have with the same error.
        ("delete_fingerprint", LUIS_THUMB, FINGER_DELETES, "finger_not_enrolled"),
    ],
)
async def test_terminal_refuses_the_change(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    commands: set[int],
    translation_key: str,
) -> None:
    simulator.refused_commands = commands

    with pytest.raises(HomeAssistantError) as err:
        await act(hass, service, **{**PRINCIPAL, **data})

    assert err.value.translation_key == translation_key
    assert_unchanged(simulator)


@BOTH_PROTOCOLS
@pytest.mark.usefixtures("short_timeout")
@pytest.mark.parametrize("fault", ["dropped_commands", "lost_replies"])
@pytest.mark.parametrize(("service", "data", "commands"), WRITES)
async def test_terminal_drops_mid_way(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    fault: str,
    service: str,
    data: dict[str, Any],
    commands: set[int],
) -> None:
    """The answer never came: the error says the change may or may not have been made, and it
    is not sent twice (a second delete would say the user is unknown)."""
    setattr(simulator, fault, commands)
    simulator.reset_stats()

    with pytest.raises(HomeAssistantError) as err:
        await act(hass, service, **PRINCIPAL, **data)

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "write_uncertain"
    assert len([command for command in simulator.commands if command in commands]) == 1
    setattr(simulator, fault, set())
    assert await users_of(hass)  # the terminal is usable again


async def test_not_supported_by_the_connection(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """A channel that cannot do it says so (the Push connection cannot do everything)."""
    with (
        patch.object(PullChannel, "async_delete_user", side_effect=TerminalNotSupportedError("no")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await act(hass, "delete_user", **PRINCIPAL, user_id="7")

    assert err.value.translation_key == "not_supported"
    assert simulator.user_by_id("7") is not None


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("get_users", {}),
        ("delete_user", {"user_id": "7"}),
        ("clear_attendance_log", {"confirm": True}),
    ],
)
async def test_management_on_a_stopped_terminal(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
) -> None:
    simulator.stop()

    with pytest.raises(HomeAssistantError) as err:
        await act(hass, service, **PRINCIPAL, **data)

    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "device_error"


async def test_change_made_although_it_could_not_be_read_back(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """The user is written; reading the users again fails (the terminal went away just then):
    the action succeeds, the next poll shows the change."""
    with patch.object(
        ZKTecoCoordinator, "async_refresh_users", side_effect=TerminalConnectionError("gone")
    ):
        response = await act(hass, "set_user", **PRINCIPAL, user_id="123", name="Ana G.")

    assert response is not None
    assert response["name"] == "Ana G."
    assert simulator.users[0].name == "Ana G."


async def test_management_waits_for_a_running_enrollment(
    hass: HomeAssistant, simulator: ZKSimulator, init_integration: MockConfigEntry
) -> None:
    """While the terminal waits for a finger, any exchange would interrupt it."""
    await enroll(hass, **ANA_INDEX)

    with pytest.raises(HomeAssistantError) as err:
        await act(hass, "delete_user", **PRINCIPAL, user_id="7")

    assert err.value.translation_key == "enrollment_in_progress"
    assert simulator.enrolling
    assert simulator.user_by_id("7") is not None


# -- Enroll once, use everywhere -----------------------------------------------------------------


@pytest.fixture
def other_terminals(
    init_integration: MockConfigEntry, other_terminals: dict[str, ZKSimulator]
) -> dict[str, ZKSimulator]:
    """Almacen and oficina beside the principal, set up."""
    return other_terminals


async def copy_luis(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await act(hass, "copy_fingerprints", user_id="7", from_device="principal", **data)
    assert response is not None
    assert (response["user_id"], response["from_device"]) == ("7", "principal")
    return {result["device_id"]: result for result in response["results"]}


def luis_template(sim: ZKSimulator) -> bytes | None:
    return template_of(sim, "7", RIGHT_THUMB)


THUMB = [{"finger_index": 0, "finger_name": "Pulgar derecho"}]


@BOTH_PROTOCOLS
async def test_copy_fingerprints_to_three_terminals_one_failing(
    hass: HomeAssistant, simulator: ZKSimulator, other_terminals: dict[str, ZKSimulator]
) -> None:
    """One copies, one refuses the templates, one is not set up: each says what happened."""
    almacen, oficina = other_terminals["almacen"], other_terminals["oficina"]
    oficina.refused_commands = {p.CMD_SAVE_USERTEMPS}

    results = await copy_luis(hass, to_devices=["almacen", "oficina", "garaje"])

    assert results["almacen"] == {
        "device_id": "almacen",
        "user_created": True,
        "copied": THUMB,
        "kept": [],
    }
    assert luis_template(almacen) == LUIS_THUMB_TEMPLATE
    luis = almacen.user_by_id("7")
    assert luis is not None
    assert (luis.name, luis.privilege) == ("Luis Perez", 14)
    # The person was written before the terminal refused the templates: the result says so.
    assert results["oficina"]["user_created"] is True
    assert results["oficina"]["copied"] == []
    assert results["oficina"]["error"] == "terminal_refused"
    assert results["oficina"]["message"].startswith("The terminal refused the change: ")
    assert luis_template(oficina) is None
    assert results["garaje"]["error"] == "device_not_found"
    assert luis_template(simulator) == LUIS_THUMB_TEMPLATE  # the source is only read


@pytest.mark.usefixtures("short_timeout")
async def test_copy_fingerprints_to_a_terminal_that_drops_mid_way(
    hass: HomeAssistant, other_terminals: dict[str, ZKSimulator]
) -> None:
    other_terminals["oficina"].dropped_commands = {p.CMD_SAVE_USERTEMPS}

    results = await copy_luis(hass, to_devices="all")

    assert set(results) == {"almacen", "oficina"}
    assert results["almacen"]["copied"] == THUMB
    assert results["oficina"]["error"] == "write_uncertain"
    assert "may or may not" in results["oficina"]["message"]


@pytest.mark.parametrize("overwrite", [False, True])
async def test_copy_fingerprints_keeps_or_overwrites_a_finger_there(
    hass: HomeAssistant, other_terminals: dict[str, ZKSimulator], overwrite: bool
) -> None:
    """The other terminal has Luis and a thumb of its own: kept unless asked to overwrite."""
    almacen = other_terminals["almacen"]
    almacen.add_user("7", "Luis P.")
    almacen.add_template("7", RIGHT_THUMB, b"SS21 enrolled at the almacen")

    results = await copy_luis(hass, to_devices="almacen", overwrite=overwrite)

    assert results["almacen"]["user_created"] is False
    assert results["almacen"]["copied"] == (THUMB if overwrite else [])
    assert results["almacen"]["kept"] == ([] if overwrite else THUMB)
    expected = LUIS_THUMB_TEMPLATE if overwrite else b"SS21 enrolled at the almacen"
    assert luis_template(almacen) == expected
    assert almacen.users[-1].name == "Luis P."  # the person there is left as they are


async def test_copy_failure_without_asking_for_the_response(
    hass: HomeAssistant, other_terminals: dict[str, ZKSimulator]
) -> None:
    """Nobody would see the results: the action fails, naming the terminals."""
    other_terminals["oficina"].refused_commands = {p.CMD_SAVE_USERTEMPS}

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "copy_fingerprints",
            {"user_id": "7", "from_device": "principal", "to_devices": "all"},
            blocking=True,
        )

    assert err.value.translation_key == "copy_failed"
    assert err.value.translation_placeholders == {"devices": "oficina"}
    assert luis_template(other_terminals["almacen"]) == LUIS_THUMB_TEMPLATE


@pytest.mark.parametrize(
    ("user_id", "translation_key"), [("999", "user_not_found"), ("123", "no_fingerprints")]
)
async def test_copy_nothing_to_copy(
    hass: HomeAssistant,
    other_terminals: dict[str, ZKSimulator],
    user_id: str,
    translation_key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await act(
            hass, "copy_fingerprints", user_id=user_id, from_device="principal", to_devices="all"
        )

    assert err.value.translation_key == translation_key
    assert all(sim.templates == [] for sim in other_terminals.values())
