"""The Push-mode K40 against a small Push server of our own (http.server on loopback)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
import itertools
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from zksim import PressOutcome, ZKSimulator
from zksim.push import PushTerminal, parse_timezone, parse_transflag

from .conftest import zksim_process

SERIAL = "CQUJ203960001"
TIME_SCALE = 0.02  # Delay=1 polls every 20 ms, ErrorDelay=3 waits 60 ms
HANDSHAKE_OPTIONS = {
    "ATTLOGStamp": "None",
    "OPERLOGStamp": "9999",
    "ErrorDelay": "3",
    "Delay": "1",
    "TransTimes": "00:00;14:05",
    "TransInterval": "1",
    "TransFlag": "TransData AttLog\tOpLog\tEnrollUser\tChgUser\tEnrollFP\tChgFP",
    "TimeZone": "1",
    "Realtime": "1",
    "Encrypt": "0",
}
ENROLL_INDEX = "C:7:ENROLL_FP PIN=2\tFID=6\tRETRY=3\tOVERWRITE=0"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    body: str
    requestline: str
    at: float


class Receiver:
    """A Push server: answers the handshake, acknowledges uploads, hands out queued commands."""

    def __init__(self) -> None:
        self.options = dict(HANDSHAKE_OPTIONS)
        self.bare_ok_handshake = False
        self.status = 200
        self.status_of_path: dict[str, int] = {}
        self.upload_reply: Callable[[int], str] = lambda count: f"OK: {count}"
        self.commands: list[str] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = HTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def requests(self, path: str, table: str | None = None) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if r.path == path and (table is None or r.query.get("table") == table)
            ]

    def queue(self, *commands: str) -> None:
        with self.lock:
            self.commands.extend(commands)

    def answer(self, request: Received) -> str:
        if request.path == "/iclock/cdata" and request.method == "GET":
            if self.bare_ok_handshake:
                return "OK"
            options = "".join(f"{key}={value}\n" for key, value in self.options.items())
            return f"GET OPTION FROM: {request.query['SN']}\n{options}"
        if request.path == "/iclock/cdata" and request.query.get("table") != "options":
            return self.upload_reply(len(request.body.splitlines()))
        if request.path == "/iclock/getrequest":
            with self.lock:
                commands, self.commands = self.commands, []
            return "".join(f"{command}\n" for command in commands) or "OK"
        return "OK"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def parse_request(self) -> bool:
                if not super().parse_request():
                    self._record("")  # refused like Home Assistant's server refuses it
                    return False
                return True

            def do_GET(self) -> None:
                self._serve("")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self._serve(self.rfile.read(length).decode())

            def _record(self, body: str) -> Received:
                parts = urlsplit((getattr(self, "path", None) or "").replace(".aspx", ""))
                request = Received(
                    getattr(self, "command", None) or "",
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    body,
                    self.raw_requestline.decode(errors="replace").rstrip("\r\n"),
                    time.monotonic(),
                )
                with receiver.lock:
                    receiver.received.append(request)
                return request

            def _serve(self, body: str) -> None:
                request = self._record(body)
                reply = receiver.answer(request).encode()
                self.send_response(receiver.status_of_path.get(request.path, receiver.status))
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


PushFactory = Callable[..., PushTerminal]


@pytest.fixture
def make_push(receiver: Receiver) -> Iterator[PushFactory]:
    """Push terminals with users 1..3 and a template for user 1, finger 5; always closed."""
    made: list[PushTerminal] = []

    def factory(start: bool = True, **kwargs: object) -> PushTerminal:
        push = PushTerminal(receiver.url, time_scale=TIME_SCALE, **kwargs)  # type: ignore[arg-type]
        push.terminal.add_numbered_users(3)
        push.terminal.add_template("1", 5)
        push.terminal.enroll_timeout = 2.0
        push.terminal.reboot_duration = 0.05
        made.append(push)
        return push.start() if start else push

    yield factory
    for push in made:
        push.close()


@pytest.fixture
def push(make_push: PushFactory) -> PushTerminal:
    push = make_push()
    assert push.wait_for(lambda t: t.polls >= 1)
    return push


def attlog_lines(receiver: Receiver) -> list[str]:
    return [
        line
        for r in receiver.requests("/iclock/cdata", "ATTLOG")
        for line in r.body.split("\n")
        if line
    ]


def run_command(push: PushTerminal, receiver: Receiver, *commands: str) -> None:
    ids = [command.split(":")[1] for command in commands]
    receiver.queue(*commands)
    assert push.wait_for(lambda t: all((r := t.result(i)) and r.acknowledged for i in ids))


def result_lines(receiver: Receiver) -> list[str]:
    return [line for r in receiver.requests("/iclock/devicecmd") for line in r.body.splitlines()]


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


# -- commands ---------------------------------------------------------------------------


def test_user_commands_write_and_delete_full_records(
    push: PushTerminal, receiver: Receiver
) -> None:
    run_command(
        push,
        receiver,
        "C:1:DATA UPDATE USERINFO PIN=42\tName=José Núñez\tPri=14\tPasswd=12\tCard=99\tGrp=1",
        "C:2:DATA UPDATE USERINFO PIN=1\tName=Uno",
        "C:3:DATA DELETE USERINFO PIN=1",
        "C:4:DATA DELETE USERINFO PIN=77",
        "C:5:DATA UPDATE USERINFO PIN=1234567890\tName=Too long",
    )
    user = push.terminal.user_by_id("42")
    assert user is not None
    assert (user.name, user.privilege, user.password, user.card) == ("José Núñez", 14, "12", 99)
    assert push.terminal.user_by_id("1") is None
    assert not push.terminal.has_template("1", 5)
    assert result_lines(receiver) == [
        "ID=1&Return=0&CMD=DATA",
        "ID=2&Return=0&CMD=DATA",
        "ID=3&Return=0&CMD=DATA",
        "ID=4&Return=-10&CMD=DATA",
        "ID=5&Return=-1&CMD=DATA",
    ]
    assert len(receiver.requests("/iclock/devicecmd")) == 1  # one poll, one batched post


def test_a_partial_user_update_resets_the_fields_left_out(
    push: PushTerminal, receiver: Receiver
) -> None:
    push.terminal.add_user("2", "Dos", privilege=14, card=5)
    run_command(push, receiver, "C:1:DATA UPDATE USERINFO PIN=2\tName=Dos")
    user = push.terminal.user_by_id("2")
    assert user is not None
    assert (user.privilege, user.card) == (0, 0)


def test_info_answers_key_value_lines_after_the_result(
    push: PushTerminal, receiver: Receiver
) -> None:
    run_command(push, receiver, "C:info1:INFO")
    lines = result_lines(receiver)
    assert lines[0] == "ID=info1&Return=0&CMD=INFO"
    assert "UserCount=3" in lines[1:]
    assert "~SerialNumber=" + SERIAL in lines[1:]


def test_reboot_answers_then_starts_over(push: PushTerminal, receiver: Receiver) -> None:
    run_command(push, receiver, "C:8:REBOOT")
    assert push.wait_for(lambda t: t.reboots == 1 and t.handshakes == 2 and t.polls >= 2)
    assert result_lines(receiver) == ["ID=8&Return=0&CMD=REBOOT"]


def test_clear_log_deletes_the_punches(push: PushTerminal, receiver: Receiver) -> None:
    push.terminal.punch("1")
    assert push.wait_for(lambda t: t.acknowledged["ATTLOG"])
    run_command(push, receiver, "C:6:CLEAR LOG")
    assert push.terminal.records == []
    assert result_lines(receiver) == ["ID=6&Return=0&CMD=CLEAR_LOG"]
    push.terminal.punch("2")
    assert push.wait_for(lambda t: len(t.acknowledged["ATTLOG"]) == 2)
    assert push.acknowledged["ATTLOG"][1].startswith("2\t")


def test_template_commands_write_and_delete_fingers(push: PushTerminal, receiver: Receiver) -> None:
    tmp = base64.b64encode(b"\x4d\x98SS21 minutiae").decode()
    run_command(
        push,
        receiver,
        f"C:1:DATA UPDATE FINGERTMP PIN=2\tFID=3\tSize={len(tmp)}\tValid=1\tTMP={tmp}",
        f"C:2:DATA UPDATE FINGERTMP PIN=2\tFID=4\tSize=9\tValid=1\tTMP={tmp}",
        "C:3:DATA UPDATE FINGERTMP PIN=2\tFID=4\tSize=4\tValid=1\tTMP=a!b=",
        f"C:4:DATA UPDATE FINGERTMP PIN=8\tFID=4\tSize={len(tmp)}\tValid=1\tTMP={tmp}",
        "C:5:DATA DELETE FINGERTMP PIN=1\tFID=5",
    )
    template = push.terminal.template_of(2, 3)
    assert template is not None
    assert template.template == b"\x4d\x98SS21 minutiae"
    assert not push.terminal.has_template("1", 5)
    assert [line.split("&")[1] for line in result_lines(receiver)] == [
        "Return=0",
        "Return=-9",
        "Return=-11",
        "Return=-10",
        "Return=0",
    ]
    run_command(push, receiver, "C:6:DATA DELETE FINGERTMP PIN=2")
    assert push.terminal.templates == []


def test_clear_data_deletes_users_fingers_and_log(push: PushTerminal, receiver: Receiver) -> None:
    push.terminal.punch("1")
    run_command(push, receiver, "C:1:CLEAR DATA")
    assert push.terminal.counts() == {"users": 0, "fingers": 0, "records": 0, "cards": 0}
    assert result_lines(receiver) == ["ID=1&Return=0&CMD=CLEAR_DATA"]


def test_unknown_commands_are_not_supported(push: PushTerminal, receiver: Receiver) -> None:
    run_command(push, receiver, "C:1:SHELL ls", "C:2:DATA UPDATE BIODATA Pin=1\tNo=1")
    assert result_lines(receiver) == ["ID=1&Return=-1002&CMD=SHELL", "ID=2&Return=-1002&CMD=DATA"]


def test_a_result_not_acknowledged_is_posted_again(push: PushTerminal, receiver: Receiver) -> None:
    receiver.status_of_path["/iclock/devicecmd"] = 503
    receiver.queue("C:1:INFO")
    assert push.wait_for(lambda t: len(receiver.requests("/iclock/devicecmd")) >= 2)
    del receiver.status_of_path["/iclock/devicecmd"]
    assert push.wait_for(lambda t: (r := t.result("1")) is not None and r.acknowledged)


# -- ENROLL_FP --------------------------------------------------------------------------


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


def test_enroll_fp_success_posts_the_result_then_oplog_and_the_template(
    push: PushTerminal, receiver: Receiver
) -> None:
    receiver.queue(ENROLL_INDEX)
    assert push.wait_for(lambda t: t.terminal.enrolling)
    for _ in range(3):
        push.terminal.press_finger(PressOutcome.GOOD)
    assert push.wait_for(lambda t: t.acknowledged["OPERLOG"] and t.result("7"))
    assert result_lines(receiver) == ["ID=7&Return=0&CMD=ENROLL_FP"]
    (upload,) = receiver.requests("/iclock/cdata", "OPERLOG")
    assert "OpStamp" in upload.query
    assert receiver.received.index(upload) > receiver.received.index(
        receiver.requests("/iclock/devicecmd")[0]
    )
    oplog, fp = upload.body.splitlines()
    template = push.terminal.template_of(2, 6)
    assert template is not None
    when = oplog.split("\t")[2]
    assert oplog == f"OPLOG 6\t0\t{when}\t2\t6\t{len(template.template)}\t0"
    tmp = base64.b64encode(template.template).decode()
    assert fp == f"FP PIN=2\tFID=6\tSize={len(tmp)}\tValid=1\tTMP={tmp}"


def test_enroll_fp_uploads_only_what_transflag_asks_for(
    make_push: PushFactory, receiver: Receiver
) -> None:
    receiver.options["TransFlag"] = "1001000000"  # AttLog and EnrollFP, no OpLog
    push = make_push()
    receiver.queue(ENROLL_INDEX)
    assert push.wait_for(lambda t: t.terminal.enrolling)
    press([PressOutcome.GOOD] * 3)(push)
    assert push.wait_for(lambda t: t.acknowledged["OPERLOG"])
    (upload,) = receiver.requests("/iclock/cdata", "OPERLOG")
    assert upload.body.startswith("FP PIN=2\tFID=6\t")
    assert len(upload.body.splitlines()) == 1


def test_enroll_fp_can_answer_0_without_a_template_upload(
    push: PushTerminal, receiver: Receiver
) -> None:
    push.drop_template_upload = True
    receiver.queue(ENROLL_INDEX)
    assert push.wait_for(lambda t: t.terminal.enrolling)
    press([PressOutcome.GOOD] * 3)(push)
    assert push.wait_for(lambda t: (r := t.result("7")) is not None and r.acknowledged)
    assert result_lines(receiver) == ["ID=7&Return=0&CMD=ENROLL_FP"]
    polls = push.polls
    assert push.wait_for(lambda t: t.polls >= polls + 2)  # time for an upload to come
    assert receiver.requests("/iclock/cdata", "OPERLOG") == []


def press(outcomes: list[PressOutcome]) -> Callable[[PushTerminal], None]:
    def act(push: PushTerminal) -> None:
        for outcome in outcomes:
            push.terminal.press_finger(outcome)

    return act


def time_out(push: PushTerminal) -> None:
    """Nobody presses again within enroll_timeout (0 s from this press on)."""
    push.terminal.enroll_timeout = 0.0
    push.terminal.press_finger(PressOutcome.BAD_QUALITY)


@pytest.mark.parametrize(
    ("command", "act", "code"),
    [
        ("ENROLL_FP PIN=1\tFID=5\tRETRY=3\tOVERWRITE=0", None, 2),
        ("ENROLL_FP PIN=9\tFID=6\tRETRY=3\tOVERWRITE=0", None, -10),
        ("ENROLL_FP PIN=2\tFID=12\tRETRY=3\tOVERWRITE=0", None, -1),
        (ENROLL_INDEX[4:], press([PressOutcome.GOOD, PressOutcome.MISMATCH] * 2), 4),
        (ENROLL_INDEX[4:].replace("RETRY=3", "RETRY=1"), press([PressOutcome.BAD_QUALITY] * 2), 4),
        (ENROLL_INDEX[4:], press([PressOutcome.DUPLICATE] * 3), 5),
        (ENROLL_INDEX[4:], lambda push: push.terminal.cancel_enrollment(), 6),
        (ENROLL_INDEX[4:], time_out, 6),
    ],
    ids=[
        "exists",
        "no-user",
        "bad-fid",
        "mismatch",
        "bad-presses",
        "duplicate",
        "cancel",
        "timeout",
    ],
)
def test_enroll_fp_failures(
    push: PushTerminal,
    receiver: Receiver,
    command: str,
    act: Callable[[PushTerminal], None] | None,
    code: int,
) -> None:
    receiver.queue(f"C:7:{command}")
    if act is not None:
        assert push.wait_for(lambda t: t.terminal.enrolling)
        act(push)
    assert push.wait_for(lambda t: (r := t.result("7")) is not None and r.acknowledged)
    assert result_lines(receiver) == [f"ID=7&Return={code}&CMD=ENROLL_FP"]
    assert not push.terminal.enrolling
    assert receiver.requests("/iclock/cdata", "OPERLOG") == []


def test_enroll_fp_while_enrolling_is_busy_and_overwrite_replaces(
    push: PushTerminal, receiver: Receiver
) -> None:
    receiver.queue("C:1:ENROLL_FP PIN=1\tFID=5\tRETRY=3\tOVERWRITE=1", "C:2:" + ENROLL_INDEX[4:])
    assert push.wait_for(lambda t: (r := t.result("2")) is not None and r.acknowledged)
    assert result_lines(receiver) == ["ID=2&Return=7&CMD=ENROLL_FP"]
    press([PressOutcome.GOOD] * 3)(push)
    assert push.wait_for(lambda t: (r := t.result("1")) is not None and r.code == 0)
    assert push.terminal.has_template("1", 5)


# -- sharing a terminal with the pull simulator, the command line ------------------------


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
