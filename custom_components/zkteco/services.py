"""The actions: enroll a finger, cancel an enrollment, open the door (administrators only)."""

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

from .channel import TerminalError
from .const import DEFAULT_UNLOCK_SECONDS, DOMAIN
from .coordinator import async_find_terminal
from .enrollment import EnrollmentManager, TerminalUnavailable

ATTR_DEVICE_ID = "device_id"
ATTR_USER_ID = "user_id"
ATTR_FINGER_INDEX = "finger_index"
ATTR_SECONDS = "seconds"

SERVICE_ENROLL_FINGER = "enroll_finger"
SERVICE_CANCEL_ENROLLMENT = "cancel_enrollment"
SERVICE_OPEN_DOOR = "open_door"

CANCEL_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
ENROLL_SCHEMA = CANCEL_SCHEMA.extend(
    {
        vol.Required(ATTR_USER_ID): vol.All(cv.string, vol.Length(min=1)),
        # Checked by the enrollment itself, so that the action and the REST view refuse the
        # same values with the same translated error.
        vol.Required(ATTR_FINGER_INDEX): object,
    }
)

OPEN_DOOR_SCHEMA = CANCEL_SCHEMA.extend(
    # Whole seconds only: a fraction is refused, not rounded.
    {vol.Optional(ATTR_SECONDS, default=DEFAULT_UNLOCK_SECONDS): vol.All(int, vol.Range(1, 60))}
)


def _finger_index(value: object) -> object:
    """The UI's select sends the index as text ("1"); anything else is checked as it is."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _enrollment(call: ServiceCall) -> EnrollmentManager:
    return async_find_terminal(call.hass, call.data[ATTR_DEVICE_ID]).enrollment


async def _async_enroll_finger(call: ServiceCall) -> ServiceResponse:
    return await _enrollment(call).async_start(
        call.data[ATTR_USER_ID], _finger_index(call.data[ATTR_FINGER_INDEX])
    )


async def _async_cancel_enrollment(call: ServiceCall) -> None:
    await _enrollment(call).async_cancel()


async def _async_open_door(call: ServiceCall) -> None:
    channel = async_find_terminal(call.hass, call.data[ATTR_DEVICE_ID]).channel
    try:
        await channel.async_unlock(call.data[ATTR_SECONDS])
    except TerminalError as err:
        raise TerminalUnavailable(error=err) from err


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
