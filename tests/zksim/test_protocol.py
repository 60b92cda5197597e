"""Byte-level checks against packets captured from real terminals.

Unless said otherwise the hex strings come from fananimi/pyzk, file test.py (packets
recorded from real devices and replayed to pyzk's unit tests).
"""

from __future__ import annotations

from datetime import datetime
import struct

import pytest
from zk.base import make_commkey as pyzk_make_commkey

from zksim import protocol as p


def packet(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


def test_client_connect_packet_matches_capture() -> None:
    # test.py test_tcp_connect: what pyzk sends for CMD_CONNECT over TCP and UDP.
    assert p.tcp_frame(p.build_packet(p.CMD_CONNECT, 0, 0)) == packet(
        "5050827d08000000e80317fc00000000"
    )
    assert p.build_packet(p.CMD_CONNECT, 0, 0) == packet("e80317fc00000000")


def test_device_ack_matches_capture() -> None:
    # test.py test_tcp_auth: a real terminal's CMD_ACK_OK, session 0x45cf, reply 1.
    assert p.tcp_frame(p.build_packet(p.CMD_ACK_OK, 0x45CF, 1)) == packet(
        "5050827d08000000d0075fb2cf450100"
    )


@pytest.mark.parametrize(
    "hex_string",
    [
        "d5075bb2cf450000",  # test.py test_tcp_unauth: CMD_ACK_UNAUTH from the device
        "d0075fb2cf450100",  # test.py test_tcp_auth: CMD_ACK_OK
        "e903e6002ffb0100",  # test.py test_tcp_connect: CMD_EXIT from pyzk
        # test.py test_tcp_get_users_broken_tcp: CMD_PREPARE_BUFFER answer (odd length).
        "d007a7625c3c150000b4130000b4130000cdef2300",
        # same test: CMD_PREPARE_DATA answer to a chunk read.
        "dc050da65c3c1600b4130000f0030000",
    ],
)
def test_checksum_of_captured_packets(hex_string: str) -> None:
    assert p.parse_packet(packet(hex_string)).checksum_ok


@pytest.mark.parametrize(
    ("key", "frame"),
    [
        (12, "5050827d0c0000004e044e2ccf450100614d323c"),  # test.py test_tcp_unauth
        (45, "5050827d0c0000004e044db0cf45010061c9323c"),  # test.py test_tcp_auth
    ],
)
def test_auth_packet_matches_capture(key: int, frame: str) -> None:
    commkey = p.make_commkey(key, 0x45CF)
    assert p.tcp_frame(p.build_packet(p.CMD_AUTH, 0x45CF, 1, commkey)) == packet(frame)
    assert p.commkey_matches(commkey, key, 0x45CF)
    assert not p.commkey_matches(commkey, key + 1, 0x45CF)


@pytest.mark.parametrize(("key", "session"), [(0, 1), (1, 0xFFFF), (999999, 0x1234)])
def test_commkey_equals_pyzk(key: int, session: int) -> None:
    assert p.make_commkey(key, session) == pyzk_make_commkey(key, session)


def test_prepare_buffer_answer_has_the_captured_layout() -> None:
    # test.py test_tcp_get_users_broken_tcp: 0x00, size (5044) twice, then 4 more bytes.
    captured = p.parse_packet(packet("d007a7625c3c150000b4130000b4130000cdef2300")).payload
    zero, size, size_again, _rest = struct.unpack("<BIII", captured)
    assert (zero, size, size_again) == (0, 5044, 5044)


def test_split_tcp_frames_handles_partial_and_joined_frames() -> None:
    one = p.tcp_frame(p.build_packet(p.CMD_ACK_OK, 7, 1))
    two = p.tcp_frame(p.build_packet(p.CMD_DATA, 7, 2, b"abc"))
    buffer = bytearray(one + two[:5])
    assert list(p.split_tcp_frames(buffer)) == [one[8:]]
    buffer += two[5:]
    assert list(p.split_tcp_frames(buffer)) == [two[8:]]
    assert buffer == bytearray()


def test_garbage_on_the_stream_is_rejected() -> None:
    with pytest.raises(p.TcpFramingError):
        list(p.split_tcp_frames(bytearray(b"GET / HTTP/1.1\r\n")))


def test_time_round_trip_and_hex() -> None:
    when = datetime(2026, 12, 31, 23, 59, 59)
    assert p.decode_time(p.encode_time(when)) == when
    # adrobinoga/zk-protocol sections/realtime.md: 20<H0>/<H1>/<H2> <H3>:<H4>:<H5>
    assert p.encode_time_hex(when) == bytes((26, 12, 31, 23, 59, 59))


def test_corrupt_packet_fails_checksum() -> None:
    damaged = p.build_packet(p.CMD_ACK_OK, 1, 1, corrupt=True)
    assert not p.parse_packet(damaged).checksum_ok
