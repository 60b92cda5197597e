"""The terminal's user rows and fingerprint template tables, byte by byte (zk-protocol,
sections/data-user.md and sections/data-fp.md); no I/O, no pyzk.

What pyzk gets wrong here (see terminal.py's docstring) is why these exist: a user row is read
and written back with only the given fields changed, every byte we do not know of (group, time
zones, flags) kept as the terminal sent it; what a row cannot hold is refused before anything is
sent; a template upload carries the terminal's own row, and template bytes never enter a repr.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
import struct
from typing import Any, Final
import unicodedata

from ..channel import (
    FingerTemplate,
    TerminalInputError,
    TerminalRefusedError,
    TerminalUser,
    UserChanges,
)

_TEMPLATE_ENTRY: Final = struct.Struct("<HHbb")  # size with this header, uid, finger, flag
_UPLOAD_HEAD: Final = struct.Struct("<III")
_UPLOAD_FINGER: Final = struct.Struct("<bHbI")  # 2, uid, 0x10 + finger, offset of the template
_UPLOAD_TEMPLATE_SIZE: Final = struct.Struct("<H")
FINGERS: Final = range(10)
PRIVILEGE_USER: Final = 0  # pyzk const.USER_DEFAULT
PRIVILEGE_ADMIN: Final = 14  # pyzk const.USER_ADMIN
# Bit 0 of the privilege disables the user (zk-protocol, sections/data-user.md): kept as it is.
_PRIVILEGE_DISABLED: Final = 1
# The template size field is 16 bits, and the template table adds a 6-byte header to it.
_MAX_TEMPLATE_SIZE: Final = 0xFFFF - _TEMPLATE_ENTRY.size


@dataclass(frozen=True, slots=True)
class EnrolledFinger:
    """A row of the template table, without the template."""

    uid: int
    finger: int
    size: int


def _user_from_72_bytes(fields: tuple[Any, ...]) -> TerminalUser:
    uid, privilege, _password, name, card, _group, user_id = fields
    return TerminalUser(uid, nul_terminated(user_id), nul_terminated(name).strip(), privilege, card)


def _user_from_28_bytes(fields: tuple[Any, ...]) -> TerminalUser:
    uid, privilege, _password, name, card, _group, _timezone, user_id = fields
    return TerminalUser(uid, str(user_id), nul_terminated(name).strip(), privilege, card)


# Firmware with the extended user format sends 72 bytes a user, older firmware 28: uid,
# privilege, password, name, card, group, (timezone,) user id; the password is skipped.
USER_LAYOUTS: Final = {
    72: (struct.Struct("<HB8s24sIx7sx24s"), _user_from_72_bytes),
    28: (struct.Struct("<HB5s8sIxBhI"), _user_from_28_bytes),
}


# Where a user row keeps what we write: (offset, format). Every other byte is written back as
# the terminal sent it, so an update keeps what we do not know of (group, time zones, flags).
_USER_FIELDS: Final[dict[int, dict[str, tuple[int, str]]]] = {
    72: {
        "uid": (0, "<H"),
        "privilege": (2, "<B"),
        "password": (3, "8s"),
        "name": (11, "24s"),
        "card": (35, "<I"),
        "user_id": (48, "24s"),
    },
    28: {
        "uid": (0, "<H"),
        "privilege": (2, "<B"),
        "password": (3, "5s"),
        "name": (8, "8s"),
        "card": (16, "<I"),
        "user_id": (24, "<I"),
    },
}
# A terminal's own 72-byte rows carry 1 after the card (zk-protocol, sections/data-user.md:
# "fixed 01 00 00..."; pyzk's User.repack73 sends it too): new rows do the same.
_ROW_72_MARK: Final = 39
_MAX_CARD: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _UserChange:
    """What write_user sets, checked and encoded; None keeps what the terminal has."""

    user_id: str
    name: bytes | None
    admin: bool | None
    card: int | None
    password: bytes | None = field(repr=False)


def _encoded(field_name: str, text: str) -> bytes:
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise TerminalInputError(field_name, "control_character")  # tab, newline, NUL...
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise TerminalInputError(field_name, "not_encodable") from None


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def user_change(user_id: str, changes: UserChanges) -> _UserChange:
    """Refuse what no terminal can store, before anything is sent."""
    if not user_id:
        raise TerminalInputError("user_id", "empty")
    _encoded("user_id", user_id)
    card, password = changes.card, changes.password
    if card is not None and not 0 <= card <= _MAX_CARD:
        raise TerminalInputError("card", "out_of_range")
    if password and not _is_number(password):
        raise TerminalInputError("password", "not_digits")  # the keypad has digits only
    return _UserChange(
        user_id,
        None if changes.name is None else _encoded("name", changes.name),
        changes.admin,
        card,
        None if password is None else password.encode(),
    )


def _put_text(row: bytearray, row_size: int, field_name: str, value: bytes, room: int) -> None:
    """Write a text field; ``room`` bytes stay for the terminating NUL."""
    offset, layout = _USER_FIELDS[row_size][field_name]
    if len(value) > struct.calcsize(layout) - room:
        raise TerminalInputError(field_name, "too_long")
    struct.pack_into(layout, row, offset, value)


def _put_number(row: bytearray, row_size: int, field_name: str, value: int) -> None:
    offset, layout = _USER_FIELDS[row_size][field_name]
    struct.pack_into(layout, row, offset, value)


def new_user_row(row_size: int, uid: int, user_id: str, pin_width: int | None) -> bytearray:
    """A row for a new user; its id must fit the terminal's PIN width and row layout."""
    if pin_width is not None and len(user_id) > pin_width:
        raise TerminalInputError("user_id", "too_long")
    row = bytearray(row_size)
    _put_number(row, row_size, "uid", uid)
    if row_size == 28:  # old firmware keeps the user id as a 32-bit number
        if not _is_number(user_id):
            raise TerminalInputError("user_id", "not_digits")
        if int(user_id) > _MAX_CARD:
            raise TerminalInputError("user_id", "too_long")
        _put_number(row, row_size, "user_id", int(user_id))
    else:
        row[_ROW_72_MARK] = 1
        _put_text(row, row_size, "user_id", user_id.encode(), room=1)
    return row


def changed_row(change: _UserChange, row: bytearray, row_size: int) -> bytes:
    fields = _USER_FIELDS[row_size]
    if change.name is not None:
        _put_text(row, row_size, "name", change.name, room=1)
    if change.password is not None:
        _put_text(row, row_size, "password", change.password, room=0)
    if change.card is not None:
        _put_number(row, row_size, "card", change.card)
    if change.admin is not None:
        disabled = row[fields["privilege"][0]] & _PRIVILEGE_DISABLED
        privilege = PRIVILEGE_ADMIN if change.admin else PRIVILEGE_USER
        _put_number(row, row_size, "privilege", privilege | disabled)
    return bytes(row)


def template_of(data: bytes) -> bytes:
    """Terminals send a byte after the template, some 6 zero bytes before it (pyzk strips both)."""
    template = data[:-1]
    return template[:-6] if template.endswith(bytes(6)) else template


def check_templates(templates: Collection[FingerTemplate]) -> None:
    fingers = [template.finger for template in templates]
    if not fingers:
        raise TerminalInputError("templates", "empty")
    check_fingers(fingers)
    if len(set(fingers)) != len(fingers):
        raise TerminalInputError("finger", "repeated")
    for template in templates:
        if not template.template:
            raise TerminalInputError("template", "empty")
        if len(template.template) > _MAX_TEMPLATE_SIZE:
            raise TerminalInputError("template", "too_long")


def check_fingers(fingers: Collection[int]) -> None:
    if any(finger not in FINGERS for finger in fingers):
        raise TerminalInputError("finger", "out_of_range")


def user_upload(uid: int, row: bytes, templates: Collection[FingerTemplate]) -> bytes:
    """A user and their templates the way pyzk's save_user_template uploads them.

    pyzk builds the user from its own User object, which drops the bytes it does not know of
    (and its Finger repr shows template bytes): we send the terminal's row back unchanged.
    """
    user = b"\x02" + row
    table = bytearray()
    bodies = bytearray()
    for template in templates:
        table += _UPLOAD_FINGER.pack(2, uid, 0x10 + template.finger, len(bodies))
        bodies += _UPLOAD_TEMPLATE_SIZE.pack(len(template.template)) + template.template
    head = _UPLOAD_HEAD.pack(len(user), len(table), len(bodies))
    return head + user + bytes(table) + bytes(bodies)


def enrolled_fingers(table: bytes) -> list[EnrolledFinger]:
    """The rows of the template table; the templates are skipped, never kept."""
    size = struct.unpack_from("<I", table)[0]
    body = memoryview(table)[4 : 4 + size]
    fingers: list[EnrolledFinger] = []
    start = 0
    while start < len(body):
        entry_size, uid, finger, _flag = _TEMPLATE_ENTRY.unpack_from(body, start)
        if entry_size < _TEMPLATE_ENTRY.size or start + entry_size > len(body):
            raise ValueError(f"a template table entry of {entry_size} bytes at {start}")
        fingers.append(EnrolledFinger(uid, finger, entry_size - _TEMPLATE_ENTRY.size))
        start += entry_size
    return fingers


def table_row_size(
    table_size: int, row_sizes: Collection[int], counted_before: int, counted_after: int
) -> int:
    """Which of ``row_sizes`` a table of ``table_size`` bytes is made of.

    The table holds as many rows as its counter showed at some moment of the transfer: between
    the counts before and after it (rows may have been added or deleted meanwhile).
    """
    fewest, most = sorted((counted_before, counted_after))
    fitting = [
        size
        for size in row_sizes
        if table_size % size == 0 and fewest <= table_size // size <= most
    ]
    if not fitting:
        raise TerminalRefusedError(
            f"a table of {table_size} bytes does not hold {counted_before} to {counted_after} rows"
        )
    return min(fitting, key=lambda size: table_size // size)


def nul_terminated(raw: bytes) -> str:
    """A text field: up to its first NUL; what does not decode is dropped."""
    return raw.split(b"\x00", 1)[0].decode(errors="ignore")
