"""The per-terminal command queue of Push mode (push/queue.py): persisted, at most once, by id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.zkteco.const import DOMAIN
from custom_components.zkteco.push import commands
from custom_components.zkteco.push.queue import (
    MAX_COMMANDS_PER_POLL,
    UNANSWERED_TIMEOUT,
    UNDELIVERED_TIMEOUT,
    CommandQueue,
    CommandState,
    FinishedCommand,
)
from custom_components.zkteco.push.uploads import CommandResult, Outcome

SERIAL = "CQUJ203960001"
STORE_KEY = f"{DOMAIN}.push.{SERIAL}.commands"
ENROLL = commands.enroll_fp("7", 6)
ADD_USER = commands.update_user("7", name="Luis Perez")


@pytest.fixture
def finished() -> list[FinishedCommand]:
    """What the queue reported as finished, in order."""
    return []


@pytest.fixture
async def queue(
    hass: HomeAssistant, finished: list[FinishedCommand]
) -> AsyncIterator[CommandQueue]:
    """A loaded queue for the test's terminal."""
    queue = CommandQueue(hass, SERIAL, finished.append)
    await queue.async_load()
    yield queue
    queue.async_unload()


async def restarted(hass: HomeAssistant, old: CommandQueue) -> CommandQueue:
    """Home Assistant restarts: the old queue stops, a new one reads the same store."""
    old.async_unload()
    new = CommandQueue(hass, SERIAL)
    await new.async_load()
    return new


async def waiting_on[T](wait: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Start waiting, as a caller of the queue does, and let the wait begin."""
    task = asyncio.ensure_future(wait)
    await asyncio.sleep(0)
    return task


def result(command_id: str, code: int = 0, cmd: str = "DATA") -> CommandResult:
    return CommandResult(command_id, code, cmd, ())


def ids_of(command_lines: list[str]) -> list[str]:
    return [line.split(":")[1] for line in command_lines]


async def test_commands_go_out_in_order_with_their_ids(queue: CommandQueue) -> None:
    first = await queue.async_add(ADD_USER)
    second = await queue.async_add(ENROLL)

    assert await queue.async_take() == [f"C:{first}:{ADD_USER}", f"C:{second}:{ENROLL}"]
    assert len(first) <= commands.COMMAND_ID_MAX_LENGTH
    assert first != second
    assert [c.state for c in queue.pending] == [CommandState.DELIVERED] * 2


async def test_a_command_is_delivered_at_most_once(queue: CommandQueue) -> None:
    await queue.async_add(commands.Command.INFO)

    assert len(await queue.async_take()) == 1
    assert await queue.async_take() == []


async def test_nothing_follows_an_enrollment_in_one_answer(queue: CommandQueue) -> None:
    await queue.async_add(ENROLL)
    after = await queue.async_add(commands.Command.INFO)

    assert len(await queue.async_take()) == 1
    assert ids_of(await queue.async_take()) == [after]


async def test_a_poll_takes_at_most_so_many_commands(queue: CommandQueue) -> None:
    for _ in range(MAX_COMMANDS_PER_POLL + 1):
        await queue.async_add(commands.Command.INFO)

    assert len(await queue.async_take()) == MAX_COMMANDS_PER_POLL
    assert len(await queue.async_take()) == 1


@pytest.mark.parametrize(
    "command",
    ["DATA UPDATE USERINFO PIN=7\tName=Ana\nC:9:DATA DELETE USERINFO PIN=1", "INFO\r", ""],
)
async def test_a_command_that_would_break_the_line_is_refused_before_queuing(
    queue: CommandQueue, hass_storage: dict[str, Any], command: str
) -> None:
    with pytest.raises(ValueError, match="one line"):
        await queue.async_add(command)

    assert queue.pending == ()
    assert await queue.async_take() == []
    assert STORE_KEY not in hass_storage


async def test_a_result_closes_its_command_by_id(
    queue: CommandQueue, finished: list[FinishedCommand]
) -> None:
    user = await queue.async_add(ADD_USER)
    enroll = await queue.async_add(ENROLL)
    await queue.async_take()
    waiting = await waiting_on(queue.async_wait_finished(enroll))

    unmatched = await queue.async_resolve([result(enroll, 5, "ENROLL_FP"), result("other1")])

    assert [r.command_id for r in unmatched] == ["other1"]
    end = await waiting
    assert end.state is CommandState.ANSWERED
    assert end.command == ENROLL
    assert end.result is not None
    assert end.result.outcome is Outcome.DUPLICATE_FINGER
    assert finished == [end]
    assert [c.command_id for c in queue.pending] == [user]


async def test_a_result_for_a_command_not_yet_delivered_matches_nothing(
    queue: CommandQueue,
) -> None:
    command_id = await queue.async_add(ENROLL)

    assert await queue.async_resolve([result(command_id)]) == [result(command_id)]
    assert queue.pending[0].state is CommandState.QUEUED


async def test_a_restart_neither_loses_nor_repeats_a_command(
    hass: HomeAssistant, queue: CommandQueue
) -> None:
    delivered = await queue.async_add(ENROLL)
    await queue.async_take()
    waiting = await queue.async_add(commands.Command.INFO)

    again = await restarted(hass, queue)

    assert [(c.command_id, c.state) for c in again.pending] == [
        (delivered, CommandState.DELIVERED),
        (waiting, CommandState.QUEUED),
    ]
    assert ids_of(await again.async_take()) == [waiting]
    assert await again.async_resolve([result(delivered, 0, "ENROLL_FP")]) == []
    again.async_unload()


async def test_a_command_is_on_disk_before_it_is_delivered(
    queue: CommandQueue, hass_storage: dict[str, Any]
) -> None:
    command_id = await queue.async_add(commands.Command.INFO)
    assert hass_storage[STORE_KEY]["data"]["commands"][0]["delivered_at"] is None

    await queue.async_take()

    stored = hass_storage[STORE_KEY]["data"]["commands"][0]
    assert stored["id"] == command_id
    assert stored["delivered_at"] is not None


async def test_a_command_not_taken_in_time_is_never_delivered(
    hass: HomeAssistant,
    queue: CommandQueue,
    finished: list[FinishedCommand],
    freezer: FrozenDateTimeFactory,
) -> None:
    command_id = await queue.async_add(ENROLL)
    delivered = await waiting_on(queue.async_wait_delivered(command_id))

    freezer.tick(UNDELIVERED_TIMEOUT)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    assert finished == [FinishedCommand(command_id, ENROLL, CommandState.NOT_DELIVERED)]
    assert await delivered is False
    assert await queue.async_take() == []


async def test_stale_commands_fail_when_the_terminal_polls_again(
    queue: CommandQueue, finished: list[FinishedCommand], freezer: FrozenDateTimeFactory
) -> None:
    command_id = await queue.async_add(commands.Command.INFO)
    freezer.tick(UNDELIVERED_TIMEOUT)

    assert await queue.async_take() == []
    assert [end.state for end in finished] == [CommandState.NOT_DELIVERED]
    assert await queue.async_wait_delivered(command_id) is False


async def test_a_delivered_command_without_result_ends_and_is_not_resent(
    hass: HomeAssistant,
    queue: CommandQueue,
    finished: list[FinishedCommand],
    freezer: FrozenDateTimeFactory,
) -> None:
    command_id = await queue.async_add(ENROLL)
    await queue.async_take()

    freezer.tick(UNANSWERED_TIMEOUT)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    assert finished == [FinishedCommand(command_id, ENROLL, CommandState.NOT_ANSWERED)]
    assert await queue.async_take() == []
    # A late result matches nothing: the command is over.
    assert await queue.async_resolve([result(command_id)]) == [result(command_id)]


async def test_commands_gone_stale_during_a_restart_fail_at_load(
    hass: HomeAssistant, queue: CommandQueue, freezer: FrozenDateTimeFactory
) -> None:
    await queue.async_add(ENROLL)
    queue.async_unload()
    freezer.tick(UNDELIVERED_TIMEOUT)
    ends: list[FinishedCommand] = []

    again = CommandQueue(hass, SERIAL, ends.append)
    await again.async_load()

    assert [end.state for end in ends] == [CommandState.NOT_DELIVERED]
    assert again.pending == ()
    again.async_unload()


async def test_waiting_for_delivery(queue: CommandQueue) -> None:
    command_id = await queue.async_add(ENROLL)
    delivered = await waiting_on(queue.async_wait_delivered(command_id))
    assert not delivered.done()

    await queue.async_take()

    assert await delivered is True
    assert await queue.async_wait_delivered(command_id) is True
    assert await queue.async_wait_delivered("unknown") is False


async def test_a_command_withdrawn_before_the_poll_is_not_delivered(
    queue: CommandQueue, finished: list[FinishedCommand]
) -> None:
    command_id = await queue.async_add(ENROLL)

    assert await queue.async_cancel(command_id) is True

    assert await queue.async_take() == []
    assert finished == [FinishedCommand(command_id, ENROLL, CommandState.CANCELLED)]
    assert await queue.async_cancel(command_id) is False


async def test_too_late_to_withdraw_a_delivered_command(queue: CommandQueue) -> None:
    command_id = await queue.async_add(ENROLL)
    await queue.async_take()

    assert await queue.async_cancel(command_id) is False
    assert queue.pending[0].state is CommandState.DELIVERED


async def test_a_waiter_that_gives_up_is_forgotten(queue: CommandQueue) -> None:
    command_id = await queue.async_add(ENROLL)
    waiting = await waiting_on(queue.async_wait_delivered(command_id))

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    assert len(await queue.async_take()) == 1


async def test_waiting_for_an_unknown_command(queue: CommandQueue) -> None:
    with pytest.raises(KeyError):
        await queue.async_wait_finished("unknown")


async def test_unloading_cancels_the_waiters(queue: CommandQueue) -> None:
    command_id = await queue.async_add(ENROLL)
    waiting = await waiting_on(queue.async_wait_finished(command_id))

    queue.async_unload()

    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_removing_forgets_every_command(
    hass: HomeAssistant, queue: CommandQueue, hass_storage: dict[str, Any]
) -> None:
    await queue.async_add(ENROLL)

    await queue.async_remove()

    assert STORE_KEY not in hass_storage
    again = await restarted(hass, queue)
    assert again.pending == ()
    again.async_unload()
