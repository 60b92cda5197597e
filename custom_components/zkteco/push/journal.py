"""Which punch lines a Push terminal already delivered: an append-only journal in `.storage`.

A Push terminal re-sends every batch that was not acknowledged (reference §0 item 4, P1), also
after Home Assistant restarted in the middle of its backlog, and its stamps are unreliable
(§1.3): a line is recognised by its content, the key of pitfall 2 (PIN, time, state, verify),
never by a stamp.

One line per delivered punch is appended to `.storage/zkteco.push.<serial>.punches`, flushed and
fsynced in the executor, one write per batch (a 100,000-line backlog in 500-line batches is 200
writes). The journal remembers the last `REMEMBERED` (20,000) keys before the batch just stored,
and that batch whole: forty 500-line batches, far more than a terminal re-sends after a lost
answer or a restart, and a batch as large as the body cap allows (65,000 lines) is still
recognised when it comes again. Keys are forgotten only once a batch is stored, never while one is
looked up, and a restart reloads the whole file. When the file holds more than twice
`REMEMBERED`, it is compacted to what is remembered (written beside it, fsynced, then renamed over
it). A line older than that sent again (the terminal's flash lost its acknowledged mark, or a
stamp of 0 asked it for everything) is delivered again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
import os
from pathlib import Path
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import STORAGE_DIR

from ..const import DOMAIN

REMEMBERED: Final = 20_000


def journal_path(hass: HomeAssistant, serial: str) -> Path:
    return Path(hass.config.path(STORAGE_DIR, f"{DOMAIN}.push.{serial}.punches"))


class PunchJournal:
    """The keys of the punches delivered: the newest `REMEMBERED` before the last batch, and it."""

    def __init__(self, hass: HomeAssistant, serial: str) -> None:
        self._hass = hass
        self._path = journal_path(hass, serial)
        self._order: deque[str] = deque()
        self._keys: set[str] = set()
        self._lines_in_file = 0
        self._unwritten: list[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    async def async_load(self) -> None:
        keys = await self._hass.async_add_executor_job(self._read)
        self._lines_in_file = len(keys)
        self._remember(keys)

    def add(self, keys: list[str]) -> None:
        """Remember `keys` now (a batch re-sent at once is recognised); on disk at the flush."""
        self._remember(keys)
        self._unwritten.extend(keys)

    async def async_flush(self, batch_lines: int = 0) -> None:
        """Write what was added for a batch of ``batch_lines``; raises OSError when it cannot
        (it is written with the next)."""
        keys, self._unwritten = self._unwritten, []
        self._forget_older_than(REMEMBERED + batch_lines)
        compact = self._lines_in_file + len(keys) > 2 * REMEMBERED
        kept = list(self._order) if compact else []
        try:
            await self._hass.async_add_executor_job(self._write, keys, kept)
        except OSError:
            self._unwritten[:0] = keys
            raise
        self._lines_in_file = len(kept) if compact else self._lines_in_file + len(keys)

    async def async_remove(self) -> None:
        await self._hass.async_add_executor_job(self._path.unlink, True)

    def _remember(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._order.append(key)
            self._keys.add(key)

    def _forget_older_than(self, newest: int) -> None:
        while len(self._order) > newest:
            self._keys.discard(self._order.popleft())

    def _read(self) -> list[str]:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        complete, _, cut_short = text.rpartition("\n")
        if cut_short:  # a crash in the middle of a write: the next line must not join it
            with self._path.open("r+", encoding="utf-8") as journal:
                journal.truncate(len(complete.encode()) + 1 if complete else 0)
        return [line for line in complete.split("\n") if line]

    def _write(self, keys: list[str], kept: list[str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        if kept:
            self._replace(kept)
            return
        with self._path.open("a", encoding="utf-8") as journal:
            journal.write("".join(f"{key}\n" for key in keys))
            journal.flush()
            os.fsync(journal.fileno())

    def _replace(self, keys: list[str]) -> None:
        temporary = self._path.with_suffix(".compacting")
        with temporary.open("w", encoding="utf-8") as journal:
            journal.write("".join(f"{key}\n" for key in keys))
            journal.flush()
            os.fsync(journal.fileno())
        temporary.replace(self._path)
