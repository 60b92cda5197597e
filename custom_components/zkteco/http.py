"""The REST view of the user's API document: POST .../enroll-finger on Home Assistant's server.

Clients written against the document work by changing only the base URL and adding a Home
Assistant token: the success answer is the document's, byte for byte.
"""

from __future__ import annotations

from http import HTTPStatus
import json
from typing import Any

from aiohttp import web
from homeassistant.components.http import (
    KEY_AUTHENTICATED,
    KEY_HASS,
    KEY_HASS_USER,
    HomeAssistantView,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN
from .coordinator import async_find_terminal
from .enrollment import EnrollmentError, InvalidEnrollmentInput

ENROLL_PATH = "/devices/{device_id}/users/{user_id}/enroll-finger"
SUCCESS_MESSAGE = "Modo enrolamiento activado. El usuario debe poner el dedo 3 veces."
JSON = "application/json"


class _InvalidJson(InvalidEnrollmentInput):
    code = "invalid_json"


class _MissingFingerIndex(InvalidEnrollmentInput):
    code = "missing_finger_index"


class _Unauthorized(EnrollmentError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"


class _Forbidden(EnrollmentError):
    status = HTTPStatus.FORBIDDEN
    code = "admin_required"


@callback
def async_register_views(hass: HomeAssistant) -> None:
    hass.http.register_view(EnrollFingerView())


def _json(body: dict[str, Any]) -> str:
    # Indented like the document's example, so clients comparing bytes see the same answer.
    return json.dumps(body, indent=2, ensure_ascii=False)


async def _message(hass: HomeAssistant, err: EnrollmentError) -> str:
    """The error in the server's language (Home Assistant's own default is English)."""
    translations = await async_get_translations(hass, hass.config.language, "exceptions", [DOMAIN])
    template = translations[f"component.{DOMAIN}.exceptions.{err.translation_key}.message"]
    return template.format(**(err.translation_placeholders or {}))


async def _error_body(hass: HomeAssistant, err: EnrollmentError) -> str:
    return _json({"success": False, "message": await _message(hass, err), "error": err.code})


def _finger_index(body: Any) -> object:
    if not isinstance(body, dict):
        raise _InvalidJson()
    if "finger_index" not in body:
        raise _MissingFingerIndex()
    return body["finger_index"]


class EnrollFingerView(HomeAssistantView):
    """Start an enrollment; answers once the terminal waits for the finger."""

    url = ENROLL_PATH
    extra_urls = [f"/api/{DOMAIN}{ENROLL_PATH}"]  # noqa: RUF012 - declared so by HomeAssistantView
    name = f"api:{DOMAIN}:enroll_finger"
    # Checked in post() instead, so that refused clients also get the document's JSON shape.
    requires_auth = False

    async def post(self, request: web.Request, device_id: str, user_id: str) -> web.Response:
        hass = request.app[KEY_HASS]
        if not request.get(KEY_AUTHENTICATED, False):
            # Raised rather than returned: Home Assistant's ban middleware then counts the
            # attempt, as it does for its own views.
            raise web.HTTPUnauthorized(
                text=await _error_body(hass, _Unauthorized()),
                content_type=JSON,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            data = await self._async_start(request, device_id, user_id)
        except EnrollmentError as err:
            return web.Response(
                text=await _error_body(hass, err), status=err.status, content_type=JSON
            )
        body = {"success": True, "message": SUCCESS_MESSAGE, "data": data}
        return web.Response(text=_json(body), content_type=JSON)

    @staticmethod
    async def _async_start(request: web.Request, device_id: str, user_id: str) -> dict[str, Any]:
        """Check the caller and the body before anything reaches the terminal."""
        if not request[KEY_HASS_USER].is_admin:
            raise _Forbidden()
        try:
            body = await request.json()
        except ValueError as err:
            raise _InvalidJson() from err
        finger_index = _finger_index(body)
        enrollment = async_find_terminal(request.app[KEY_HASS], device_id).enrollment
        return await enrollment.async_start(user_id, finger_index)
