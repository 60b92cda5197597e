"""The REST view of the user's API document on Home Assistant's server: POST .../enroll-finger,
and in its style the terminal's people: GET .../users, GET .../users/{user_id} and
DELETE .../users/{user_id}/fingers/{finger_index}.

Clients written against the document work by changing only the base URL and adding a Home
Assistant token: the success answer is the document's, byte for byte. Every endpoint answers in
the document's envelope (success, message, data) and its error shape, to administrators only, at
the document's root path and under /api/zkteco.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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

from .const import DOMAIN
from .coordinator import ZKTecoRuntimeData, async_find_terminal
from .enrollment import EnrollmentError, InvalidEnrollmentInput
from .management import (
    async_delete_finger,
    async_get_user,
    async_get_users,
    async_message,
    finger_index_from_text,
)

ENROLL_PATH = "/devices/{device_id}/users/{user_id}/enroll-finger"
USERS_PATH = "/devices/{device_id}/users"
USER_PATH = "/devices/{device_id}/users/{user_id}"
FINGER_PATH = "/devices/{device_id}/users/{user_id}/fingers/{finger_index}"
SUCCESS_MESSAGE = "Modo enrolamiento activado. El usuario debe poner el dedo 3 veces."
USERS_MESSAGE = "Usuarios leídos del dispositivo."
USER_MESSAGE = "Usuario leído del dispositivo."
FINGER_DELETED_MESSAGE = "Huella eliminada del dispositivo."
INCLUDE_CARD = "include_card"
_BOOLEANS = ("true", "false")
JSON = "application/json"

type _Action = Callable[[web.Request], Awaitable[dict[str, Any]]]


class _InvalidJson(InvalidEnrollmentInput):
    code = "invalid_json"


class _MissingFingerIndex(InvalidEnrollmentInput):
    code = "missing_finger_index"


class _InvalidQuery(InvalidEnrollmentInput):
    code = "invalid_query"


class _Unauthorized(EnrollmentError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"


class _Forbidden(EnrollmentError):
    status = HTTPStatus.FORBIDDEN
    code = "admin_required"


@callback
def async_register_views(hass: HomeAssistant) -> None:
    for view in (EnrollFingerView(), UsersView(), UserView(), FingerView()):
        hass.http.register_view(view)


def _json(body: dict[str, Any]) -> str:
    # Indented like the document's example, so clients comparing bytes see the same answer.
    return json.dumps(body, indent=2, ensure_ascii=False)


async def _error_body(hass: HomeAssistant, err: EnrollmentError) -> str:
    return _json({"success": False, "message": await async_message(hass, err), "error": err.code})


def _finger_index(body: Any) -> object:
    if not isinstance(body, dict):
        raise _InvalidJson()
    if "finger_index" not in body:
        raise _MissingFingerIndex()
    return body["finger_index"]


def _include_card(request: web.Request) -> bool:
    """?include_card=true asks for the card numbers too. Anything else in the query is refused,
    so that a misspelt parameter or value does not silently leave them out."""
    values = request.query.getall(INCLUDE_CARD, ["false"])
    if set(request.query) - {INCLUDE_CARD} or len(values) != 1 or values[0] not in _BOOLEANS:
        raise _InvalidQuery()
    return values[0] == "true"


def _terminal(request: web.Request, device_id: str) -> ZKTecoRuntimeData:
    return async_find_terminal(request.app[KEY_HASS], device_id)


class _DocumentView(HomeAssistantView):
    """An endpoint in the document's style: its envelope and errors, for administrators only."""

    # Checked in _async_answer() instead, so that refused clients also get the document's shape.
    requires_auth = False

    @staticmethod
    async def _async_answer(request: web.Request, message: str, action: _Action) -> web.Response:
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
            # Before anything else is looked at, the body included.
            if not request[KEY_HASS_USER].is_admin:
                raise _Forbidden()
            data = await action(request)
        except EnrollmentError as err:
            return web.Response(
                text=await _error_body(hass, err), status=err.status, content_type=JSON
            )
        body = {"success": True, "message": message, "data": data}
        return web.Response(text=_json(body), content_type=JSON)


class EnrollFingerView(_DocumentView):
    """Start an enrollment; answers once the terminal waits for the finger."""

    url = ENROLL_PATH
    extra_urls = [f"/api/{DOMAIN}{ENROLL_PATH}"]  # noqa: RUF012 - declared so by HomeAssistantView
    name = f"api:{DOMAIN}:enroll_finger"

    async def post(self, request: web.Request, device_id: str, user_id: str) -> web.Response:
        async def start(request: web.Request) -> dict[str, Any]:
            try:
                body = await request.json()
            except ValueError as err:
                raise _InvalidJson() from err
            finger_index = _finger_index(body)
            return await _terminal(request, device_id).enrollment.async_start(user_id, finger_index)

        return await self._async_answer(request, SUCCESS_MESSAGE, start)


class UsersView(_DocumentView):
    """The people on a terminal, with their enrolled fingers."""

    url = USERS_PATH
    extra_urls = [f"/api/{DOMAIN}{USERS_PATH}"]  # noqa: RUF012 - declared so by HomeAssistantView
    name = f"api:{DOMAIN}:users"

    async def get(self, request: web.Request, device_id: str) -> web.Response:
        async def read(request: web.Request) -> dict[str, Any]:
            terminal = _terminal(request, device_id)
            return await async_get_users(terminal, include_card=_include_card(request))

        return await self._async_answer(request, USERS_MESSAGE, read)


class UserView(_DocumentView):
    """One person on a terminal, with their enrolled fingers."""

    url = USER_PATH
    extra_urls = [f"/api/{DOMAIN}{USER_PATH}"]  # noqa: RUF012 - declared so by HomeAssistantView
    name = f"api:{DOMAIN}:user"

    async def get(self, request: web.Request, device_id: str, user_id: str) -> web.Response:
        async def read(request: web.Request) -> dict[str, Any]:
            terminal = _terminal(request, device_id)
            return await async_get_user(terminal, user_id, include_card=_include_card(request))

        return await self._async_answer(request, USER_MESSAGE, read)


class FingerView(_DocumentView):
    """Delete one of a person's fingers (the document's finger index)."""

    url = FINGER_PATH
    extra_urls = [f"/api/{DOMAIN}{FINGER_PATH}"]  # noqa: RUF012 - declared so by HomeAssistantView
    name = f"api:{DOMAIN}:finger"

    async def delete(
        self, request: web.Request, device_id: str, user_id: str, finger_index: str
    ) -> web.Response:
        async def delete(request: web.Request) -> dict[str, Any]:
            index = finger_index_from_text(finger_index)
            return await async_delete_finger(_terminal(request, device_id), user_id, index)

        return await self._async_answer(request, FINGER_DELETED_MESSAGE, delete)
