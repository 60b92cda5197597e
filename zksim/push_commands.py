"""What a simulated Push K40 does with the commands ``getrequest`` hands it.

``PushCommands`` parses the ``C:<id>:<command>`` lines of a poll's answer and executes each
against the ``Terminal``; ``PushTerminal`` posts the ``CommandResult``s (``ID=..&Return=..&CMD=..``
and the lines that follow) and carries out the ``Effect`` a command asks of its push loop.
Section numbers below are those of ``shared/reference/push-protocol.md`` and its sources.

Faithful to the reference:

- commands (§1.6, §1.8, §1.9): ``DATA UPDATE USERINFO`` (a full record: fields left out are
  reset, §4 pitfall 13), ``DATA DELETE USERINFO`` (templates go too), ``DATA UPDATE
  FINGERTMP`` (-9 when Size is not the base64 length, -11 for bad base64), ``DATA DELETE
  FINGERTMP`` (one FID or all), ``CHECK`` (handshake again, stamps decide what is re-sent),
  ``INFO`` (result line then ``Key=Value`` lines), ``REBOOT`` (result first), ``CLEAR LOG``
  (``CMD=CLEAR_LOG``), ``CLEAR DATA`` (users, templates and log), ``LOG``; anything else
  ``Return=-1002``; FID is the terminal's own finger slot;
- ``ENROLL_FP PIN=\\tFID=\\tRETRY=\\tOVERWRITE=`` waits for presses (``terminal.press_finger``)
  and answers 0 enrolled, 2 finger exists and OVERWRITE=0, 4 presses that do not merge or more
  than RETRY bad presses, 5 duplicate of another user, 6 cancelled or timed out, 7 busy, -10 PIN
  not on the terminal, -1 bad FID, -1001 templates full; on success ``PushTerminal`` uploads
  ``OPLOG 6`` and the ``FP`` template on OPERLOG (see its docstring).

Simplified or assumed (nothing here was seen on a K40):

- the terminal keeps polling while it waits for enrollment presses; ``RETRY`` is read as the
  number of bad presses tolerated; ``OVERWRITE=1`` drops the old template before capture;
- ``DATA DELETE USERINFO`` of an unknown PIN answers -10; PINs longer than 9 characters -1.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum, auto
import re
import struct

from . import protocol as p
from .terminal import FINGER_INDEXES, Terminal

PUSH_SESSION = -1  # the Push channel's enrollment session: no pull session has this id
PIN_WIDTH = 9  # the K40 reports ~PIN2Width=9 (pyzk issue 252)
RETURN_OK = 0
RETURN_BAD_PARAMETER = -1
RETURN_TEMPLATE_SIZE = -9
RETURN_NO_USER = -10
RETURN_TEMPLATE_FORMAT = -11
RETURN_CAPACITY = -1001
RETURN_NOT_SUPPORTED = -1002
ENROLL_RESULTS = {p.ENROLL_SAVE_ERROR: RETURN_CAPACITY}  # else the codes match the pull ones
COMMAND_LINE = re.compile(r"C:([^:]+):(.+)$")


class Effect(Enum):
    """What a command asks of the push loop besides its result."""

    NONE = auto()
    HANDSHAKE = auto()  # CHECK: re-read the options; the stamps say what to send again
    REBOOT = auto()  # after the result went out
    RESEND_ATTLOG = auto()  # the log was cleared: count punches from the start
    UPLOAD = auto()  # LOG: post what waits for TransInterval/TransTimes now


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A command taken from getrequest, its result and whether the server acknowledged it."""

    command_id: str
    command: str
    cmd: str
    code: int
    details: tuple[str, ...] = ()
    acknowledged: bool = False

    @property
    def lines(self) -> list[str]:
        return [f"ID={self.command_id}&Return={self.code}&CMD={self.cmd}", *self.details]


@dataclass(frozen=True, slots=True)
class Executed:
    """A command's result (None: it comes later, as ENROLL_FP's) and its effect."""

    result: CommandResult | None
    effect: Effect = Effect.NONE


@dataclass(slots=True)
class PushEnrollment:
    """The ENROLL_FP in flight."""

    command_id: str
    command: str
    pin: str
    finger_index: int
    retry: int
    bad_presses: int = 0

    @property
    def retries_exhausted(self) -> bool:
        return self.bad_presses > self.retry


# A command's Return code, the Key=Value lines after its result line and its effect.
_Outcome = tuple[int, tuple[str, ...], Effect]
# (command id, command, its arguments) -> outcome, or None when the result comes later.
_Handler = Callable[[str, str, str], _Outcome | None]


def parse_params(text: str) -> dict[str, str]:
    """``PIN=1\\tName=Ana`` -> {"PIN": "1", "NAME": "Ana"} (keys upper-cased: Pin/PIN)."""
    pairs = (item.partition("=") for item in text.split("\t") if item)
    return {key.strip().upper(): value for key, _, value in pairs}


def parse_command_lines(reply: str) -> Iterator[tuple[str, str]]:
    """(command id, command) of each ``C:<id>:<command>`` line of a getrequest answer."""
    for line in reply.replace("\r\n", "\n").split("\n"):
        if match := COMMAND_LINE.match(line.strip()):
            yield match.group(1), match.group(2)


def _done(code: int, details: tuple[str, ...] = (), effect: Effect = Effect.NONE) -> _Outcome:
    return code, details, effect


class PushCommands:
    """Executes commands against ``terminal``; ``device_info`` is what INFO reports."""

    def __init__(self, terminal: Terminal, device_info: Callable[[], dict[str, str]]) -> None:
        self.terminal = terminal
        self.device_info = device_info
        self.enrollment: PushEnrollment | None = None

    def execute(self, command_id: str, command: str) -> Executed:
        for prefix, cmd, handler in self._handlers():
            if command == prefix or command.startswith(prefix + " "):
                outcome = handler(command_id, command, command.removeprefix(prefix).strip())
                if outcome is None:
                    return Executed(None)
                code, details, effect = outcome
                return Executed(CommandResult(command_id, command, cmd, code, details), effect)
        cmd = command.split(" ", 1)[0]
        return Executed(CommandResult(command_id, command, cmd, RETURN_NOT_SUPPORTED))

    def on_event(
        self, event: int, payload: bytes, target: int | None
    ) -> tuple[PushEnrollment, CommandResult] | None:
        """A terminal event (its lock held); the enrollment and its result when it ended."""
        enrollment = self.enrollment
        if target != PUSH_SESSION or enrollment is None:
            return None
        if event == p.EF_FPFTR and payload == bytes((p.SCORE_BAD,)):
            enrollment.bad_presses += 1
        elif event == p.EF_ENROLLFINGER:
            self.enrollment = None
            result = struct.unpack_from("<H", payload)[0]
            if result == p.ENROLL_CANCELLED and enrollment.retries_exhausted:
                result = p.ENROLL_FAILED
            code = ENROLL_RESULTS.get(result, result)
            return enrollment, CommandResult(
                enrollment.command_id, enrollment.command, "ENROLL_FP", code
            )
        return None

    def _handlers(self) -> tuple[tuple[str, str, _Handler], ...]:
        """(command prefix, what CMD= echoes, handler), in the order prefixes are tried."""
        return (
            ("DATA UPDATE USERINFO", "DATA", self._update_user),
            ("DATA DELETE USERINFO", "DATA", self._delete_user),
            ("DATA UPDATE FINGERTMP", "DATA", self._write_template),
            ("DATA DELETE FINGERTMP", "DATA", self._delete_templates),
            ("ENROLL_FP", "ENROLL_FP", self._enroll_finger),
            ("CHECK", "CHECK", lambda *_: _done(RETURN_OK, effect=Effect.HANDSHAKE)),
            ("INFO", "INFO", self._info),
            ("REBOOT", "REBOOT", lambda *_: _done(RETURN_OK, effect=Effect.REBOOT)),
            ("CLEAR LOG", "CLEAR_LOG", self._clear_log),
            ("CLEAR DATA", "CLEAR_DATA", self._clear_data),
            ("LOG", "LOG", lambda *_: _done(RETURN_OK, effect=Effect.UPLOAD)),
        )

    def _update_user(self, _id: str, _command: str, args: str) -> _Outcome:
        params = parse_params(args)
        pin = params.get("PIN", "")
        if not pin or len(pin) > PIN_WIDTH:
            return _done(RETURN_BAD_PARAMETER)
        try:
            privilege = int(params.get("PRI") or 0)
            card = int(params.get("CARD") or 0)
        except ValueError:
            return _done(RETURN_BAD_PARAMETER)
        self.terminal.add_user(
            pin, params.get("NAME", ""), privilege, params.get("PASSWD", ""), card
        )
        stored = self.terminal.user_by_id(pin) is not None
        return _done(RETURN_OK if stored else RETURN_CAPACITY)

    def _delete_user(self, _id: str, _command: str, args: str) -> _Outcome:
        deleted = self.terminal.delete_user(parse_params(args).get("PIN", ""))
        return _done(RETURN_OK if deleted else RETURN_NO_USER)

    def _write_template(self, _id: str, _command: str, args: str) -> _Outcome:
        """FP template of algorithm 10 in base64; Size is the length of that text."""
        params = parse_params(args)
        user = self.terminal.user_by_id(params.get("PIN", ""))
        finger = params.get("FID", "")
        tmp = params.get("TMP", "")
        if not (finger.isdigit() and int(finger) in FINGER_INDEXES):
            return _done(RETURN_BAD_PARAMETER)
        if user is None:
            return _done(RETURN_NO_USER)
        if params.get("SIZE") != str(len(tmp)):
            return _done(RETURN_TEMPLATE_SIZE)
        try:
            template = base64.b64decode(tmp, validate=True)
        except binascii.Error:
            return _done(RETURN_TEMPLATE_FORMAT)
        self.terminal.add_template(user.user_id, int(finger), template)
        return _done(RETURN_OK)

    def _delete_templates(self, _id: str, _command: str, args: str) -> _Outcome:
        """One finger with FID, else all of the user's."""
        params = parse_params(args)
        user = self.terminal.user_by_id(params.get("PIN", ""))
        if user is None:
            return _done(RETURN_NO_USER)
        fingers = [int(params["FID"])] if params.get("FID", "").isdigit() else FINGER_INDEXES
        for finger in fingers:
            self.terminal.delete_template(user.uid, finger)
        return _done(RETURN_OK)

    def _enroll_finger(self, command_id: str, command: str, args: str) -> _Outcome | None:
        """Start capturing; the result comes with the event that ends the presses."""
        params = parse_params(args)
        pin = params.get("PIN", "")
        try:
            finger = int(params.get("FID", ""))
            retry = int(params.get("RETRY") or 3)
        except ValueError:
            return _done(RETURN_BAD_PARAMETER)
        user = self.terminal.user_by_id(pin)
        if finger not in FINGER_INDEXES:
            return _done(RETURN_BAD_PARAMETER)
        if user is None:
            return _done(RETURN_NO_USER)
        if self.enrollment is not None or self.terminal.enrolling:
            return _done(p.ENROLL_BUSY)
        if self.terminal.has_template(pin, finger):
            if params.get("OVERWRITE") != "1":
                return _done(p.ENROLL_ALREADY_ENROLLED)
            self.terminal.delete_template(user.uid, finger)
        self.enrollment = PushEnrollment(command_id, command, pin, finger, retry)
        if not self.terminal.start_enrollment(PUSH_SESSION, pin, finger):
            self.enrollment = None
            return _done(p.ENROLL_BUSY)
        return None

    def _info(self, _id: str, _command: str, _args: str) -> _Outcome:
        return _done(
            RETURN_OK, tuple(f"{key}={value}" for key, value in self.device_info().items())
        )

    def _clear_log(self, _id: str, _command: str, _args: str) -> _Outcome:
        self.terminal.clear_attendance()
        return _done(RETURN_OK, effect=Effect.RESEND_ATTLOG)

    def _clear_data(self, _id: str, _command: str, _args: str) -> _Outcome:
        self.terminal.clear_all_data()
        return _done(RETURN_OK, effect=Effect.RESEND_ATTLOG)
