"""The Push-mode K40 against a small Push server of our own (http.server on loopback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
import time

import pytest

from zksim import ZKSimulator
from zksim.push import PushTerminal, parse_timezone, parse_transflag

from .conftest import (
    SERIAL,
    TIME_SCALE,
    PushFactory,
    Receiver,
    run_command,
    zksim_process,
)


def attlog_lines(receiver: Receiver) -> list[str]:
    return [
        line
        for r in receiver.requests("/iclock/cdata", "ATTLOG")
        for line in r.body.split("\n")
        if line
    ]


# -- handshake, options, INFO -----------------------------------------------------------


def test_handshake_is_the_first_request_and_its_options_are_obeyed(
    push: PushTerminal, receiver: Receiver
) -> None:
    first = receiver.received[0]
    assert (first.method, first.path) == ("GET", "/iclock/cdata")
    assert first.query == {
        "SN": SERIAL,
        "options": "all",
        "pushver": "2.4.1",
        "language": "69",
        "DeviceType": "att",
        "PushOptionsFlag": "1",
    }
    assert (push.delay, push.error_delay, push.realtime) == (1.0, 3.0, True)
    assert push.trans_flags >= {"attlog", "oplog", "enrollfp", "enrolluser", "chgfp"}
    assert push.trans_times == ("00:00", "14:05")
    assert push.server_options["Encrypt"] == "0"
    # The Date header (GMT) and TimeZone=1 set the clock: one hour ahead of UTC.
    drift = push.terminal.clock - (datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    assert abs(drift) < timedelta(seconds=5)


def test_transflag_and_timezone_formats() -> None:
    assert parse_transflag("1111000000") == {"attlog", "oplog", "attphoto", "enrollfp"}
    assert parse_transflag("TransData AttLog\tEnrollFP") == {"attlog", "enrollfp"}
    assert parse_timezone("-5") == timedelta(hours=-5)
    assert parse_timezone("330") == timedelta(hours=5, minutes=30)


def test_options_upload_reports_firmware_counts_and_capacities(
    push: PushTerminal, receiver: Receiver
) -> None:
    (upload,) = receiver.requests("/iclock/cdata", "options")
    assert "~OEMVendor=ZKTECO CO., LTD.," in upload.body
    for item in ("FWVersion=Ver 6.60 May 25 2018", "UserCount=3", "FPCount=1", "FPVersion=10"):
        assert f",{item}," in upload.body
    assert ",~MaxUserCount=30," in upload.body


def test_a_bare_ok_handshake_keeps_the_terminal_settings(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.bare_ok_handshake = True
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    assert (push.delay, push.server_options) == (30.0, {})


def test_old_firmware_appends_aspx(make_push: PushFactory, receiver: Receiver) -> None:
    push = make_push(start=False)
    push.aspx_paths = True
    push.start()
    assert push.wait_for(lambda t: t.polls >= 1)
    assert receiver.received[0].requestline.startswith("GET /iclock/cdata.aspx?SN=")
    assert receiver.requests("/iclock/getrequest")[0].requestline.startswith(
        "GET /iclock/getrequest.aspx?SN="
    )


def test_first_poll_after_a_handshake_carries_info(push: PushTerminal, receiver: Receiver) -> None:
    assert push.wait_for(lambda t: t.polls >= 2)
    first, second = receiver.requests("/iclock/getrequest")[:2]
    assert first.query["INFO"] == "Ver 6.60 May 25 2018,3,1,0,192.168.1.201,10,0,0,0,100"
    assert "INFO=Ver%206.60%20May" in first.requestline
    assert second.query == {"SN": SERIAL}


def test_raw_spaces_in_info_are_refused_by_a_strict_server(
    make_push: PushFactory, receiver: Receiver
) -> None:
    push = make_push(start=False)
    push.info_raw_spaces = True
    push.start()
    assert push.wait_for(lambda t: sum(e.status == 400 for e in t.exchanges) >= 2)
    refused = [r for r in receiver.received if r.method == ""]
    assert "INFO=Ver 6.60 May 25 2018,3,1,0," in refused[0].requestline
    assert push.polls == 0  # never got a command: the INFO poll is retried after ErrorDelay


def test_each_exchange_says_how_long_its_answer_took(push: PushTerminal) -> None:
    """What benchmarks read: the answer's time, 0 for a request that never got one."""
    push.unreachable = True
    assert push.wait_for(lambda t: t.exchanges[-1].status is None)
    answered = [e for e in push.exchanges if e.status is not None]
    lost = [e for e in push.exchanges if e.status is None]
    assert answered
    assert all(e.elapsed > 0 for e in answered)
    assert lost
    assert all(e.elapsed == 0 for e in lost)


# -- punches ----------------------------------------------------------------------------


def test_realtime_punch_is_posted_at_once_and_acknowledged(
    push: PushTerminal, receiver: Receiver
) -> None:
    record = push.terminal.punch("2", punch=1)
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0 and t.acknowledged["ATTLOG"])
    when = record.timestamp.strftime("%Y-%m-%d %H:%M:%S")
    (post,) = receiver.requests("/iclock/cdata", "ATTLOG")
    assert post.body == f"2\t{when}\t1\t1\t0\t0\t0\n"
    assert post.query["SN"] == SERIAL
    assert "Stamp" in post.query
    assert push.acknowledged["ATTLOG"] == [f"2\t{when}\t1\t1\t0\t0\t0"]


def test_attlog_quirks_of_real_devices(make_push: PushFactory, receiver: Receiver) -> None:
    push = make_push(start=False)
    push.attlog_fields, push.trailing_tab, push.line_ending = 10, True, "\r\n"
    push.start()
    record = push.terminal.punch("3", punch=255, status=15)
    assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 1)
    when = record.timestamp.strftime("%Y-%m-%d %H:%M:%S")
    (post,) = receiver.requests("/iclock/cdata", "ATTLOG")
    assert post.body == f"3\t{when}\t255\t15\t0\t0\t0\t0\t0\t0\t\r\n"


@pytest.mark.parametrize(
    ("status", "reply"),
    [(200, "OK"), (200, "ERROR"), (500, "OK: 1")],
    ids=["bare-ok", "error-text", "status-500"],
)
def test_a_batch_is_posted_again_until_acknowledged_with_its_count(
    push: PushTerminal, receiver: Receiver, status: int, reply: str
) -> None:
    receiver.status, receiver.upload_reply = status, lambda _count: reply
    push.terminal.punch("1")
    assert push.wait_for(lambda t: len(receiver.requests("/iclock/cdata", "ATTLOG")) >= 3)
    assert push.acknowledged["ATTLOG"] == []
    receiver.status, receiver.upload_reply = 200, lambda count: f"OK:{count}"
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0)
    posts = receiver.requests("/iclock/cdata", "ATTLOG")
    assert len({p.body for p in posts}) == 1
    assert len(push.acknowledged["ATTLOG"]) == 1
    # ErrorDelay (3 s, scaled) separates the attempts.
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 3 * TIME_SCALE * 0.9


def test_bare_ok_acknowledges_where_the_firmware_accepts_it(
    make_push: PushFactory, receiver: Receiver
) -> None:
    push = make_push(start=False)
    push.accept_bare_ok = True
    receiver.upload_reply = lambda _count: "OK"
    push.start()
    push.terminal.punch("1")
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0 and t.acknowledged["ATTLOG"])


def test_a_lost_answer_makes_the_terminal_send_the_same_lines_again(
    push: PushTerminal, receiver: Receiver
) -> None:
    push.lose_replies = 1
    push.terminal.punch("1")
    assert push.wait_for(lambda t: t.acknowledged["ATTLOG"])
    first, second = receiver.requests("/iclock/cdata", "ATTLOG")
    assert first.body == second.body
    assert len(push.acknowledged["ATTLOG"]) == 1


def test_a_lost_upload_answer_spares_the_polls(push: PushTerminal, receiver: Receiver) -> None:
    """Only the batch's answer is lost: it is posted again after a new handshake."""
    push.lose_upload_replies = 1
    handshakes = push.handshakes
    push.terminal.punch("1")
    assert push.wait_for(lambda t: t.acknowledged["ATTLOG"])
    first, second = receiver.requests("/iclock/cdata", "ATTLOG")
    assert first.body == second.body
    assert push.handshakes == handshakes + 1
    lost = [e for e in push.exchanges if e.status is None]
    assert [e.path.split("?")[0] for e in lost] == ["/iclock/cdata"]


def test_backlog_after_an_outage_goes_out_in_batches_once_each(
    push: PushTerminal, receiver: Receiver
) -> None:
    push.batch_size = 3
    push.unreachable = True
    handshakes = push.handshakes
    records = [push.terminal.punch(str(1 + i % 3)) for i in range(7)]
    assert push.wait_for(lambda t: sum(e.status is None for e in t.exchanges) >= 2)
    assert receiver.requests("/iclock/cdata", "ATTLOG") == []
    push.unreachable = False
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0)
    assert push.handshakes > handshakes  # a network failure starts over with a handshake
    posts = receiver.requests("/iclock/cdata", "ATTLOG")
    assert [len(p.body.splitlines()) for p in posts] == [3, 3, 1]
    times = [line.split("\t")[1] for line in attlog_lines(receiver)]
    assert times == [r.timestamp.strftime("%Y-%m-%d %H:%M:%S") for r in records]


@pytest.mark.parametrize("how", ["reboot", "stop-start"])
def test_unacknowledged_punches_survive_a_reboot(
    push: PushTerminal, receiver: Receiver, how: str
) -> None:
    receiver.upload_reply = lambda _count: "OK"
    push.terminal.punch("1")
    assert push.wait_for(lambda t: len(receiver.requests("/iclock/cdata", "ATTLOG")) >= 1)
    if how == "reboot":
        push.reboot()
        assert push.wait_for(lambda t: t.reboots == 1 and t.handshakes >= 2)
    else:
        push.stop()
        push.start()
        assert push.wait_for(lambda t: t.handshakes >= 2)
    assert push.unacknowledged["ATTLOG"] == 1
    receiver.upload_reply = lambda count: f"OK: {count}"
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0)
    assert len(push.acknowledged["ATTLOG"]) == 1


def test_without_realtime_punches_wait_for_the_log_command(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.options |= {"Realtime": "0", "TransInterval": "0"}
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    push.terminal.punch("1")
    push.terminal.punch("2")
    assert push.wait_for(lambda t: t.polls >= 3)
    assert receiver.requests("/iclock/cdata", "ATTLOG") == []
    run_command(push, receiver, "C:5:LOG")
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0)
    (post,) = receiver.requests("/iclock/cdata", "ATTLOG")
    assert len(post.body.splitlines()) == 2


def test_without_realtime_punches_go_out_every_trans_interval(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.options |= {"Realtime": "0", "TransInterval": "0.5", "TransTimes": ""}
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    push.terminal.punch("1")
    push.terminal.punch("2")
    assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 2)
    assert len(receiver.requests("/iclock/cdata", "ATTLOG")) == 1
    assert push.polls > 1  # the terminal waited TransInterval, polling meanwhile


def test_without_realtime_punches_go_out_at_trans_times(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.options |= {"Realtime": "0", "TransInterval": "0"}
    push = make_push(start=False)
    push.sync_clock = False
    push.terminal.set_clock(datetime(2026, 12, 3, 14, 5))  # TransTimes=00:00;14:05
    push.terminal.punch("1")
    push.start()
    assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 1)


def test_a_zero_stamp_at_check_uploads_everything_again(
    push: PushTerminal, receiver: Receiver
) -> None:
    push.terminal.punch("1")
    assert push.wait_for(lambda t: t.unacknowledged["ATTLOG"] == 0 and t.acknowledged["ATTLOG"])
    receiver.options["ATTLOGStamp"] = "0"
    run_command(push, receiver, "C:9:CHECK")
    assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 2)
    first, again = receiver.requests("/iclock/cdata", "ATTLOG")
    assert first.body == again.body
    assert len(receiver.requests("/iclock/cdata")) - 2 >= 2  # two handshakes


# -- results and users added at the terminal --------------------------------------------


def test_a_result_not_acknowledged_is_posted_again(push: PushTerminal, receiver: Receiver) -> None:
    receiver.status_of_path["/iclock/devicecmd"] = 503
    receiver.queue("C:1:INFO")
    assert push.wait_for(lambda t: len(receiver.requests("/iclock/devicecmd")) >= 2)
    del receiver.status_of_path["/iclock/devicecmd"]
    assert push.wait_for(lambda t: (r := t.result("1")) is not None and r.acknowledged)


def test_a_user_enrolled_at_the_terminal_is_uploaded(
    push: PushTerminal, receiver: Receiver
) -> None:
    """Someone adds a user on the keypad: a USER line on OPERLOG (TransFlag has EnrollUser)."""
    push.add_user("9", "Eva Ruiz", privilege=14, card=133440)
    assert push.terminal.user_by_id("9") is not None
    assert push.wait_for(lambda t: t.acknowledged["OPERLOG"])
    (upload,) = receiver.requests("/iclock/cdata", "OPERLOG")
    assert upload.body == (
        "USER PIN=9\tName=Eva Ruiz\tPri=14\tPasswd=\tCard=133440\tGrp=1"
        "\tTZ=0000000000000000\tVerify=-1\tViceCard=\n"
    )


def test_a_user_is_not_uploaded_without_enroll_user_in_transflag(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.options["TransFlag"] = "1101000000"  # AttLog, OpLog and EnrollFP
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    push.add_user("9", "Eva Ruiz")
    push.terminal.punch("9")
    assert push.wait_for(lambda t: t.acknowledged["ATTLOG"])
    assert receiver.requests("/iclock/cdata", "OPERLOG") == []


# -- sharing a terminal with the pull simulator, the command line -----------------------


def test_one_terminal_can_speak_pull_and_push(receiver: Receiver) -> None:
    sim = ZKSimulator(users=2)
    pull_sink = sim._emit
    with PushTerminal(receiver.url, sim, time_scale=TIME_SCALE) as push:
        sim.punch("1")
        assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 1)
    assert sim._emit == pull_sink


def test_cli_push_mode_calls_the_server_and_exits_cleanly(receiver: Receiver) -> None:
    with zksim_process("--push", receiver.url, "--serial", "PUSH0001", "--users", "2") as process:
        assert process.stdout is not None
        assert f"pushing to {receiver.url}" in process.stdout.readline()
        deadline = time.monotonic() + 10
        while not receiver.requests("/iclock/getrequest") and time.monotonic() < deadline:
            time.sleep(0.02)
        (handshake, options) = receiver.requests("/iclock/cdata")[:2]
        assert handshake.query["SN"] == "PUSH0001"
        assert "UserCount=2" in options.body
