"""Enrolling a finger through a Push terminal (push/enrollment.py, through the channel that holds
it) with a simulated Push K40 calling Home Assistant's server.

An EnrollmentManager sits on top where it proves what users get: the enrollment results. Result
codes the simulator cannot make are posted by hand, as a terminal would post them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.zkteco.channel import EnrollmentOutcome, EnrollmentResult
from custom_components.zkteco.enrollment import FingerAlreadyEnrolled, TerminalUnavailable
from custom_components.zkteco.push import commands
from custom_components.zkteco.push.enrollment import CONFIRM_TIMEOUT
from custom_components.zkteco.push.server import PushHub
from zksim import PressOutcome
from zksim.push import PushTerminal

from .conftest import (
    RIGHT_INDEX,
    PushSide,
    Seen,
    hand,
    know_user,
    started,
    until,
    until_terminal,
)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """The channel's punch journal is a real file in `.storage`: one directory per test."""
    return hass_tmp_config_dir


async def press_three_times(hass: HomeAssistant, push: PushTerminal) -> None:
    """Once the terminal shows its capture screen (it took the command a moment before)."""
    await until_terminal(hass, push, lambda t: t.terminal.enrolling)
    for _ in range(3):
        push.terminal.press_finger(PressOutcome.GOOD)


async def test_three_presses_enroll_the_finger(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, seen: Seen
) -> None:
    """The result is success once the template upload for that PIN and finger arrived."""
    await started(hass, push)
    await know_user(hass, push_side, "1")
    before = await push_side.channel.async_poll(lambda _counters: False)

    await push_side.enrollment.async_start("1", 1)
    assert push_side.channel.enrolling
    await press_three_times(hass, push)
    await until_terminal(hass, push, lambda t: t.unacknowledged["OPERLOG"] == 0 and t.results)
    await hass.async_block_till_done()

    assert seen.finished == ["success"]
    assert seen.results[0].template_size > 0
    after = await push_side.channel.async_poll(lambda _counters: False)
    assert after.counters.fingers == before.counters.fingers + 1
    assert not push_side.channel.enrolling
    (ana,) = [user for user in await push_side.channel.async_read_users() if user.user_id == "1"]
    assert await push_side.channel.async_enrolled_fingers(ana) == {RIGHT_INDEX}


async def queued_enrollment(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide
) -> asyncio.Task[dict[str, Any]]:
    """User 1 known from the terminal's upload, the enrollment of its finger 1 queued."""
    await hand(hub, "POST", "cdata", "USER PIN=1\tName=Ana\tPri=0\n", table="OPERLOG")
    start = hass.async_create_task(push_side.enrollment.async_start("1", 1))
    await until(lambda: bool(push_side.channel.queue.pending))
    return start


async def hand_started_enrollment(hass: HomeAssistant, hub: PushHub, push_side: PushSide) -> str:
    """User 1 known from the terminal's upload, the enrollment of its finger 1 taken by a poll:
    the command's id."""
    await hand(hub, "GET", "cdata", options="all")
    start = await queued_enrollment(hass, hub, push_side)
    command = await hand(hub, "GET", "getrequest")
    await start
    assert command.startswith("C:")
    assert "ENROLL_FP PIN=1\tFID=6\tRETRY=3\tOVERWRITE=0" in command
    return command.split(":")[1]


FP_UPLOAD = ("OPERLOG", "FP PIN=1\tFID=6\tSize=8\tValid=1\tTMP=AAAAAAAA\n")
BIODATA_UPLOAD = ("BIODATA", "BIODATA Pin=1\tNo=6\tIndex=0\tValid=1\tDuress=0\tType=1\tTmp=AAAA\n")
OPLOG_UPLOAD = ("OPERLOG", "OPLOG 6\t0\t2026-12-03 10:00:00\t1\t6\t602\t0\n")
OTHER_FINGER = ("OPERLOG", "FP PIN=1\tFID=5\tSize=8\tValid=1\tTMP=AAAAAAAA\n")


@pytest.mark.parametrize(
    ("before", "code", "after", "result"),
    [
        ([], 0, [FP_UPLOAD], "success"),
        ([], 0, [BIODATA_UPLOAD], "success"),
        ([], 0, [OPLOG_UPLOAD], "success"),
        ([FP_UPLOAD], 0, [], "success"),
        ([OTHER_FINGER], 0, [], None),  # still waiting for its own template
        ([], 2, [], "already_enrolled"),
        ([], 4, [], "bad_quality"),
        ([], 5, [], "duplicate"),
        ([], 6, [], "timeout"),
        ([], 7, [], "busy"),
        ([], -1005, [], "busy"),
        ([], -10, [], "user_not_found"),
        ([], -1002, [], "not_supported"),
        ([], -1003, [], "timeout"),
        ([], -1, [], "failed"),
    ],
)
async def test_each_result_of_the_terminal(
    hass: HomeAssistant,
    hub: PushHub,
    push_side: PushSide,
    seen: Seen,
    before: list[tuple[str, str]],
    code: int,
    after: list[tuple[str, str]],
    result: str | None,
) -> None:
    """`Return=0` is success with the template upload for that PIN and finger, in either order."""
    command_id = await hand_started_enrollment(hass, hub, push_side)

    for table, body in before:
        await hand(hub, "POST", "cdata", body, table=table)
    await hand(hub, "POST", "devicecmd", f"ID={command_id}&Return={code}&CMD=ENROLL_FP\n")
    for table, body in after:
        await hand(hub, "POST", "cdata", body, table=table)
    await hass.async_block_till_done()

    assert seen.finished == ([result] if result else [])
    assert push_side.channel.enrolling is (result is None)


async def test_no_template_after_return_0_is_a_failure(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, seen: Seen
) -> None:
    """The terminal answers 0 and uploads nothing (§1.9): failed once the wait is over."""
    await started(hass, push)
    await know_user(hass, push_side, "1")
    push.drop_template_upload = True

    await push_side.enrollment.async_start("1", 1)
    await press_three_times(hass, push)
    await until_terminal(hass, push, lambda t: any(r.cmd == "ENROLL_FP" for r in t.results))
    await until_terminal(hass, push, lambda t: all(r.acknowledged for r in t.results))
    await hass.async_block_till_done()
    assert seen.finished == []

    async_fire_time_changed(hass, dt_util.utcnow() + CONFIRM_TIMEOUT + timedelta(seconds=1))
    await hass.async_block_till_done()

    assert seen.finished == ["failed"]
    assert seen.results == [EnrollmentResult(EnrollmentOutcome.FAILED)]


@pytest.mark.parametrize("push_delay", [0])
async def test_a_terminal_that_does_not_poll_in_time(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide, seen: Seen
) -> None:
    """The enrollment is withdrawn (never delivered later) and the request fails."""
    await hand(hub, "POST", "cdata", "USER PIN=1\tName=Ana\tPri=0\n", table="OPERLOG")

    with (
        patch("custom_components.zkteco.push.channel.ENROLL_DELIVERY_MIN", timedelta(0)),
        pytest.raises(TerminalUnavailable) as err,
    ):
        await push_side.enrollment.async_start("1", 1)

    assert "did not poll" in str(err.value.__cause__)
    assert push_side.channel.queue.pending == ()
    assert await hand(hub, "GET", "getrequest") == "OK"
    assert not push_side.channel.enrolling
    assert seen.finished == []


async def test_cancelled_before_the_terminal_took_it(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide, seen: Seen
) -> None:
    start = await queued_enrollment(hass, hub, push_side)

    await push_side.enrollment.async_cancel()

    with pytest.raises(TerminalUnavailable):
        await start
    assert await hand(hub, "GET", "getrequest") == "OK"
    assert seen.finished == ["cancelled"]


async def test_enrollments_queued_before_a_restart_are_withdrawn(
    hass: HomeAssistant, hub: PushHub, open_push_side: Callable[[], Awaitable[PushSide]]
) -> None:
    """Nobody waits at the terminal for them any more; other commands still go out."""
    first = await open_push_side()
    await first.channel.queue.async_add(commands.enroll_fp("1", 6))
    await first.channel.queue.async_add(commands.Command.INFO)
    await first.channel.async_stop()

    await open_push_side()

    assert (await hand(hub, "GET", "getrequest")).endswith(":INFO\n")


async def test_a_finger_seen_uploaded_is_refused_at_once(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide
) -> None:
    await hand(hub, "POST", "cdata", "USER PIN=1\tName=Ana\tPri=0\n", table="OPERLOG")
    await hand(hub, "POST", "cdata", FP_UPLOAD[1], table="OPERLOG")

    with pytest.raises(FingerAlreadyEnrolled):
        await push_side.enrollment.async_start("1", 1)
    assert push_side.channel.queue.pending == ()
