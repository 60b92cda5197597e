"""What Home Assistant sends over Attendance PUSH 2.x, written by push/commands.py.

Lines are the real ones our reference (shared/reference/push-protocol.md) quotes, and those of
the sources it cites:
- [ATT-CN] §12, as the reference quotes it in §1.6-§1.9 (the commands, their results' codes);
- zf0916/hr-system: SPEC.md §10-§12 (the handshake a real SenseFace 4A accepted).
"""

from __future__ import annotations

from datetime import timedelta
import re
from typing import Any

import pytest

from custom_components.zkteco.push import commands, uploads
from custom_components.zkteco.push.commands import Command
from custom_components.zkteco.push.uploads import Outcome


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Nothing here needs Home Assistant: the module is pure text."""


# --- Answers ---------------------------------------------------------------------------------


def handshake_options(answer: str) -> dict[str, str]:
    first, *rest = answer.split("\n")
    assert first == "GET OPTION FROM: PYA8262300072"
    assert rest[-1] == ""
    return dict(line.split("=", 1) for line in rest[:-1])


def test_handshake_answer() -> None:
    answer = commands.handshake_answer("PYA8262300072", utc_offset=timedelta(hours=1))

    assert handshake_options(answer) == {
        "ATTLOGStamp": "9999",
        "Stamp": "9999",
        "OPERLOGStamp": "9999",
        "OpStamp": "9999",
        "ATTPHOTOStamp": "9999",
        "PhotoStamp": "9999",
        "ErrorDelay": "30",
        "Delay": "5",
        "TransTimes": "00:00;14:05",
        "TransInterval": "1",
        "TransFlag": "TransData AttLog\tOpLog\tEnrollUser\tChgUser\tEnrollFP\tChgFP",
        "TimeZone": "1",
        "Realtime": "1",
        "Encrypt": "0",
        "ServerVer": "2.4.1",
        "PushProtVer": "2.4.1",
        "PushOptionsFlag": "1",
        "PushOptions": (
            "FWVersion,UserCount,FPCount,TransactionCount,MaxUserCount,MaxFingerCount,"
            "MaxAttLogCount,FingerFunOn,FPVersion"
        ),
        "MultiBioDataSupport": "0:1:0:0:0:0:0:0:0:0",
    }
    assert "\r" not in answer


def test_handshake_answer_settings() -> None:
    answer = commands.handshake_answer(
        "PYA8262300072",
        utc_offset=timedelta(hours=5, minutes=30),
        delay=2,
        error_delay=60,
        trans_interval=0,
        trans_times="00:00;12:30;23:59",
        attlog_stamp="1716809648.0",
        operlog_stamp="12",
        photo_stamp="None",
    )

    options = handshake_options(answer)
    assert (options["Stamp"], options["ATTLOGStamp"]) == ("1716809648.0", "1716809648.0")
    assert (options["OpStamp"], options["OPERLOGStamp"]) == ("12", "12")
    assert (options["PhotoStamp"], options["ATTPHOTOStamp"]) == ("None", "None")
    assert options["TimeZone"] == "330"
    assert (options["Delay"], options["ErrorDelay"], options["TransInterval"]) == ("2", "60", "0")
    assert options["TransTimes"] == "00:00;12:30;23:59"


@pytest.mark.parametrize(
    ("offset", "option"),
    [
        # P10: hours if -12 < TZ < 12, minutes otherwise (saifulcoder issue #14: +2:30).
        (timedelta(0), "0"),
        (timedelta(hours=8), "8"),
        (timedelta(hours=-5), "-5"),
        (timedelta(hours=11), "11"),
        (timedelta(hours=-11), "-11"),
        (timedelta(hours=2, minutes=30), "150"),
        (timedelta(hours=-3, minutes=-30), "-210"),
        (timedelta(hours=5, minutes=45), "345"),
        (timedelta(hours=12), "720"),
        (timedelta(hours=-12), "-720"),
        (timedelta(hours=14), "840"),
    ],
)
def test_timezone_option(offset: timedelta, option: str) -> None:
    assert commands.timezone_option(offset) == option


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"serial": "PYA\r\nRealtime=0"}, id="serial-injection"),
        pytest.param({"serial": ""}, id="serial-empty"),
        pytest.param({"attlog_stamp": "1\nTransFlag=0"}, id="stamp-injection"),
        pytest.param({"operlog_stamp": ""}, id="stamp-empty"),
        pytest.param({"photo_stamp": "x" * 33}, id="stamp-long"),
        pytest.param({"trans_times": "00:00\nDelay=1"}, id="trans-times"),
        pytest.param({"trans_times": "\u0660\u0660:00"}, id="trans-times-arabic-digits"),
        pytest.param({"delay": 0}, id="delay-zero"),
        pytest.param({"error_delay": 3601}, id="error-delay-long"),
        pytest.param({"trans_interval": -1}, id="interval-negative"),
        pytest.param({"trans_interval": 1441}, id="interval-long"),
        pytest.param({"utc_offset": timedelta(seconds=30)}, id="offset-seconds"),
    ],
)
def test_handshake_answer_refuses(arguments: dict[str, Any]) -> None:
    serial = arguments.pop("serial", "PYA8262300072")
    settings: dict[str, Any] = {"utc_offset": timedelta(0)} | arguments

    with pytest.raises(ValueError, match=r"not allowed|seconds|minutes"):
        commands.handshake_answer(serial, **settings)


@pytest.mark.parametrize(("count", "answer"), [(0, "OK: 0"), (1, "OK: 1"), (500, "OK: 500")])
def test_acknowledge(count: int, answer: str) -> None:
    assert commands.acknowledge(count) == answer


def test_acknowledge_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        commands.acknowledge(-1)


def test_acknowledge_what_was_counted() -> None:
    upload = uploads.parse_attlog(b"1\t2026-08-20 11:27:27\t255\t15\t0\t0\t0\t0\t0\t0\t\r\nbad\r\n")

    assert commands.acknowledge(upload.acknowledged) == "OK: 2"


# --- Commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "text"),
    [
        # [ATT-CN] §12.9.1.
        (commands.enroll_fp("1", 6), "ENROLL_FP PIN=1\tFID=6\tRETRY=3\tOVERWRITE=0"),
        (
            commands.enroll_fp("123456789", 0, retry=1, overwrite=True),
            "ENROLL_FP PIN=123456789\tFID=0\tRETRY=1\tOVERWRITE=1",
        ),
        (commands.enroll_fp("7", 9, retry=0), "ENROLL_FP PIN=7\tFID=9\tRETRY=0\tOVERWRITE=0"),
        # [ATT-CN] §12 as the reference's catalogue writes it: the whole record.
        (
            commands.update_user("1", name="Ana"),
            "DATA UPDATE USERINFO PIN=1\tName=Ana\tPri=0\tPasswd=\tCard=\tGrp=1"
            "\tTZ=0000000100000000\tVerify=-1\tViceCard=",
        ),
        (
            commands.update_user(
                "42", name="José Peña", privilege=14, password="1234", card="133440", group=2
            ),
            "DATA UPDATE USERINFO PIN=42\tName=José Peña\tPri=14\tPasswd=1234\tCard=133440"
            "\tGrp=2\tTZ=0000000100000000\tVerify=-1\tViceCard=",
        ),
        (commands.delete_user("1"), "DATA DELETE USERINFO PIN=1"),
        (Command.CHECK, "CHECK"),
        (Command.INFO, "INFO"),
        (Command.REBOOT, "REBOOT"),
        (Command.CLEAR_LOG, "CLEAR LOG"),
    ],
)
def test_command_text(command: str, text: str) -> None:
    assert command == text
    assert commands.command_line("a1", command) == f"C:a1:{text}"


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: commands.enroll_fp("1\tFID=0", 6), id="pin-tab"),
        pytest.param(lambda: commands.enroll_fp("1\r\nC:9:REBOOT", 6), id="pin-newline"),
        pytest.param(lambda: commands.enroll_fp("", 6), id="pin-empty"),
        pytest.param(lambda: commands.enroll_fp("1" * 25, 6), id="pin-long"),
        pytest.param(lambda: commands.enroll_fp("1 2", 6), id="pin-space"),
        pytest.param(lambda: commands.enroll_fp("\uff11", 6), id="pin-fullwidth-digit"),
        pytest.param(lambda: commands.enroll_fp("1", 10), id="fid-10"),
        pytest.param(lambda: commands.enroll_fp("1", -1), id="fid-negative"),
        pytest.param(lambda: commands.enroll_fp("1", 6, retry=10), id="retry"),
        pytest.param(lambda: commands.update_user("1", name="Ana\tPri=14"), id="name-tab"),
        pytest.param(
            lambda: commands.update_user("1", name="Ana\nC:9:DATA DELETE USERINFO PIN=7"),
            id="name-newline",  # reference §1.11
        ),
        pytest.param(lambda: commands.update_user("1", name="Ana\r"), id="name-cr"),
        pytest.param(lambda: commands.update_user("1", name="Ana\x00"), id="name-nul"),
        pytest.param(lambda: commands.update_user("1", name="Ana\u2028"), id="name-line-separator"),
        pytest.param(lambda: commands.update_user("1", name="Ana\x85"), id="name-next-line"),
        pytest.param(lambda: commands.update_user("1", name="A" * 65), id="name-long"),
        pytest.param(lambda: commands.update_user("1", password="1\t2"), id="password-tab"),
        pytest.param(lambda: commands.update_user("1", card="12\n3"), id="card-newline"),
        pytest.param(lambda: commands.update_user("1", card="12a"), id="card-letters"),
        pytest.param(lambda: commands.update_user("1", privilege=3), id="privilege"),
        pytest.param(lambda: commands.update_user("1", group=0), id="group"),
        pytest.param(lambda: commands.delete_user("1\nC:2:REBOOT"), id="delete-newline"),
        pytest.param(lambda: commands.command_line("a" * 17, "CHECK"), id="id-long"),
        pytest.param(lambda: commands.command_line("", "CHECK"), id="id-empty"),
        pytest.param(lambda: commands.command_line("a:1", "CHECK"), id="id-colon"),
        pytest.param(lambda: commands.command_line("a\n", "CHECK"), id="id-newline"),
        pytest.param(lambda: commands.command_line("a1", "CHECK\nC:2:REBOOT"), id="command-lf"),
        pytest.param(lambda: commands.command_line("a1", "CHECK\r"), id="command-cr"),
        pytest.param(lambda: commands.command_line("a1", "CHECK\x00"), id="command-nul"),
        pytest.param(lambda: commands.command_line("a1", "CHECK\x0bX"), id="command-vt"),
        pytest.param(lambda: commands.command_line("a1", "CHECK\u2029"), id="command-ps"),
        pytest.param(lambda: commands.command_line("a1", ""), id="command-empty"),
    ],
)
def test_command_refuses(build: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        build()


def test_command_ids_are_fresh_and_fit() -> None:
    ids = {commands.new_command_id() for _ in range(1000)}

    assert len(ids) == 1000
    for command_id in ids:
        assert re.fullmatch(r"[0-9a-f]{16}", command_id)
        assert commands.command_line(command_id, Command.CHECK) == f"C:{command_id}:CHECK"


def test_poll_answer() -> None:
    assert commands.poll_answer([]) == "OK"
    queued = [
        commands.command_line("1", commands.update_user("1", name="Ana")),
        commands.command_line("2", commands.enroll_fp("1", 6)),
    ]

    answer = commands.poll_answer(queued)

    assert answer.split("\n") == [*queued, ""]
    assert answer.startswith("C:1:DATA UPDATE USERINFO PIN=1\t")


def test_a_command_round_trips_through_its_result() -> None:
    command_id = commands.new_command_id()
    line = commands.command_line(command_id, commands.enroll_fp("2", 6, overwrite=True))

    (result,) = uploads.parse_command_results(
        f"ID={command_id}&Return=5&CMD=ENROLL_FP\n".encode()
    ).results

    assert line.startswith(f"C:{result.command_id}:ENROLL_FP ")
    assert result.outcome is Outcome.DUPLICATE_FINGER
