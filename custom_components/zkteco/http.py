"""The REST view of the user's API document: POST .../enroll-finger on Home Assistant's server.

Clients written against the document work by changing only the base URL and adding a Home
Assistant token: the success answer is the document's, byte for byte.
"""

from __future__ import annotations

from http import HTTPStatus
import json
from typing import Any

from aiohttp import web

from homeassistant.components.http import KEY_HASS, KEY_HASS_USER, HomeAssistantView
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN
from .coordinator import async_find_coordinator
from .enrollment import DeviceNotFound, EnrollmentError, InvalidEnrollmentInput

ENROLL_PATH = "/devices/{device_id}/users/{user_id}/enroll-finger"
SUCCESS_MESSAGE = "Modo enrolamiento activado. El usuario debe poner el dedo 3 veces."


class _BadRequest(InvalidEnrollmentInput):
    """The body is not what the document asks for."""


class _InvalidJson(_BadRequest):
    code = "invalid_json"


class _MissingFingerIndex(_BadRequest):
    code = "missing_finger_index"


class _Forbidden(EnrollmentError):
    status = HTTPStatus.FORBIDDEN
    code = "admin_required"


@callback
def async_register_views(hass: HomeAssistant) -> None:
    hass.http.register_view(EnrollFingerView())


def _answer(body: dict[str, Any], status: HTTPStatus) -> web.Response:
    # Indented like the document's example, so clients comparing bytes see the same answer.
    return web.Response(
        body=json.dumps(body, indent=2, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


async def _message(hass: HomeAssistant, err: HomeAssistantError) -> str:
    """The error in the server's language (Home Assistant's own default is English)."""
    translations = await async_get_translations(
        hass, hass.config.language, "exceptions", [DOMAIN]
    )
    template = translations.get(f"component.{DOMAIN}.exceptions.{err.translation_key}.message")
    if template is None:
        return str(err)
    return template.format(**(err.translation_placeholders or {}))


def _finger_index(body: Any) -> object:
    if not isinstance(body, dict):
        raise _InvalidJson()
    if "finger_index" not in body:
        raise _MissingFingerIndex()
    return body["finger_index"]


class EnrollFingerView(HomeAssistantView):
    """Start an enrollment; answers once the terminal waits for the finger."""

    url = ENROLL_PATH
    extra_urls = [f"/api/{DOMAIN}{ENROLL_PATH}"]
    name = f"api:{DOMAIN}:enroll_finger"
    requires_auth = True

    async def post(self, request: web.Request, device_id: str, user_id: str) -> web.Response:
        hass = request.app[KEY_HASS]
        try:
            if not request[KEY_HASS_USER].is_admin:
                raise _Forbidden()
            try:
                body = await request.json()
            except ValueError as err:
                raise _InvalidJson() from err
            finger_index = _finger_index(body)
            if (coordinator := async_find_coordinator(hass, device_id)) is None:
                raise DeviceNotFound(device_id=device_id)
            data = await coordinator.enrollment.async_start(user_id, finger_index)
        except EnrollmentError as err:
            return _answer(
                {"success": False, "message": await _message(hass, err), "error": err.code},
                err.status,
            )
        return _answer({"success": True, "message": SUCCESS_MESSAGE, "data": data}, HTTPStatus.OK)
