"""The real pyzk 0.9, unmodified, against the simulator over loopback TCP and UDP."""

from __future__ import annotations

from datetime import datetime
import struct
import threading
import time

import pytest
from zk.exception import ZKErrorResponse, ZKNetworkError

from zksim import PressOutcome, ZKSimulator, protocol as p, server
from zksim.records import pack_attlog_event, pack_enroll_result

from .conftest import ClientFactory, RawClient, RawFactory, SimFactory, in_background


@pytest.mark.parametrize("key", [0, 4321])
def test_connect_with_and_without_comm_key(
    make_sim: SimFactory, make_client: ClientFactory, udp: bool, key: int
) -> None:
    sim = make_sim(comm_key=key)
    conn = make_client(sim, udp, password=key)
    assert sim.sessions == 1
    conn.disconnect()
    assert sim.wait_for(lambda s: s.sessions == 0, 1)


def test_wrong_comm_key_is_refused(
    make_sim: SimFactory, make_client: ClientFactory, udp: bool
) -> None:
    sim = make_sim(comm_key=4321)
    with pytest.raises(ZKErrorResponse, match="Unauthenticated"):
        make_client(sim, udp, password=1234)
    assert sim.wait_for(lambda s: s.sessions == 0, 1)


def test_device_information(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    assert conn.get_firmware_version() == "Ver 6.60 May 25 2018"
    assert conn.get_serialnumber() == "CQUJ203960001"
    assert conn.get_device_name() == "K40"
    assert conn.get_platform() == "ZLM60_TFT"
    assert conn.get_mac() == sim.mac
    assert conn.get_fp_version() == 10
    assert conn.get_pin_width() == 9
    assert conn.get_network_params() == {
        "ip": "192.168.1.201",
        "mask": "255.255.255.0",
        "gateway": "192.168.1.1",
    }
    assert (conn.get_extend_fmt(), conn.get_user_extend_fmt()) == (1, 1)
    assert (conn.get_face_fun_on(), conn.get_compat_old_firmware()) == (0, 0)


def test_unknown_option_answers_error_and_pyzk_recovers(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    conn = make_client(sim, udp)
    assert conn.get_face_version() is None  # ZKFaceVersion: a K40 has no face engine
    assert conn.get_serialnumber() == sim.serial  # the session is still in step


def test_sizes(make_sim: SimFactory, make_client: ClientFactory, udp: bool) -> None:
    sim = make_sim(users=7, records=605)
    sim.add_template("1", 0)
    sim.add_user("900", "Con tarjeta", card=123456)
    conn = make_client(sim, udp)
    conn.read_sizes()
    assert (conn.users, conn.fingers, conn.records, conn.cards) == (8, 1, 605, 1)
    assert (conn.users_cap, conn.fingers_cap, conn.rec_cap) == (3000, 1000, 80000)
    assert (conn.users_av, conn.fingers_av, conn.rec_av) == (2992, 999, 80000 - 605)
    assert (conn.faces, conn.faces_cap) == (0, 0)


def test_time_get_and_set(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    assert abs((conn.get_time() - datetime.now()).total_seconds()) < 2
    leap_second_before_midnight = datetime(2024, 2, 29, 23, 59, 58)
    conn.set_time(leap_second_before_midnight)
    assert abs((conn.get_time() - leap_second_before_midnight).total_seconds()) < 2
    assert abs((sim.clock - leap_second_before_midnight).total_seconds()) < 2


def test_enable_disable(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    conn.disable_device()
    assert not sim.enabled
    conn.enable_device()
    assert sim.enabled


@pytest.mark.parametrize("user_format", [72, 28])
def test_users_read_write_delete(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool, user_format: int
) -> None:
    sim.user_format = user_format
    sim.add_user("123", "Ana Garcia", privilege=14, password="1234", card=987654)
    conn = make_client(sim, udp)
    users = {u.user_id: u for u in conn.get_users()}
    assert conn.user_packet_size == user_format
    ana = users["123"]
    expected_name = "Ana Garcia" if user_format == 72 else "Ana Garc"  # 8 bytes in ZK6
    assert (ana.uid, ana.name, ana.privilege, ana.password, ana.card) == (
        4,
        expected_name,
        14,
        "1234",
        987654,
    )
    conn.set_user(uid=20, name="Luis", privilege=0, password="9", user_id="200", card=5)
    assert sim.user_by_id("200") is not None
    assert sim.user_by_id("200").name == "Luis"  # type: ignore[union-attr]
    conn.delete_user(uid=20)
    assert sim.user_by_id("200") is None
    assert [u.user_id for u in conn.get_users()] == ["1", "2", "3", "123"]


def test_no_users(make_sim: SimFactory, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(make_sim(), udp)
    assert conn.get_users() == []
    assert conn.get_attendance() == []
    assert conn.get_templates() == []


def test_templates_read_and_delete(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    sim.add_template("1", 0)
    sim.add_template("2", 6)
    conn = make_client(sim, udp)
    fingers = conn.get_templates()
    assert [(f.uid, f.fid, f.valid) for f in fingers] == [(1, 0, 1), (2, 6, 1)]
    assert fingers[1].template == sim.templates[1].template
    single = conn.get_user_template(uid=2, temp_id=6)
    assert single.template == sim.templates[1].template
    assert conn.delete_user_template(uid=2, temp_id=6)
    assert not sim.has_template("2", 6)
    assert conn.get_user_template(uid=2, temp_id=6) is None


def test_save_user_template_uploads_through_the_buffer(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    sim.add_template("1", 3)
    conn = make_client(sim, udp)
    finger = conn.get_user_template(uid=1, temp_id=3)
    sim.delete_template(1, 3)
    user = next(u for u in conn.get_users() if u.user_id == "2")
    finger.fid = 4
    conn.save_user_template(user, [finger])
    assert sim.has_template("2", 4)
    assert sim.templates[0].template == finger.template


@pytest.mark.parametrize("record_size", [8, 16, 40])
def test_attendance_formats(
    make_sim: SimFactory, make_client: ClientFactory, udp: bool, record_size: int
) -> None:
    sim = make_sim(users=3, records=2000)  # > 1 chunk over UDP (16 KB) for every size
    sim.record_size = record_size
    conn = make_client(sim, udp)
    got = conn.get_attendance()
    expected = sim.records
    assert len(got) == len(expected)
    assert [(a.user_id, a.timestamp, a.status, a.punch) for a in got[::399]] == [
        (r.user_id, r.timestamp, r.status, r.punch) for r in expected[::399]
    ]


def test_small_attendance_uses_the_direct_data_reply(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    sim.punch("1", punch=1)
    conn = make_client(sim, udp)
    sim.reset_stats()
    [record] = conn.get_attendance()
    assert (record.user_id, record.punch, record.uid) == ("1", 1, 1)
    assert p.CMD_READ_BUFFER not in sim.commands


def test_100k_records_through_the_buffered_path(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(records=100_000)
    sim.record_size = 8  # pyzk parses this layout fastest; the transfer is what we test
    conn = make_client(sim)
    sim.reset_stats()
    records = conn.get_attendance()
    assert len(records) == 100_000
    assert records[-1].timestamp == sim.records[-1].timestamp
    assert sim.commands.count(p.CMD_READ_BUFFER) == 13  # 800,004 bytes / 0xFFC0
    assert p.CMD_FREE_DATA in sim.commands


def test_clear_attendance(make_sim: SimFactory, make_client: ClientFactory, udp: bool) -> None:
    sim = make_sim(users=2, records=10)
    conn = make_client(sim, udp)
    conn.clear_attendance()
    assert sim.records == []
    assert conn.get_attendance() == []


def test_misc_commands(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    assert conn.refresh_data()
    assert conn.test_voice(0)
    assert conn.unlock(3)
    assert sim.relay_open
    assert conn.free_data()
    assert conn.set_sdk_build_1()
    assert sim.option("SDKBuild") == "1"


def test_restart_drops_the_session(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    assert conn.restart()
    assert sim.wait_for(lambda s: s.reboots == 1 and not s.rebooting, 2)
    assert sim.sessions == 0
    make_client(sim, udp)
    assert sim.sessions == 1


def test_restarting_once_the_restart_is_answered(
    sim: ZKSimulator, make_raw: RawFactory, monkeypatch: pytest.MonkeyPatch, udp: bool
) -> None:
    """A client that read the answer finds the terminal down, however late the simulator's
    thread carries on (held here right after it answered, as a loaded machine may)."""
    answered = threading.Event()
    reset = sim.reset_runtime_state
    monkeypatch.setattr(sim, "reset_runtime_state", lambda: (answered.wait(5), reset()))
    client = make_raw(sim, udp)

    assert client.command(p.CMD_RESTART).command == p.CMD_ACK_OK
    assert sim.rebooting
    answered.set()


def test_rebooting_until_the_sessions_are_dropped(
    sim: ZKSimulator, make_raw: RawFactory, udp: bool
) -> None:
    """Down for reboot_duration after the sessions dropped, not after it was asked to reboot
    (the simulator's thread is busy answering slowly here, as on a loaded machine)."""
    sim.reboot_duration = 0.0
    sim.reply_delay = 0.3
    client = make_raw(sim, udp)
    with in_background(lambda: client.command(p.CMD_GET_TIME)):
        sim.wait_for(lambda s: p.CMD_GET_TIME in s.commands)
        sim.reboot()
        assert sim.wait_for(lambda s: not s.rebooting, 2)
        assert sim.sessions == 0


# pyzk 0.9's live_capture does not parse the 10 and 14 bytes of ZEM560 and ZEM300.
@pytest.mark.parametrize("event_size", [12, 32, 36, 52])
def test_live_capture_receives_a_punch(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool, event_size: int
) -> None:
    sim.event_size = event_size
    conn = make_client(sim, udp)
    sim.add_user("123", "Ana Garcia")
    when = datetime(2025, 3, 4, 8, 59, 1)

    def punch_when_registered() -> None:
        assert sim.wait_for(lambda s: p.CMD_REG_EVENT in s.commands, 2)
        sim.punch("123", punch=0, status=1, timestamp=when)

    received = []
    with in_background(punch_when_registered):
        for event in conn.live_capture(new_timeout=1):
            if event is None:
                break
            received.append(event)
            conn.end_live_capture = True
    assert [(a.user_id, a.uid, a.timestamp, a.status, a.punch) for a in received] == [
        ("123", 4, when, 1, 0)
    ]


def press_when_asked(sim: ZKSimulator, outcomes: list[PressOutcome]) -> None:
    """A person at the terminal: puts a finger on the sensor whenever it asks for one."""
    for outcome in outcomes:
        assert sim.wait_for(lambda s: s.enrolling, 3)
        time.sleep(0.05)
        sim.press_finger(outcome)


def test_enroll_user_with_pyzk(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    presses = [PressOutcome.GOOD, PressOutcome.BAD_QUALITY, PressOutcome.GOOD, PressOutcome.GOOD]
    with in_background(lambda: press_when_asked(sim, presses)):
        assert conn.enroll_user(uid=2, temp_id=5)
    assert sim.has_template("2", 5)
    assert sim.enabled
    assert not sim.enrolling
    assert len(conn.get_templates()) == 1


def test_enroll_user_timeout_with_pyzk(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    sim.enroll_timeout = 0.3
    conn = make_client(sim, udp)
    assert conn.enroll_user(uid=2, temp_id=5) is False
    assert sim.enabled
    assert not sim.enrolling
    assert not sim.has_template("2", 5)


def test_enroll_unknown_user_is_refused(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    conn = make_client(sim, udp)
    with pytest.raises(ZKErrorResponse, match="Cant Enroll"):
        conn.enroll_user(uid=0, temp_id=1, user_id="999")
    assert sim.enabled


def test_max_sessions_refuses_a_second_client(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    sim.max_sessions = 1
    first = make_client(sim, udp)
    with pytest.raises(ZKErrorResponse, match="Can't connect"):
        make_client(sim, udp)
    first.disconnect()
    make_client(sim, udp)


def test_reply_delay(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp)
    sim.reply_delay = 0.2
    started = time.monotonic()
    conn.get_serialnumber()
    assert time.monotonic() - started >= 0.2


def test_drop_in_buffered_read(make_sim: SimFactory, make_client: ClientFactory, udp: bool) -> None:
    sim = make_sim(users=3, records=5000)
    conn = make_client(sim, udp, timeout=0.5)
    sim.drop_in_buffered_read = True
    with pytest.raises((ConnectionError, OSError, ZKErrorResponse, ZKNetworkError)):
        conn.get_attendance()
    assert not sim.drop_in_buffered_read
    assert sim.wait_for(lambda s: s.sessions == 0, 1)
    assert len(make_client(sim, udp).get_attendance()) == 5000


def test_unresponsive_terminal_times_out(
    sim: ZKSimulator, make_client: ClientFactory, udp: bool
) -> None:
    sim.unresponsive = True
    with pytest.raises(ZKNetworkError, match="timed out"):
        make_client(sim, udp, timeout=0.3)
    assert sim.commands == [p.CMD_CONNECT]
    sim.unresponsive = False
    make_client(sim, udp)


def test_reboot_drops_sessions(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    conn = make_client(sim, udp, timeout=0.5)
    sim.reboot()
    assert sim.wait_for(lambda s: s.sessions == 0, 1)
    with pytest.raises((ZKNetworkError, ZKErrorResponse, struct.error)):
        conn.get_serialnumber()
    assert sim.wait_for(lambda s: not s.rebooting, 2)
    assert make_client(sim, udp).get_serialnumber() == sim.serial


def test_session_timeout(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    sim.session_timeout = 0.2
    make_client(sim, udp)
    assert sim.wait_for(lambda s: s.sessions == 0, 2)


# -- raw protocol: what pyzk cannot show ---------------------------------------------


def start_enroll(client: RawClient, user_id: str = "1", finger: int = 6) -> p.Packet:
    return client.command(p.CMD_STARTENROLL, struct.pack("<24sbb", user_id.encode(), finger, 1))


def enrollment_events(client: RawClient) -> list[tuple[int, bytes]]:
    """Acknowledge and collect events until EF_ENROLLFINGER ends the enrollment."""
    events = []
    while not events or events[-1][0] != p.EF_ENROLLFINGER:
        event = client.next_event()
        events.append((event.session_id, event.payload))
    return events


def test_events_go_to_registered_sessions_only(sim: ZKSimulator, make_raw: RawFactory) -> None:
    listener, bystander = make_raw(sim), make_raw(sim)
    assert listener.command(p.CMD_REG_EVENT, struct.pack("<I", 0xFFFF)).command == p.CMD_ACK_OK
    record = sim.punch("2", punch=1, timestamp=datetime(2025, 6, 7, 8, 9, 10))
    event = listener.next_event()
    assert (event.command, event.session_id, event.reply_id) == (p.CMD_REG_EVENT, p.EF_ATTLOG, 0)
    assert event.checksum_ok
    assert event.payload == pack_attlog_event(record, 32)
    bystander.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        bystander.receive()


def test_unacknowledged_event_is_sent_again(
    sim: ZKSimulator, make_raw: RawFactory, monkeypatch: pytest.MonkeyPatch, udp: bool
) -> None:
    monkeypatch.setattr(server, "EVENT_RETRY_AFTER", 0.1)
    client = make_raw(sim, udp)
    client.command(p.CMD_REG_EVENT, struct.pack("<I", p.EF_ATTLOG))
    sim.punch("1")
    first, again = client.receive(), client.receive()
    assert first == again
    # Benchmarks time the client from an event's first departure; a resend is not one.
    assert [(event, payload) for _, event, payload in sim.events_sent] == [
        (first.session_id, first.payload)
    ]
    client.ack()
    client.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        client.receive()


def test_event_window_sends_several_back_to_back(sim: ZKSimulator, make_raw: RawFactory) -> None:
    sim.event_window = 3
    sim.event_size = 36
    client = make_raw(sim)
    client.command(p.CMD_REG_EVENT, struct.pack("<I", p.EF_ATTLOG))
    for user_id in ("1", "2", "3"):
        sim.punch(user_id)
    events = [client.receive() for _ in range(3)]
    assert [e.payload[:1] for e in events] == [b"1", b"2", b"3"]
    assert {len(e.payload) for e in events} == {36}


def test_enrollment_success_events(sim: ZKSimulator, make_raw: RawFactory, udp: bool) -> None:
    client = make_raw(sim, udp)
    if udp:  # pyzk's UDP variant: numeric user id and finger index only
        reply = client.command(p.CMD_STARTENROLL, struct.pack("<Ib", 1, 6))
    else:
        reply = start_enroll(client)
    assert reply.command == p.CMD_ACK_OK
    with in_background(lambda: press_when_asked(sim, [PressOutcome.GOOD] * 3)):
        events = enrollment_events(client)
    assert [code for code, _ in events] == [p.EF_FINGER, p.EF_FPFTR] * 3 + [p.EF_ENROLLFINGER]
    assert events[1][1] == b"\x64"
    assert events[-1][1] == pack_enroll_result(0, len(sim.templates[0].template), "1", 6)
    assert sim.enabled


@pytest.mark.parametrize(
    ("outcome", "result"),
    [(PressOutcome.DUPLICATE, p.ENROLL_DUPLICATE), (PressOutcome.MISMATCH, p.ENROLL_FAILED)],
)
def test_enrollment_failed_merge(
    sim: ZKSimulator, make_raw: RawFactory, outcome: PressOutcome, result: int
) -> None:
    client = make_raw(sim)
    start_enroll(client)
    presses = [outcome, PressOutcome.GOOD, PressOutcome.GOOD]
    with in_background(lambda: press_when_asked(sim, presses)):
        events = enrollment_events(client)
    assert events[-1] == (p.EF_ENROLLFINGER, struct.pack("<H", result))
    assert not sim.has_template("1", 6)
    assert sim.enabled
    assert not sim.enrolling


@pytest.mark.parametrize("how", ["terminal", "command", "timeout"])
def test_enrollment_cancelled(sim: ZKSimulator, make_raw: RawFactory, how: str) -> None:
    sim.enroll_timeout = 0.2
    client = make_raw(sim)
    start_enroll(client)
    assert not sim.enabled
    if how == "terminal":
        sim.cancel_enrollment()
    elif how == "command":
        client.reply_id += 1
        client.send(p.CMD_CANCELCAPTURE)
        assert client.receive().command == p.CMD_ACK_OK
    assert enrollment_events(client) == [(p.EF_ENROLLFINGER, b"\x06\x00")]
    assert sim.enabled
    assert not sim.enrolling


def test_enroller_disconnecting_re_enables(sim: ZKSimulator, make_raw: RawFactory) -> None:
    client = make_raw(sim)
    start_enroll(client)
    client.command(p.CMD_EXIT)
    assert sim.wait_for(lambda s: s.enabled and not s.enrolling, 1)


@pytest.mark.parametrize(("user_id", "finger"), [("999", 0), ("1", 10)])
def test_enrollment_refused(
    sim: ZKSimulator, make_raw: RawFactory, user_id: str, finger: int
) -> None:
    assert start_enroll(make_raw(sim), user_id, finger).command == p.CMD_ACK_ERROR
    assert sim.enabled


def test_second_enrollment_refused_while_busy(sim: ZKSimulator, make_raw: RawFactory) -> None:
    assert start_enroll(make_raw(sim), "1").command == p.CMD_ACK_OK
    assert start_enroll(make_raw(sim), "2").command == p.CMD_ACK_ERROR


def test_corrupt_checksum_for_the_next_replies(sim: ZKSimulator, make_raw: RawFactory) -> None:
    client = make_raw(sim)
    sim.corrupt_checksum = 2
    checks = [client.command(p.CMD_GET_TIME).checksum_ok for _ in range(3)]
    assert checks == [False, False, True]


def test_busy_terminal_refuses_connect(sim: ZKSimulator, make_raw: RawFactory) -> None:
    sim.max_sessions = 1
    make_raw(sim)
    second = make_raw(sim, connect=False)
    refusal = second.command(p.CMD_CONNECT)
    assert (refusal.command, refusal.session_id) == (p.CMD_ACK_ERROR, 0)
    with pytest.raises(ConnectionError):
        second.receive()
    assert sim.sessions == 1


def test_commands_before_connect_or_auth_are_unauthorized(
    make_sim: SimFactory, make_raw: RawFactory, udp: bool
) -> None:
    sim = make_sim(comm_key=5)
    stranger = make_raw(sim, udp, connect=False)
    assert stranger.command(p.CMD_GET_TIME).command == p.CMD_ACK_UNAUTH
    keyless = make_raw(sim, udp)
    assert keyless.command(p.CMD_GET_TIME).command == p.CMD_ACK_UNAUTH


def test_unknown_command_and_damaged_packet(sim: ZKSimulator, make_raw: RawFactory) -> None:
    client = make_raw(sim)
    assert client.command(4242).command == p.CMD_ACK_UNKNOWN
    sim.reset_stats()
    client.sock.sendall(
        p.tcp_frame(p.build_packet(p.CMD_GET_TIME, client.session_id, 9, corrupt=True))
    )
    client.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        client.receive()
    assert sim.commands == []


# -- shapes of real firmware ------------------------------------------------------------------


def test_plain_checksum(sim: ZKSimulator, make_raw: RawFactory, udp: bool) -> None:
    """Replies and events checksummed over the header as sent, not the SDK way."""
    sim.plain_checksum = True
    client = make_raw(sim, udp)
    client.command(p.CMD_REG_EVENT, struct.pack("<I", p.EF_ATTLOG))
    reply = client.command(p.CMD_GET_TIME)
    assert (reply.plain_checksum_ok, reply.checksum_ok) == (True, False)
    sim.punch("1")
    event = client.next_event()
    assert (event.plain_checksum_ok, event.checksum_ok) == (True, False)


def test_plain_checksum_with_pyzk(sim: ZKSimulator, make_client: ClientFactory, udp: bool) -> None:
    """pyzk checks no checksum: a terminal of that kind works with it."""
    sim.plain_checksum = True
    assert make_client(sim, udp).get_serialnumber() == sim.serial


def read_data_stream(client: RawClient, size: int) -> list[p.Packet]:
    """Ask for the prepared buffer in one chunk: CMD_PREPARE_DATA, CMD_DATA packets, CMD_ACK_OK."""
    stream = [client.command(p.CMD_READ_BUFFER, struct.pack("<ii", 0, size))]
    while stream[-1].command != p.CMD_ACK_OK:
        stream.append(client.receive())
    return stream


@pytest.mark.parametrize(
    ("counter", "size_in_ack"), [(True, False), (False, True)], ids=["counter", "size_in_ack"]
)
def test_session_field_of_a_data_stream(
    make_sim: SimFactory, make_raw: RawFactory, udp: bool, counter: bool, size_in_ack: bool
) -> None:
    sim = make_sim(users=1000)  # 72,000 bytes: 0x11940, too large for 16 bits
    sim.data_counter_in_session, sim.data_size_in_ack = counter, size_in_ack
    sim.tcp_data_packet = 1008  # as captured
    client = make_raw(sim, udp)
    prepared = client.command(
        p.CMD_PREPARE_BUFFER, struct.pack("<bhii", 1, p.CMD_USERTEMP_RRQ, p.FCT_USER, 0)
    )
    size = min(struct.unpack_from("<I", prepared.payload, 1)[0], 0xFFC0)
    prepare, *data, ack = read_data_stream(client, size)
    assert prepare.session_id == client.session_id
    assert [packet.session_id for packet in data] == (
        list(range(len(data))) if counter else [client.session_id] * len(data)
    )
    assert ack.session_id == (size & 0xFFFF if size_in_ack else client.session_id)
    assert all(packet.checksum_ok for packet in (prepare, *data, ack))
    assert b"".join(packet.payload for packet in data) == sim.packed_users()[:size]


def test_tcp_segments(
    sim: ZKSimulator, make_raw: RawFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply cut in pieces of a few bytes reaches the client in more than one read."""
    # A pause long enough that a busy machine still reads the first piece before the next.
    monkeypatch.setattr(server, "SEGMENT_PAUSE", 0.2)
    sim.tcp_segment = 7
    client = make_raw(sim)
    client.reply_id += 1
    client.send(p.CMD_GET_TIME)
    reads = []
    buffer = bytearray()
    while not (frames := list(p.split_tcp_frames(buffer))):
        reads.append(client.sock.recv(65536))
        buffer += reads[-1]
    [frame] = frames
    assert p.parse_packet(frame).command == p.CMD_ACK_OK
    assert len(reads) > 1


# -- faults by command --------------------------------------------------------------------------


def test_refused_command(make_sim: SimFactory, make_raw: RawFactory, udp: bool) -> None:
    sim = make_sim(records=3)
    sim.refused_commands = {p.CMD_CLEAR_ATTLOG}
    client = make_raw(sim, udp)
    assert client.command(p.CMD_CLEAR_ATTLOG).command == p.CMD_ACK_ERROR
    assert len(sim.records) == 3
    assert client.command(p.CMD_GET_TIME).command == p.CMD_ACK_OK


@pytest.mark.parametrize(
    ("fault", "carried_out"), [("dropped_commands", False), ("lost_replies", True)]
)
def test_line_drops_at_a_command(
    make_sim: SimFactory, make_raw: RawFactory, udp: bool, fault: str, carried_out: bool
) -> None:
    """No answer comes, and the session is gone; the command was carried out or not."""
    sim = make_sim(records=3)
    setattr(sim, fault, {p.CMD_CLEAR_ATTLOG})
    client = make_raw(sim, udp)
    client.sock.settimeout(0.2)
    client.reply_id += 1
    client.send(p.CMD_CLEAR_ATTLOG)
    with pytest.raises((ConnectionError, TimeoutError)):
        client.receive()
    assert sim.wait_for(lambda s: s.sessions == 0, 1)
    assert (sim.records == []) is carried_out
