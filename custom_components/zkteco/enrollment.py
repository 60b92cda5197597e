"""Fingerprint enrollment: one implementation behind the action, the REST view and the button.

It is what the protocol documents (the vendor manual, zk-protocol) and pyzk's ``enroll_user`` do:
CMD_CANCELCAPTURE, then CMD_STARTENROLL. The terminal is not disabled (CMD_DISABLEDEVICE shields
its sensor, and the finger must be read): in enrollment mode it verifies nobody, so nobody can
punch until it leaves. Whatever happens next (success, a bad press, a duplicate finger, a timeout,
a cancel, a lost connection, the integration unloading or Home Assistant stopping) ends with the
terminal out of enrollment mode and enabled: people must never be locked out of their door.

The manager knows the terminal only through its channel: it starts and ends enrollments there,
and follows the presses and the result in the channel's events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
import json
from typing import Any, Final, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_call_later

from .channel import (
    ChannelEvent,
    ConnectionLost,
    EnrollmentOutcome,
    EnrollmentResult,
    FingerScored,
    TerminalChannel,
    TerminalError,
    TerminalUser,
)
from .const import (
    DOMAIN,
    EVENT_ENROLLMENT_FINISHED,
    EVENT_ENROLLMENT_PRESS,
    FINGER_INDEXES,
    FINGER_NAMES_ES,
    LOGGER,
)

PRESSES: Final = 3
GOOD_SCORE: Final = 100


class EnrollmentState(StrEnum):
    """What the enrollment sensor shows."""

    IDLE = "idle"
    WAITING_PRESS_1 = "waiting_press_1"
    WAITING_PRESS_2 = "waiting_press_2"
    WAITING_PRESS_3 = "waiting_press_3"
    SUCCESS = "success"
    DUPLICATE = "duplicate"
    BAD_QUALITY = "bad_quality"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ALREADY_ENROLLED = "already_enrolled"
    BUSY = "busy"
    USER_NOT_FOUND = "user_not_found"
    NOT_SUPPORTED = "not_supported"


WAITING_STATES: Final = (
    EnrollmentState.WAITING_PRESS_1,
    EnrollmentState.WAITING_PRESS_2,
    EnrollmentState.WAITING_PRESS_3,
)

_STATES: Final = {
    EnrollmentOutcome.SUCCESS: EnrollmentState.SUCCESS,
    EnrollmentOutcome.DUPLICATE: EnrollmentState.DUPLICATE,
    EnrollmentOutcome.ALREADY_ENROLLED: EnrollmentState.ALREADY_ENROLLED,
    EnrollmentOutcome.CAPTURE_FAILED: EnrollmentState.BAD_QUALITY,
    EnrollmentOutcome.TIMEOUT_OR_CANCELLED: EnrollmentState.TIMEOUT,
    EnrollmentOutcome.CANCELLED: EnrollmentState.CANCELLED,
    EnrollmentOutcome.BUSY: EnrollmentState.BUSY,
    EnrollmentOutcome.USER_NOT_FOUND: EnrollmentState.USER_NOT_FOUND,
    EnrollmentOutcome.NOT_SUPPORTED: EnrollmentState.NOT_SUPPORTED,
    EnrollmentOutcome.FAILED: EnrollmentState.FAILED,
}
# The terminal gave up without saying why: a bad press just before is the likely reason.
_GIVE_UPS: Final = frozenset({EnrollmentOutcome.TIMEOUT_OR_CANCELLED, EnrollmentOutcome.FAILED})


@dataclass(frozen=True, slots=True)
class EnrollmentStatus:
    """The enrollment sensor's state and what it is about."""

    state: EnrollmentState
    user_id: str | None = None
    finger_index: int | None = None
    presses: int = 0


class EnrollmentError(HomeAssistantError):
    """An enrollment could not start; says which HTTP status and error code a client gets."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "device_error"

    def __init__(self, **placeholders: Any) -> None:
        super().__init__(
            translation_domain=DOMAIN,
            translation_key=self.code,
            translation_placeholders={key: str(value) for key, value in placeholders.items()},
        )


class InvalidEnrollmentInput(EnrollmentError, ServiceValidationError):
    """Bad input from the caller."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_finger_index"


class DeviceNotFound(InvalidEnrollmentInput):
    status = HTTPStatus.NOT_FOUND
    code = "device_not_found"


class UserNotFound(InvalidEnrollmentInput):
    status = HTTPStatus.NOT_FOUND
    code = "user_not_found"


class FingerAlreadyEnrolled(InvalidEnrollmentInput):
    status = HTTPStatus.CONFLICT
    code = "finger_already_enrolled"


class EnrollmentBusy(EnrollmentError):
    status = HTTPStatus.CONFLICT
    code = "enrollment_in_progress"


class NoUserSelected(InvalidEnrollmentInput):
    code = "no_user_selected"


class TerminalUnavailable(EnrollmentError):
    """The terminal cannot be reached or does not answer, or its entry is not set up."""


def finger_name(finger_index: int) -> str:
    return FINGER_NAMES_ES[finger_index]


def terminal_finger(finger_index: int) -> int:
    """The terminal's own number (FID) of the document's finger ``finger_index``.

    The document counts from the right thumb (0) to the right little finger (4), then from the
    left thumb (5) to the left little finger (9); terminals count from the left little finger
    (0) across to the right little finger (9). Sent as the terminal counts, the finger chosen
    is the one its screen shows, and the one other software reading the terminal sees.
    """
    return 5 + finger_index if finger_index < 5 else 9 - finger_index


def validate_finger_index(value: object) -> int:
    """An integer from 0 to 9; booleans and strings are refused."""
    if type(value) is not int or value not in FINGER_INDEXES:
        # Shown as JSON (true, "1"), the way REST clients and YAML wrote it.
        raise InvalidEnrollmentInput(value=json.dumps(value, default=str))
    return value


class UserDirectory(Protocol):
    """Where the manager finds the user to enroll (the coordinator's polled users)."""

    def known_users(self) -> Mapping[str, TerminalUser]:
        """The users read by the last poll."""

    async def async_refresh_users(self) -> Mapping[str, TerminalUser]:
        """Read the users now (one may have been added at the terminal since the last poll)."""


@dataclass(slots=True)
class _Enrollment:
    user: TerminalUser
    finger_index: int
    presses: int = 0
    last_press_bad: bool = False
    started: bool = False  # the terminal agreed to it


class EnrollmentManager:
    """Runs at most one enrollment at a time on one terminal."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        channel: TerminalChannel,
        users: UserDirectory,
        *,
        device_id: str,
        on_enrolled: Callable[[], None],
    ) -> None:
        """``on_enrolled`` is called when a finger was enrolled (one template more)."""
        self._hass = hass
        self._entry = entry
        self._channel = channel
        self._users = users
        self._device_id = device_id
        self._on_enrolled = on_enrolled
        self._current: _Enrollment | None = None
        self._watchdog: CALLBACK_TYPE | None = None
        # The end of the last enrollment, which releases the terminal: awaited on shutdown.
        self._ending: asyncio.Task[None] | None = None
        # None until an enrollment starts; the sensor shows that as idle.
        self.status: EnrollmentStatus | None = None
        self._listeners: list[Callable[[], None]] = []
        self._enrolled_listeners: list[Callable[[str, int], None]] = []
        # What the dashboard's selects chose for its button.
        self.selected_user_id: str | None = None
        self.selected_finger = 1

    @property
    def active(self) -> bool:
        return self._current is not None

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever the status changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_add_enrolled_listener(
        self, listener: Callable[[str, int], None]
    ) -> Callable[[], None]:
        """Call ``listener`` with the user id and the finger index of each finger enrolled,
        once its end has been announced."""
        self._enrolled_listeners.append(listener)
        return lambda: self._enrolled_listeners.remove(listener)

    async def async_start(self, user_id: str, finger_index: object) -> dict[str, Any]:
        """Put the terminal in enrollment mode; returns once the terminal has agreed."""
        finger = validate_finger_index(finger_index)
        if self._current is not None:
            raise EnrollmentBusy()
        user = await self._async_find_user(user_id)
        if self._current is not None:  # another request won the race while we read users
            raise EnrollmentBusy()
        self._current = enrollment = _Enrollment(user, finger)
        try:
            await self._async_begin(enrollment)
        except BaseException:
            self._current = None
            raise
        if self._current is not enrollment:  # unloaded, or the link broke, while it agreed
            raise TerminalUnavailable(error="the enrollment ended as it started")
        enrollment.started = True
        self._set_status(EnrollmentState.WAITING_PRESS_1, enrollment)
        self._arm_watchdog()
        return self.describe(user.user_id, finger)

    async def async_start_selected(self) -> dict[str, Any]:
        """Start what the dashboard's selects chose."""
        if self.selected_user_id is None:
            raise NoUserSelected()
        return await self.async_start(self.selected_user_id, self.selected_finger)

    def describe(self, user_id: str, finger: int) -> dict[str, Any]:
        """The ``data`` object of the REST answer and of the action's response."""
        return {
            "user_id": user_id,
            "device_id": self._device_id,
            "finger_index": finger,
            "finger_name": finger_name(finger),
        }

    async def _async_find_user(self, user_id: str) -> TerminalUser:
        if (user := self._users.known_users().get(user_id)) is not None:
            return user
        try:
            users = await self._users.async_refresh_users()
        except TerminalError as err:
            raise TerminalUnavailable(error=err) from err
        if (user := users.get(user_id)) is None:
            raise UserNotFound(user_id=user_id, device_id=self._device_id)
        return user

    async def _async_begin(self, enrollment: _Enrollment) -> None:
        user, finger = enrollment.user, enrollment.finger_index
        try:
            started = await self._channel.async_start_enrollment(user, terminal_finger(finger))
        except TerminalError as err:
            if self._channel.enrolling:  # it may wait for a finger although the answer was lost
                await self._async_restore()
            raise TerminalUnavailable(error=err) from err
        if not started:
            raise FingerAlreadyEnrolled(
                user_id=user.user_id, finger_index=finger, finger_name=finger_name(finger)
            )

    async def async_cancel(self) -> None:
        """Take the terminal out of enrollment mode (the cancel action).

        Sent whether or not Home Assistant runs an enrollment: a terminal left enrolling by
        another client, or across a restart, has no other way out. The one that was running
        ends as cancelled.
        """
        enrollment = self._claim()
        try:
            await self._async_release()
        finally:
            if enrollment is not None:
                self._report_end(enrollment, EnrollmentState.CANCELLED)

    async def async_shutdown(self) -> None:
        """Unloading or stopping: never leave the terminal waiting for a finger."""
        if (enrollment := self._claim()) is not None:
            await self._async_finish(enrollment, EnrollmentState.CANCELLED)
        if self._ending is not None:  # an enrollment that just ended: release before closing
            await self._ending

    @callback
    def on_event(self, event: ChannelEvent) -> None:
        """Follow the terminal through the presses to the result."""
        if (enrollment := self._current) is None:
            return
        if isinstance(event, ConnectionLost):
            self._end(EnrollmentState.FAILED)
        elif not enrollment.started:
            # Announced before the terminal agreed to this one: the end of the one before it
            # (a cancelled enrollment's result may come as the next one starts).
            return
        elif isinstance(event, FingerScored):
            self._on_press(enrollment, good=event.score >= GOOD_SCORE)
        elif isinstance(event, EnrollmentResult):
            self._end(self._outcome(enrollment, event))

    def _claim(self) -> _Enrollment | None:
        """Take the running enrollment; from now on nothing else can end it."""
        enrollment, self._current = self._current, None
        self._disarm_watchdog()
        return enrollment

    def _end(self, outcome: EnrollmentState) -> None:
        """End it now, so that later events are ignored; the terminal is restored after."""
        if (enrollment := self._claim()) is not None:
            self._ending = self._entry.async_create_task(
                self._hass, self._async_finish(enrollment, outcome)
            )

    def _on_press(self, enrollment: _Enrollment, *, good: bool) -> None:
        enrollment.presses += good
        enrollment.last_press_bad = not good
        self._fire(
            EVENT_ENROLLMENT_PRESS,
            enrollment,
            press=min(enrollment.presses + (0 if good else 1), PRESSES),
            quality="good" if good else "bad",
        )
        if enrollment.presses < PRESSES:
            self._set_status(WAITING_STATES[enrollment.presses], enrollment)
        self._arm_watchdog()

    @staticmethod
    def _outcome(enrollment: _Enrollment, event: EnrollmentResult) -> EnrollmentState:
        # A bad press does not count: the terminal asks for it again. When it then gives up
        # (the person walked away, or the samples did not merge), the bad press is the reason
        # worth telling, so they know to clean the finger or press flatter.
        if enrollment.last_press_bad and event.outcome in _GIVE_UPS:
            return EnrollmentState.BAD_QUALITY
        return _STATES[event.outcome]

    async def _async_finish(self, enrollment: _Enrollment, outcome: EnrollmentState) -> None:
        await self._async_restore()
        self._report_end(enrollment, outcome)

    def _report_end(self, enrollment: _Enrollment, outcome: EnrollmentState) -> None:
        if outcome is EnrollmentState.SUCCESS:
            self._on_enrolled()
        self._set_status(outcome, enrollment)
        self._fire(EVENT_ENROLLMENT_FINISHED, enrollment, result=str(outcome))
        LOGGER.debug("%s: enrollment ended: %s", self._entry.title, outcome)
        if outcome is EnrollmentState.SUCCESS:
            for listener in list(self._enrolled_listeners):
                listener(enrollment.user.user_id, enrollment.finger_index)

    async def _async_restore(self) -> None:
        """Out of enrollment mode and enabled; if the terminal is gone, as soon as it is back."""
        try:
            await self._async_release()
        except TerminalUnavailable as err:
            LOGGER.warning(
                "%s could not be re-enabled now (%s); it will be as soon as it answers",
                self._entry.title,
                err.__cause__,
            )

    async def _async_release(self) -> None:
        try:
            await self._channel.async_end_enrollment()
        except TerminalError as err:
            raise TerminalUnavailable(error=err) from err

    def _set_status(self, state: EnrollmentState, enrollment: _Enrollment) -> None:
        self.status = EnrollmentStatus(
            state, enrollment.user.user_id, enrollment.finger_index, enrollment.presses
        )
        for listener in list(self._listeners):
            listener()

    def _fire(self, event_type: str, enrollment: _Enrollment, **extra: Any) -> None:
        self._hass.bus.async_fire(
            event_type,
            {**self.describe(enrollment.user.user_id, enrollment.finger_index), **extra},
        )

    def _arm_watchdog(self) -> None:
        self._disarm_watchdog()
        self._watchdog = async_call_later(
            self._hass, self._channel.enrollment_timeout, self._on_watchdog
        )

    def _disarm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _on_watchdog(self, _now: object) -> None:
        self._watchdog = None
        LOGGER.warning("%s never reported the end of an enrollment", self._entry.title)
        self._end(EnrollmentState.TIMEOUT)
