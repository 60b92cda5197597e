"""Websocket commands of the enrollment card: a terminal's people, one person's fingers, and
the enrollment running on it.

Administrators only, as the enrollment actions the card calls are. Which fingers a person has is
asked of the terminal (whether a template exists, never the template itself) in one worker job.
The running enrollment is what a card opened mid-way (or reloaded) picks up and follows.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components import websocket_api
from homeassistant.core import HomeAssistant, callback
import voluptuous as vol

from .channel import Capability, TerminalError
from .const import FINGER_INDEXES
from .coordinator import async_find_terminal
from .enrollment import (
    WAITING_STATES,
    EnrollmentBusy,
    TerminalUnavailable,
    UserNotFound,
    terminal_finger,
)

# Typed loosely: Home Assistant >= 2026.4 turns voluptuous into probatio at import time and its
# signatures name probatio's markers, which mypy does not find in voluptuous.
USERS_SCHEMA: dict[Any, Any] = {
    vol.Required("type"): "zkteco/users",
    vol.Required("device_id"): str,
}
ENROLLED_FINGERS_SCHEMA: dict[Any, Any] = {
    vol.Required("type"): "zkteco/enrolled_fingers",
    vol.Required("device_id"): str,
    vol.Required("user_id"): str,
}
ENROLLMENT_SCHEMA: dict[Any, Any] = {
    vol.Required("type"): "zkteco/enrollment",
    vol.Required("device_id"): str,
}


@callback
def async_register_commands(hass: HomeAssistant) -> None:
    websocket_api.async_register_command(hass, websocket_users)
    websocket_api.async_register_command(hass, websocket_enrolled_fingers)
    websocket_api.async_register_command(hass, websocket_enrollment)


@websocket_api.require_admin
@websocket_api.websocket_command(USERS_SCHEMA)
@callback
def websocket_users(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """The people the terminal knows, as last read from it."""
    runtime = async_find_terminal(hass, msg["device_id"])
    users = [
        {"user_id": user.user_id, "name": user.name}
        for user in runtime.coordinator.data.users.values()
    ]
    connection.send_result(msg["id"], {"device_id": runtime.coordinator.device_id, "users": users})


@websocket_api.require_admin
@websocket_api.websocket_command(ENROLLED_FINGERS_SCHEMA)
@websocket_api.async_response
async def websocket_enrolled_fingers(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """The finger indexes (0-9, as in the API document) the person has a template for."""
    runtime = async_find_terminal(hass, msg["device_id"])
    device_id = runtime.coordinator.device_id
    if runtime.channel.enrolling:
        # As the polls do: a question now would interrupt the terminal waiting for a finger.
        raise EnrollmentBusy()
    if (user := runtime.coordinator.data.users.get(msg["user_id"])) is None:
        raise UserNotFound(user_id=msg["user_id"], device_id=device_id)
    try:
        enrolled = await runtime.channel.async_enrolled_fingers(user)
    except TerminalError as err:
        raise TerminalUnavailable(error=err) from err
    fingers = [index for index in FINGER_INDEXES if terminal_finger(index) in enrolled]
    connection.send_result(msg["id"], {"user_id": user.user_id, "fingers": fingers})


@websocket_api.require_admin
@websocket_api.websocket_command(ENROLLMENT_SCHEMA)
@callback
def websocket_enrollment(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """How the terminal enrolls, and the enrollment waiting for a finger there (or None)."""
    runtime = async_find_terminal(hass, msg["device_id"])
    status = runtime.enrollment.status
    running = None
    if runtime.enrollment.active and status is not None and status.state in WAITING_STATES:
        running = {
            "user_id": status.user_id,
            "finger_index": status.finger_index,
            "presses": status.presses,
        }
    connection.send_result(
        msg["id"],
        {
            "device_id": runtime.coordinator.device_id,
            "reports_presses": Capability.ENROLLMENT_PRESSES in runtime.channel.capabilities,
            "running": running,
        },
    )
