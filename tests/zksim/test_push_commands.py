"""The Push-mode K40's commands, against the small Push server of conftest."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from zksim import PressOutcome
from zksim.push import PushTerminal

from .conftest import SERIAL, PushFactory, Receiver, result_lines, run_command

ENROLL_INDEX = "C:7:ENROLL_FP PIN=2\tFID=6\tRETRY=3\tOVERWRITE=0"


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


# -- ENROLL_FP --------------------------------------------------------------------------


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
