"""On-wire layouts of users, records, templates and event payloads."""

from __future__ import annotations

from datetime import datetime
import struct

import pytest

from zksim import ClockReading, protocol as p
from zksim.records import (
    TEMPLATE_SIGNATURE,
    Record,
    Template,
    User,
    fake_template,
    pack_attlog_event,
    pack_enroll_result,
    pack_records,
    pack_templates,
    pack_user,
    pack_users,
    unpack_user,
)

# fananimi/pyzk test.py, test_tcp_get_users_small_data: a real terminal answering
# CMD_PREPARE_BUFFER for 7 users directly with CMD_DATA (72-byte users).
CAPTURED_USERS = bytes.fromhex(
    "5050827d04020000dd05942c96631500f801000001000e000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000003830380000000000000000000000000000000000"
    "0000000002000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000383231000000000000000000000000000000000000000000030000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000003833350000000000"
    "0000000000000000000000000000000004000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000383331000000000000000000000000000000000000000000"
    "0500000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000038333200000000000000000000000000000000000000000006000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000383600000000000000000000"
    "0000000000000000000000000c00000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000383432000000000000000000000000000000000000000000"
)


def test_captured_users_decode_and_repack_identically() -> None:
    reply = p.parse_packet(CAPTURED_USERS[p.TCP_TOP_SIZE :])
    assert reply.checksum_ok
    assert reply.command == p.CMD_DATA
    rows = [reply.payload[4 + i : 4 + i + 72] for i in range(0, 7 * 72, 72)]
    users = [unpack_user(row) for row in rows]
    assert [(u.uid, u.user_id, u.privilege) for u in users[:2]] == [(1, "808", 14), (2, "821", 0)]
    assert pack_users(users, 72) == reply.payload


@pytest.mark.parametrize("size", [72, 28])
def test_user_round_trip(size: int) -> None:
    user = User(7, "4242", "Ana", 14, "12345", 99, "1")
    assert unpack_user(pack_user(user, size)) == user


def test_records_layouts_match_pyzk_unpack_formats() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5)
    record = Record(3, "123", when, status=1, punch=4)
    stamp = struct.pack("<I", p.encode_time(when))
    assert pack_records([record], 8) == struct.pack("<HB4sB", 3, 1, stamp, 4)
    assert pack_records([record], 16) == struct.pack("<I4sBB2sI", 123, stamp, 1, 4, b"", 0)
    assert pack_records([record], 40) == struct.pack("<H24sB4sB8s", 3, b"123", 1, stamp, 4, b"")


def test_impossible_date_encodes_like_a_possible_one() -> None:
    """In the terminal's calendar of 31-day months, 30 February comes two days before 1 March."""
    stamp = p.encode_time(ClockReading(2026, 2, 30, 8, 0, 0))
    assert stamp == p.encode_time(datetime(2026, 3, 1, 8, 0, 0)) - 2 * 86400
    packed = pack_records([Record(3, "123", ClockReading(2026, 2, 30, 8))], 40)
    assert struct.unpack("<H24sB4sB8s", packed)[3] == struct.pack("<I", stamp)


def test_attlog_event_layout_per_zk_protocol() -> None:
    # adrobinoga/zk-protocol sections/realtime.md "Attendace Realtime Log": user id string
    # at 0 (24 bytes with padding), 2 bytes at 24 (status, punch for pyzk), time at 26.
    record = Record(1, "123456789", datetime(2019, 5, 6, 7, 8, 9), status=1, punch=0)
    payload = pack_attlog_event(record, 32)
    assert payload[:9] == b"123456789"
    assert payload[9:24] == bytes(15)
    assert payload[24:26] == b"\x01\x00"
    assert payload[26:32] == bytes((19, 5, 6, 7, 8, 9))
    assert len(pack_attlog_event(record, 36)) == 36
    assert len(pack_attlog_event(record, 52)) == 52
    assert pack_attlog_event(record, 12)[:4] == struct.pack("<I", 123456789)


@pytest.mark.parametrize(("size", "layout"), [(10, "<HBB6s"), (14, "<HBB6s4x")])
def test_attlog_event_with_a_short_user_id(size: int, layout: str) -> None:
    """ZEM560 and ZEM300 send the user id in 2 bytes (pyzk's live_capture since issue 164)."""
    when = datetime(2019, 5, 6, 7, 8, 9)
    payload = pack_attlog_event(Record(1, "4711", when, status=15, punch=1), size)
    assert struct.unpack(layout, payload) == (4711, 15, 1, bytes((19, 5, 6, 7, 8, 9)))
    too_long = pack_attlog_event(Record(1, "65536", when), size)
    assert struct.unpack(layout, too_long)[0] == 0


def test_enroll_result_layout_per_zk_protocol() -> None:
    # adrobinoga/zk-protocol sections/realtime.md "Enrolled Finger": result(2), size(2),
    # user id (9) at 4, finger index at 13; on error only the result code.
    payload = pack_enroll_result(0, 1204, "123", 6)
    assert struct.unpack("<HH9sB", payload) == (0, 1204, b"123" + bytes(6), 6)
    assert pack_enroll_result(p.ENROLL_DUPLICATE) == b"\x05\x00"


def test_template_table_layout() -> None:
    template = Template(2, "2", 6, b"abc")
    body = pack_templates([template])
    assert body == struct.pack("<IHHbb", 9, 9, 2, 6, 1) + b"abc"


def test_fake_template_is_stable_and_signed() -> None:
    first = fake_template("123", 6)
    assert first == fake_template("123", 6) != fake_template("123", 5)
    assert first.startswith(TEMPLATE_SIGNATURE)
