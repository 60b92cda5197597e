"""The enrollment of a finger on a Push terminal: its one `ENROLL_FP`, queued to confirmed (§1.9).

Sections (§) are those of shared/reference/push-protocol.md.

``async_start`` queues ``ENROLL_FP`` (OVERWRITE=0) and answers True once a poll has taken it,
within the bound the channel gives (its ``enroll_delivery_timeout``); if no poll takes it by
then, it is withdrawn and the answer is False. It is never sent again. The ``devicecmd`` result
becomes an ``EnrollmentResult``; ``Return=0`` is success only once the template upload for that
PIN and FID arrives (``FP`` on OPERLOG, ``BIODATA`` type 1 or ``OPLOG 6``: the channel passes it
to ``finger_uploaded``), before or after it, within ``CONFIRM_TIMEOUT`` (60 s) of the result:
without it, the enrollment failed (a public source saw ``Return=0`` leave no usable finger). A
Push terminal reports no presses: there are no ``FingerScored`` events. ``async_withdraw``
withdraws an ``ENROLL_FP`` not yet taken; once taken, no command stops the capture screen: the
terminal ends it by itself (its result then ends the enrollment). A result that never comes ends
it after the queue's ``UNANSWERED_TIMEOUT``. ``ENROLL_`` commands still queued from before a
restart are withdrawn at load (``async_withdraw_queued``): nobody waits at the terminal for them
any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from ..channel import EnrollmentOutcome, EnrollmentResult
from . import commands
from .queue import CommandQueue, CommandState, FinishedCommand
from .uploads import Outcome

CONFIRM_TIMEOUT: Final = timedelta(seconds=60)
_ENROLL_PREFIX: Final = "ENROLL_"

_OUTCOMES: Final = {
    Outcome.SUCCESS: EnrollmentOutcome.SUCCESS,
    Outcome.ALREADY_ENROLLED: EnrollmentOutcome.ALREADY_ENROLLED,
    Outcome.CAPTURE_FAILED: EnrollmentOutcome.CAPTURE_FAILED,
    Outcome.DUPLICATE_FINGER: EnrollmentOutcome.DUPLICATE,
    # 6 is "cancelled"; a finger's timeout presumably has the same code (§1.8).
    Outcome.CANCELLED: EnrollmentOutcome.TIMEOUT_OR_CANCELLED,
    Outcome.TIMEOUT: EnrollmentOutcome.TIMEOUT_OR_CANCELLED,
    Outcome.BUSY: EnrollmentOutcome.BUSY,
    Outcome.USER_NOT_FOUND: EnrollmentOutcome.USER_NOT_FOUND,
    Outcome.NOT_SUPPORTED: EnrollmentOutcome.NOT_SUPPORTED,
}


@dataclass(slots=True)
class _Enrollment:
    command_id: str
    user_id: str
    finger: int
    answered: bool = False
    confirmed: bool = False
    template_size: int = 0


class EnrollmentTracker:
    """The terminal's enrollment in flight; `on_end` hears how it ended."""

    def __init__(
        self,
        hass: HomeAssistant,
        queue: CommandQueue,
        on_end: Callable[[EnrollmentResult], None],
    ) -> None:
        self._hass = hass
        self._queue = queue
        self._on_end = on_end
        self._enrollment: _Enrollment | None = None
        self._confirm_timer: CALLBACK_TYPE | None = None

    @property
    def active(self) -> bool:
        return self._enrollment is not None

    async def async_withdraw_queued(self) -> None:
        """Withdraw the enrollments still queued from before a restart."""
        for command in self._queue.pending:
            if command.command.startswith(_ENROLL_PREFIX):
                await self._queue.async_cancel(command.command_id)

    async def async_start(self, user_id: str, finger: int, *, within: timedelta) -> bool:
        """Queue `ENROLL_FP`: True once a poll took it `within` the bound, else withdrawn."""
        command_id = await self._queue.async_add(commands.enroll_fp(user_id, finger))
        self._enrollment = enrollment = _Enrollment(command_id, user_id, finger)
        if await self._async_delivered(command_id, within):
            return True
        if self._enrollment is enrollment:
            self._enrollment = None
        return False

    async def async_withdraw(self) -> None:
        """Withdraw an enrollment not taken yet; a capture screen on show ends by itself."""
        if (enrollment := self._enrollment) is not None:
            await self._queue.async_cancel(enrollment.command_id)

    async def _async_delivered(self, command_id: str, within: timedelta) -> bool:
        try:
            async with asyncio.timeout(within.total_seconds()):
                return await self._queue.async_wait_delivered(command_id)
        except TimeoutError:
            enrollment, self._enrollment = self._enrollment, None
            if await self._queue.async_cancel(command_id):
                return False
            self._enrollment = enrollment  # a poll took it as time ran out
            return True

    @callback
    def command_finished(self, end: FinishedCommand) -> None:
        """A command ended; the enrollment's own ends it, or waits for the template."""
        enrollment = self._enrollment
        if enrollment is None or end.command_id != enrollment.command_id:
            return
        if end.result is None:
            cancelled = end.state is CommandState.CANCELLED
            self._finish(
                EnrollmentOutcome.CANCELLED if cancelled else EnrollmentOutcome.TIMEOUT_OR_CANCELLED
            )
            return
        outcome = _OUTCOMES.get(end.result.outcome, EnrollmentOutcome.FAILED)
        if outcome is EnrollmentOutcome.SUCCESS and not enrollment.confirmed:
            enrollment.answered = True  # the template upload confirms it
            self._confirm_timer = async_call_later(
                self._hass, CONFIRM_TIMEOUT, self._on_unconfirmed
            )
            return
        self._finish(outcome)

    def finger_uploaded(self, user_id: str, finger: int, size: int | None) -> None:
        """The terminal uploaded a finger's template (its size): the enrolled one confirms."""
        enrollment = self._enrollment
        if enrollment is None or (enrollment.user_id, enrollment.finger) != (user_id, finger):
            return
        enrollment.confirmed = True
        enrollment.template_size = size or enrollment.template_size
        if enrollment.answered:
            self._finish(EnrollmentOutcome.SUCCESS)

    def stop(self) -> None:
        """Stop waiting for a template (the channel stops)."""
        if self._confirm_timer is not None:
            self._confirm_timer()
            self._confirm_timer = None

    @callback
    def _on_unconfirmed(self, _now: datetime) -> None:
        self._confirm_timer = None
        self._finish(EnrollmentOutcome.FAILED)

    def _finish(self, outcome: EnrollmentOutcome) -> None:
        enrollment, self._enrollment = self._enrollment, None
        self.stop()
        if enrollment is not None:
            self._on_end(EnrollmentResult(outcome, enrollment.template_size))
