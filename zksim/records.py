"""Data kept by the terminal (users, templates, attendance) and their on-wire layouts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
import struct

from . import protocol as p
from .protocol import ClockReading

USER_72 = struct.Struct("<HB8s24sIx7sx24s")
USER_28 = struct.Struct("<HB5s8sIxBhI")
RECORD_8 = struct.Struct("<HB4sB")
RECORD_16 = struct.Struct("<I4sBB2sI")
RECORD_40 = struct.Struct("<H24sB4sB8s")
TEMPLATE_ENTRY = struct.Struct("<HHbb")
USER_FORMATS = (72, 28)
RECORD_SIZES = (8, 16, 40)
# EF_ATTLOG payload sizes terminals send. Older firmware sends the user id as a number: 2 bytes
# (10 bytes on ZEM560, 14 with 4 more on ZEM300: pyzk issue 164), or 4 (12 bytes); newer firmware
# as text (32 bytes, 36 and 52 with padding). pyzk 0.9's live_capture parses 12, 32, 36 and 52
# only; pyzk's master added 10 and 14.
EVENT_SIZES = (10, 12, 14, 32, 36, 52)
_NUMERIC_ID_BYTES = {10: 2, 12: 4, 14: 2}
_TEXT_ID_BYTES = 24
TEMPLATE_SIGNATURE = b"\x4d\x98SS21"  # ZKFinger v10 templates start like this (pyzk test.py)
TEMPLATE_SIZE = 1204


@dataclass(slots=True)
class User:
    uid: int
    user_id: str
    name: str = ""
    privilege: int = 0
    password: str = ""
    card: int = 0
    group_id: str = ""


@dataclass(slots=True)
class Template:
    uid: int
    user_id: str
    finger_index: int
    template: bytes = field(repr=False)
    valid: int = 1


@dataclass(slots=True)
class Record:
    uid: int
    user_id: str
    timestamp: datetime | ClockReading
    status: int = 1
    punch: int = 0


def fake_template(user_id: str, finger_index: int) -> bytes:
    """Deterministic, realistic-looking template: signature + pseudo-random minutiae."""
    seed = f"{user_id}/{finger_index}".encode()
    blocks = (
        hashlib.sha256(seed + i.to_bytes(4, "little")).digest()
        for i in range(TEMPLATE_SIZE // 32 + 1)
    )
    body = b"".join(blocks)
    return (TEMPLATE_SIGNATURE + body)[:TEMPLATE_SIZE]


def _fixed(text: str, size: int) -> bytes:
    return text.encode(errors="ignore")[:size]


def _int_or_zero(text: str, largest: int = 0xFFFFFFFF) -> int:
    """28-byte users and some events carry numeric ids; others cannot be represented."""
    return int(text) if text.isdigit() and int(text) <= largest else 0


def pack_user(user: User, size: int) -> bytes:
    if size == 28:
        return USER_28.pack(
            user.uid,
            user.privilege,
            _fixed(user.password, 5),
            _fixed(user.name, 8),
            user.card,
            _int_or_zero(user.group_id),
            0,
            _int_or_zero(user.user_id),
        )
    return USER_72.pack(
        user.uid,
        user.privilege,
        _fixed(user.password, 8),
        _fixed(user.name, 24),
        user.card,
        _fixed(user.group_id, 7),
        _fixed(user.user_id, 24),
    )


def _text(raw: bytes) -> str:
    return raw.split(b"\x00")[0].decode(errors="ignore")


def unpack_user(data: bytes) -> User:
    """CMD_USER_WRQ payload as pyzk's set_user sends it (28 or 72 bytes)."""
    if len(data) < USER_72.size:
        uid, privilege, password, name, card, group, _tz, user_id = USER_28.unpack(
            data[: USER_28.size].ljust(USER_28.size, b"\x00")
        )
        return User(uid, str(user_id), _text(name), privilege, _text(password), card, str(group))
    uid, privilege, password, name, card, group, user_id = USER_72.unpack(data[: USER_72.size])
    return User(uid, _text(user_id), _text(name), privilege, _text(password), card, _text(group))


def pack_users(users: Iterable[User], size: int) -> bytes:
    return p.with_total_size(b"".join(pack_user(user, size) for user in users))


def pack_records(records: Iterable[Record], size: int) -> bytes:
    """Attendance log body in one of the three layouts pyzk's get_attendance parses."""
    if size == 8:
        rows = (RECORD_8.pack(r.uid, r.status, _time4(r.timestamp), r.punch) for r in records)
    elif size == 16:
        rows = (
            RECORD_16.pack(_int_or_zero(r.user_id), _time4(r.timestamp), r.status, r.punch, b"", 0)
            for r in records
        )
    else:
        rows = (
            RECORD_40.pack(
                r.uid, _fixed(r.user_id, 24), r.status, _time4(r.timestamp), r.punch, b""
            )
            for r in records
        )
    return b"".join(rows)


def _time4(t: datetime | ClockReading) -> bytes:
    return struct.pack("<I", p.encode_time(t))


def pack_templates(templates: Iterable[Template]) -> bytes:
    body = b"".join(
        TEMPLATE_ENTRY.pack(len(t.template) + 6, t.uid, t.finger_index, t.valid) + t.template
        for t in templates
    )
    return p.with_total_size(body)


def pack_attlog_event(record: Record, size: int) -> bytes:
    """EF_ATTLOG payload: user id, status, punch, 6-byte time (+ padding for 14/36/52)."""
    if width := _NUMERIC_ID_BYTES.get(size):
        user_id = _int_or_zero(record.user_id, (1 << 8 * width) - 1).to_bytes(width, "little")
    else:
        user_id = _fixed(record.user_id, _TEXT_ID_BYTES).ljust(_TEXT_ID_BYTES, b"\x00")
    when = p.encode_time_hex(record.timestamp)
    return (user_id + bytes((record.status, record.punch)) + when).ljust(size, b"\x00")


def pack_enroll_result(
    result: int, template_size: int = 0, user_id: str = "", finger: int = 0
) -> bytes:
    """EF_ENROLLFINGER payload per adrobinoga/zk-protocol sections/realtime.md.

    On failure only the 2-byte result is sent ("the fields ... aren't even included").
    """
    if result != p.ENROLL_OK:
        return struct.pack("<H", result)
    return struct.pack("<HH9sB", result, template_size, _fixed(user_id, 9), finger)
