"""Wire format of the ZKTeco pull protocol: constants, framing, checksum and packers.

Everything here is pure (no sockets, no state) so it can be tested byte by byte against
packets captured from real terminals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
import struct
from typing import NamedTuple

USHRT_MAX = 65535

# Commands (client -> terminal).
CMD_DB_RRQ = 7
CMD_USER_WRQ = 8
CMD_USERTEMP_RRQ = 9
CMD_OPTIONS_RRQ = 11
CMD_OPTIONS_WRQ = 12
CMD_ATTLOG_RRQ = 13
CMD_CLEAR_DATA = 14
CMD_CLEAR_ATTLOG = 15
CMD_DELETE_USER = 18
CMD_DELETE_USERTEMP = 19
CMD_CLEAR_ADMIN = 20
CMD_UNLOCK = 31
CMD_GET_FREE_SIZES = 50
CMD_ENABLE_CLOCK = 57
CMD_STARTVERIFY = 60
CMD_STARTENROLL = 61
CMD_CANCELCAPTURE = 62
CMD_WRITE_LCD = 66
CMD_CLEAR_LCD = 67
CMD_GET_PINWIDTH = 69
CMD_GET_USERTEMP = 88
CMD_SAVE_USERTEMPS = 110
CMD_DEL_USER_TEMP = 134
CMD_GET_TIME = 201
CMD_SET_TIME = 202
CMD_REG_EVENT = 500
CMD_CONNECT = 1000
CMD_EXIT = 1001
CMD_ENABLEDEVICE = 1002
CMD_DISABLEDEVICE = 1003
CMD_RESTART = 1004
CMD_POWEROFF = 1005
CMD_SLEEP = 1006
CMD_RESUME = 1007
CMD_REFRESHDATA = 1013
CMD_REFRESHOPTION = 1014
CMD_TESTVOICE = 1017
CMD_GET_VERSION = 1100
CMD_AUTH = 1102
CMD_PREPARE_DATA = 1500
CMD_DATA = 1501
CMD_FREE_DATA = 1502
CMD_PREPARE_BUFFER = 1503
CMD_READ_BUFFER = 1504  # "CMD_DATA_RDY" in some docs: read one chunk of a prepared buffer

# Replies (terminal -> client).
CMD_ACK_OK = 2000
CMD_ACK_ERROR = 2001
CMD_ACK_DATA = 2002
CMD_ACK_UNAUTH = 2005
CMD_ACK_UNKNOWN = 0xFFFF

# Realtime event flags: sent in the session-id field of a CMD_REG_EVENT packet.
EF_ATTLOG = 1
EF_FINGER = 1 << 1
EF_ENROLLUSER = 1 << 2
EF_ENROLLFINGER = 1 << 3
EF_BUTTON = 1 << 4
EF_UNLOCK = 1 << 5
EF_VERIFY = 1 << 7
EF_FPFTR = 1 << 8
EF_ALARM = 1 << 9

# Data set selectors of CMD_DB_RRQ / CMD_USERTEMP_RRQ inside CMD_PREPARE_BUFFER.
FCT_FINGERTMP = 2
FCT_USER = 5

TCP_MAGIC = struct.pack("<HH", 0x5050, 0x7D82)
TCP_TOP = struct.Struct("<HHI")
HEADER = struct.Struct("<4H")
HEADER_SIZE = HEADER.size
TCP_TOP_SIZE = TCP_TOP.size

# Enrollment result codes carried by EF_ENROLLFINGER (adrobinoga/zk-protocol, pyzk enroll_user).
ENROLL_OK = 0
ENROLL_BAD_PARAMETER = 1
ENROLL_ALREADY_ENROLLED = 2
ENROLL_SAVE_ERROR = 3
ENROLL_FAILED = 4
ENROLL_DUPLICATE = 5
ENROLL_CANCELLED = 6
ENROLL_BUSY = 7
ENROLL_WRONG_STATE = 8

SCORE_GOOD = 100
SCORE_BAD = 0


def checksum(data: bytes) -> int:
    """ZK checksum (zkemsdk.c, same result as pyzk's __create_checksum).

    One's-complement-like sum of little-endian 16-bit words, folded with USHRT_MAX (not
    0x10000: the vendor's quirk, which clients reproduce, so we must too).
    """
    total = sum(struct.unpack_from(f"<{len(data) // 2}H", data)) if len(data) > 1 else 0
    if len(data) % 2:
        total += data[-1]
    total %= USHRT_MAX
    result = -total - 1
    while result < 0:
        result += USHRT_MAX
    return result


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded protocol packet (TCP top already removed)."""

    command: int
    checksum: int
    session_id: int
    reply_id: int
    payload: bytes

    @property
    def checksum_ok(self) -> bool:
        return self.checksum == packet_checksum(
            self.command, self.session_id, self.reply_id, self.payload
        )

    @property
    def plain_checksum_ok(self) -> bool:
        return self.checksum == plain_packet_checksum(
            self.command, self.session_id, self.reply_id, self.payload
        )


def packet_checksum(command: int, session_id: int, reply_id: int, payload: bytes) -> int:
    """Checksum of a packet as both terminals and the SDK compute it.

    Quirk (seen in captured packets and in pyzk): the sum covers the header with the
    *previous* reply number, because the SDK checksums before incrementing it.
    """
    previous = reply_id - 1 if reply_id else USHRT_MAX - 1
    return checksum(HEADER.pack(command, 0, session_id, previous) + payload)


def plain_packet_checksum(command: int, session_id: int, reply_id: int, payload: bytes) -> int:
    """The same sum over the header as sent, the way some implementations compute it."""
    return checksum(HEADER.pack(command, 0, session_id, reply_id) + payload)


def build_packet(
    command: int,
    session_id: int,
    reply_id: int,
    payload: bytes = b"",
    *,
    corrupt: bool = False,
    plain: bool = False,
) -> bytes:
    """Header + payload with a valid checksum (or a deliberately wrong one), SDK or plain."""
    compute = plain_packet_checksum if plain else packet_checksum
    value = compute(command, session_id, reply_id, payload)
    if corrupt:
        value ^= 0x5A5A
    return HEADER.pack(command, value, session_id, reply_id) + payload


def parse_packet(data: bytes) -> Packet:
    command, chk, session_id, reply_id = HEADER.unpack_from(data)
    return Packet(command, chk, session_id, reply_id, bytes(data[HEADER_SIZE:]))


def tcp_frame(packet: bytes) -> bytes:
    """Prefix the TCP top: magic 0x5050 0x7d82 and the length of the packet."""
    return TCP_MAGIC + struct.pack("<I", len(packet)) + packet


class TcpFramingError(ValueError):
    """The stream does not start with the TCP magic: the peer is not speaking ZK."""


def split_tcp_frames(buffer: bytearray) -> Iterator[bytes]:
    """Yield the complete frames in buffer and remove them from it (TCP is a stream)."""
    while len(buffer) >= TCP_TOP_SIZE:
        if buffer[:4] != TCP_MAGIC:
            raise TcpFramingError(bytes(buffer[:TCP_TOP_SIZE]).hex())
        length = TCP_TOP.unpack_from(buffer)[2]
        end = TCP_TOP_SIZE + length
        if len(buffer) < end:
            return
        frame = bytes(buffer[TCP_TOP_SIZE:end])
        del buffer[:end]
        yield frame


def make_commkey(key: int, session_id: int, ticks: int = 50) -> bytes:
    """Comm-key scramble of commpro.c MakeKey, as pyzk computes it for CMD_AUTH."""
    reversed_bits = int(f"{key & 0xFFFFFFFF:032b}"[::-1], 2)
    # MakeKey shifts the key bits into k from the lowest bit up, i.e. it reverses them.
    value = (reversed_bits + session_id) & 0xFFFFFFFF
    b = struct.pack("<I", value)
    mixed = bytes((b[0] ^ ord("Z"), b[1] ^ ord("K"), b[2] ^ ord("S"), b[3] ^ ord("O")))
    swapped = mixed[2:4] + mixed[0:2]
    tick = ticks & 0xFF
    return bytes((swapped[0] ^ tick, swapped[1] ^ tick, tick, swapped[3] ^ tick))


def commkey_matches(received: bytes, key: int, session_id: int) -> bool:
    """The third byte carries the client's tick value, so recompute with that one."""
    return len(received) >= 4 and received[:4] == make_commkey(key, session_id, received[2])


class ClockReading(NamedTuple):
    """A time as a terminal's clock writes it, impossible dates included.

    Real terminals log dates such as 30 February (pyzk issues 175 and 244): a datetime cannot
    hold them. Encoded like a datetime, field by field.
    """

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0


def encode_time(t: datetime | ClockReading) -> int:
    """zkemsdk.c EncodeTime: seconds in a calendar of 12 months of 31 days since 2000.

    Any day from 1 to 31 encodes in any month: that is how terminals come to log 30 February.
    """
    days = ((t.year % 100) * 12 * 31) + ((t.month - 1) * 31) + t.day - 1
    return days * 86400 + (t.hour * 60 + t.minute) * 60 + t.second


def decode_time(value: int) -> datetime:
    value, second = divmod(value, 60)
    value, minute = divmod(value, 60)
    value, hour = divmod(value, 24)
    value, day = divmod(value, 31)
    year, month = divmod(value, 12)
    return datetime(year + 2000, month + 1, day + 1, hour, minute, second)


def encode_time_hex(t: datetime | ClockReading) -> bytes:
    """Six bytes year-2000, month, day, hour, minute, second used by realtime events."""
    return bytes((t.year - 2000, t.month, t.day, t.hour, t.minute, t.second))


def option_reply(key: str, value: str) -> bytes:
    """Real devices echo the key: b'~SerialNumber=CQUJ...\\x00'."""
    return f"{key}={value}\x00".encode()


def with_total_size(body: bytes) -> bytes:
    """Data sets read through CMD_PREPARE_BUFFER start with their byte length."""
    return struct.pack("<I", len(body)) + body
