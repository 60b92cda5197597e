"""What the terminal answers to each command, independent of the transport."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
import enum
import struct

from . import protocol as p
from .records import USER_28, USER_72, Template, User, unpack_user
from .terminal import FINGER_INDEXES, Terminal

# Largest data set a K40 answers straight with CMD_DATA to CMD_PREPARE_BUFFER; anything
# larger goes through CMD_READ_BUFFER chunks. pyzk reads the direct reply over UDP with
# recv(1024), so it must fit one datagram with its 8-byte header.
DIRECT_DATA_LIMIT = 1016
UDP_DATA_PACKET = 1024  # pyzk reads UDP CMD_DATA packets with recv(1024 + 8)
STARTENROLL_TCP = struct.Struct("<24sbb")
STARTENROLL_UDP = struct.Struct("<Ib")
UNLOCK = struct.Struct("<I")
PREPARE_UPLOAD = struct.Struct("<I")
SIZES_FIELDS = 20


class After(enum.Enum):
    """What the server does once the reply has gone out."""

    NOTHING = enum.auto()
    CLOSE = enum.auto()  # end the session (CMD_EXIT, wrong comm key)
    REBOOT = enum.auto()  # CMD_RESTART / CMD_POWEROFF


@dataclass(slots=True)
class Reply:
    packets: list[tuple[int, bytes]]
    after: After = After.NOTHING
    buffered: bool = False  # a chunk transfer: the "drop in buffered read" fault applies
    # What some packets carry in the session field instead of the session id, by packet index.
    session_fields: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class PendingEvent:
    """A realtime event sent and not yet acknowledged."""

    packet: bytes
    sent_at: float
    tries: int = 1


@dataclass(eq=False)
class Session:
    """Protocol state of one client session (CMD_CONNECT .. CMD_EXIT)."""

    sid: int
    tcp: bool
    authenticated: bool
    last_seen: float
    event_mask: int = 0
    buffer: bytes = b""
    upload: bytearray = field(default_factory=bytearray)
    upload_size: int = 0  # announced by CMD_PREPARE_DATA
    outbox: deque[bytes] = field(default_factory=deque)
    in_flight: deque[PendingEvent] = field(default_factory=deque)


Handler = Callable[[Terminal, Session, bytes], Reply]
HANDLERS: dict[int, Handler] = {}


def handles(*commands: int) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for command in commands:
            HANDLERS[command] = handler
        return handler

    return register


def ok(payload: bytes = b"") -> Reply:
    return Reply([(p.CMD_ACK_OK, payload)])


def error() -> Reply:
    return Reply([(p.CMD_ACK_ERROR, b"")])


def ok_if(success: bool) -> Reply:
    return ok() if success else error()


def handle(terminal: Terminal, session: Session, command: int, payload: bytes) -> Reply:
    if not session.authenticated and command not in (p.CMD_AUTH, p.CMD_EXIT):
        return Reply([(p.CMD_ACK_UNAUTH, b"")])
    handler = HANDLERS.get(command)
    if handler is None:
        return Reply([(p.CMD_ACK_UNKNOWN, b"")])
    return handler(terminal, session, payload)


def data_reply(data: bytes, terminal: Terminal, session: Session) -> Reply:
    """PREPARE_DATA, the data in CMD_DATA packets, then ACK_OK, as a real device streams it.

    Over UDP the packets carry 1024 bytes, what pyzk receives. Over TCP the whole chunk
    goes in one packet unless terminal.tcp_data_packet asks for smaller ones (a terminal
    captured in pyzk's test.py used 1008-byte packets).
    """
    step = (terminal.tcp_data_packet or len(data)) if session.tcp else UDP_DATA_PACKET
    pieces = [data[i : i + step] for i in range(0, len(data), step or 1)] or [b""]
    # Captured (pyzk test.py, test_tcp_get_template_1f): the size of the data, then the size
    # of the packets it comes in; 0 when it comes whole.
    split = terminal.tcp_data_packet if session.tcp else 0
    packets = [(p.CMD_PREPARE_DATA, struct.pack("<II", len(data), split))]
    packets += [(p.CMD_DATA, piece) for piece in pieces]
    packets.append((p.CMD_ACK_OK, b""))
    return Reply(
        packets, buffered=True, session_fields=_stream_session_fields(terminal, data, pieces)
    )


def _stream_session_fields(terminal: Terminal, data: bytes, pieces: list[bytes]) -> dict[int, int]:
    """Counters and sizes some firmware puts in the session field of a data stream.

    CMD_DATA packets counting 0, 1, 2... were captured from a real terminal (fananimi/pyzk,
    test.py, test_tcp_get_users_broken_tcp); a K40 puts the size of the data in the session
    field of the CMD_ACK_OK that ends the stream (issue 9).
    """
    fields: dict[int, int] = {}
    if terminal.data_counter_in_session:
        fields |= {1 + index: index for index in range(len(pieces))}
    if terminal.data_size_in_ack:
        fields[len(pieces) + 1] = len(data) & 0xFFFF
    return fields


def _cstring(payload: bytes) -> str:
    return payload.split(b"\x00")[0].decode(errors="ignore")


@handles(p.CMD_AUTH)
def _auth(terminal: Terminal, session: Session, payload: bytes) -> Reply:
    if p.commkey_matches(payload, terminal.comm_key, session.sid):
        session.authenticated = True
        return ok()
    return Reply([(p.CMD_ACK_UNAUTH, b"")], after=After.CLOSE)


@handles(p.CMD_EXIT)
def _exit(_terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return Reply([(p.CMD_ACK_OK, b"")], after=After.CLOSE)


@handles(p.CMD_RESTART, p.CMD_POWEROFF)
def _restart(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    # zk-protocol says a real device does not even ACK a restart; pyzk 0.9 needs the ACK.
    return Reply([(p.CMD_ACK_OK, b"")] if terminal.ack_restart else [], after=After.REBOOT)


@handles(p.CMD_UNLOCK)
def _unlock(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    """The vendor manual: the first 4 bytes are the delay; pyzk and the SDK send tenths of s."""
    if len(payload) < UNLOCK.size:
        return error()
    terminal.unlock(UNLOCK.unpack_from(payload)[0] / 10)
    return ok()


@handles(
    p.CMD_STARTVERIFY,
    p.CMD_ENABLE_CLOCK,
    p.CMD_WRITE_LCD,
    p.CMD_CLEAR_LCD,
    p.CMD_REFRESHDATA,
    p.CMD_REFRESHOPTION,
    p.CMD_TESTVOICE,
    p.CMD_SLEEP,
    p.CMD_RESUME,
)
def _acknowledge(_terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return ok()


# Commands that only change the terminal's state and answer ACK_OK.
STATE_CHANGES: dict[int, Callable[[Terminal], object]] = {
    p.CMD_ENABLEDEVICE: lambda terminal: terminal.set_enabled(True),
    p.CMD_DISABLEDEVICE: lambda terminal: terminal.set_enabled(False),
    p.CMD_CANCELCAPTURE: Terminal.cancel_enrollment,  # also ends an enrollment: result 6
    p.CMD_CLEAR_ATTLOG: Terminal.clear_attendance,
    p.CMD_CLEAR_DATA: Terminal.clear_all_data,
    p.CMD_CLEAR_ADMIN: Terminal.clear_admins,
}


def _state_change(change: Callable[[Terminal], object]) -> Handler:
    def handler(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
        change(terminal)
        return ok()

    return handler


for _command, _change in STATE_CHANGES.items():
    HANDLERS[_command] = _state_change(_change)


@handles(p.CMD_GET_VERSION)
def _version(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return ok(terminal.firmware.encode() + b"\x00")


@handles(p.CMD_OPTIONS_RRQ)
def _read_option(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    key = _cstring(payload)
    value = terminal.option(key)
    # Unknown keys get CMD_ACK_ERROR (zk-protocol sections/other.md, ~IsABCPinEnable).
    return error() if value is None else ok(p.option_reply(key, value))


@handles(p.CMD_OPTIONS_WRQ)
def _write_option(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    key, _, value = _cstring(payload).partition("=")
    terminal.set_option(key, value)
    return ok()


@handles(p.CMD_GET_PINWIDTH)
def _pin_width(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return ok(bytes((int(terminal.option("~PIN2Width") or 9),)))


@handles(p.CMD_GET_FREE_SIZES)
def _free_sizes(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return ok(pack_free_sizes(terminal))


def pack_free_sizes(terminal: Terminal) -> bytes:
    """20 ints laid out as pyzk's read_sizes reads them, then 3 ints of face counters."""
    counts = terminal.counts()
    fields = [0] * SIZES_FIELDS
    fields[4] = counts["users"]
    fields[6] = counts["fingers"]
    fields[8] = counts["records"]
    fields[12] = counts["cards"]
    fields[14] = terminal.capacity_fingers
    fields[15] = terminal.capacity_users
    fields[16] = terminal.capacity_records
    fields[17] = terminal.capacity_fingers - counts["fingers"]
    fields[18] = terminal.capacity_users - counts["users"]
    fields[19] = terminal.capacity_records - counts["records"]
    faces = (0, 0, terminal.capacity_faces)
    return struct.pack(f"<{SIZES_FIELDS}i3i", *fields, *faces)


@handles(p.CMD_GET_TIME)
def _get_time(terminal: Terminal, _session: Session, _payload: bytes) -> Reply:
    return ok(struct.pack("<I", p.encode_time(terminal.clock)))


@handles(p.CMD_SET_TIME)
def _set_time(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    if not terminal.set_time_ignored:
        terminal.set_clock(p.decode_time(struct.unpack_from("<I", payload)[0]))
    return ok()


@handles(p.CMD_REG_EVENT)
def _register_events(_terminal: Terminal, session: Session, payload: bytes) -> Reply:
    session.event_mask = struct.unpack_from("<I", payload.ljust(4, b"\x00"))[0]
    return ok()


@handles(p.CMD_STARTENROLL)
def _start_enroll(terminal: Terminal, session: Session, payload: bytes) -> Reply:
    """TCP clients send a 24-byte user id string; pyzk over UDP sends a 4-byte integer."""
    if len(payload) >= STARTENROLL_TCP.size:
        raw_id, finger, _flag = STARTENROLL_TCP.unpack_from(payload)
        user_id = _cstring(raw_id)
    elif len(payload) >= STARTENROLL_UDP.size:
        number, finger = STARTENROLL_UDP.unpack_from(payload)
        user_id = str(number)
    else:
        return error()
    return ok_if(terminal.start_enrollment(session.sid, user_id, finger))


@handles(p.CMD_USER_WRQ)
def _write_user(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    if len(payload) not in (USER_28.size, USER_72.size):
        return error()
    return ok_if(terminal.store_user(unpack_user(payload)))


@handles(p.CMD_DELETE_USER)
def _delete_user(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    return ok_if(terminal.delete_uid(struct.unpack_from("<H", payload)[0]))


@handles(p.CMD_DELETE_USERTEMP)
def _delete_template(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    uid, finger = struct.unpack_from("<Hb", payload)
    return ok_if(terminal.delete_template(uid, finger))


@handles(p.CMD_DEL_USER_TEMP)
def _delete_template_by_user_id(terminal: Terminal, _session: Session, payload: bytes) -> Reply:
    raw_id, finger = struct.unpack_from("<24sB", payload)
    user = terminal.user_by_id(_cstring(raw_id))
    return ok_if(user is not None and terminal.delete_template(user.uid, finger))


def _data_set(terminal: Terminal, command: int, fct: int) -> bytes | None:
    if command == p.CMD_USERTEMP_RRQ and fct == p.FCT_USER:
        return terminal.packed_users()
    if command == p.CMD_ATTLOG_RRQ:
        return terminal.packed_records()
    if command == p.CMD_DB_RRQ and fct == p.FCT_FINGERTMP:
        return terminal.packed_templates()
    return None


@handles(p.CMD_PREPARE_BUFFER)
def _prepare_buffer(terminal: Terminal, session: Session, payload: bytes) -> Reply:
    """Small data sets come back at once in CMD_DATA; large ones are buffered for chunks."""
    _one, command, fct, _ext = struct.unpack_from("<bhii", payload.ljust(11, b"\x00"))
    data = _data_set(terminal, command, fct)
    if data is None:
        return error()
    if len(data) <= DIRECT_DATA_LIMIT:
        return Reply([(p.CMD_DATA, data)])
    session.buffer = data
    # Same layout as captured (pyzk test.py): 0x00, size, size, 4 more bytes.
    return ok(struct.pack("<BIII", 0, len(data), len(data), 0))


@handles(p.CMD_READ_BUFFER)
def _read_buffer(terminal: Terminal, session: Session, payload: bytes) -> Reply:
    start, size = struct.unpack_from("<ii", payload)
    if start < 0 or size <= 0 or start + size > len(session.buffer):
        return error()
    return data_reply(session.buffer[start : start + size], terminal, session)


@handles(p.CMD_FREE_DATA)
def _free_data(_terminal: Terminal, session: Session, _payload: bytes) -> Reply:
    session.buffer = b""
    session.upload.clear()
    return ok()


@handles(p.CMD_GET_USERTEMP)
def _get_user_template(terminal: Terminal, session: Session, payload: bytes) -> Reply:
    uid, finger = struct.unpack_from("<Hb", payload)
    template = terminal.template_of(uid, finger)
    if template is None:
        return error()
    # Devices append one byte after the template; pyzk strips it (data[:-1]).
    return data_reply(template.template + b"\x00", terminal, session)


@handles(p.CMD_PREPARE_DATA)
def _prepare_upload(_terminal: Terminal, session: Session, payload: bytes) -> Reply:
    """The vendor manual: the first 4 bytes announce the length of the data to come."""
    if len(payload) < PREPARE_UPLOAD.size:
        return error()
    session.upload.clear()
    session.upload_size = PREPARE_UPLOAD.unpack_from(payload)[0]
    return ok()


@handles(p.CMD_DATA)
def _upload_chunk(_terminal: Terminal, session: Session, payload: bytes) -> Reply:
    session.upload += payload
    return ok()


@handles(p.CMD_SAVE_USERTEMPS)
def _save_user_templates(terminal: Terminal, session: Session, _payload: bytes) -> Reply:
    """Store what pyzk's save_user_template uploaded: a user, a finger table, templates.

    All or nothing: an upload shorter than announced, or with a finger out of 0-9, stores
    nothing. Fingers the upload does not carry are kept.
    """
    upload = bytes(session.upload)
    session.upload.clear()
    if len(upload) != session.upload_size:
        return error()
    try:
        user, templates = _parse_user_upload(upload)
    except struct.error:
        return error()
    if any(t.finger_index not in FINGER_INDEXES for t in templates):
        return error()
    return ok_if(terminal.store_user_with_templates(user, templates))


def _parse_user_upload(data: bytes) -> tuple[User, list[Template]]:
    user_len, table_len, _fp_len = struct.unpack_from("<III", data)
    user_start = 12
    # The user record is the CMD_USER_WRQ layout preceded by a 0x02 marker byte.
    user = unpack_user(data[user_start + 1 : user_start + user_len])
    table = data[user_start + user_len : user_start + user_len + table_len]
    fingers = data[user_start + user_len + table_len :]
    templates = []
    for offset in range(0, len(table), 8):
        _kind, _uid, finger_code, start = struct.unpack_from("<bHbI", table, offset)
        size = struct.unpack_from("<H", fingers, start)[0]
        body = fingers[start + 2 : start + 2 + size]
        if len(body) != size:
            raise struct.error(f"template of {size} bytes cut at {len(body)}")
        templates.append(Template(user.uid, user.user_id, finger_code - 0x10, body))
    return user, templates
