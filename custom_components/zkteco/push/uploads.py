"""What a terminal sends over Attendance PUSH 2.x, and how it is read.

Pure text in, records out; no Home Assistant and no I/O. Liberal in what it accepts (what Home
Assistant sends back is commands.py). Sections (§) are those of our reference,
shared/reference/push-protocol.md, whose pitfalls (P1-P20) and sources each quirk handled here
comes from:

- Query keys vary in case (P8; zf0916/hr-system: app/routes_iclock.py matches them
  case-insensitively); the cursor is `Stamp` or `ATTLOGStamp` on ATTLOG, `OpStamp`,
  `OPERLOGStamp` or `Stamp` on OPERLOG (§1.3, §1.5; zf0916/hr-system: SPEC.md §12 saw `OpStamp`).
- Records are tab-separated lines, LF or CRLF, some with a trailing tab (§1.2, P7; SenseFace 4A
  in zf0916/hr-system: SPEC.md §12); documents render the tabs as spaces, so a line without tabs
  is split on spaces, keeping the date and the time of day together.
- ATTLOG width varies (7 fields in [ATT-CN], 10 and a trailing tab on a SenseFace, a uid-first
  form): the punch is found by its date-time column, the user id being the field before it
  (§1.5). The keyed form `PIN=..\tDateTime=..\tVerified=..\tStatus=..` is read too (§1.5;
  s0x90/zkteco-adms: datasheet/ADMS.md). Status 255 means "no punch-state key" (§1.5).
- Which lines `OK: <n>` counts (P1, §0 item 4): every line that is not blank, parsed or not. The
  terminal forgets what is acknowledged and re-sends what is not, forever (UpGoTech/timebridge:
  220 re-sent batches), and a malformed line does not mend by being re-sent; so the caller stores
  the body durably first and then acknowledges all of it, as zf0916/hr-system (app/routes_iclock.py,
  `count_lines`) counts on bytes, independently of the parser.
- OPERLOG mixes `OPLOG`, `USER`, `FP`, `FACE`, `USERPIC`... lines; BIODATA bodies hold `BIODATA`
  lines (§1.5). Keys are compared case-insensitively and without `_` or `~` (`PIN`/`Pin`,
  `TMP`/`Tmp`, `SIZE`/`Size`, `MAJOR_VER`/`MajorVer`; P8, iug-attendance-pro:
  zkpro/adms/protocol.py). Templates and photos are never kept, only their size (house rule);
  a password is never kept.
- Names are UTF-8, or GB2312/GBK when the terminal's language is Chinese (§1.11, P11; [ATT-CN]
  §2.1): UTF-8 is tried first, GBK second.
- `table=options` bodies are `Key=Value` separated by commas or newlines, keys sometimes with a
  `~`, values sometimes with commas (`~OEMVendor=ZKTECO CO., LTD.`; §1.4, kittiu/thai_zkt
  re-joins fragments without `=`). The first poll's `INFO=` is positional (§1.4, [ATT-CN] §10).
  Counts and capacities are taken as given (zf0916/hr-system: SPEC.md §9 A34 doubts that a
  SenseFace's `~MaxAttLogCount=20` is a capacity).
- `devicecmd` bodies hold one `ID=..&Return=..&CMD=..` per line, batched (s0x90/zkteco-adms:
  datasheet/ADMS.md), sometimes `return=` in lower case (3.x, [SEC-CN] §10.4), `INFO` followed by
  `Key=Value` lines and `Shell` split over several lines (§1.7).
- Result codes (§1.8): the general table of [ATT-CN] appendix 1, the ENROLL_FP codes 2, 4, 5, 6,
  7 and ENROLL_MF's own; any other code is a plain failure, its number kept by the caller.
- Finger numbers are the terminal's FID (0 = left little ... 9 = right little, §0 item 7), taken
  as they are: mapping the API's numbering is not done here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import re
from typing import Final, NoReturn
import unicodedata

TABLE_ATTLOG: Final = "ATTLOG"
TABLE_OPERLOG: Final = "OPERLOG"
TABLE_BIODATA: Final = "BIODATA"
TABLE_ATTPHOTO: Final = "ATTPHOTO"
TABLE_OPTIONS: Final = "OPTIONS"

# A punch line is about 60 bytes; anything this long is not one.
MAX_ATTLOG_LINE: Final = 1024
MAX_USER_ID_LENGTH: Final = 24

SERIAL_PATTERN: Final = re.compile(r"[0-9A-Za-z_-]{1,40}")
_TABLE = re.compile(r"[0-9A-Za-z_]{1,32}")
STAMP_PATTERN: Final = re.compile(r"[0-9A-Za-z._-]{1,32}")
_INTEGER = re.compile(r"\s*[-+]?[0-9]{1,18}\s*")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
)
# A line without tabs: the date and the time of day stay one field.
_SPACED_FIELD = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}|\S+")
# A keyed line without tabs: a field starts where a `Key=` does.
_KEYED_FIELD_START = re.compile(r"\s+(?=[~A-Za-z_][~\w]*=)")
_KEYED = re.compile(r"\s*[~A-Za-z_][~\w]*\s*=")
_MAX_TEXT = 64


class LineProblem(StrEnum):
    """Why a line was not read (its content is never repeated)."""

    TOO_LONG = "too_long"
    NO_USER = "no_user"
    BAD_USER = "bad_user"
    NO_TIME = "no_time"
    BAD_TIME = "bad_time"
    BAD_NUMBER = "bad_number"
    MISSING_FIELD = "missing_field"
    UNKNOWN_KIND = "unknown_kind"
    NO_COMMAND_ID = "no_command_id"


class Outcome(StrEnum):
    """What a command's `Return` code means."""

    SUCCESS = "success"
    ALREADY_ENROLLED = "already_enrolled"
    CAPTURE_FAILED = "capture_failed"
    DUPLICATE_FINGER = "duplicate_finger"
    CANCELLED = "cancelled"
    BUSY = "busy"
    TIMEOUT = "timeout"
    BAD_PARAMETER = "bad_parameter"
    PHOTO_SIZE_MISMATCH = "photo_size_mismatch"
    READ_WRITE_ERROR = "read_write_error"
    TEMPLATE_SIZE_MISMATCH = "template_size_mismatch"
    USER_NOT_FOUND = "user_not_found"
    ILLEGAL_TEMPLATE_FORMAT = "illegal_template_format"
    ILLEGAL_TEMPLATE = "illegal_template"
    ALGORITHM_MISMATCH = "algorithm_mismatch"
    CAPACITY_EXCEEDED = "capacity_exceeded"
    NOT_SUPPORTED = "not_supported"
    INCONSISTENT_CONFIGURATION = "inconsistent_configuration"
    DATA_TOO_LONG = "data_too_long"
    MEMORY_ERROR = "memory_error"
    SERVER_DATA_UNAVAILABLE = "server_data_unavailable"
    FAILED = "failed"


_GENERAL_OUTCOMES: Final = {
    0: Outcome.SUCCESS,
    -1: Outcome.BAD_PARAMETER,
    -2: Outcome.PHOTO_SIZE_MISMATCH,
    -3: Outcome.READ_WRITE_ERROR,
    -9: Outcome.TEMPLATE_SIZE_MISMATCH,
    -10: Outcome.USER_NOT_FOUND,
    -11: Outcome.ILLEGAL_TEMPLATE_FORMAT,
    -12: Outcome.ILLEGAL_TEMPLATE,
    -30: Outcome.ALGORITHM_MISMATCH,
    -1001: Outcome.CAPACITY_EXCEEDED,
    -1002: Outcome.NOT_SUPPORTED,
    -1003: Outcome.TIMEOUT,
    -1004: Outcome.INCONSISTENT_CONFIGURATION,
    -1005: Outcome.BUSY,
    -1006: Outcome.DATA_TOO_LONG,
    -1007: Outcome.MEMORY_ERROR,
    -1008: Outcome.SERVER_DATA_UNAVAILABLE,
}
_ENROLL_OUTCOMES: Final = {
    2: Outcome.ALREADY_ENROLLED,
    4: Outcome.CAPTURE_FAILED,
    5: Outcome.DUPLICATE_FINGER,
    6: Outcome.CANCELLED,
    7: Outcome.BUSY,
}
_COMMAND_OUTCOMES: Final[Mapping[str, Mapping[int, Outcome]]] = {
    "ENROLL_FP": _ENROLL_OUTCOMES,
    "ENROLL_BIO": _ENROLL_OUTCOMES,
    # [ATT-CN] §12.9.2: the card enrollment has its own positive codes.
    "ENROLL_MF": {4: Outcome.CAPTURE_FAILED, 5: Outcome.TIMEOUT, 6: Outcome.CANCELLED},
}


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a terminal says about itself; None where it did not say."""

    firmware: str | None = None
    device_name: str | None = None
    fingerprint_algorithm: str | None = None
    users: int | None = None
    fingers: int | None = None
    records: int | None = None
    user_capacity: int | None = None
    finger_capacity: int | None = None
    record_capacity: int | None = None


@dataclass(frozen=True, slots=True)
class PushQuery:
    """The query of a request; None for what is absent or not plausible."""

    serial: str | None
    table: str | None
    stamp: str | None
    handshake: bool
    push_version: str | None
    device_type: str | None
    language: str | None
    info: DeviceInfo | None


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that was not read: where (1-based) and why."""

    line: int
    problem: LineProblem


@dataclass(frozen=True, slots=True)
class AttLogRecord:
    """One punch; the time is the terminal's local wall time, without a zone."""

    user_id: str
    time: datetime
    status: int | None
    verify: int | None
    work_code: str | None


type AttLogRow = tuple[str, datetime, int | None, int | None, str | None]


@dataclass(frozen=True, slots=True)
class AttLogUpload:
    """An ATTLOG body: its punches, its unread lines and the n of `OK: <n>`.

    The punches are `rows`, `AttLogRecord`'s fields in its order as plain tuples: a tuple of
    strings, numbers and times is not tracked by the garbage collector. A batch is held while
    its events go out; as records, the 500 of the batch in flight were promoted to the oldest
    generation at each collection of the middle one, bringing the process's next full
    collection nearer (with the batch's Punch objects, 22,000 of the 30,000 objects a
    100,000-punch backlog promoted, measured). `records` reads them as records.
    """

    rows: tuple[AttLogRow, ...]
    bad_lines: tuple[BadLine, ...]
    acknowledged: int

    @property
    def records(self) -> tuple[AttLogRecord, ...]:
        return tuple(AttLogRecord(*row) for row in self.rows)


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """An `OPLOG` audit line (6 = fingerprint enrolled: values are PIN, FID, template size)."""

    code: int
    admin: str
    time: datetime
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A `USER` line; the password is not kept."""

    user_id: str
    name: str
    privilege: int | None
    card: str | None


@dataclass(frozen=True, slots=True)
class FingerRecord:
    """An `FP` line: the terminal's finger number (FID), and the template's size, not it."""

    user_id: str
    finger: int
    size: int | None
    valid: int | None


@dataclass(frozen=True, slots=True)
class BioDataRecord:
    """A `BIODATA` line (type 1 = finger, number = FID); the template's size, not the template."""

    user_id: str
    number: int
    index: int | None
    valid: int | None
    bio_type: int
    major_version: int | None
    minor_version: int | None
    size: int | None


@dataclass(frozen=True, slots=True)
class OperLogUpload:
    """An OPERLOG or BIODATA body: its records, its unread lines and the n of `OK: <n>`."""

    operations: tuple[OperationRecord, ...]
    users: tuple[UserRecord, ...]
    fingers: tuple[FingerRecord, ...]
    biodata: tuple[BioDataRecord, ...]
    ignored: int
    bad_lines: tuple[BadLine, ...]
    acknowledged: int


@dataclass(frozen=True, slots=True)
class CommandResult:
    """One command's result; `command` is the verb the terminal echoes (`DATA`, `ENROLL_FP`...).

    For ENROLL_FP, success is the command's only: the template upload that follows (`FP` or
    `BIODATA`) is what confirms a finger (reference §0 item 3, §1.9).
    """

    command_id: str
    code: int
    command: str
    details: tuple[tuple[str, str], ...]

    @property
    def outcome(self) -> Outcome:
        """What the code means for this command."""
        return outcome_of(self.code, self.command)


@dataclass(frozen=True, slots=True)
class CommandResults:
    """A `devicecmd` body."""

    results: tuple[CommandResult, ...]
    bad_lines: tuple[BadLine, ...]


class _MalformedError(Exception):
    """A line that cannot be read, and why."""

    def __init__(self, problem: LineProblem) -> None:
        super().__init__(problem)
        self.problem = problem


def _malformed(problem: LineProblem) -> NoReturn:
    raise _MalformedError(problem)


# --- Reading --------------------------------------------------------------------------------


def _key(name: str) -> str:
    return name.strip().lstrip("~").replace("_", "").lower()


def breaks_a_line(value: str) -> bool:
    """Whether a character could end a field or a line (tab, CR, LF, NUL, any control)."""
    # isprintable() is the fast answer for nearly all text, but also refuses what breaks nothing.
    return not value.isprintable() and any(
        unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in value
    )


def is_text(value: str, max_length: int = _MAX_TEXT) -> bool:
    return len(value) <= max_length and not breaks_a_line(value)


def _matching(pattern: re.Pattern[str], value: str | None) -> str | None:
    if value is None or not pattern.fullmatch(value.strip()):
        return None
    return value.strip()


def _int(value: str | None) -> int | None:
    return int(value) if value and _INTEGER.fullmatch(value) else None


def _required_int(value: str | None) -> int:
    if not value:
        _malformed(LineProblem.MISSING_FIELD)
    number = _int(value)
    if number is None:
        _malformed(LineProblem.BAD_NUMBER)
    return number


def _optional_int(value: str | None) -> int | None:
    return _required_int(value) if value else None


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("gbk", errors="replace")
    return text.removeprefix("\ufeff")


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """Numbered lines that are not blank (LF, CRLF or CR; blank = only spaces and tabs)."""
    for number, raw in enumerate(body.splitlines(), start=1):
        if raw.strip(b" \t"):
            yield number, raw


def count_records(body: bytes) -> int:
    """The n of `OK: <n>`: every line that is not blank, read or not (see the module docstring)."""
    return sum(1 for _ in _lines(body))


def _fields(text: str) -> list[str]:
    """Positional fields: tab-separated, or space-separated keeping date and time together."""
    if "\t" not in text:
        return _SPACED_FIELD.findall(text)
    fields = [field.strip() for field in text.split("\t")]
    return fields[:-1] if fields[-1] == "" else fields


def _pairs(text: str) -> dict[str, str]:
    """`Key=Value` fields, tab-separated or not; keys normalised, the first of a key wins."""
    parts = text.split("\t") if "\t" in text else _KEYED_FIELD_START.split(text.strip())
    pairs: dict[str, str] = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if equals:
            pairs.setdefault(_key(name), value.strip())
    return pairs


def _first(pairs: Mapping[str, str], *names: str) -> str | None:
    return next((pairs[name] for name in names if name in pairs), None)


def _time(value: str | None) -> datetime:
    match = _DATETIME.fullmatch(value.strip()) if value else None
    if match is None:
        _malformed(LineProblem.NO_TIME)
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        _malformed(LineProblem.BAD_TIME)


def _user_id(value: str | None) -> str:
    if not value:
        _malformed(LineProblem.NO_USER)
    if len(value) > MAX_USER_ID_LENGTH or not value.isprintable() or " " in value:
        _malformed(LineProblem.BAD_USER)
    return value


def parse_query(query: Mapping[str, str]) -> PushQuery:
    """Read a request's query; keys in any case, the first of a key wins."""
    pairs: dict[str, str] = {}
    for name, value in query.items():
        pairs.setdefault(_key(name), value)
    table = _matching(_TABLE, pairs.get("table"))
    table = table.upper() if table else None
    info = pairs.get("info")
    return PushQuery(
        serial=_matching(SERIAL_PATTERN, pairs.get("sn")),
        table=table,
        stamp=_matching(STAMP_PATTERN, _first(pairs, *_stamp_keys(table))),
        handshake=pairs.get("options", "").strip().lower() == "all",
        push_version=_text(pairs.get("pushver")),
        device_type=_text(pairs.get("devicetype")),
        language=_text(pairs.get("language")),
        info=parse_info(info) if info else None,
    )


# PUSH SDK 2.0.1's names, still sent by firmware in the field (§1.3; zf0916 SPEC §12: OpStamp).
_OLD_STAMP_KEYS: Final = {TABLE_OPERLOG: ("opstamp",), TABLE_ATTPHOTO: ("photostamp",)}


def _stamp_keys(table: str | None) -> tuple[str, ...]:
    if table is None:
        return ("stamp",)
    return f"{table.lower()}stamp", *_OLD_STAMP_KEYS.get(table, ()), "stamp"


def _text(value: str | None) -> str | None:
    """A short line of text, stripped; None for nothing, or for what is not one."""
    stripped = value.strip() if value else ""
    return stripped if stripped and is_text(stripped) else None


def _parse_each[T](
    body: bytes, parse: Callable[[bytes], T | None]
) -> tuple[list[T], list[BadLine], int]:
    """Parse each line; a line that fails is reported without costing the others."""
    records: list[T] = []
    bad: list[BadLine] = []
    skipped = 0
    for number, raw in _lines(body):
        try:
            record = parse(raw)
        except _MalformedError as err:
            bad.append(BadLine(number, err.problem))
            continue
        if record is None:
            skipped += 1
        else:
            records.append(record)
    return records, bad, skipped


def parse_attlog(body: bytes) -> AttLogUpload:
    """Read an ATTLOG body, one punch a line."""
    records, bad, _ = _parse_each(body, _attlog_record)
    return AttLogUpload(tuple(records), tuple(bad), len(records) + len(bad))


def _attlog_record(raw: bytes) -> AttLogRow:
    if len(raw) > MAX_ATTLOG_LINE:
        _malformed(LineProblem.TOO_LONG)
    text = _decode(raw)
    if _KEYED.match(text):
        return _keyed_attlog_record(_pairs(text))
    fields = _fields(text)
    at = next((i for i, field in enumerate(fields) if _DATETIME.fullmatch(field)), None)
    if at is None:
        _malformed(LineProblem.NO_TIME)
    after = [*fields[at + 1 : at + 4], "", "", ""]
    return (
        _user_id(fields[at - 1] if at else None),
        _time(fields[at]),
        _optional_int(after[0]),  # status
        _optional_int(after[1]),  # verify
        _text(after[2]),  # work code
    )


def _keyed_attlog_record(pairs: Mapping[str, str]) -> AttLogRow:
    return (
        _user_id(_first(pairs, "pin", "userid")),
        _time(_first(pairs, "time", "datetime", "checktime")),
        _optional_int(_first(pairs, "status", "state")),
        _optional_int(_first(pairs, "verify", "verifymode", "verified", "verifytype")),
        _text(_first(pairs, "workcode")),
    )


type _OperLogRecord = OperationRecord | UserRecord | FingerRecord | BioDataRecord

# Kinds that are known and carry nothing Home Assistant keeps (FACE and the photos carry
# templates or pictures).
_IGNORED_KINDS: Final = frozenset({"FACE", "USERPIC", "BIOPHOTO", "ERRORLOG", "IDCARD", "WORKCODE"})


def parse_operlog(body: bytes) -> OperLogUpload:
    """Read an OPERLOG body, or a BIODATA body (its lines are `BIODATA` records)."""
    records, bad, ignored = _parse_each(body, _operlog_record)
    return OperLogUpload(
        operations=_only(records, OperationRecord),
        users=_only(records, UserRecord),
        fingers=_only(records, FingerRecord),
        biodata=_only(records, BioDataRecord),
        ignored=ignored,
        bad_lines=tuple(bad),
        acknowledged=len(records) + len(bad) + ignored,
    )


def _only[R](records: Iterable[object], kind: type[R]) -> tuple[R, ...]:
    return tuple(record for record in records if isinstance(record, kind))


def _operlog_record(raw: bytes) -> _OperLogRecord | None:
    kind, rest = ([*_decode(raw).split(maxsplit=1), ""])[:2]
    match kind.upper():
        case "OPLOG":
            return _operation(_fields(rest.strip()))
        case "USER":
            return _user(_pairs(rest))
        case "FP":
            return _finger(_pairs(rest))
        case "BIODATA":
            return _biodata(_pairs(rest))
        case upper if upper in _IGNORED_KINDS:
            return None
    _malformed(LineProblem.UNKNOWN_KIND)


def _operation(fields: Sequence[str]) -> OperationRecord:
    if len(fields) < 3:
        _malformed(LineProblem.MISSING_FIELD)
    return OperationRecord(
        code=_required_int(fields[0]),
        admin=_text(fields[1]) or "",
        time=_time(fields[2]),
        values=tuple(_text(value) or "" for value in fields[3:]),
    )


def _user(pairs: Mapping[str, str]) -> UserRecord:
    return UserRecord(
        user_id=_user_id(pairs.get("pin")),
        # Names may come NUL-padded, as they are in the terminal's memory.
        name=_text(pairs.get("name", "").partition("\0")[0]) or "",
        privilege=_int(_first(pairs, "pri", "privilege")),
        card=_text(_first(pairs, "card", "cardno")),
    )


def _template_size(pairs: Mapping[str, str]) -> int | None:
    """The length of the template received; the declared size when the line carries none."""
    template = pairs.get("tmp")
    return len(template) if template else _int(pairs.get("size"))


def _finger(pairs: Mapping[str, str]) -> FingerRecord:
    return FingerRecord(
        user_id=_user_id(pairs.get("pin")),
        finger=_required_int(pairs.get("fid")),
        size=_template_size(pairs),
        valid=_int(pairs.get("valid")),
    )


def _biodata(pairs: Mapping[str, str]) -> BioDataRecord:
    return BioDataRecord(
        user_id=_user_id(pairs.get("pin")),
        number=_required_int(pairs.get("no")),
        index=_int(pairs.get("index")),
        valid=_int(pairs.get("valid")),
        bio_type=_required_int(pairs.get("type")),
        major_version=_int(pairs.get("majorver")),
        minor_version=_int(pairs.get("minorver")),
        size=_template_size(pairs),
    )


# --- What a terminal says about itself ---------------------------------------------------------


def device_info(pairs: Iterable[tuple[str, str]]) -> DeviceInfo:
    """Pick firmware, counts and capacities from `Key=Value` pairs (options, INFO results)."""
    named: dict[str, str] = {}
    for name, value in pairs:
        named.setdefault(_key(name), value.strip())

    def text(*keys: str) -> str | None:
        return _text(_first(named, *keys))

    def number(*keys: str) -> int | None:
        return _int(_first(named, *keys))

    return DeviceInfo(
        firmware=text("fwversion", "firmver", "firmwareversion"),
        device_name=text("devicename"),
        fingerprint_algorithm=text("zkfpversion", "fpversion"),
        users=number("usercount"),
        fingers=number("fpcount", "fingercount"),
        records=number("transactioncount", "attlogcount"),
        user_capacity=number("maxusercount"),
        finger_capacity=number("maxfingercount", "maxfpcount"),
        record_capacity=number("maxattlogcount"),
    )


def option_pairs(body: bytes) -> list[tuple[str, str]]:
    """The `Key=Value` pairs of a `table=options` body, commas inside values kept."""
    pairs: list[tuple[str, str]] = []
    for fragment in re.split(r"[,\r\n]", _decode(body)):
        name, equals, value = fragment.partition("=")
        if equals and name.strip():
            pairs.append((name.strip(), value))
        elif pairs and fragment.strip():
            last_name, last_value = pairs[-1]
            pairs[-1] = (last_name, f"{last_value},{fragment}")
    return pairs


def parse_options(body: bytes) -> DeviceInfo:
    """Read a `table=options` body."""
    return device_info(option_pairs(body))


def parse_info(value: str) -> DeviceInfo:
    """Read the positional `INFO=` of a poll: firmware, users, fingers, records, ip, algorithm."""
    parts = [part.strip() for part in value.split(",")]
    parts += [""] * (6 - len(parts))
    return DeviceInfo(
        firmware=_text(parts[0]),
        fingerprint_algorithm=_text(parts[5]),
        users=_int(parts[1]),
        fingers=_int(parts[2]),
        records=_int(parts[3]),
    )


# --- Command results --------------------------------------------------------------------------


def outcome_of(code: int, command: str) -> Outcome:
    """What `Return=<code>` means for a command (its verb, `ENROLL_FP`, or its whole text)."""
    verb = command.strip().split(" ", 1)[0].upper()
    specific = _COMMAND_OUTCOMES.get(verb, {})
    return specific.get(code) or _GENERAL_OUTCOMES.get(code, Outcome.FAILED)


def parse_command_results(body: bytes) -> CommandResults:
    """Read a `devicecmd` body: results one a line, or spread over lines after their `ID=`."""
    groups: list[tuple[int, dict[str, str], list[tuple[str, str]]]] = []
    bad: list[BadLine] = []
    for number, raw in _lines(body):
        fields = [part.partition("=") for part in _decode(raw).split("&")]
        pairs = [(name.strip(), value.strip()) for name, equals, value in fields if equals]
        keyed = {_key(name): value for name, value in reversed(pairs)}
        if "id" in keyed:
            groups.append((number, keyed, []))
        elif groups:
            groups[-1][1].update((k, v) for k, v in keyed.items() if k not in groups[-1][1])
        else:
            bad.append(BadLine(number, LineProblem.NO_COMMAND_ID))
            continue
        groups[-1][2].extend(
            (name, value) for name, value in pairs if _key(name) not in {"id", "return", "cmd"}
        )
    results: list[CommandResult] = []
    for number, keyed, details in groups:
        try:
            results.append(_command_result(keyed, details))
        except _MalformedError as err:
            bad.append(BadLine(number, err.problem))
    return CommandResults(tuple(results), tuple(sorted(bad, key=lambda b: b.line)))


def _command_result(keyed: Mapping[str, str], details: Sequence[tuple[str, str]]) -> CommandResult:
    command_id = _text(keyed["id"])
    if not command_id:
        _malformed(LineProblem.NO_COMMAND_ID)
    return CommandResult(
        command_id=command_id,
        code=_required_int(keyed.get("return")),
        command=_text(keyed.get("cmd")) or "",
        details=tuple(details),
    )
