"""The actions (administrators only): enroll a finger, cancel an enrollment, open the door, manage
people and fingers, clear the attendance log."""

from __future__ import annotations

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
import voluptuous as vol

from .channel import TerminalError, UserChanges
from .const import DEFAULT_UNLOCK_SECONDS, DOMAIN
from .coordinator import ZKTecoRuntimeData, async_find_terminal
from .enrollment import EnrollmentManager, TerminalUnavailable
from .management import (
    CopyFailed,
    admin_change,
    all_device_ids,
    async_clear_attendance,
    async_copy_fingerprints,
    async_delete_finger,
    async_delete_user,
    async_get_users,
    async_set_user,
    finger_index_from_text,
)

ATTR_DEVICE_ID = "device_id"
ATTR_USER_ID = "user_id"
ATTR_FINGER_INDEX = "finger_index"
ATTR_SECONDS = "seconds"
ATTR_NAME = "name"
ATTR_PRIVILEGE = "privilege"
ATTR_CARD = "card"
ATTR_PASSWORD = "password"
ATTR_INCLUDE_CARD = "include_card"
ATTR_CONFIRM = "confirm"
ATTR_FROM_DEVICE = "from_device"
ATTR_TO_DEVICES = "to_devices"
ATTR_OVERWRITE = "overwrite"
ALL_TERMINALS = "all"

SERVICE_ENROLL_FINGER = "enroll_finger"
SERVICE_CANCEL_ENROLLMENT = "cancel_enrollment"
SERVICE_OPEN_DOOR = "open_door"
SERVICE_SET_USER = "set_user"
SERVICE_DELETE_USER = "delete_user"
SERVICE_DELETE_FINGERPRINT = "delete_fingerprint"
SERVICE_GET_USERS = "get_users"
SERVICE_CLEAR_ATTENDANCE_LOG = "clear_attendance_log"
SERVICE_COPY_FINGERPRINTS = "copy_fingerprints"

CANCEL_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
USER_SCHEMA = CANCEL_SCHEMA.extend(
    {vol.Required(ATTR_USER_ID): vol.All(cv.string, vol.Length(min=1))}
)
ENROLL_SCHEMA = USER_SCHEMA.extend(
    {
        # Checked by the enrollment itself, so that the action and the REST view refuse the
        # same values with the same translated error.
        vol.Required(ATTR_FINGER_INDEX): object,
    }
)

OPEN_DOOR_SCHEMA = CANCEL_SCHEMA.extend(
    # Whole seconds only: a fraction is refused, not rounded.
    {vol.Optional(ATTR_SECONDS, default=DEFAULT_UNLOCK_SECONDS): vol.All(int, vol.Range(1, 60))}
)


def _whole_number(value: object) -> int:
    """A card number: a whole number, or its digits as text (the UI's text box sends text)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if type(value) is not int:  # a fraction is refused, not rounded; a boolean is no number
        raise vol.Invalid("expected a whole number")
    return value


# What is not given is kept on the terminal; whether the terminal can store what is given (the
# name's length, the password's digits, the card's range) is for it to say.
SET_USER_SCHEMA = USER_SCHEMA.extend(
    {
        vol.Optional(ATTR_NAME): cv.string,
        vol.Optional(ATTR_PRIVILEGE): vol.In(["user", "admin"]),
        vol.Optional(ATTR_CARD): _whole_number,
        vol.Optional(ATTR_PASSWORD): cv.string,
    }
)
GET_USERS_SCHEMA = CANCEL_SCHEMA.extend(
    {vol.Optional(ATTR_INCLUDE_CARD, default=False): cv.boolean}
)
# confirm is checked by the action, so that forgetting it gets a translated error.
CLEAR_ATTENDANCE_SCHEMA = CANCEL_SCHEMA.extend(
    {vol.Optional(ATTR_CONFIRM, default=False): cv.boolean}
)

COPY_FINGERPRINTS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_USER_ID): vol.All(cv.string, vol.Length(min=1)),
        vol.Required(ATTR_FROM_DEVICE): cv.string,
        vol.Required(ATTR_TO_DEVICES): vol.Any(
            ALL_TERMINALS, vol.All(cv.ensure_list, [cv.string], vol.Length(min=1))
        ),
        vol.Optional(ATTR_OVERWRITE, default=False): cv.boolean,
    }
)


def _terminal(call: ServiceCall) -> ZKTecoRuntimeData:
    return async_find_terminal(call.hass, call.data[ATTR_DEVICE_ID])


def _enrollment(call: ServiceCall) -> EnrollmentManager:
    return _terminal(call).enrollment


async def _async_enroll_finger(call: ServiceCall) -> ServiceResponse:
    return await _enrollment(call).async_start(
        call.data[ATTR_USER_ID], finger_index_from_text(call.data[ATTR_FINGER_INDEX])
    )


async def _async_cancel_enrollment(call: ServiceCall) -> None:
    await _enrollment(call).async_cancel()


async def _async_open_door(call: ServiceCall) -> None:
    channel = _terminal(call).channel
    try:
        await channel.async_unlock(call.data[ATTR_SECONDS])
    except TerminalError as err:
        raise TerminalUnavailable(error=err) from err


async def _async_set_user(call: ServiceCall) -> ServiceResponse:
    data = call.data
    return await async_set_user(
        _terminal(call),
        data[ATTR_USER_ID],
        UserChanges(
            name=data.get(ATTR_NAME),
            admin=admin_change(data.get(ATTR_PRIVILEGE)),
            card=data.get(ATTR_CARD),
            password=data.get(ATTR_PASSWORD),
        ),
    )


async def _async_delete_user(call: ServiceCall) -> None:
    await async_delete_user(_terminal(call), call.data[ATTR_USER_ID])


async def _async_delete_fingerprint(call: ServiceCall) -> ServiceResponse:
    return await async_delete_finger(
        _terminal(call),
        call.data[ATTR_USER_ID],
        finger_index_from_text(call.data[ATTR_FINGER_INDEX]),
    )


async def _async_get_users(call: ServiceCall) -> ServiceResponse:
    return await async_get_users(_terminal(call), include_card=call.data[ATTR_INCLUDE_CARD])


async def _async_clear_attendance_log(call: ServiceCall) -> None:
    await async_clear_attendance(_terminal(call), confirm=call.data[ATTR_CONFIRM])


async def _async_copy_fingerprints(call: ServiceCall) -> ServiceResponse:
    hass, data = call.hass, call.data
    targets = data[ATTR_TO_DEVICES]
    copied = await async_copy_fingerprints(
        hass,
        async_find_terminal(hass, data[ATTR_FROM_DEVICE]),
        data[ATTR_USER_ID],
        all_device_ids(hass) if targets == ALL_TERMINALS else targets,
        overwrite=data[ATTR_OVERWRITE],
    )
    failed = [result["device_id"] for result in copied["results"] if "error" in result]
    if failed and not call.return_response:
        raise CopyFailed(devices=", ".join(failed))
    return copied


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions once, for every terminal."""
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_ENROLL_FINGER,
        _async_enroll_finger,
        ENROLL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_register_admin_service(
        hass, DOMAIN, SERVICE_CANCEL_ENROLLMENT, _async_cancel_enrollment, CANCEL_SCHEMA
    )
    async_register_admin_service(
        hass, DOMAIN, SERVICE_OPEN_DOOR, _async_open_door, OPEN_DOOR_SCHEMA
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_SET_USER,
        _async_set_user,
        SET_USER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_register_admin_service(hass, DOMAIN, SERVICE_DELETE_USER, _async_delete_user, USER_SCHEMA)
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_DELETE_FINGERPRINT,
        _async_delete_fingerprint,
        ENROLL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_GET_USERS,
        _async_get_users,
        GET_USERS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_CLEAR_ATTENDANCE_LOG,
        _async_clear_attendance_log,
        CLEAR_ATTENDANCE_SCHEMA,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_COPY_FINGERPRINTS,
        _async_copy_fingerprints,
        COPY_FINGERPRINTS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
