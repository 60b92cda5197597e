"""Each punch reaches Home Assistant exactly once, in order, across restarts and outages.

Realtime events deliver a punch as it happens. The log on the terminal is the truth behind them:
a poll reads the record counter, and downloads the log only when the counter moved by more than
the realtime events explain (the terminal was offline, Home Assistant was down, events are not
supported, the log was cleared). What was delivered is remembered on disk.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN, EVENT_ATTENDANCE
from .terminal import Counters, Punch, TerminalUser, ZKTerminal

if TYPE_CHECKING:
    from .coordinator import ZKTecoCoordinator

STORAGE_VERSION: Final = 1
# Seconds to gather several changes into one write of the store.
SAVE_DELAY: Final = 1.0

PUNCH_KINDS: Final = {
    0: "check_in",
    1: "check_out",
    2: "break_out",
    3: "break_in",
    4: "overtime_in",
    5: "overtime_out",
}
VERIFY_METHODS: Final = {
    0: "password",
    1: "fingerprint",
    2: "card",
    3: "password",
    4: "card",
    15: "face",
}

type PunchKey = tuple[str, str, int, int]


def punch_key(punch: Punch) -> PunchKey:
    """What tells one punch from another (terminals refuse a second punch in the same second)."""
    return (punch.user_id, punch.timestamp.isoformat(), punch.status, punch.punch)


@dataclass(frozen=True, slots=True)
class PunchRecord:
    """A punch as Home Assistant shows it."""

    user_id: str
    name: str | None
    time: datetime
    punch: int
    kind: str
    verify: int
    verified_by: str
    caught_up: bool

    def as_event_data(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "time": self.time.isoformat(),
            "punch": self.punch,
            "kind": self.kind,
            "verify": self.verify,
            "verified_by": self.verified_by,
            "caught_up": self.caught_up,
        }


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far the log was reconciled, and what realtime events delivered after that."""

    total: int
    anchor: PunchKey | None
    unconfirmed: tuple[PunchKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Collected:
    """What one download of the log found."""

    total: int
    anchor: PunchKey | None
    new: list[Punch]
    newest: Punch | None


def needs_download(records: int, cursor: Cursor | None) -> bool:
    """Whether the counter moved in a way the realtime events do not explain."""
    if cursor is None or records < cursor.total:
        return True
    return records - cursor.total > len(cursor.unconfirmed)


def collect(
    terminal: ZKTerminal, counters: Counters, cursor: Cursor | None, users: list[TerminalUser]
) -> Collected | None:
    """On the worker thread: download and decode the log only when it is needed."""
    if not needs_download(counters.records, cursor):
        return None
    log = terminal.read_attendance(users)
    if log.total == 0:
        return Collected(0, None, [], None)
    newest = log.punch(log.total - 1)
    anchor = punch_key(newest)
    if cursor is None:  # first setup: the history is not news
        return Collected(log.total, anchor, [], newest)
    if cursor.total == 0:
        new = log.punches()
    elif log.total >= cursor.total and punch_key(log.punch(cursor.total - 1)) == cursor.anchor:
        new = log.punches(cursor.total)
    else:  # cleared, wrapped or rewritten: what is newer than the last punch we knew is new
        after = datetime.fromisoformat(cursor.anchor[1]) if cursor.anchor else datetime.min
        new = [punch for punch in log.punches() if punch.timestamp > after]
    return Collected(log.total, anchor, new, newest)


class AttendanceTracker:
    """Delivers punches from realtime events and from the log, each once."""

    def __init__(self, hass: HomeAssistant, coordinator: ZKTecoCoordinator) -> None:
        self._hass = hass
        self._coordinator = coordinator
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{coordinator.config_entry.entry_id}.attendance"
        )
        self._cursor: Cursor | None = None
        self._delivered: deque[PunchKey] = deque(maxlen=64)
        self._listeners: list[Callable[[PunchRecord], None]] = []

    async def async_load(self) -> None:
        stored = await self._store.async_load()
        if stored:
            self._cursor = Cursor(
                total=stored["total"],
                anchor=_key(stored["anchor"]),
                unconfirmed=tuple(_key(key) or () for key in stored["unconfirmed"]),
            )

    async def async_save(self) -> None:
        """Write now (on unload), not after the delay."""
        if self._cursor is not None:
            await self._store.async_save(self._stored())

    def snapshot(self) -> Cursor | None:
        return self._cursor

    @callback
    def async_add_listener(self, listener: Callable[[PunchRecord], None]) -> Callable[[], None]:
        """Call ``listener`` with each delivered punch."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def apply(self, records: int, collected: Collected | None) -> PunchRecord | None:
        """Take a poll's result: deliver what the log holds that was not delivered yet."""
        cursor = self._cursor
        if collected is None:
            if cursor is not None and records > cursor.total:
                confirmed = records - cursor.total
                self._set_cursor(records, cursor.anchor, cursor.unconfirmed[confirmed:])
            return None
        if cursor is None:
            early = tuple(key for key in self._delivered if key != collected.anchor)
            self._set_cursor(collected.total, collected.anchor, early)
            return self._record(collected.newest, caught_up=True) if collected.newest else None
        last = None
        for punch in collected.new:
            if punch_key(punch) not in self._delivered and punch_key(punch) not in cursor.unconfirmed:
                last = self._deliver(punch, caught_up=True)
        in_log = {punch_key(punch) for punch in collected.new}
        self._set_cursor(
            collected.total,
            collected.anchor,
            tuple(key for key in cursor.unconfirmed if key not in in_log and key != collected.anchor),
        )
        return last

    @callback
    def on_event(self, event: object) -> None:
        """Deliver a punch the terminal announced as it happened."""
        if not isinstance(event, Punch) or punch_key(event) in self._delivered:
            return
        record = self._deliver(event, caught_up=False)
        if (cursor := self._cursor) is not None:  # before the first sync, apply() counts it
            self._set_cursor(cursor.total, cursor.anchor, (*cursor.unconfirmed, punch_key(event)))
        self._coordinator.async_publish(last_punch=record)

    def _deliver(self, punch: Punch, *, caught_up: bool) -> PunchRecord:
        record = self._record(punch, caught_up=caught_up)
        self._delivered.append(punch_key(punch))
        coordinator = self._coordinator
        self._hass.bus.async_fire(
            EVENT_ATTENDANCE,
            {
                "device_id": coordinator.device_id,
                "serial_number": coordinator.info.serial_number,
                **record.as_event_data(),
            },
        )
        for listener in list(self._listeners):
            listener(record)
        return record

    def _record(self, punch: Punch, *, caught_up: bool) -> PunchRecord:
        data = self._coordinator.data
        user = data.users.get(punch.user_id) if data is not None else None
        return PunchRecord(
            user_id=punch.user_id,
            name=user.name if user else None,
            time=self._coordinator.localize(punch.timestamp),
            punch=punch.punch,
            kind=PUNCH_KINDS.get(punch.punch, "other"),
            verify=punch.status,
            verified_by=VERIFY_METHODS.get(punch.status, "other"),
            caught_up=caught_up,
        )

    def _set_cursor(
        self, total: int, anchor: PunchKey | None, unconfirmed: tuple[PunchKey, ...]
    ) -> None:
        self._cursor = Cursor(total, anchor, unconfirmed)
        self._store.async_delay_save(self._stored, SAVE_DELAY)

    def _stored(self) -> dict[str, Any]:
        cursor = self._cursor
        assert cursor is not None
        return {
            "total": cursor.total,
            "anchor": list(cursor.anchor) if cursor.anchor else None,
            "unconfirmed": [list(key) for key in cursor.unconfirmed],
        }


def _key(stored: list[Any] | None) -> PunchKey | None:
    return (str(stored[0]), str(stored[1]), int(stored[2]), int(stored[3])) if stored else None
