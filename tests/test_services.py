"""The actions: zkteco.enroll_finger and zkteco.cancel_enrollment."""

from __future__ import annotations

from http import HTTPStatus
import time
from typing import Any

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

from custom_components.zkteco.const import (
    DEFAULT_UNLOCK_SECONDS,
    DOMAIN,
    EVENT_ENROLLMENT_FINISHED,
)
from zksim import ZKSimulator

from .conftest import add_unreachable_terminal

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
            DOMAIN, service, data, blocking=True, context=Context(user_id=hass_read_only_user.id)
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
