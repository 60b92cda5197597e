"""What Home Assistant sends to a terminal over Attendance PUSH 2.x: answers and commands.

Pure text out; no Home Assistant and no I/O. Strict in what it sends (what a terminal sends is
read by uploads.py). Sections (§) are those of our reference, shared/reference/push-protocol.md,
whose pitfalls (P1-P20) and sources each quirk handled here comes from:

- The handshake answer (§1.3, §5): both stamp spellings (ZKTeco's own C# demo,
  MohammadNasirAriaee/ZKPushSdk: Attendance/ListenClient.cs), stamps never `0` (0 asks for a
  re-upload of everything, [ATT-CN] §6), TransFlag in the tabbed format 2 with EnrollFP and
  EnrollUser on (P9), TimeZone in hours, or in minutes when not whole hours (P10; saifulcoder
  issue #14), `Realtime=1`, `Encrypt=0`, `PushOptionsFlag`/`PushOptions` so the terminal posts
  its counts, and `MultiBioDataSupport` naming fingerprints (§1.3; the C# demo sends it too).
- Commands are `C:<id>:<command>` with ids of at most 16 letters or digits (§1.6); a user update
  is the whole record (P13; zf0916/hr-system: SPEC.md §11); only `DATA UPDATE/DELETE USERINFO`
  work on real devices (s0x90/zkteco-adms: datasheet/ADMS.md); a value holding a tab, CR, LF or
  any other control character would split a field or a command and is refused (P12, §1.11).
- Finger numbers are the terminal's FID (0 = left little ... 9 = right little, §0 item 7),
  produced as they are: mapping the API's numbering is not done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
import re
import secrets
from typing import Final

from .uploads import MAX_USER_ID_LENGTH, SERIAL_PATTERN, STAMP_PATTERN, breaks_a_line, is_text

OK: Final = "OK"
COMMAND_ID_MAX_LENGTH: Final = 16
# Observed on a SenseFace 4A and accepted (zf0916/hr-system: SPEC.md §12); never 0 (see above).
DEFAULT_STAMP: Final = "9999"
DEFAULT_DELAY: Final = 5
DEFAULT_ERROR_DELAY: Final = 30
DEFAULT_TRANS_TIMES: Final = "00:00;14:05"
PUSH_PROTOCOL_VERSION: Final = "2.4.1"
TRANS_FLAG: Final = "TransData AttLog\tOpLog\tEnrollUser\tChgUser\tEnrollFP\tChgFP"
# Bio types 0-9, fingerprints (1) only: unified-template firmware uploads the types named here.
MULTI_BIO_DATA_SUPPORT: Final = "0:1:0:0:0:0:0:0:0:0"
PUSH_OPTIONS: Final = (
    "FWVersion,UserCount,FPCount,TransactionCount,MaxUserCount,MaxFingerCount,MaxAttLogCount,"
    "FingerFunOn,FPVersion"
)

_COMMAND_ID = re.compile(rf"[0-9A-Za-z]{{1,{COMMAND_ID_MAX_LENGTH}}}")
_PIN = re.compile(rf"[0-9A-Za-z]{{1,{MAX_USER_ID_LENGTH}}}")
_DIGITS = re.compile(r"[0-9]*")
_TRANS_TIMES = re.compile(r"[0-9]{1,2}:[0-9]{2}(;[0-9]{1,2}:[0-9]{2}){0,9}")
_PRIVILEGES: Final = frozenset({0, 2, 6, 14})


class Command(StrEnum):
    """Commands without parameters."""

    CHECK = "CHECK"
    INFO = "INFO"
    REBOOT = "REBOOT"
    CLEAR_LOG = "CLEAR LOG"


def acknowledge(count: int) -> str:
    """The answer to an ATTLOG, OPERLOG or BIODATA upload: `OK: <n>`."""
    if count < 0:
        raise ValueError("count must not be negative")
    return f"OK: {count}"


def timezone_option(utc_offset: timedelta) -> str:
    """`TimeZone`: hours when whole and within ±12, otherwise minutes (P10)."""
    minutes, rest = divmod(utc_offset, timedelta(minutes=1))
    if rest:
        raise ValueError("a UTC offset is whole minutes")
    hours, part = divmod(minutes, 60)
    return str(hours) if not part and -12 < hours < 12 else str(minutes)


def handshake_answer(
    serial: str,
    *,
    utc_offset: timedelta,
    delay: int = DEFAULT_DELAY,
    error_delay: int = DEFAULT_ERROR_DELAY,
    trans_interval: int = 1,
    trans_times: str = DEFAULT_TRANS_TIMES,
    attlog_stamp: str = DEFAULT_STAMP,
    operlog_stamp: str = DEFAULT_STAMP,
    photo_stamp: str = DEFAULT_STAMP,
) -> str:
    """The answer to `GET /iclock/cdata?options=all`: `GET OPTION FROM: <SN>` and the options."""
    _check(SERIAL_PATTERN, serial, "serial number")
    for stamp in (attlog_stamp, operlog_stamp, photo_stamp):
        _check(STAMP_PATTERN, stamp, "stamp")
    _check(_TRANS_TIMES, trans_times, "TransTimes")
    for seconds in (delay, error_delay):
        if not 1 <= seconds <= 3600:
            raise ValueError("delays are 1 to 3600 seconds")
    if not 0 <= trans_interval <= 1440:
        raise ValueError("TransInterval is 0 to 1440 minutes")
    options = {
        "ATTLOGStamp": attlog_stamp,
        "Stamp": attlog_stamp,
        "OPERLOGStamp": operlog_stamp,
        "OpStamp": operlog_stamp,
        "ATTPHOTOStamp": photo_stamp,
        "PhotoStamp": photo_stamp,
        "ErrorDelay": str(error_delay),
        "Delay": str(delay),
        "TransTimes": trans_times,
        "TransInterval": str(trans_interval),
        "TransFlag": TRANS_FLAG,
        "TimeZone": timezone_option(utc_offset),
        "Realtime": "1",
        "Encrypt": "0",
        "ServerVer": PUSH_PROTOCOL_VERSION,
        "PushProtVer": PUSH_PROTOCOL_VERSION,
        "PushOptionsFlag": "1",
        "PushOptions": PUSH_OPTIONS,
        "MultiBioDataSupport": MULTI_BIO_DATA_SUPPORT,
    }
    lines = [f"GET OPTION FROM: {serial}", *(f"{key}={value}" for key, value in options.items())]
    return "\n".join(lines) + "\n"


def _check(pattern: re.Pattern[str], value: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} not allowed on the wire")


def _value(value: str, what: str) -> str:
    """A value for a command field: anything that could split a field or a line is refused."""
    if not is_text(value):
        raise ValueError(f"{what} holds a control character or is too long")
    return value


def _fields_text(**fields: str) -> str:
    return "\t".join(f"{key}={value}" for key, value in fields.items())


def new_command_id() -> str:
    """A fresh command id: 16 hex digits, unique without a counter to persist."""
    return secrets.token_hex(COMMAND_ID_MAX_LENGTH // 2)


def command_line(command_id: str, command: str) -> str:
    """`C:<id>:<command>`, one line of a `getrequest` answer."""
    _check(_COMMAND_ID, command_id, "command id")
    if not command or breaks_a_line(command.replace("\t", "")):
        raise ValueError("a command is one line")
    return f"C:{command_id}:{command}"


def poll_answer(lines: Sequence[str]) -> str:
    """The answer to `getrequest`: the command lines, or `OK` when none is queued."""
    return "\n".join(lines) + "\n" if lines else OK


def enroll_fp(user_id: str, finger: int, *, retry: int = 3, overwrite: bool = False) -> str:
    """`ENROLL_FP`: the terminal asks the user for three presses of finger FID `finger`."""
    if not 0 <= finger <= 9:
        raise ValueError("a finger (FID) is 0 to 9")
    if not 0 <= retry <= 9:
        raise ValueError("retries are 0 to 9")
    fields = _fields_text(
        PIN=_pin(user_id), FID=str(finger), RETRY=str(retry), OVERWRITE=str(int(overwrite))
    )
    return f"ENROLL_FP {fields}"


def update_user(
    user_id: str,
    *,
    name: str = "",
    privilege: int = 0,
    password: str = "",
    card: str = "",
    group: int = 1,
) -> str:
    """`DATA UPDATE USERINFO` with the whole record: a partial one wipes the rest (P13)."""
    if privilege not in _PRIVILEGES:
        raise ValueError("privilege is 0, 2, 6 or 14")
    if not 1 <= group <= 99:
        raise ValueError("group is 1 to 99")
    _check(_DIGITS, card, "card")
    fields = _fields_text(
        PIN=_pin(user_id),
        Name=_value(name, "name"),
        Pri=str(privilege),
        Passwd=_value(password, "password"),
        Card=card,
        Grp=str(group),
        TZ="0000000100000000",
        Verify="-1",
        ViceCard="",
    )
    return f"DATA UPDATE USERINFO {fields}"


def delete_user(user_id: str) -> str:
    """`DATA DELETE USERINFO`: the user and all their templates go (P13)."""
    return f"DATA DELETE USERINFO PIN={_pin(user_id)}"


def delete_fingerprint(user_id: str, finger: int) -> str:
    """`DATA DELETE FINGERTMP` of one finger (the terminal's own number, FID)."""
    if finger not in range(10):
        raise ValueError("FID is 0 to 9")
    return f"DATA DELETE FINGERTMP {_fields_text(PIN=_pin(user_id), FID=str(finger))}"


def _pin(user_id: str) -> str:
    _check(_PIN, user_id, "user id")
    return user_id
