"""Command handlers, called directly (no sockets)."""

from __future__ import annotations

from datetime import datetime, timedelta
import struct
import time

from freezegun.api import FrozenDateTimeFactory
import pytest

from zksim import protocol as p
from zksim.commands import DIRECT_DATA_LIMIT, After, Reply, Session, handle, pack_free_sizes
from zksim.records import User, pack_user
from zksim.terminal import Terminal


@pytest.fixture
def terminal() -> Terminal:
    return Terminal()


def session(tcp: bool = True) -> Session:
    return Session(sid=1, tcp=tcp, authenticated=True, last_seen=0.0)


def test_free_sizes_match_a_captured_answer(terminal: Terminal) -> None:
    # fananimi/pyzk test.py test_tcp_get_size: 7 users, 6 fingers, 605 records, 1 card,
    # capacities 3000 fingers / 10000 users / 100000 records.
    captured = bytes.fromhex(
        "0000000000000000000000000000000007000000000000000600000000000000"
        "5d020000000000000f0c0000000000000100000000000000b80b000010270000"
        "a0860100b20b00000927000043840100"
    )
    terminal.capacity_fingers, terminal.capacity_users, terminal.capacity_records = (
        3000,
        10000,
        100000,
    )
    terminal.add_numbered_users(7)
    terminal.store_user(User(7, "7", card=1))
    for uid in range(1, 7):
        terminal.add_template(str(uid), 0)
    terminal.add_records(605)
    ours = struct.unpack("<20i", pack_free_sizes(terminal)[:80])
    theirs = struct.unpack("<20i", captured)
    unknown_field = 10  # pyzk calls it "dummy" (3087 on that device): we send 0
    assert [v for i, v in enumerate(ours) if i != unknown_field] == [
        v for i, v in enumerate(theirs) if i != unknown_field
    ]


def test_prepare_buffer_small_data_comes_back_directly(terminal: Terminal) -> None:
    terminal.add_numbered_users(2)
    request = struct.pack("<bhii", 1, p.CMD_USERTEMP_RRQ, p.FCT_USER, 0)
    reply = handle(terminal, session(), p.CMD_PREPARE_BUFFER, request)
    assert reply.packets == [(p.CMD_DATA, terminal.packed_users())]


def test_prepare_buffer_large_data_is_chunked(terminal: Terminal) -> None:
    terminal.add_records(DIRECT_DATA_LIMIT)
    client = session(tcp=False)
    request = struct.pack("<bhii", 1, p.CMD_ATTLOG_RRQ, 0, 0)
    [(command, payload)] = handle(terminal, client, p.CMD_PREPARE_BUFFER, request).packets
    size = struct.unpack_from("<I", payload, 1)[0]
    assert (command, size) == (p.CMD_ACK_OK, len(terminal.packed_records()))
    chunk = handle(terminal, client, p.CMD_READ_BUFFER, struct.pack("<ii", 0, 3000))
    assert [c for c, _ in chunk.packets] == [p.CMD_PREPARE_DATA] + [p.CMD_DATA] * 3 + [p.CMD_ACK_OK]
    assert (
        b"".join(data for c, data in chunk.packets if c == p.CMD_DATA)
        == (terminal.packed_records()[:3000])
    )
    assert chunk.buffered
    beyond = handle(terminal, client, p.CMD_READ_BUFFER, struct.pack("<ii", size, 10))
    assert beyond.packets == [(p.CMD_ACK_ERROR, b"")]


def test_unknown_data_set_is_an_error(terminal: Terminal) -> None:
    request = struct.pack("<bhii", 1, 99, 0, 0)
    assert handle(terminal, session(), p.CMD_PREPARE_BUFFER, request).packets == [
        (p.CMD_ACK_ERROR, b"")
    ]


def test_user_write_rejects_odd_sizes(terminal: Terminal) -> None:
    user = User(5, "55", "Eva")
    ok = handle(terminal, session(), p.CMD_USER_WRQ, pack_user(user, 72))
    assert ok.packets == [(p.CMD_ACK_OK, b"")]
    bad = handle(terminal, session(), p.CMD_USER_WRQ, b"\x00" * 40)
    assert bad.packets == [(p.CMD_ACK_ERROR, b"")]


def test_delete_template_by_user_id(terminal: Terminal) -> None:
    terminal.add_user("77")
    terminal.add_template("77", 2)
    payload = struct.pack("<24sB", b"77", 2)
    assert handle(terminal, session(), p.CMD_DEL_USER_TEMP, payload).packets[0][0] == p.CMD_ACK_OK
    assert not terminal.has_template("77", 2)
    assert handle(terminal, session(), p.CMD_DEL_USER_TEMP, payload).packets[0][0] == (
        p.CMD_ACK_ERROR
    )


def test_clear_data_and_admins(terminal: Terminal) -> None:
    terminal.add_user("1", privilege=14)
    handle(terminal, session(), p.CMD_CLEAR_ADMIN, b"")
    assert terminal.users[0].privilege == 0
    handle(terminal, session(), p.CMD_CLEAR_DATA, b"")
    assert terminal.users == []


def test_malformed_upload_is_refused(terminal: Terminal) -> None:
    client = session()
    handle(terminal, client, p.CMD_PREPARE_DATA, struct.pack("<I", 3))
    handle(terminal, client, p.CMD_DATA, b"xyz")
    assert handle(terminal, client, p.CMD_SAVE_USERTEMPS, b"").packets == [(p.CMD_ACK_ERROR, b"")]


def test_tcp_chunks_can_be_split_like_the_captured_terminal(terminal: Terminal) -> None:
    # fananimi/pyzk test.py test_tcp_get_users_broken_tcp: a 5044-byte chunk came as five
    # CMD_DATA packets of 1008 bytes and one of 4.
    terminal.tcp_data_packet = 1008
    client = session(tcp=True)
    client.buffer = bytes(5044)
    reply = handle(terminal, client, p.CMD_READ_BUFFER, struct.pack("<ii", 0, 5044))
    sizes = [len(data) for command, data in reply.packets if command == p.CMD_DATA]
    assert sizes == [1008] * 5 + [4]


def test_template_stream_is_announced_like_the_captured_terminal(terminal: Terminal) -> None:
    # fananimi/pyzk test.py test_tcp_get_template_1f: the K14 of uid 14 sent a 1243-byte
    # template (with its trailing byte, 1244) in 1008-byte packets, announced like this.
    captured = bytes.fromhex("5050827d10000000dc055558d0983200dc040000f0030000")
    terminal.tcp_data_packet = 1008
    terminal.store_user(User(14, "14"))
    terminal.add_template("14", 1, bytes(1243))
    request = struct.pack("<Hb", 14, 1)
    reply = handle(terminal, session(tcp=True), p.CMD_GET_USERTEMP, request)
    command, payload = reply.packets[0]
    assert p.tcp_frame(p.build_packet(command, 0x98D0, 0x32, payload)) == captured
    assert [len(data) for c, data in reply.packets if c == p.CMD_DATA] == [1008, 236]


def test_unlock_takes_tenths_of_a_second(terminal: Terminal) -> None:
    """pyzk's unlock(5) sends 50 (the SDK's ACUnlock counts in 100 ms too)."""
    before = time.monotonic()
    reply = handle(terminal, session(), p.CMD_UNLOCK, struct.pack("<I", 50))
    assert reply.packets == [(p.CMD_ACK_OK, b"")]
    assert terminal.relay_open
    assert terminal.relay_open_until is not None
    assert before + 5 <= terminal.relay_open_until <= time.monotonic() + 5
    terminal.reset_runtime_state()  # a restart closes the lock
    assert not terminal.relay_open


def test_unlock_without_a_delay_is_refused(terminal: Terminal) -> None:
    assert handle(terminal, session(), p.CMD_UNLOCK, b"").packets == [(p.CMD_ACK_ERROR, b"")]
    assert not terminal.relay_open


def test_restart_without_an_answer(terminal: Terminal) -> None:
    """zk-protocol: a real device restarts without acknowledging."""
    terminal.ack_restart = False
    reply = handle(terminal, session(), p.CMD_RESTART, b"")
    assert (reply.packets, reply.after) == ([], After.REBOOT)


def upload(terminal: Terminal, client: Session, data: bytes, announced: int) -> Reply:
    handle(terminal, client, p.CMD_PREPARE_DATA, struct.pack("<I", announced))
    handle(terminal, client, p.CMD_DATA, data)
    return handle(terminal, client, p.CMD_SAVE_USERTEMPS, struct.pack("<IHH", 12, 0, 8))


def user_with_templates(user: User, fingers: list[tuple[int, bytes]]) -> bytes:
    """The buffer pyzk's save_user_template uploads (User.repack73, Finger.repack_only)."""
    row = b"\x02" + pack_user(user, 72)
    table = b""
    bodies = b""
    for finger, template in fingers:
        table += struct.pack("<bHbI", 2, user.uid, 0x10 + finger, len(bodies))
        bodies += struct.pack("<H", len(template)) + template
    return struct.pack("<III", len(row), len(table), len(bodies)) + row + table + bodies


def test_save_user_templates_stores_user_and_fingers(terminal: Terminal) -> None:
    data = user_with_templates(User(5, "55", "Eva"), [(0, b"first"), (9, b"last")])
    assert upload(terminal, session(), data, len(data)).packets == [(p.CMD_ACK_OK, b"")]
    assert [(t.finger_index, t.template) for t in terminal.templates] == [
        (0, b"first"),
        (9, b"last"),
    ]


@pytest.mark.parametrize(
    ("fingers", "short_by"),
    [
        ([(0, b"first"), (9, b"last")], 1),  # a CMD_DATA packet lost on the way
        ([(0, b"first"), (10, b"eleventh")], 0),
    ],
    ids=["shorter_than_announced", "finger_out_of_range"],
)
def test_save_user_templates_stores_nothing_of_a_bad_upload(
    terminal: Terminal, fingers: list[tuple[int, bytes]], short_by: int
) -> None:
    data = user_with_templates(User(5, "55", "Eva"), fingers)
    reply = upload(terminal, session(), data[: len(data) - short_by], len(data))
    assert reply.packets == [(p.CMD_ACK_ERROR, b"")]
    assert (terminal.users, terminal.templates) == ([], [])


def test_save_user_templates_beyond_capacity_stores_nothing(terminal: Terminal) -> None:
    terminal.capacity_fingers = 1
    data = user_with_templates(User(5, "55", "Eva"), [(0, b"first"), (9, b"last")])
    assert upload(terminal, session(), data, len(data)).packets == [(p.CMD_ACK_ERROR, b"")]
    assert (terminal.users, terminal.templates) == ([], [])


def test_set_time_then_get_time(terminal: Terminal) -> None:
    """The SDK's packed encoding, whole seconds; the clock runs on from what it was set to."""
    set_to = datetime(2026, 11, 2, 9, 30, 15)
    reply = handle(terminal, session(), p.CMD_SET_TIME, struct.pack("<I", p.encode_time(set_to)))
    assert reply.packets == [(p.CMD_ACK_OK, b"")]
    ((command, payload),) = handle(terminal, session(), p.CMD_GET_TIME, b"").packets
    assert command == p.CMD_ACK_OK
    read = p.decode_time(struct.unpack("<I", payload)[0])
    assert set_to <= read <= set_to + timedelta(minutes=1)


def test_set_time_ignored(terminal: Terminal) -> None:
    """Acknowledged, and the clock keeps its own time."""
    terminal.set_time_ignored = True
    before = terminal.clock
    set_to = datetime(2000, 1, 1)
    reply = handle(terminal, session(), p.CMD_SET_TIME, struct.pack("<I", p.encode_time(set_to)))
    assert reply.packets == [(p.CMD_ACK_OK, b"")]
    assert terminal.clock >= before


def test_clock_drifts(terminal: Terminal, freezer: FrozenDateTimeFactory) -> None:
    """A clock that gains 90 s a day is 90 s ahead a day after it was set, without a jump when
    the drift is changed."""
    set_to = datetime(2026, 11, 2, 9, 30, 0)
    terminal.set_clock(set_to)
    terminal.clock_drift = 90.0
    assert terminal.clock == set_to
    freezer.tick(timedelta(days=1))
    assert terminal.clock == set_to + timedelta(days=1, seconds=90)
    terminal.clock_drift = -30.0
    freezer.tick(timedelta(days=2))
    assert terminal.clock == set_to + timedelta(days=3, seconds=30)
