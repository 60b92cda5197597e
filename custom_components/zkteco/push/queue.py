"""The commands waiting for a Push terminal's next poll: one queue per terminal, persisted.

A Push terminal cannot be called; it takes commands when it polls `getrequest` (every `Delay`
seconds) and posts their results to `devicecmd` later, matched by the id the server gave
(reference §1.6, §1.7). So:

- a command is refused before it is queued when it would break a command line (a tab, CR or LF
  inside a value: commands.py raises ValueError, pitfall P12), and it is durable once
  `async_add` returns;
- a command is handed out at most once: it is marked delivered, and that mark written to disk,
  before the poll is answered. A restart therefore neither loses a command nor repeats one
  (the answer to a poll that was cut off is lost with it: the command then ends unanswered,
  never re-sent). Nothing is re-sent automatically, least of all an enrollment, whose capture
  screen would pop up again (§1.9, pitfall 14);
- commands go out in order, at most `MAX_COMMANDS_PER_POLL` a poll (real terminals execute
  several and batch the results, s0x90/zkteco-adms: datasheet/ADMS.md), and nothing follows an
  enrollment in the same answer: the terminal then shows its capture screen;
- results are matched by id; a result for an id this queue did not hand out (a replay, another
  server's queue) is returned to the caller, which flags it (§1.7);
- stale commands fail: one not taken within `UNDELIVERED_TIMEOUT` (the terminal stopped polling)
  is never delivered; one taken but not answered within `UNANSWERED_TIMEOUT` ends unanswered.
  Both are checked every `EXPIRY_INTERVAL` and before each delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypedDict

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..const import DOMAIN, LOGGER
from . import commands
from .uploads import CommandResult

STORAGE_VERSION: Final = 1
MAX_COMMANDS_PER_POLL: Final = 10
# A terminal polls every few seconds (Delay); ten minutes without a poll means it is away, and a
# command meant for now (an enrollment someone waits at the terminal for) is no longer wanted.
UNDELIVERED_TIMEOUT: Final = timedelta(minutes=10)
# An enrollment waits for three presses; the terminal gives up long before ten minutes.
UNANSWERED_TIMEOUT: Final = timedelta(minutes=10)
EXPIRY_INTERVAL: Final = timedelta(seconds=30)
# Commands that start a capture screen on the terminal.
_ENROLL_PREFIX: Final = "ENROLL_"


class CommandState(StrEnum):
    """Where a command is in its life."""

    QUEUED = "queued"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    NOT_DELIVERED = "not_delivered"
    NOT_ANSWERED = "not_answered"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class QueuedCommand:
    """A command still waiting: to be taken by a poll, or for its result."""

    command_id: str
    command: str
    queued_at: datetime
    delivered_at: datetime | None = None

    @property
    def state(self) -> CommandState:
        """Queued, or delivered and waiting for its result."""
        return CommandState.QUEUED if self.delivered_at is None else CommandState.DELIVERED


@dataclass(frozen=True, slots=True)
class FinishedCommand:
    """A command's end: answered (with its result), not delivered, not answered or cancelled."""

    command_id: str
    command: str
    state: CommandState
    result: CommandResult | None = None


class _StoredCommand(TypedDict):
    id: str
    command: str
    queued_at: str
    delivered_at: str | None


class CommandQueue:
    """The commands of one terminal, identified by its serial number."""

    def __init__(
        self,
        hass: HomeAssistant,
        serial: str,
        on_finished: Callable[[FinishedCommand], None] | None = None,
    ) -> None:
        self.hass = hass
        self.serial = serial
        self._on_finished = on_finished
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.push.{serial}.commands"
        )
        self._commands: dict[str, QueuedCommand] = {}
        self._delivered: dict[str, list[asyncio.Future[bool]]] = {}
        self._finished: dict[str, list[asyncio.Future[FinishedCommand]]] = {}
        self._stop_expiry: CALLBACK_TYPE | None = None

    @property
    def pending(self) -> tuple[QueuedCommand, ...]:
        """The commands queued or delivered, oldest first."""
        return tuple(self._commands.values())

    async def async_load(self) -> None:
        """Read what was queued before a restart, fail what went stale, start the expiry."""
        stored: list[_StoredCommand] = (await self._store.async_load() or {}).get("commands", [])
        for item in stored:
            command = _from_stored(item)
            self._commands[command.command_id] = command
        await self._async_expire()
        self._stop_expiry = async_track_time_interval(
            self.hass, self._async_expire_now, EXPIRY_INTERVAL
        )

    @callback
    def async_unload(self) -> None:
        """Stop the expiry; what waits stays on disk for the next start."""
        if self._stop_expiry is not None:
            self._stop_expiry()
            self._stop_expiry = None
        for waiting in (self._delivered, self._finished):
            for waiters in waiting.values():
                for waiter in waiters:
                    waiter.cancel()
            waiting.clear()

    async def async_remove(self) -> None:
        """Forget every command, on disk too (the terminal was removed)."""
        self.async_unload()
        self._commands.clear()
        await self._store.async_remove()

    async def async_add(self, command: str) -> str:
        """Queue a command (its text after `C:<id>:`); its id, once it is on disk.

        Raises ValueError for a command that would break the line, before anything is queued.
        """
        command_id = commands.new_command_id()
        commands.command_line(command_id, command)
        self._commands[command_id] = QueuedCommand(command_id, command, dt_util.utcnow())
        await self._async_save()
        return command_id

    async def async_cancel(self, command_id: str) -> bool:
        """Withdraw a command not yet delivered; False when it is too late (or unknown)."""
        command = self._commands.get(command_id)
        if command is None or command.state is not CommandState.QUEUED:
            return False
        await self._async_finish(
            [FinishedCommand(command_id, command.command, CommandState.CANCELLED)]
        )
        return True

    async def async_take(self, limit: int = MAX_COMMANDS_PER_POLL) -> list[str]:
        """The command lines for a poll, marked delivered on disk before they are returned."""
        await self._async_expire()
        now = dt_util.utcnow()
        taken: list[QueuedCommand] = []
        for command in self._commands.values():
            if len(taken) == limit:
                break
            if command.state is CommandState.QUEUED:
                taken.append(replace(command, delivered_at=now))
                if command.command.startswith(_ENROLL_PREFIX):
                    break
        if not taken:
            return []
        self._commands.update((command.command_id, command) for command in taken)
        await self._async_save()
        for command in taken:
            _settle(self._delivered.pop(command.command_id, []), True)
        return [commands.command_line(command.command_id, command.command) for command in taken]

    async def async_resolve(self, results: Iterable[CommandResult]) -> list[CommandResult]:
        """Close the commands these results answer; the results that match none."""
        finished: list[FinishedCommand] = []
        unmatched: list[CommandResult] = []
        for result in results:
            command = self._commands.get(result.command_id)
            if command is None or command.state is not CommandState.DELIVERED:
                unmatched.append(result)
            else:
                finished.append(
                    FinishedCommand(
                        command.command_id, command.command, CommandState.ANSWERED, result
                    )
                )
        await self._async_finish(finished)
        return unmatched

    async def async_wait_delivered(self, command_id: str) -> bool:
        """Wait until a poll takes the command: True; False if it ends without being taken."""
        command = self._commands.get(command_id)
        if command is None or command.state is not CommandState.QUEUED:
            return command is not None
        return await self._wait(self._delivered, command_id)

    async def async_wait_finished(self, command_id: str) -> FinishedCommand:
        """Wait for the command's end; KeyError for a command not waiting."""
        if command_id not in self._commands:
            raise KeyError(command_id)
        return await self._wait(self._finished, command_id)

    async def _wait[T](self, waiters: dict[str, list[asyncio.Future[T]]], command_id: str) -> T:
        future: asyncio.Future[T] = self.hass.loop.create_future()
        waiters.setdefault(command_id, []).append(future)
        try:
            return await future
        finally:
            if future in waiters.get(command_id, []):
                waiters[command_id].remove(future)

    @callback
    def _async_expire_now(self, _now: datetime) -> None:
        self.hass.async_create_task(self._async_expire(), eager_start=True)

    async def _async_expire(self) -> None:
        now = dt_util.utcnow()
        stale: list[FinishedCommand] = []
        for command in self._commands.values():
            if command.delivered_at is None:
                if now - command.queued_at >= UNDELIVERED_TIMEOUT:
                    stale.append(_ended(command, CommandState.NOT_DELIVERED))
            elif now - command.delivered_at >= UNANSWERED_TIMEOUT:
                stale.append(_ended(command, CommandState.NOT_ANSWERED))
        await self._async_finish(stale)

    async def _async_finish(self, finished: list[FinishedCommand]) -> None:
        if not finished:
            return
        for end in finished:
            del self._commands[end.command_id]
        await self._async_save()
        for end in finished:
            if end.state is not CommandState.ANSWERED:
                LOGGER.debug("Terminal %s: command %s %s", self.serial, end.command_id, end.state)
            _settle(self._delivered.pop(end.command_id, []), False)
            _settle(self._finished.pop(end.command_id, []), end)
            if self._on_finished is not None:
                self._on_finished(end)

    async def _async_save(self) -> None:
        await self._store.async_save({"commands": [_to_stored(c) for c in self._commands.values()]})


def _ended(
    command: QueuedCommand, state: CommandState, result: CommandResult | None = None
) -> FinishedCommand:
    return FinishedCommand(command.command_id, command.command, state, result)


def _settle[T](waiters: list[asyncio.Future[T]], value: T) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(value)


def _to_stored(command: QueuedCommand) -> _StoredCommand:
    delivered = command.delivered_at
    return {
        "id": command.command_id,
        "command": command.command,
        "queued_at": command.queued_at.isoformat(),
        "delivered_at": delivered.isoformat() if delivered else None,
    }


def _from_stored(item: _StoredCommand) -> QueuedCommand:
    delivered = item["delivered_at"]
    return QueuedCommand(
        command_id=item["id"],
        command=item["command"],
        queued_at=datetime.fromisoformat(item["queued_at"]),
        delivered_at=datetime.fromisoformat(delivered) if delivered else None,
    )
