"""The pyzk wrapper against the simulated K40 over real loopback sockets, TCP and UDP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import replace
from datetime import datetime, timedelta
import random
import select
import socket
import struct
import threading
import time
from typing import Any

import pytest
from zk import ZK, const

from custom_components.zkteco.pull.rows import EnrolledFinger
from custom_components.zkteco.pull.terminal import (
    EnrollmentOutcome,
    EnrollmentResult,
    FingerScored,
    FingerTemplate,
    Punch,
    TerminalAuthError,
    TerminalConfig,
    TerminalConnectionError,
    TerminalError,
    TerminalEvent,
    TerminalInfo,
    TerminalInputError,
    TerminalRefusedError,
    TerminalUndeliveredError,
    TerminalUnknownUserError,
    TerminalUser,
    TerminalWriteUncertainError,
    UserChanges,
    ZKTerminal,
    _decode_event,
    checksum,
)
from zksim import PressOutcome, Record, User, ZKSimulator, commands as sim_commands, protocol as p
from zksim.records import EVENT_SIZES, fake_template, pack_attlog_event, pack_records

from .conftest import HISTORY_RECORDS, HISTORY_START, PUNCH_ON_FEBRUARY_30, closed_port

COMM_KEY = 4242
SHORT_TIMEOUT = 0.3
# How long a test waits for something the simulator does on its own thread (never a measurement).
PATIENCE = 5.0

ANA = TerminalUser(uid=1, user_id="123", name="Ana Garcia", privilege=0, card=0)
LUIS = TerminalUser(uid=2, user_id="7", name="Luis Perez", privilege=14, card=4711)
EVA = TerminalUser(uid=3, user_id="9", name="Eva", privilege=14, card=99)

type TerminalFactory = Callable[..., ZKTerminal]


@pytest.fixture(params=[False, True], ids=["tcp", "udp"])
def udp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def sim(socket_enabled: None) -> Iterator[ZKSimulator]:
    """A K40 answering on TCP and UDP: two users, one fingerprint, 20 records of history."""
    terminal = ZKSimulator(udp=True)
    terminal.add_user(ANA.user_id, ANA.name)
    terminal.add_user(LUIS.user_id, LUIS.name, privilege=LUIS.privilege, card=LUIS.card)
    terminal.add_template(LUIS.user_id, 0)
    terminal.add_records(HISTORY_RECORDS, start=HISTORY_START)
    terminal.enroll_timeout = 2.0
    terminal.start()
    yield terminal
    terminal.stop()


@pytest.fixture
def open_terminal(sim: ZKSimulator, udp: bool) -> Iterator[TerminalFactory]:
    """Sessions with the simulator over the protocol under test; all closed afterwards."""
    opened: list[ZKTerminal] = []

    def factory(connect: bool = True, **config: Any) -> ZKTerminal:
        config = {"host": "127.0.0.1", "port": sim.port, "udp": udp, "timeout": 2.0} | config
        terminal = ZKTerminal(TerminalConfig(**config))
        opened.append(terminal)
        if connect:
            terminal.connect()
        return terminal

    yield factory
    for terminal in opened:
        terminal.close()


@pytest.fixture
def terminal(open_terminal: TerminalFactory) -> ZKTerminal:
    return open_terminal()


def wait_for_events(terminal: ZKTerminal, count: int) -> list[TerminalEvent]:
    """Read events until ``count`` arrived (the simulator sends them from its own thread)."""
    events: list[TerminalEvent] = []
    deadline = time.monotonic() + PATIENCE
    while len(events) < count and time.monotonic() < deadline:
        events += terminal.read_events(0.1)
    return events


# -- reading the terminal -------------------------------------------------------------------


def test_read_info(terminal: ZKTerminal) -> None:
    assert terminal.read_info() == TerminalInfo(
        serial_number="CQUJ203960001",
        model="K40",
        firmware="Ver 6.60 May 25 2018",
        platform="ZLM60_TFT",
        mac="00:17:61:C8:31:07",
    )


def test_read_counters(terminal: ZKTerminal) -> None:
    counters = terminal.read_counters()
    assert (counters.users, counters.fingers, counters.records, counters.cards) == (2, 1, 20, 1)
    assert (counters.users_capacity, counters.fingers_capacity, counters.records_capacity) == (
        3000,
        1000,
        80000,
    )


def test_read_clock(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.set_clock(datetime(2026, 11, 2, 9, 30, 0))
    # The simulated clock runs on while the packets travel; a few seconds is a generous bound.
    assert abs(terminal.read_clock() - datetime(2026, 11, 2, 9, 30, 0)) < timedelta(seconds=5)


@pytest.fixture
def after_counting(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], object]], None]:
    """Make something happen on the terminal right after the wrapper first reads its counters."""

    def install(action: Callable[[], object]) -> None:
        read_sizes = ZK.read_sizes
        pending = [action]

        def read_sizes_then_act(zk: ZK) -> bool:
            result = bool(read_sizes(zk))
            while pending:
                pending.pop()()
            return result

        monkeypatch.setattr(ZK, "read_sizes", read_sizes_then_act)

    return install


@pytest.fixture(params=[72, 28], ids=["72_byte_users", "28_byte_users"])
def user_format(request: pytest.FixtureRequest, sim: ZKSimulator) -> int:
    """The terminal sends its users in the extended (72-byte) or the older (28-byte) layout."""
    sim.user_format = request.param
    return sim.user_format


def as_sent(users: list[TerminalUser], user_format: int) -> list[TerminalUser]:
    """The users as a layout carries them: the 28-byte one has room for 8 characters of a name."""
    name_size = 24 if user_format == 72 else 8
    return [replace(user, name=user.name[:name_size]) for user in users]


def test_read_users(terminal: ZKTerminal, user_format: int) -> None:
    assert terminal.read_users() == as_sent([ANA, LUIS], user_format)


def test_user_without_a_name(sim: ZKSimulator, terminal: ZKTerminal, user_format: int) -> None:
    """pyzk would call him "NN-9"; his name stays empty (and the password is never read)."""
    sim.add_user(EVA.user_id, privilege=EVA.privilege, password="1234", card=EVA.card)
    assert terminal.read_users()[-1] == replace(EVA, name="")


def test_read_users_when_there_are_none(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.clear_all_data()
    assert terminal.read_users() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda sim: sim.add_user(EVA.user_id, EVA.name, EVA.privilege, card=EVA.card),
            [ANA, LUIS, EVA],
        ),
        (lambda sim: sim.delete_user(LUIS.user_id), [ANA]),
        (lambda sim: sim.clear_all_data(), []),
    ],
    ids=["added", "deleted", "all_deleted"],
)
def test_read_users_while_they_change(
    sim: ZKSimulator,
    terminal: ZKTerminal,
    user_format: int,
    after_counting: Callable[[Callable[[], object]], None],
    change: Callable[[ZKSimulator], object],
    expected: list[TerminalUser],
) -> None:
    """A user added or deleted between the counter and the transfer: the layout is still found.

    pyzk divides the table by the count from before: with 28-byte users it decodes the table as
    72-byte ones and loses users or reads garbage.
    """
    after_counting(lambda: change(sim))
    assert terminal.read_users() == as_sent(expected, user_format)


def test_read_many_users_in_chunks(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """A table larger than one chunk (64 KB over TCP, 16 KB over UDP) comes in several."""
    sim.add_numbered_users(1000)  # "1".."1000" replace Ana's uid 1 and Luis's uid 2
    users = terminal.read_users()
    assert len(users) == 1000
    assert users[-1] == TerminalUser(1000, "1000", "Usuario 1000", 0, 0)


def expected_history(first: int = 0) -> list[Punch]:
    people = [ANA.user_id, LUIS.user_id]
    return [
        Punch(people[index % 2], HISTORY_START + timedelta(minutes=5 * index), 1, 0)
        for index in range(first, HISTORY_RECORDS)
    ]


@pytest.mark.parametrize("record_size", [8, 16, 40])
def test_read_attendance(sim: ZKSimulator, terminal: ZKTerminal, record_size: int) -> None:
    """Each record layout decodes to the same punches, whole or from an index on."""
    sim.record_size = record_size
    log = terminal.read_attendance([ANA, LUIS])
    assert log.total == HISTORY_RECORDS
    assert log.punches() == expected_history()
    assert log.punches(18) == expected_history(18)
    assert log.punch(3) == expected_history()[3]


def test_read_attendance_of_unknown_uids(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """8-byte records carry only the uid: without the user list, the uid stands in."""
    sim.record_size = 8
    assert terminal.read_attendance([]).punch(1).user_id == str(LUIS.uid)


def test_read_attendance_when_empty(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.clear_attendance()
    log = terminal.read_attendance([ANA, LUIS])
    assert (log.total, log.punches()) == (0, [])


@pytest.mark.parametrize("record_size", [8, 16, 40])
def test_read_attendance_while_someone_punches(
    sim: ZKSimulator,
    terminal: ZKTerminal,
    record_size: int,
    after_counting: Callable[[Callable[[], object]], None],
) -> None:
    """A punch between reading the counter and the transfer: the layout is still recognised."""
    sim.record_size = record_size
    after_counting(lambda: sim.punch(ANA.user_id, timestamp=datetime(2026, 11, 3, 8, 0, 0)))
    log = terminal.read_attendance([ANA, LUIS])
    assert log.total == HISTORY_RECORDS + 1
    assert log.punch(HISTORY_RECORDS) == Punch(ANA.user_id, datetime(2026, 11, 3, 8, 0, 0), 1, 0)


def test_read_attendance_cleared_meanwhile(
    sim: ZKSimulator, terminal: ZKTerminal, after_counting: Callable[[Callable[[], object]], None]
) -> None:
    after_counting(sim.clear_attendance)
    assert terminal.read_attendance([ANA, LUIS]).total == 0


def test_has_template(terminal: ZKTerminal) -> None:
    assert terminal.has_template(LUIS.uid, 0)
    assert not terminal.has_template(LUIS.uid, 1)
    assert not terminal.has_template(ANA.uid, 0)


def test_has_template_of_a_high_uid(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """The uid goes out unsigned: uids above 32767 exist on terminals with many users."""
    sim.store_user(User(40000, "40000"))
    sim.add_template("40000", 3)
    assert terminal.has_template(40000, 3)
    assert not terminal.has_template(40000, 4)


def test_template_missing_acknowledged(
    terminal: ZKTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some firmware answers a missing template with CMD_ACK_OK (zk-protocol's example does)."""
    monkeypatch.setitem(sim_commands.HANDLERS, p.CMD_GET_USERTEMP, lambda *_: sim_commands.ok())
    assert not terminal.has_template(ANA.uid, 0)


# -- enrollment and realtime events -----------------------------------------------------------


def test_enrollment(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """Three presses: each is reported and scored, then the result; the terminal comes back."""
    terminal.register_events()
    terminal.start_enrollment(ANA.user_id, 1)
    assert sim.enrolling
    assert not sim.enabled
    sim.press_finger(PressOutcome.BAD_QUALITY)
    for _ in range(3):
        sim.press_finger(PressOutcome.GOOD)
    events = wait_for_events(terminal, 5)
    size = len(sim.template_of(ANA.uid, 1).template)
    assert events == [
        FingerScored(0),
        *[FingerScored(100)] * 3,
        EnrollmentResult(EnrollmentOutcome.SUCCESS, size),
    ]
    terminal.end_enrollment()
    assert sim.enabled
    assert terminal.has_template(ANA.uid, 1)


def test_enrollment_cancelled(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    terminal.register_events()
    terminal.start_enrollment(ANA.user_id, 1)
    sim.cancel_enrollment()
    assert wait_for_events(terminal, 1) == [
        EnrollmentResult(EnrollmentOutcome.TIMEOUT_OR_CANCELLED)
    ]
    terminal.end_enrollment()
    assert sim.enabled


def test_enrollment_of_an_enrolled_finger_is_refused(
    sim: ZKSimulator, terminal: ZKTerminal
) -> None:
    with pytest.raises(TerminalRefusedError):
        terminal.start_enrollment(LUIS.user_id, 0)
    assert not sim.enrolling


@pytest.mark.parametrize("udp", [True], ids=["udp"])
def test_udp_enrollment_needs_a_numeric_user_id(
    sim: ZKSimulator, open_terminal: TerminalFactory
) -> None:
    """Over UDP the command carries the user id as a number: others are refused, not sent."""
    terminal = open_terminal()
    sim.add_user("A-1", "Eva")
    with pytest.raises(TerminalRefusedError):
        terminal.start_enrollment("A-1", 0)
    assert terminal.read_counters().users == 3  # the session survived


@pytest.mark.parametrize("event_size", EVENT_SIZES)
def test_punch_event(sim: ZKSimulator, terminal: ZKTerminal, event_size: int) -> None:
    """Every size of realtime punch terminals send decodes to the same punch."""
    sim.event_size = event_size
    terminal.register_events()
    sim.punch(ANA.user_id, punch=1, status=15, timestamp=datetime(2026, 11, 2, 17, 5, 9))
    assert wait_for_events(terminal, 1) == [
        Punch(ANA.user_id, datetime(2026, 11, 2, 17, 5, 9), 15, 1)
    ]


def test_malformed_punch_event_is_skipped(
    sim: ZKSimulator, terminal: ZKTerminal, caplog: pytest.LogCaptureFixture
) -> None:
    """A punch dated February 30th is dropped (and said, without its bytes); the next one counts."""
    terminal.register_events()
    sim.send_event(p.EF_ATTLOG, PUNCH_ON_FEBRUARY_30)
    sim.punch(ANA.user_id, timestamp=datetime(2026, 11, 2, 9, 0, 0))
    with caplog.at_level("DEBUG"):
        assert wait_for_events(terminal, 1) == [
            Punch(ANA.user_id, datetime(2026, 11, 2, 9, 0, 0), 1, 0)
        ]
    assert "event 1 of 32 bytes" in caplog.text
    assert "123" not in caplog.text


def test_events_back_to_back(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """Several events in one read are all taken, in order."""
    sim.event_window = 3
    terminal.register_events()
    times = [datetime(2026, 11, 2, 9, minute, 0) for minute in range(3)]
    for when in times:
        sim.punch(LUIS.user_id, timestamp=when)
    assert [event.timestamp for event in wait_for_events(terminal, 3)] == times  # type: ignore[union-attr]


def test_event_before_a_reply_is_kept(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """A punch that arrives while a command waits for its reply is set aside, not lost."""
    terminal.register_events()
    sim.punch(ANA.user_id, timestamp=datetime(2026, 11, 2, 9, 0, 0))
    assert select.select([terminal], [], [], PATIENCE)[0]  # the event waits in the socket
    assert terminal.read_counters().records == HISTORY_RECORDS + 1
    assert terminal.read_events(0) == [Punch(ANA.user_id, datetime(2026, 11, 2, 9, 0, 0), 1, 0)]
    # Acknowledged while the command waited (the terminal would send it again otherwise).
    assert sim.wait_for(lambda simulator: const.CMD_ACK_OK in simulator.commands)


def test_event_during_a_command_is_handed_over_at_once(
    sim: ZKSimulator, open_terminal: TerminalFactory
) -> None:
    """With a receiver, a punch that arrives during a command does not wait for the command."""
    received: list[list[TerminalEvent]] = []
    template = open_terminal(connect=False)
    terminal = ZKTerminal(template._config, on_events=received.append)
    terminal.connect()
    terminal.register_events()
    sim.punch(ANA.user_id, timestamp=datetime(2026, 11, 2, 9, 0, 0))
    assert select.select([terminal], [], [], PATIENCE)[0]
    terminal.read_counters()
    assert received == [[Punch(ANA.user_id, datetime(2026, 11, 2, 9, 0, 0), 1, 0)]]
    assert terminal.read_events(0) == []
    terminal.close()


def test_a_forgotten_udp_session_is_a_lost_connection(
    sim: ZKSimulator, open_terminal: TerminalFactory
) -> None:
    """A terminal that rebooted answers the old session with CMD_ACK_UNAUTH: reconnect."""
    terminal = open_terminal(udp=True)
    sim.reboot_duration = 0.1
    sim.reboot()
    assert sim.wait_for(lambda simulator: not simulator.rebooting)
    with pytest.raises(TerminalConnectionError, match="no longer knows this session"):
        terminal.read_counters()


def test_no_events_without_registering(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.punch(ANA.user_id)
    assert terminal.read_events(0.2) == []


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        *[(const.EF_ATTLOG, bytes(size)) for size in (2, 11, 13, 20, 31)],
        (const.EF_FINGER, b""),
        (const.EF_BUTTON, b""),
        (const.EF_VERIFY, b"\x01\x00"),
    ],
    ids=[f"punch_of_{size}_bytes" for size in (2, 11, 13, 20, 31)] + ["finger", "button", "verify"],
)
def test_events_we_do_not_use_are_dropped(event: int, payload: bytes) -> None:
    assert _decode_event(event, payload) is None


# -- the protocol itself ----------------------------------------------------------------------


def pyzk_checksum(packet: bytes) -> int:
    """pyzk's own __create_checksum (it uses nothing of the instance)."""
    create_checksum = ZK._ZK__create_checksum  # type: ignore[attr-defined]
    return int(struct.unpack("<H", create_checksum(None, packet))[0])


def test_checksum_equals_pyzk() -> None:
    rng = random.Random(4370)
    packets = [rng.randbytes(rng.randrange(0, 300)) for _ in range(500)]
    packets += [b"", b"\xff", b"\xff" * 64, b"\xff" * 65, b"\x00" * 9, b"\x01\x00" * 40]
    for packet in packets:
        assert checksum(packet) == pyzk_checksum(packet), packet.hex()


# Conversations from pyzk's own unit tests, which replay packets of real terminals
# (fananimi/pyzk, test.py: test_tcp_connect, test_tcp_auth, test_force_udp_connect).
# Each is (replies of the terminal, the packets the client must send, comm key, UDP).
PYZK_CAPTURES = {
    "tcp": (
        ["5050827d08000000d007fffc2ffb0000"],
        ["5050827d08000000e80317fc00000000", "5050827d08000000e903e6002ffb0100"],
        0,
        False,
    ),
    "tcp_comm_key": (
        ["5050827d08000000d5075bb2cf450000", "5050827d08000000d0075fb2cf450100"],
        [
            "5050827d08000000e80317fc00000000",
            "5050827d0c0000004e044db0cf45010061c9323c",
            "5050827d08000000e90345b6cf450200",
        ],
        45,
        False,
    ),
    "udp": (
        ["d007fffc2ffb0000"],
        ["e80317fc00000000", "e903e6002ffb0100"],
        0,
        True,
    ),
}


class ScriptedTerminal:
    """A terminal that answers each packet with the next scripted reply, and records them.

    A reply of None reads the packet without answering it; with ``goodbye`` one more packet
    (the client's CMD_EXIT) is read and recorded after the script.
    """

    def __init__(self, replies: list[bytes | None], udp: bool, goodbye: bool = True) -> None:
        self.replies = replies
        self.udp = udp
        self.goodbye = goodbye
        self.received: list[bytes] = []
        kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(PATIENCE)
        if not udp:
            self.sock.listen(1)
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedTerminal:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(PATIENCE)
        self.sock.close()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            if self.udp:
                self._converse(self.sock, lambda packet, peer: self.sock.sendto(packet, peer))
            else:
                connection, _ = self.sock.accept()
                with connection:
                    connection.settimeout(PATIENCE)
                    self._converse(connection, lambda packet, _peer: connection.sendall(packet))

    def _converse(self, sock: socket.socket, send: Callable[[bytes, Any], object]) -> None:
        for reply in [*self.replies, *([None] if self.goodbye else [])]:
            packet, peer = sock.recvfrom(65536)
            if not packet:
                return
            self.received.append(packet)
            if reply is not None:
                send(reply, peer)


@pytest.mark.parametrize("capture", list(PYZK_CAPTURES), ids=list(PYZK_CAPTURES))
def test_session_bytes_equal_pyzk(socket_enabled: None, capture: str) -> None:
    """CMD_CONNECT, CMD_AUTH and CMD_EXIT leave our wrapper exactly as they leave pyzk."""
    replies, expected, comm_key, udp = PYZK_CAPTURES[capture]
    with ScriptedTerminal([bytes.fromhex(reply) for reply in replies], udp) as scripted:
        terminal = ZKTerminal(TerminalConfig("127.0.0.1", scripted.port, comm_key, udp, PATIENCE))
        terminal.connect()
        terminal.close()
    assert [packet.hex() for packet in scripted.received] == expected


@pytest.mark.parametrize(
    ("replies", "udp"),
    [
        ([b"HTTP/1.1 400 Bad Request\r\n\r\n"], False),
        ([None], False),
        ([b"\xd0\x07"], True),
        (
            [
                p.tcp_frame(p.build_packet(p.CMD_ACK_OK, 1, 0)),
                p.tcp_frame(p.build_packet(p.CMD_ACK_OK, 1, 1)),
            ],
            False,
        ),
    ],
    ids=["not_zk", "hangs_up", "short_datagram", "clock_without_time"],
)
def test_garbled_answers(socket_enabled: None, replies: list[bytes | None], udp: bool) -> None:
    """Whatever a wrong peer answers, the caller gets a connection error."""
    with ScriptedTerminal(replies, udp, goodbye=False) as scripted:
        terminal = ZKTerminal(TerminalConfig("127.0.0.1", scripted.port, 0, udp, PATIENCE))
        with pytest.raises(TerminalConnectionError):
            connect_and_read_clock(terminal)
        terminal.close()


def connect_and_read_clock(terminal: ZKTerminal) -> None:
    terminal.connect()
    terminal.read_clock()


def tcp_reply(command: int, payload: bytes = b"") -> bytes:
    """A reply with a valid checksum (the wrapper does not match session or reply numbers)."""
    return p.tcp_frame(p.build_packet(command, 1, 1, payload))


# What CMD_GET_FREE_SIZES answers for a log of one record (field 8 counts records).
ONE_RECORD = tcp_reply(p.CMD_ACK_OK, struct.pack("<20i", *(int(field == 8) for field in range(20))))
LOG_OF_40_BYTES = tcp_reply(p.CMD_ACK_OK, struct.pack("<BIII", 0, 40, 40, 0))


def test_chunk_answered_directly(socket_enabled: None) -> None:
    """Some firmware answers a chunk read with the data itself, without CMD_PREPARE_DATA."""
    when = datetime(2026, 11, 2, 8, 0, 0)
    log = p.with_total_size(pack_records([Record(1, ANA.user_id, when)], 40))
    script = [
        tcp_reply(p.CMD_ACK_OK),
        ONE_RECORD,
        tcp_reply(p.CMD_ACK_OK, struct.pack("<BIII", 0, len(log), len(log), 0)),
        tcp_reply(p.CMD_DATA, log),
        tcp_reply(p.CMD_ACK_OK),  # CMD_FREE_DATA
        ONE_RECORD,
    ]
    with ScriptedTerminal(script, udp=False) as scripted:
        terminal = ZKTerminal(TerminalConfig("127.0.0.1", scripted.port, timeout=PATIENCE))
        terminal.connect()
        assert terminal.read_attendance([]).punches() == [Punch(ANA.user_id, when, 1, 0)]
        terminal.close()


@pytest.mark.parametrize(
    "replies",
    [
        [tcp_reply(p.CMD_ACK_ERROR)],
        [LOG_OF_40_BYTES, tcp_reply(p.CMD_ACK_ERROR)],
        [LOG_OF_40_BYTES, tcp_reply(p.CMD_PREPARE_DATA) + tcp_reply(p.CMD_ACK_UNAUTH)],
        [tcp_reply(p.CMD_DATA, p.with_total_size(bytes(30))), ONE_RECORD],
        [tcp_reply(p.CMD_DATA, struct.pack("<I", 40) + bytes(30))],
    ],
    ids=[
        "transfer_refused",
        "chunk_refused",
        "transfer_interrupted",
        "unknown_layout",
        "truncated",
    ],
)
def test_attendance_transfer_refused(socket_enabled: None, replies: list[bytes | None]) -> None:
    """The terminal refuses or garbles a transfer: the caller is told, the session survives."""
    script = [tcp_reply(p.CMD_ACK_OK), ONE_RECORD, *replies]
    with ScriptedTerminal(script, udp=False, goodbye=False) as scripted:
        terminal = ZKTerminal(TerminalConfig("127.0.0.1", scripted.port, timeout=PATIENCE))
        terminal.connect()
        with pytest.raises(TerminalRefusedError):
            terminal.read_attendance([])
        assert terminal.connected
        terminal.close()


@pytest.mark.parametrize("length", [0x10000, 0xFFFFFFFF], ids=["64_kib", "4_gib"])
def test_frame_length_is_capped(socket_enabled: None, length: int) -> None:
    """A corrupt length neither makes us wait for gigabytes nor make room for them.

    The stream cannot be trusted after it: the session is lost, not the command refused.
    """
    corrupt_top = p.TCP_MAGIC + struct.pack("<I", length) + p.build_packet(p.CMD_ACK_OK, 1, 1)
    with ScriptedTerminal([tcp_reply(p.CMD_ACK_OK), corrupt_top], udp=False) as scripted:
        terminal = ZKTerminal(TerminalConfig("127.0.0.1", scripted.port, timeout=PATIENCE))
        with pytest.raises(TerminalConnectionError, match=f"frame of {length} bytes"):
            connect_and_read_clock(terminal)
        terminal.close()


# -- shapes of real terminals -----------------------------------------------------------------


def a_punch_arrives(sim: ZKSimulator, terminal: ZKTerminal) -> bool:
    """Ana punches; the session registered for events receives her punch, and nothing else."""
    when = datetime(2026, 11, 2, 9, 0, 0)
    sim.punch(ANA.user_id, timestamp=when)
    return wait_for_events(terminal, 1) == [Punch(ANA.user_id, when, 1, 0)]


def test_replies_with_the_plain_checksum(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    """A terminal that checksums the header as sent, not the SDK way, is talked to all the same."""
    sim.plain_checksum = True
    terminal = open_terminal()
    terminal.register_events()
    assert terminal.read_info().serial_number == sim.serial
    assert terminal.read_users() == [ANA, LUIS]
    assert terminal.read_attendance([ANA, LUIS]).punches() == expected_history()
    assert a_punch_arrives(sim, terminal)


@pytest.mark.parametrize(
    "shape", ["data_counter_in_session", "data_size_in_ack"], ids=["counter", "size_in_ack"]
)
def test_session_field_reused_in_a_transfer(
    sim: ZKSimulator, terminal: ZKTerminal, shape: str
) -> None:
    """Data packets that count in the session field, an ACK that carries the size there.

    Nothing compares that field with the session id: the table arrives whole and the session
    goes on.
    """
    setattr(sim, shape, True)
    sim.tcp_data_packet = 1008  # the size of the captured packets
    sim.add_numbered_users(1000)  # more than one chunk both over TCP and UDP
    users = terminal.read_users()
    assert (len(users), users[-1].user_id) == (1000, "1000")
    assert terminal.read_counters().users == 1000


@pytest.mark.parametrize("udp", [False], ids=["tcp"])
@pytest.mark.parametrize(("segment", "more_records"), [(5, 0), (256, 30)], ids=["5", "256"])
def test_frames_split_across_reads(
    sim: ZKSimulator, open_terminal: TerminalFactory, segment: int, more_records: int
) -> None:
    """TCP hands frames over in pieces, headers included: each is put together again.

    In pieces of 256 bytes, as captured, the log comes in a data stream; in pieces of 5 bytes
    (each a pause apart) it stays small enough to come in one packet.
    """
    sim.tcp_segment = segment
    sim.add_records(more_records)
    terminal = open_terminal()
    terminal.register_events()
    assert terminal.read_users() == [ANA, LUIS]
    assert terminal.read_attendance([ANA, LUIS]).total == HISTORY_RECORDS + more_records
    assert a_punch_arrives(sim, terminal)


@pytest.mark.parametrize("udp", [True], ids=["udp"])
def test_spoofed_udp_event_is_not_delivered(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """Any host can send a datagram to our port: only what comes from the terminal counts."""
    terminal.register_events()
    with socket.fromfd(terminal.fileno(), socket.AF_INET, socket.SOCK_DGRAM) as ours:
        our_address = ours.getsockname()
    forged = Record(2, LUIS.user_id, datetime(2026, 11, 2, 8, 0, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
        spoofer.sendto(
            p.build_packet(p.CMD_REG_EVENT, p.EF_ATTLOG, 0, pack_attlog_event(forged, 32)),
            our_address,
        )
    assert a_punch_arrives(sim, terminal)
    assert terminal.read_events(0.2) == []


@pytest.mark.parametrize("udp", [False], ids=["tcp"])
def test_tcp_keepalive(terminal: ZKTerminal) -> None:
    """An idle session with a terminal that vanished is noticed within two minutes."""
    with socket.fromfd(terminal.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
    assert idle + interval * probes <= 120


@pytest.mark.parametrize("udp", [False], ids=["tcp"])
def test_tcp_nodelay(terminal: ZKTerminal) -> None:
    """A command right after a realtime event's acknowledgement goes out at once: Nagle would
    hold it until the terminal acknowledged the acknowledgement (bench/bench_templates.py)."""
    with socket.fromfd(terminal.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("plain", [False, True], ids=["sdk_form", "plain_form"])
def test_corrupted_reply(sim: ZKSimulator, terminal: ZKTerminal, plain: bool) -> None:
    """A reply whose checksum fits neither form is refused."""
    sim.plain_checksum = plain
    sim.corrupt_checksum = 1
    with pytest.raises(TerminalConnectionError, match="checksum"):
        terminal.read_clock()


def test_connection_refused(open_terminal: TerminalFactory) -> None:
    terminal = open_terminal(connect=False, port=closed_port(), timeout=SHORT_TIMEOUT)
    with pytest.raises(TerminalConnectionError):
        terminal.connect()
    assert not terminal.connected


def test_unresponsive(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    sim.unresponsive = True
    terminal = open_terminal(connect=False, timeout=SHORT_TIMEOUT)
    with pytest.raises(TerminalConnectionError):
        terminal.connect()
    assert not terminal.connected


def test_comm_key(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    sim.comm_key = COMM_KEY
    assert open_terminal(comm_key=COMM_KEY).read_info().serial_number == sim.serial


def test_wrong_comm_key(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    sim.comm_key = COMM_KEY
    terminal = open_terminal(connect=False, comm_key=COMM_KEY + 1)
    with pytest.raises(TerminalAuthError):
        terminal.connect()
    assert not terminal.connected


def test_drop_in_buffered_read(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    """The terminal hangs up halfway through a large transfer."""
    sim.add_numbered_users(100)
    terminal = open_terminal(timeout=SHORT_TIMEOUT)
    sim.drop_in_buffered_read = True
    with pytest.raises(TerminalConnectionError):
        terminal.read_users()


def test_busy_terminal(
    sim: ZKSimulator, terminal: ZKTerminal, open_terminal: TerminalFactory
) -> None:
    """A terminal with all its sessions taken refuses another one."""
    sim.max_sessions = 1
    second = open_terminal(connect=False)
    with pytest.raises(TerminalRefusedError):
        second.connect()
    assert not second.connected
    assert terminal.read_info().model == "K40"


# -- the session ------------------------------------------------------------------------------


def test_traffic_counts_every_byte(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    sim.reset_stats()
    terminal = open_terminal()
    terminal.read_users()
    terminal.read_attendance([ANA, LUIS])
    assert terminal.traffic() == (sim.bytes_out, sim.bytes_in)
    terminal.close()  # the goodbye is counted; its acknowledgement is never read
    assert sim.wait_for(lambda simulator: simulator.sessions == 0)
    received, sent = terminal.traffic()
    assert sent == sim.bytes_in
    sim.reset_stats()
    terminal.connect()
    terminal.read_clock()
    assert terminal.traffic() == (received + sim.bytes_out, sent + sim.bytes_in)  # sessions add up


def test_traffic_counts_acknowledgements(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    sim.reset_stats()
    terminal = open_terminal()
    terminal.register_events()
    sim.punch(ANA.user_id)
    assert len(wait_for_events(terminal, 1)) == 1
    assert sim.wait_for(lambda simulator: const.CMD_ACK_OK in simulator.commands)
    assert terminal.traffic() == (sim.bytes_out, sim.bytes_in)


def test_close_says_goodbye(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    assert sim.sessions == 1
    terminal.close()
    assert not terminal.connected
    assert sim.wait_for(lambda simulator: simulator.sessions == 0)
    assert sim.commands[-1] == const.CMD_EXIT
    terminal.close()  # a second close is harmless
    with pytest.raises(TerminalConnectionError, match="not connected"):
        terminal.read_info()


def test_close_when_the_terminal_is_gone(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.stop()
    terminal.close()
    assert not terminal.connected


# -- managing people, fingers and the door ----------------------------------------------------

LUIS_PASSWORD = "4321"
# A template the simulator did not make, longer than one upload packet (1024 bytes).
COPIED = FingerTemplate(3, b"\x4d\x98SS21" + bytes(range(256)) * 5)


@pytest.fixture
def luis_in_full(sim: ZKSimulator) -> User:
    """Luis with everything a row holds: a keypad password and a group as well."""
    luis = User(LUIS.uid, LUIS.user_id, LUIS.name, LUIS.privilege, LUIS_PASSWORD, LUIS.card, "1")
    sim.store_user(luis)
    return luis


def commands_sent(sim: ZKSimulator, action: Callable[[], object]) -> list[int]:
    """The commands the terminal received while ``action`` ran (it may raise)."""
    before = len(sim.commands)
    with contextlib.suppress(Exception):
        action()
    return sim.commands[before:]


def test_write_user_adds_one(sim: ZKSimulator, terminal: ZKTerminal, user_format: int) -> None:
    written = terminal.write_user(
        "55", UserChanges(name="Eva", admin=True, card=99, password="1234")
    )
    assert written == TerminalUser(uid=3, user_id="55", name="Eva", privilege=14, card=99)
    assert terminal.read_users()[-1] == written
    stored = sim.user_by_id("55")
    assert stored is not None
    assert stored.password == "1234"


@pytest.mark.usefixtures("luis_in_full")
def test_partial_update_keeps_the_rest(
    sim: ZKSimulator, terminal: ZKTerminal, user_format: int
) -> None:
    """Only the name is given: card, privilege, password and group stay as they were."""
    terminal.write_user(LUIS.user_id, UserChanges(name="Luis P."))
    assert sim.user_by_id(LUIS.user_id) == User(
        LUIS.uid, LUIS.user_id, "Luis P.", LUIS.privilege, LUIS_PASSWORD, LUIS.card, "1"
    )


@pytest.mark.usefixtures("luis_in_full")
def test_update_removes_what_is_emptied(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    written = terminal.write_user(LUIS.user_id, UserChanges(admin=False, card=0, password=""))
    assert written == replace(LUIS, privilege=0, card=0)
    assert sim.user_by_id(LUIS.user_id) == User(LUIS.uid, LUIS.user_id, LUIS.name, group_id="1")


def test_update_keeps_a_disabled_user_disabled(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """Bit 0 of the privilege disables the user (zk-protocol); making him admin keeps it."""
    sim.add_user(ANA.user_id, ANA.name, privilege=1)
    assert terminal.write_user(ANA.user_id, UserChanges(admin=True)).privilege == 15


def test_changes_keep_the_password_out_of_their_repr() -> None:
    assert "4321" not in repr(UserChanges(name="Eva", password="4321"))


def test_write_user_on_a_terminal_without_users(
    sim: ZKSimulator, terminal: ZKTerminal, user_format: int
) -> None:
    """No row to learn the layout from: the terminal's ~UserExtFmt tells it."""
    sim.clear_all_data()
    terminal.write_user("1", UserChanges(name="Ana"))
    assert terminal.read_users() == [TerminalUser(1, "1", "Ana", 0, 0)]


@pytest.mark.parametrize(
    ("given", "field", "problem"),
    [
        ({"user_id": ""}, "user_id", "empty"),
        ({"user_id": "12\t3"}, "user_id", "control_character"),
        ({"name": "Ana\nGarcia"}, "name", "control_character"),
        ({"name": "Ana\x00"}, "name", "control_character"),
        ({"name": "Ana \ud800"}, "name", "not_encodable"),
        ({"password": "12a4"}, "password", "not_digits"),
        ({"password": "１２"}, "password", "not_digits"),  # noqa: RUF001 - full-width digits
        ({"card": -1}, "card", "out_of_range"),
        ({"card": 2**32}, "card", "out_of_range"),
    ],
)
def test_write_user_refuses_before_sending(
    sim: ZKSimulator, terminal: ZKTerminal, given: dict[str, Any], field: str, problem: str
) -> None:
    arguments = {"name": "Eva"} | given
    user_id = arguments.pop("user_id", "55")
    changes = UserChanges(**arguments)
    with pytest.raises(TerminalInputError) as refused:
        terminal.write_user(user_id, changes)
    assert (refused.value.field, refused.value.problem) == (field, problem)
    assert commands_sent(sim, lambda: terminal.write_user(user_id, changes)) == []


@pytest.mark.parametrize(
    ("user_format", "given", "field", "problem"),
    [
        (72, {"name": "x" * 24}, "name", "too_long"),
        (72, {"name": "ñ" * 12}, "name", "too_long"),  # 24 bytes in UTF-8
        (72, {"user_id": "1234567890"}, "user_id", "too_long"),  # the K40's PIN width is 9
        (72, {"password": "123456789"}, "password", "too_long"),
        (28, {"name": "Eva Lopez"}, "name", "too_long"),
        (28, {"user_id": "E55"}, "user_id", "not_digits"),
        (28, {"password": "123456"}, "password", "too_long"),
    ],
    indirect=["user_format"],
)
def test_write_user_refuses_what_the_layout_cannot_hold(
    sim: ZKSimulator,
    terminal: ZKTerminal,
    user_format: int,
    given: dict[str, Any],
    field: str,
    problem: str,
) -> None:
    arguments = {"name": "Eva"} | given
    user_id = arguments.pop("user_id", "55")
    changes = UserChanges(**arguments)
    with pytest.raises(TerminalInputError) as refused:
        terminal.write_user(user_id, changes)
    assert (refused.value.field, refused.value.problem) == (field, problem)
    assert const.CMD_USER_WRQ not in commands_sent(
        sim, lambda: terminal.write_user(user_id, changes)
    )
    assert sim.user_by_id("55") is None


@pytest.mark.parametrize("user_format", [28], indirect=True)
def test_user_id_beyond_32_bits(sim: ZKSimulator, terminal: ZKTerminal, user_format: int) -> None:
    """A terminal that does not tell its PIN width still keeps 28-byte users' ids in 32 bits."""
    sim.refused_commands = {p.CMD_GET_PINWIDTH}
    with pytest.raises(TerminalInputError, match="too_long"):
        terminal.write_user(str(2**32), UserChanges())
    assert terminal.write_user(str(2**32 - 1), UserChanges()).user_id == str(2**32 - 1)


def test_first_user_when_the_layout_is_not_told(
    sim: ZKSimulator, terminal: ZKTerminal, udp: bool
) -> None:
    """No users and no ~UserExtFmt: pyzk's guess, 72 bytes over TCP and 28 over UDP."""
    sim.clear_all_data()
    sim.user_format = 72 if not udp else 28
    sim.refused_commands = {p.CMD_OPTIONS_RRQ}
    terminal.write_user("1", UserChanges(name="Ana"))
    sim.refused_commands = set()
    assert terminal.read_users() == [TerminalUser(1, "1", "Ana", 0, 0)]


def test_no_user_number_left(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.store_user(User(0xFFFF, "65535"))
    with pytest.raises(TerminalRefusedError, match="no user number left"):
        terminal.write_user("55", UserChanges())


def test_write_user_refused_by_the_terminal(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.refused_commands = {p.CMD_USER_WRQ}
    with pytest.raises(TerminalRefusedError):
        terminal.write_user(LUIS.user_id, UserChanges(name="Luis P."))
    assert terminal.read_users() == [ANA, LUIS]


@pytest.mark.parametrize(("fault", "stored"), [("dropped_commands", False), ("lost_replies", True)])
def test_write_user_cut_off(
    sim: ZKSimulator, open_terminal: TerminalFactory, fault: str, stored: bool
) -> None:
    """The line drops before or after the terminal stored the user: the caller hears it may be."""
    terminal = open_terminal(timeout=SHORT_TIMEOUT)
    setattr(sim, fault, {p.CMD_USER_WRQ})
    with pytest.raises(TerminalWriteUncertainError):
        terminal.write_user("55", UserChanges(name="Eva"))
    assert (sim.user_by_id("55") is not None) is stored


def test_delete_user(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    terminal.delete_user(LUIS.user_id)
    assert terminal.read_users() == [ANA]
    assert sim.templates == []


def test_delete_user_deletes_fingers_first(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """Were the user's templates left behind, a user given the same uid would inherit them."""
    sim.refused_commands = {p.CMD_DELETE_USER}
    with pytest.raises(TerminalRefusedError, match="fingerprints"):
        terminal.delete_user(LUIS.user_id)
    assert sim.templates == []
    assert terminal.read_users() == [ANA, LUIS]


def test_unknown_user(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    for action in (
        lambda: terminal.delete_user("404"),
        lambda: terminal.delete_fingerprint("404", 0),
        lambda: terminal.read_templates("404"),
        lambda: terminal.write_templates("404", [COPIED]),
    ):
        with pytest.raises(TerminalUnknownUserError):
            action()
    assert len(sim.users) == 2


def test_delete_fingerprint(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.add_template(LUIS.user_id, 6)
    assert terminal.delete_fingerprint(LUIS.user_id, 0)
    assert [(t.uid, t.finger_index) for t in sim.templates] == [(LUIS.uid, 6)]
    assert not terminal.delete_fingerprint(LUIS.user_id, 0)  # no longer there


@pytest.mark.parametrize("udp", [False], ids=["tcp"])
def test_delete_fingerprint_by_user_id_over_tcp(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """pyzk 0.9 means to send CMD_DEL_FPTMP with the user id, but packs a str and crashes."""
    zk = ZK("127.0.0.1", port=sim.port, timeout=2, ommit_ping=True)
    zk._ZK__sock.close()  # opened in __init__; the call below fails before it would send
    with pytest.raises(struct.error):
        zk.delete_user_template(user_id=LUIS.user_id, temp_id=0)
    sent = commands_sent(sim, lambda: terminal.delete_fingerprint(LUIS.user_id, 0))
    assert p.CMD_DEL_USER_TEMP in sent
    assert sim.templates == []


@pytest.mark.parametrize("udp", [False], ids=["tcp"])
def test_delete_fingerprint_on_a_terminal_without_the_user_id_command(
    sim: ZKSimulator, terminal: ZKTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal that answers CMD_DEL_FPTMP as unknown gets the vendor manual's command."""
    monkeypatch.delitem(sim_commands.HANDLERS, p.CMD_DEL_USER_TEMP)
    assert terminal.delete_fingerprint(LUIS.user_id, 0)
    assert sim.templates == []


@pytest.mark.parametrize("finger", [-1, 10])
def test_finger_out_of_range(sim: ZKSimulator, terminal: ZKTerminal, finger: int) -> None:
    with pytest.raises(TerminalInputError, match="finger"):
        terminal.delete_fingerprint(LUIS.user_id, finger)
    assert commands_sent(sim, lambda: terminal.delete_fingerprint(LUIS.user_id, finger)) == []


def test_read_templates(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.add_template(LUIS.user_id, COPIED.finger, COPIED.template)
    assert terminal.read_templates(LUIS.user_id) == [
        FingerTemplate(0, fake_template(LUIS.user_id, 0)),
        COPIED,
    ]
    assert terminal.read_templates(ANA.user_id) == []


def test_template_sent_without_a_stream(
    sim: ZKSimulator, terminal: ZKTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small template may come straight in CMD_DATA, with its trailing byte."""

    def answer(*_: object) -> sim_commands.Reply:
        return sim_commands.Reply([(p.CMD_DATA, COPIED.template + b"\x00")])

    monkeypatch.setitem(sim_commands.HANDLERS, p.CMD_GET_USERTEMP, answer)
    assert terminal.read_templates(ANA.user_id)[0] == replace(COPIED, finger=0)


def test_templates_stay_out_of_reprs() -> None:
    assert COPIED.template.hex()[:16] not in repr(COPIED)
    assert "SS21" not in repr(COPIED)


@pytest.mark.usefixtures("luis_in_full")
def test_copy_a_finger_to_another_terminal(
    sim: ZKSimulator, open_terminal: TerminalFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    other = ZKSimulator(udp=True).start()
    try:
        source = open_terminal()
        target = open_terminal(port=other.port)
        target.write_user(LUIS.user_id, UserChanges(name=LUIS.name, admin=True, card=LUIS.card))
        templates = source.read_templates(LUIS.user_id)
        target.write_templates(LUIS.user_id, templates)
        assert target.read_templates(LUIS.user_id) == templates
        assert target.read_users() == [replace(LUIS, uid=1)]
    finally:
        other.stop()
    template = fake_template(LUIS.user_id, 0)
    assert not any(
        template[8:24].hex() in text or repr(template[8:24])[2:-1] in text
        for text in (caplog.text, repr(templates), str(templates))
    )


@pytest.mark.usefixtures("luis_in_full")
def test_write_templates_keeps_the_user_and_the_other_fingers(
    sim: ZKSimulator, terminal: ZKTerminal, user_format: int
) -> None:
    replacement = FingerTemplate(0, b"\x4d\x98SS21 new")
    terminal.write_templates(LUIS.user_id, [COPIED, replacement])
    assert terminal.read_templates(LUIS.user_id) == [replacement, COPIED]
    [as_stored] = as_sent([LUIS], user_format)  # the user's row went back as the terminal sent it
    assert sim.user_by_id(LUIS.user_id) == User(
        LUIS.uid, LUIS.user_id, as_stored.name, LUIS.privilege, LUIS_PASSWORD, LUIS.card, "1"
    )


@pytest.mark.parametrize(
    ("templates", "problem"),
    [
        ([], "empty"),
        ([replace(COPIED, finger=10)], "out_of_range"),
        ([COPIED, COPIED], "repeated"),
        ([replace(COPIED, template=b"")], "empty"),
        ([replace(COPIED, template=bytes(0x10000))], "too_long"),
    ],
)
def test_write_templates_refuses_before_sending(
    sim: ZKSimulator, terminal: ZKTerminal, templates: list[FingerTemplate], problem: str
) -> None:
    with pytest.raises(TerminalInputError) as refused:
        terminal.write_templates(ANA.user_id, templates)
    assert refused.value.problem == problem
    assert commands_sent(sim, lambda: terminal.write_templates(ANA.user_id, templates)) == []


@pytest.mark.parametrize(
    ("fault", "command", "error"),
    [
        ("refused_commands", p.CMD_SAVE_USERTEMPS, TerminalRefusedError),
        ("refused_commands", p.CMD_DATA, TerminalRefusedError),
        ("dropped_commands", p.CMD_DATA, TerminalConnectionError),
        ("dropped_commands", p.CMD_SAVE_USERTEMPS, TerminalWriteUncertainError),
    ],
    ids=["save_refused", "upload_refused", "upload_cut", "save_cut"],
)
def test_write_templates_stores_all_or_nothing(
    sim: ZKSimulator,
    open_terminal: TerminalFactory,
    fault: str,
    command: int,
    error: type[TerminalError],
) -> None:
    terminal = open_terminal(timeout=SHORT_TIMEOUT)
    setattr(sim, fault, {command})
    with pytest.raises(error) as raised:
        terminal.write_templates(ANA.user_id, [COPIED, replace(COPIED, finger=4)])
    uncertain = isinstance(raised.value, TerminalWriteUncertainError)
    assert uncertain is (error is TerminalWriteUncertainError)  # an upload cut is known: nothing
    assert not sim.has_template(ANA.user_id, COPIED.finger)
    assert not sim.has_template(ANA.user_id, 4)


def test_write_templates_answer_lost(sim: ZKSimulator, open_terminal: TerminalFactory) -> None:
    terminal = open_terminal(timeout=SHORT_TIMEOUT)
    sim.lost_replies = {p.CMD_SAVE_USERTEMPS}
    with pytest.raises(TerminalWriteUncertainError):
        terminal.write_templates(ANA.user_id, [COPIED])
    assert sim.has_template(ANA.user_id, COPIED.finger)


def test_enrolled_fingers(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.add_template(ANA.user_id, COPIED.finger, COPIED.template)
    assert terminal.enrolled_fingers() == [
        EnrolledFinger(ANA.uid, COPIED.finger, len(COPIED.template)),
        EnrolledFinger(LUIS.uid, 0, len(fake_template(LUIS.user_id, 0))),
    ]
    sim.clear_all_data()
    assert terminal.enrolled_fingers() == []


def test_unlock(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    assert not sim.relay_open
    before = time.monotonic()
    terminal.unlock(5)
    assert sim.relay_open
    assert sim.relay_open_until is not None
    assert before + 5 <= sim.relay_open_until <= time.monotonic() + 5


@pytest.mark.parametrize("seconds", [0, 61, True])
def test_unlock_out_of_range(sim: ZKSimulator, terminal: ZKTerminal, seconds: int) -> None:
    with pytest.raises(TerminalInputError, match="seconds"):
        terminal.unlock(seconds)
    assert commands_sent(sim, lambda: terminal.unlock(seconds)) == []


def test_unlock_refused(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """A terminal without a lock relay."""
    sim.refused_commands = {p.CMD_UNLOCK}
    with pytest.raises(TerminalRefusedError):
        terminal.unlock(5)
    assert not sim.relay_open


@pytest.mark.parametrize("acknowledged", [True, False])
def test_restart(sim: ZKSimulator, open_terminal: TerminalFactory, acknowledged: bool) -> None:
    """pyzk needs the ACK; zk-protocol says terminals restart without one."""
    sim.ack_restart = acknowledged
    terminal = open_terminal(timeout=SHORT_TIMEOUT)
    terminal.restart()
    assert not terminal.connected
    assert sim.commands[-1] == const.CMD_RESTART  # no goodbye to a terminal that forgot us
    deadline = time.monotonic() + PATIENCE
    while not terminal.connected:  # the terminal takes connections again once it is up
        with contextlib.suppress(TerminalConnectionError):
            terminal.connect()
        assert time.monotonic() < deadline
    assert terminal.read_info().model == "K40"


def test_restart_refused(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.refused_commands = {const.CMD_RESTART}
    with pytest.raises(TerminalRefusedError):
        terminal.restart()
    assert terminal.connected


def test_clear_attendance(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    terminal.clear_attendance(delivered=HISTORY_RECORDS)
    assert sim.records == []


def test_clear_attendance_with_undelivered_punches(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    """A punch came after the caller's last read: clearing would lose it."""
    sim.punch(ANA.user_id)
    with pytest.raises(TerminalUndeliveredError):
        terminal.clear_attendance(delivered=HISTORY_RECORDS)
    assert len(sim.records) == HISTORY_RECORDS + 1


def test_clear_attendance_refused(sim: ZKSimulator, terminal: ZKTerminal) -> None:
    sim.refused_commands = {p.CMD_CLEAR_ATTLOG}
    with pytest.raises(TerminalRefusedError):
        terminal.clear_attendance(delivered=HISTORY_RECORDS)
    assert len(sim.records) == HISTORY_RECORDS
