"""Fingerprint enrollment: one implementation behind the action, the REST view and the button.

It is what the protocol documents (the vendor manual, zk-protocol) and pyzk's ``enroll_user`` do:
CMD_CANCELCAPTURE, then CMD_STARTENROLL. The terminal is not disabled (CMD_DISABLEDEVICE shields
its sensor, and the finger must be read): in enrollment mode it verifies nobody, so nobody can
punch until it leaves. Whatever happens next (success, a bad press, a duplicate finger, a timeout,
a cancel, a lost connection, the integration unloading or Home Assistant stopping) ends with the
terminal out of enrollment mode and enabled: people must never be locked out of their door.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from http import HTTPStatus
import json
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_call_later

from .const import (
    DOMAIN,
    EVENT_ENROLLMENT_FINISHED,
    EVENT_ENROLLMENT_PRESS,
    FINGER_INDEXES,
    FINGER_NAMES_ES,
    LOGGER,
)
from .pull.terminal import (
    EnrollmentResult,
    FingerScored,
    TerminalError,
    TerminalUser,
    ZKTerminal,
)
from .pull.worker import ConnectionLost, WorkerEvent

if TYPE_CHECKING:
    from .coordinator import ZKTecoCoordinator

PRESSES: Final = 3
GOOD_SCORE: Final = 100
# Longer than the terminal's own wait for a press, so the terminal normally reports the timeout;
# this only ends an enrollment whose end the terminal never announced.
PRESS_TIMEOUT: Final = timedelta(seconds=75)


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


WAITING_STATES: Final = (
    EnrollmentState.WAITING_PRESS_1,
    EnrollmentState.WAITING_PRESS_2,
    EnrollmentState.WAITING_PRESS_3,
)

# Result codes of EF_ENROLLFINGER, as the firmware reports them.
_RESULTS: Final = {0: EnrollmentState.SUCCESS, 5: EnrollmentState.DUPLICATE}
_RESULT_TIMEOUT_OR_CANCEL: Final = 6


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


def validate_finger_index(value: object) -> int:
    """An integer from 0 to 9; booleans and strings are refused."""
    if type(value) is not int or value not in FINGER_INDEXES:
        # Shown as JSON (true, "1"), the way REST clients and YAML wrote it.
        raise InvalidEnrollmentInput(value=json.dumps(value, default=str))
    return value


@dataclass(slots=True)
class _Enrollment:
    user: TerminalUser
    finger_index: int
    presses: int = 0
    last_press_bad: bool = False
    started: bool = False  # the terminal agreed to it


class EnrollmentManager:
    """Runs at most one enrollment at a time on one terminal."""

    def __init__(self, hass: HomeAssistant, coordinator: ZKTecoCoordinator) -> None:
        self._hass = hass
        self._coordinator = coordinator
        self._current: _Enrollment | None = None
        self._watchdog: CALLBACK_TYPE | None = None
        # The end of the last enrollment, which releases the terminal: awaited on shutdown.
        self._ending: asyncio.Task[None] | None = None
        self.status = EnrollmentStatus(EnrollmentState.IDLE)
        # What the dashboard's selects chose for its button.
        self.selected_user_id: str | None = None
        self.selected_finger = 1

    @property
    def active(self) -> bool:
        return self._current is not None

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
            "device_id": self._coordinator.device_id,
            "finger_index": finger,
            "finger_name": finger_name(finger),
        }

    async def _async_find_user(self, user_id: str) -> TerminalUser:
        data = self._coordinator.data
        if data is not None and (user := data.users.get(user_id)) is not None:
            return user
        try:
            users = await self._coordinator.async_refresh_users()
        except TerminalError as err:
            raise TerminalUnavailable(error=err) from err
        if (user := users.get(user_id)) is None:
            raise UserNotFound(user_id=user_id, device_id=self._coordinator.device_id)
        return user

    async def _async_begin(self, enrollment: _Enrollment) -> None:
        user, finger = enrollment.user, enrollment.finger_index
        worker = self._coordinator.worker
        asked_to_enroll = False

        # Safe to run again on a new session (the worker does when the old one turns out lost):
        # start_enrollment first cancels whatever enrollment the lost session may have left, and
        # nothing has been reported to the caller yet.
        def begin(terminal: ZKTerminal) -> bool:
            nonlocal asked_to_enroll
            if terminal.has_template(user.uid, finger):
                return False
            asked_to_enroll = True
            worker.release_on_reconnect()
            terminal.start_enrollment(user.user_id, finger)
            return True

        try:
            started = await worker.async_run(begin)
        except TerminalError as err:
            if asked_to_enroll:  # it may be waiting for a finger although the answer was lost
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
    def on_event(self, event: WorkerEvent) -> None:
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
            self._ending = self._coordinator.config_entry.async_create_task(
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
        if event.result in _RESULTS:
            return _RESULTS[event.result]
        # A bad press does not count: the terminal asks for it again. When it then gives up
        # (the person walked away, or the samples did not merge), the bad press is the reason
        # worth telling, so they know to clean the finger or press flatter.
        if enrollment.last_press_bad:
            return EnrollmentState.BAD_QUALITY
        # The terminal reports a timeout and a cancel on its keypad with the same code.
        if event.result == _RESULT_TIMEOUT_OR_CANCEL:
            return EnrollmentState.TIMEOUT
        return EnrollmentState.FAILED

    async def _async_finish(self, enrollment: _Enrollment, outcome: EnrollmentState) -> None:
        await self._async_restore()
        self._report_end(enrollment, outcome)

    def _report_end(self, enrollment: _Enrollment, outcome: EnrollmentState) -> None:
        if outcome is EnrollmentState.SUCCESS:
            self._count_new_finger()
        self._set_status(outcome, enrollment)
        self._fire(EVENT_ENROLLMENT_FINISHED, enrollment, result=str(outcome))
        LOGGER.debug("%s: enrollment ended: %s", self._coordinator.name, outcome)

    async def _async_restore(self) -> None:
        """Out of enrollment mode and enabled; if the terminal is gone, as soon as it is back."""
        try:
            await self._async_release()
        except TerminalUnavailable as err:
            LOGGER.warning(
                "%s could not be re-enabled now (%s); it will be as soon as it answers",
                self._coordinator.name,
                err.__cause__,
            )

    async def _async_release(self) -> None:
        try:
            await self._coordinator.worker.async_release()
        except TerminalError as err:
            raise TerminalUnavailable(error=err) from err

    def _count_new_finger(self) -> None:
        if (data := self._coordinator.data) is not None:
            counters = replace(data.counters, fingers=data.counters.fingers + 1)
            self._coordinator.async_publish(counters=counters)

    def _set_status(self, state: EnrollmentState, enrollment: _Enrollment) -> None:
        self.status = EnrollmentStatus(
            state, enrollment.user.user_id, enrollment.finger_index, enrollment.presses
        )
        self._coordinator.async_publish(enrollment=self.status)

    def _fire(self, event_type: str, enrollment: _Enrollment, **extra: Any) -> None:
        self._hass.bus.async_fire(
            event_type,
            {**self.describe(enrollment.user.user_id, enrollment.finger_index), **extra},
        )

    def _arm_watchdog(self) -> None:
        self._disarm_watchdog()
        self._watchdog = async_call_later(self._hass, PRESS_TIMEOUT, self._on_watchdog)

    def _disarm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _on_watchdog(self, _now: object) -> None:
        self._watchdog = None
        LOGGER.warning("%s never reported the end of an enrollment", self._coordinator.name)
        self._end(EnrollmentState.TIMEOUT)
