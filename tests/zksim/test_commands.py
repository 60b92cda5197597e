"""Command handlers, called directly (no sockets)."""

from __future__ import annotations

import struct

import pytest

from zksim import protocol as p
from zksim.commands import DIRECT_DATA_LIMIT, Session, handle, pack_free_sizes
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
