"""The Push channel (push/channel.py) with a simulated Push K40 calling Home Assistant's server.

An AttendanceTracker sits on top where it proves what users get: the `zkteco_attendance`
events. Enrollment through the channel is in test_push_enrollment.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.zkteco.channel import (
    Punch,
    TerminalConnectionError,
    TerminalError,
    TerminalNotSupportedError,
    TerminalUnknownUserError,
    UserChanges,
)
from custom_components.zkteco.push import commands, uploads
from custom_components.zkteco.push.channel import PushChannel
from custom_components.zkteco.push.journal import journal_path
from custom_components.zkteco.push.server import REFUSED, PushHub, PushRequest
from custom_components.zkteco.push.uploads import AttLogUpload
from zksim.push import PushTerminal

from .conftest import (
    HISTORY_START,
    PUSH_SERIAL,
    PushSide,
    Seen,
    hand,
    know_user,
    started,
    until,
    until_terminal,
)

# Long enough that a poll never comes between what a test does and the upload it waits for.
SLOW_POLLS = 3600


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """The punch journal is a real file in `.storage`: one directory per test."""
    return hass_tmp_config_dir


async def all_delivered(hass: HomeAssistant, push: PushTerminal) -> None:
    await until_terminal(hass, push, lambda t: t.unacknowledged["ATTLOG"] == 0)
    await hass.async_block_till_done()


def attlog_posts(push: PushTerminal) -> list[str]:
    return [e.body for e in push.exchanges if "table=ATTLOG" in e.path]


def lose_the_answer_after_storing(
    push: PushTerminal, channel: PushChannel, *, then_unreachable: bool = False
) -> Any:
    """The next batch is stored, then its answer is lost (and, optionally, the terminal cannot
    reach Home Assistant any more: it went down right after storing)."""
    store = channel.async_store_punches

    async def store_then_lose(upload: AttLogUpload) -> None:
        await store(upload)
        push.lose_replies = 1
        push.unreachable = then_unreachable
        restore.stop()

    restore = patch.object(channel, "async_store_punches", store_then_lose)
    restore.start()
    return restore


def punch_keys(seen: Seen) -> list[tuple[str, str]]:
    return [(punch["user_id"], punch["time"]) for punch in seen.punches]


# --- Punches --------------------------------------------------------------------------------


@pytest.mark.parametrize("push_delay", [SLOW_POLLS])
async def test_a_punch_fires_once_though_its_batch_is_sent_again(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, seen: Seen
) -> None:
    """The answer to the batch is lost: the terminal sends it again, nothing fires twice."""
    await started(hass, push)
    lose_the_answer_after_storing(push, push_side.channel)

    push.terminal.punch("1")
    await all_delivered(hass, push)

    assert len(attlog_posts(push)) == 2
    assert len(seen.punches) == 1
    assert seen.punches[0]["user_id"] == "1"
    assert seen.punches[0]["verified_by"] == "fingerprint"
    assert seen.punches[0]["kind"] == "check_in"
    assert seen.punches[0]["caught_up"] is False


@pytest.mark.parametrize("push_delay", [SLOW_POLLS])
async def test_restart_in_the_middle_of_a_backlog(
    hass: HomeAssistant,
    open_push_side: Callable[[], Awaitable[PushSide]],
    make_push: Callable[..., PushTerminal],
    seen: Seen,
) -> None:
    """Home Assistant stops right after storing a batch, before its answer went out.

    Started again over the same storage, it recognises the batch the terminal sends again, and
    every punch of the backlog fires once.
    """
    first = await open_push_side()
    push = make_push(batch_size=100)
    push.terminal.add_records(300, start=HISTORY_START)
    lose_the_answer_after_storing(push, first.channel, then_unreachable=True)
    push.start()
    await until_terminal(hass, push, lambda t: any(e.status is None for e in t.exchanges))
    await first.channel.async_stop()

    await open_push_side()
    push.unreachable = False
    await all_delivered(hass, push)

    posts = attlog_posts(push)
    assert len(posts) == 4
    assert posts[0] == posts[1]
    assert len(seen.punches) == 300
    assert len(set(punch_keys(seen))) == 300
    assert all(punch["caught_up"] for punch in seen.punches)


async def test_punches_held_back_are_caught_up(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, seen: Seen
) -> None:
    """Logged while Home Assistant was away: caught up; punched now: live."""
    push.terminal.add_records(2, start=HISTORY_START)

    await started(hass, push)
    await all_delivered(hass, push)
    push.terminal.punch("2")
    await all_delivered(hass, push)

    assert [punch["caught_up"] for punch in seen.punches] == [True, True, False]


async def test_a_batch_that_cannot_be_written_is_kept_by_the_terminal(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, seen: Seen
) -> None:
    """The journal cannot be written: the terminal is refused and keeps its batch, and what
    fired fires once."""
    await started(hass, push)
    with patch("custom_components.zkteco.push.journal.os.fsync", side_effect=OSError("full")):
        push.terminal.punch("1")
        await until_terminal(hass, push, lambda t: len(attlog_posts(t)) >= 1)
        assert push.unacknowledged["ATTLOG"] == 1
    await all_delivered(hass, push)

    assert len(seen.punches) == 1


async def test_stamps_are_handed_back_after_a_restart(
    hass: HomeAssistant, open_push_side: Callable[[], Awaitable[PushSide]], push: PushTerminal
) -> None:
    first = await open_push_side()
    push.terminal.add_records(3)
    await started(hass, push)
    await all_delivered(hass, push)
    await hass.async_add_executor_job(push.stop)
    await first.channel.async_stop()

    # A new Home Assistant: a new hub, which never saw the terminal.
    hub = PushHub(hass)
    channel = PushChannel(hass, PUSH_SERIAL, "Principal", time_zone=dt_util.UTC)
    await channel.async_open(hub)
    answer = await hub.async_handle(
        PushRequest("GET", "/iclock/cdata", {"SN": PUSH_SERIAL, "options": "all"})
    )
    await channel.async_stop()

    assert "\nATTLOGStamp=3\n" in answer.text
    assert "\nStamp=3\n" in answer.text


# --- What the terminal says about itself ----------------------------------------------------


async def test_counts_and_firmware_survive_a_restart(
    hass: HomeAssistant,
    hub: PushHub,
    open_push_side: Callable[[], Awaitable[PushSide]],
    push: PushTerminal,
) -> None:
    """Known from the terminal's options and INFO, shown after a restart before it says again."""
    first = await open_push_side()
    assert first.channel.info.serial_number == PUSH_SERIAL
    assert first.channel.info.firmware == ""
    push.terminal.add_template("1", 5)
    await started(hass, push)
    await hass.async_add_executor_job(push.stop)
    await first.channel.async_stop()

    again = await open_push_side()
    await hub.async_handle(PushRequest("GET", "/iclock/ping", {"SN": PUSH_SERIAL}))
    polled = await again.channel.async_poll(lambda _counters: True)

    assert again.channel.info.firmware == push.device_info()["FWVersion"]
    assert polled.counters.users == 3
    assert polled.counters.fingers == 1


async def test_connectivity_follows_the_polls(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal, freezer: FrozenDateTimeFactory
) -> None:
    """Never called since Home Assistant started, or silent for longer than 3 polls: not
    connected. The entry still loads without the terminal."""
    with pytest.raises(TerminalConnectionError, match="has not called"):
        await push_side.channel.async_poll(lambda _counters: False)
    assert push_side.channel.realtime is None

    await started(hass, push)
    await hass.async_add_executor_job(push.stop)
    polled = await push_side.channel.async_poll(lambda _counters: False)
    assert push_side.channel.realtime is True
    assert polled.clock.tzinfo is None
    assert set(push_side.channel.contacts) >= {"cdata", "getrequest"}

    freezer.tick(push_side.channel.contact_timeout + timedelta(seconds=1))
    with pytest.raises(TerminalConnectionError, match="last called"):
        await push_side.channel.async_poll(lambda _counters: False)


async def test_users_home_assistant_wrote_or_deleted(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal
) -> None:
    await started(hass, push)
    await know_user(hass, push_side, "2")
    assert [user.name for user in await push_side.channel.async_read_users()] == ["Ana Garcia"]

    command_id = await push_side.channel.queue.async_add(commands.delete_user("2"))
    await push_side.channel.queue.async_wait_finished(command_id)

    assert await push_side.channel.async_read_users() == []


async def test_people_and_fingers_over_push(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide, push: PushTerminal
) -> None:
    """A finger the terminal uploaded is deleted there by command; the person goes next, with
    their fingers. Writing a person is refused: Push's one user command would wipe the keypad
    password, which Home Assistant never keeps."""
    await started(hass, push)
    await know_user(hass, push_side, "2")
    push.terminal.add_template("2", 6)
    await hand(
        hub, "POST", "cdata", "FP PIN=2\tFID=6\tSize=8\tValid=1\tTMP=AAAAAAAA\n", table="OPERLOG"
    )
    channel = push_side.channel
    assert [(p.user.user_id, p.fingers) for p in await channel.async_read_people()] == [
        ("2", frozenset({6}))
    ]

    assert await channel.async_delete_finger("2", 5) is False
    assert await channel.async_delete_finger("2", 6) is True
    assert not push.terminal.has_template("2", 6)
    assert (await channel.async_read_people())[0].fingers == frozenset()

    await channel.async_delete_user("2")
    assert push.terminal.user_by_id("2") is None
    assert await channel.async_read_people() == []
    with pytest.raises(TerminalUnknownUserError):
        await channel.async_delete_user("2")
    with pytest.raises(TerminalNotSupportedError):
        await channel.async_write_user("3", UserChanges(name="Luis"))
    with pytest.raises(TerminalNotSupportedError):
        await channel.async_clear_attendance(0)
    with pytest.raises(TerminalNotSupportedError):
        await channel.async_read_templates("2")
    with pytest.raises(TerminalNotSupportedError):
        await channel.async_write_templates("2", [])


# --- Other commands -------------------------------------------------------------------------


async def test_restart_clock_and_door(
    hass: HomeAssistant, push_side: PushSide, push: PushTerminal
) -> None:
    """REBOOT restarts it; CHECK makes it handshake again (its clock comes from that answer);
    AC_UNLOCK, which this terminal does not know, is an error."""
    await started(hass, push)

    await push_side.channel.async_write_clock(dt_util.now)
    await until_terminal(hass, push, lambda t: t.handshakes >= 2)
    await push_side.channel.async_restart()
    await until_terminal(hass, push, lambda t: t.reboots == 1)
    with pytest.raises(TerminalError, match="not_supported"):
        await push_side.channel.async_unlock(3)


@pytest.mark.parametrize("push_delay", [0])
async def test_a_command_nobody_takes(
    hass: HomeAssistant, hub: PushHub, push_side: PushSide
) -> None:
    """No poll within the bound: withdrawn, and the action fails."""
    with (
        patch("custom_components.zkteco.push.channel.ENROLL_DELIVERY_MIN", timedelta(0)),
        patch("custom_components.zkteco.push.channel.ANSWER_TIMEOUT", timedelta(0)),
        pytest.raises(TerminalConnectionError, match="did not answer REBOOT"),
    ):
        await push_side.channel.async_restart()

    assert await hand(hub, "GET", "getrequest") == "OK"


# --- What is kept -----------------------------------------------------------------------------


async def test_a_batch_larger_than_the_journal_is_recognised_whole(
    hass: HomeAssistant,
    hub: PushHub,
    open_push_side: Callable[[], Awaitable[PushSide]],
    seen: Seen,
) -> None:
    """The answer to a batch of more lines than the journal keeps is lost: the terminal sends it
    again, before and after a restart, and none of its lines fires twice."""
    batch = "".join(f"{pin}\t2026-12-03 08:00:00\t0\t1\t0\n" for pin in range(1, 11))
    with patch("custom_components.zkteco.push.journal.REMEMBERED", 3):
        side = await open_push_side()
        await hand(hub, "GET", "cdata", options="all")
        for _ in range(2):
            await hand(hub, "POST", "cdata", batch, table="ATTLOG")
        await side.channel.async_stop()
        await open_push_side()
        await hand(hub, "POST", "cdata", batch, table="ATTLOG")
        await hass.async_block_till_done()

    assert len([event for event in seen.events if isinstance(event, Punch)]) == 10
    assert len(seen.punches) == 10


async def test_stores_removed_with_the_entry(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    push_side: PushSide,
    push: PushTerminal,
) -> None:
    push.terminal.add_records(1, start=HISTORY_START)
    await started(hass, push)
    await all_delivered(hass, push)
    await hass.async_add_executor_job(push.stop)
    await push_side.channel.async_stop()
    assert await hass.async_add_executor_job(journal_path(hass, PUSH_SERIAL).exists)

    await PushChannel.async_remove_stores(hass, PUSH_SERIAL)

    assert not await hass.async_add_executor_job(journal_path(hass, PUSH_SERIAL).exists)
    assert not [key for key in hass_storage if PUSH_SERIAL in key]


async def test_a_request_cut_off_midway_still_delivers_its_batch(
    hass: HomeAssistant, push_side: PushSide, seen: Seen
) -> None:
    """A batch is remembered before its punches fire: if the request is cancelled while they
    fire (the terminal hung up), they still all fire, and the batch sent again fires none."""
    body = "".join(
        f"{n}\t{HISTORY_START + timedelta(minutes=n):%Y-%m-%d %H:%M:%S}\t0\t1\t0\t0\t0\n"
        for n in range(1, 121)
    ).encode()
    upload = uploads.parse_attlog(body)
    storing = hass.async_create_task(push_side.channel.async_store_punches(upload))
    await until(lambda: bool(seen.punches))
    storing.cancel()
    await hass.async_block_till_done()

    await push_side.channel.async_store_punches(upload)

    assert len(seen.punches) == 120


async def test_a_copy_sent_while_the_first_still_fires_is_answered_after_it(
    hass: HomeAssistant, push_side: PushSide, seen: Seen
) -> None:
    """The terminal gave up waiting and sends its batch again while the first copy still fires.
    The copy is acknowledged only once every punch of the first has fired and been stored: a
    crash after that answer would lose the punches not fired yet (the terminal forgets what is
    acknowledged, the journal already knows them)."""
    body = "".join(
        f"{n % 50}\t{HISTORY_START + timedelta(minutes=n):%Y-%m-%d %H:%M:%S}\t0\t1\t0\t0\t0\n"
        for n in range(3000)
    ).encode()
    upload = uploads.parse_attlog(body)
    first = hass.async_create_task(push_side.channel.async_store_punches(upload))
    await until(lambda: bool(seen.punches))

    await push_side.channel.async_store_punches(upload)

    assert len(seen.punches) == 3000
    await first
    assert len(seen.punches) == 3000


async def test_only_the_address_it_is_restricted_to(hass: HomeAssistant, hub: PushHub) -> None:
    channel = PushChannel(
        hass, PUSH_SERIAL, "Principal", time_zone=dt_util.UTC, source_address="192.0.2.7"
    )
    await channel.async_open(hub)

    def poll_from(remote: str) -> PushRequest:
        return PushRequest("GET", "/iclock/getrequest", {"SN": PUSH_SERIAL}, remote=remote)

    assert (await hub.async_handle(poll_from("192.0.2.8"))).text == REFUSED
    assert channel.last_contact is None
    assert (await hub.async_handle(poll_from("192.0.2.7"))).text == "OK"
    assert channel.last_contact is not None
    await channel.async_stop()
