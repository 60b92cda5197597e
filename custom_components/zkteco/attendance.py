"""Each punch reaches Home Assistant once, in order, across restarts and outages.

Realtime events deliver a punch as it happens. The log on the terminal is the truth behind them:
a poll reads the record counter, and downloads the log only when the counter moved by more than
the realtime events explain (the terminal was offline, Home Assistant was down, events are not
supported, the log was cleared). What was delivered is remembered on disk.

The tracker knows the terminal only through its channel's events and, where the channel can
read the log on demand (``Capability.READ_LOG``), through the catch-up it runs within each poll.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .channel import (
    Capability,
    CatchUp,
    ChannelEvent,
    Counters,
    LogReader,
    Punch,
    PunchLog,
    SessionOpened,
    TerminalChannel,
    TerminalUser,
)
from .const import DOMAIN, EVENT_ATTENDANCE, LOGGER

STORAGE_VERSION: Final = 1
# Written in the next turn of the event loop (a burst of punches makes one write): the shorter
# the wait, the fewer punches a crash can deliver twice.
SAVE_DELAY: Final = 0.0

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
    """How far the log was reconciled, and what realtime events delivered after that.

    ``anchor`` and ``head`` are the newest and the oldest readable ones of the ``total`` records
    known to be in the log (None when there is none); ``unconfirmed`` are the punches realtime
    events delivered since, oldest first.
    """

    total: int
    anchor: PunchKey | None
    unconfirmed: tuple[PunchKey, ...] = ()
    head: PunchKey | None = None

    def confirm(self, records: int) -> Cursor:
        """The counter grew by punches realtime events delivered: they are in the log now."""
        count = records - self.total
        if count <= 0:
            return self
        return Cursor(
            records,
            self.unconfirmed[count - 1],
            self.unconfirmed[count:],
            self.head or self.unconfirmed[0],
        )


@dataclass(frozen=True, slots=True)
class Collected:
    """What one download of the log found.

    ``awaited`` are the punches realtime events had announced before it: one the log does not
    hold by then, it never will. ``unreadable`` counts the new records that cannot be decoded.
    """

    total: int
    head: PunchKey | None
    newest: Punch | None
    new: list[Punch]
    unreadable: int
    awaited: tuple[PunchKey, ...]

    @property
    def anchor(self) -> PunchKey | None:
        return punch_key(self.newest) if self.newest is not None else None


def delivered_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where a terminal's record of delivered punches is kept."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.attendance")


def needs_download(records: int, cursor: Cursor | None) -> bool:
    """Whether the counter moved otherwise than by the punches realtime events delivered.

    More records: some punches came without an event. Fewer: the log was cleared or wrapped.
    """
    return cursor is None or records != cursor.total + len(cursor.unconfirmed)


@callback
def bus_publisher(
    hass: HomeAssistant, device_id: str, serial_number: str
) -> Callable[[PunchRecord], None]:
    """Fires each delivered punch on the bus as ``zkteco_attendance``."""

    def publish(record: PunchRecord) -> None:
        hass.bus.async_fire(
            EVENT_ATTENDANCE,
            {"device_id": device_id, "serial_number": serial_number, **record.as_event_data()},
        )

    return publish


def collect(
    terminal: LogReader,
    counters: Counters,
    cursor: Cursor | None,
    users: list[TerminalUser],
    *,
    in_sync: bool,
) -> Collected | None:
    """Within a poll: download and decode the log only when it is needed.

    Out of sync (a new session), the counter alone cannot tell a log cleared and refilled
    to the same count: the log is read once.
    """
    if in_sync and not needs_download(counters.records, cursor):
        return None
    log = terminal.read_attendance(users)
    new = _new_records(log, cursor, {user.user_id for user in users})
    oldest = log.oldest()
    return Collected(
        total=log.total,
        head=punch_key(oldest) if oldest is not None else None,
        newest=log.newest(),
        new=[punch for punch in new if punch is not None],
        unreadable=new.count(None),
        awaited=cursor.unconfirmed if cursor is not None else (),
    )


def _new_records(log: PunchLog, cursor: Cursor | None, users: Container[str]) -> list[Punch | None]:
    """What the log holds after the cursor's anchor (decoding only that, in the usual case)."""
    if cursor is None:  # first setup: the history is not news
        return []
    if cursor.total <= log.total and _same_record(log.newest(cursor.total), cursor.anchor, users):
        return log.punches(cursor.total)
    records = log.punches()  # wrapped (the oldest records went) or cleared: find the anchor
    for index in range(len(records) - 1, -1, -1):
        if records[index] is not None and _same_record(records[index], cursor.anchor, users):
            return records[index + 1 :]
    return _after_lost_anchor(records, cursor, users)


def _after_lost_anchor(
    records: list[Punch | None], cursor: Cursor, users: Container[str]
) -> list[Punch | None]:
    """The new records of a log that no longer holds the anchor.

    A log that still starts as it did was cut back to an older state: only what lies past the
    old count is new (a replayed history could open doors). Any other log was cleared since:
    all of it is new, whatever its timestamps say (clocks go back: a dead clock battery stamps
    2000-01-01 after 2026).
    """
    oldest = next(filter(None, records), None)
    return records[cursor.total :] if _same_record(oldest, cursor.head, users) else records


def _same_record(punch: Punch | None, key: PunchKey | None, users: Container[str]) -> bool:
    """Whether ``punch`` is the record ``key`` was taken from (None for none on both sides).

    Its user may read differently: with 8-byte records the log holds the user's number, and the
    punch of a user deleted since reads as that number. Any other user's punch in the same
    second is another punch (a clock that went back repeats its seconds).
    """
    if punch is None or key is None:
        return punch is None and key is None
    same_moment = punch_key(punch)[1:] == key[1:]
    return same_moment and (punch.user_id == key[0] or punch.user_id not in users)


class AttendanceTracker:
    """Delivers punches from realtime events and from the log, each once and in order.

    After a restart or a lost session, the log may hold punches the events missed. Until a poll
    has delivered those, realtime punches are held back (and a poll is run at once) so that they
    follow the punches made before them.

    What was delivered is written as soon as the event loop is free: killed in between (a power
    cut, ``kill -9``), Home Assistant delivers those punches again from the log after its
    restart, marked caught up. A punch is never lost for it: at least once across a crash,
    exactly once otherwise.
    """

    def __init__(
        self,
        channel: TerminalChannel,
        store: Store[dict[str, Any]],
        *,
        name: str,
        users: Callable[[], Mapping[str, TerminalUser]],
        localize: Callable[[datetime], datetime],
        publish: Callable[[PunchRecord], None],
    ) -> None:
        """``users`` names the punches of live events, ``localize`` gives the terminal's times
        their timezone, ``publish`` announces each delivered punch."""
        self._capabilities = channel.capabilities
        self._store = store
        self._name = name
        self._users = users
        self._localize = localize
        self._publish = publish
        self.last_punch: PunchRecord | None = None
        self._cursor: Cursor | None = None
        # The last 64 delivered, in order, and as a set: a backlog looks each punch up twice.
        self._delivered: deque[PunchKey] = deque(maxlen=64)
        self._delivered_keys: set[PunchKey] = set()
        self._listeners: list[Callable[[PunchRecord], None]] = []
        # Live punches are held until a poll has read what the log holds before them; without
        # the log, the terminal re-sends what it holds on its own, in order: nothing to await.
        self._in_sync = Capability.READ_LOG not in self._capabilities
        self._held: list[Punch] = []

    async def async_load(self) -> None:
        stored = await self._store.async_load()
        if stored:
            self._cursor = Cursor(
                total=stored["total"],
                anchor=_key(stored["anchor"]),
                unconfirmed=tuple(_key(key) for key in stored["unconfirmed"]),  # type: ignore[misc]
                head=_key(stored.get("head")),
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

    def catch_up(self, known_users: list[TerminalUser]) -> CatchUp[Collected | None] | None:
        """What a poll runs to reconcile the log, None where the channel cannot read it.

        A channel that cannot read the log on demand has its terminal re-send what was not
        acknowledged: nothing to reconcile. ``known_users`` serve when the poll reads none.
        """
        if Capability.READ_LOG not in self._capabilities:
            return None
        cursor, in_sync = self._cursor, self._in_sync

        def reconcile(
            counters: Counters, users: list[TerminalUser] | None, log: LogReader
        ) -> Collected | None:
            all_users = users if users is not None else known_users
            return collect(log, counters, cursor, all_users, in_sync=in_sync)

        return reconcile

    @callback
    def apply(
        self, records: int, collected: Collected | None, users: Mapping[str, TerminalUser]
    ) -> None:
        """Take a poll's result: deliver what the log holds that was not delivered yet.

        ``users`` are the ones the poll read: a punch of a user added since the last poll has
        its name.
        """
        cursor = self._cursor
        if collected is None:
            if cursor is not None:
                self._set_cursor(cursor.confirm(records))
        elif cursor is None:
            self._set_cursor(Cursor(collected.total, collected.anchor, head=collected.head))
            if collected.newest is not None:  # shown, not delivered: it is history
                self.last_punch = self._record(collected.newest, users, caught_up=True)
        else:
            self._deliver_new(cursor, collected, users)
        self._in_sync = True
        held, self._held = self._held, []
        for punch in held:
            self._deliver_live(punch, users)

    def _deliver_new(
        self, cursor: Cursor, collected: Collected, users: Mapping[str, TerminalUser]
    ) -> None:
        """In the log's order: what events missed is caught up, held events are live."""
        if collected.unreadable:
            # Said once: the next downloads start after these records. Never their bytes, which
            # identify a person.
            LOGGER.warning(
                "%s: skipped %d new attendance records with an impossible date",
                self._name,
                collected.unreadable,
            )
        held = {punch_key(punch) for punch in self._held}
        for punch in collected.new:
            key = punch_key(punch)
            if key in held or key not in cursor.unconfirmed:
                self._deliver_once(punch, key, users, caught_up=key not in held)
        # Announced before the download yet not in it: the log moved past them for good.
        settled = {punch_key(punch) for punch in collected.new}.union(collected.awaited)
        self._set_cursor(
            Cursor(
                collected.total,
                collected.anchor,
                tuple(key for key in cursor.unconfirmed if key not in settled),
                collected.head,
            )
        )

    @callback
    def on_event(self, event: ChannelEvent) -> None:
        """Deliver a punch the terminal announced as it happened."""
        if isinstance(event, SessionOpened):
            # Events may have been missed since the last session: held until a poll read the log.
            self._in_sync = False
        elif isinstance(event, Punch):
            if not self._in_sync:
                self._hold(event)
            else:
                self._deliver_live(event, self._users())

    def _hold(self, punch: Punch) -> None:
        if punch_key(punch) not in map(punch_key, self._held):
            self._held.append(punch)

    def _deliver_live(self, punch: Punch, users: Mapping[str, TerminalUser]) -> None:
        """A punch an event announced: in the log after the cursor, until a poll confirms it.

        It is remembered before it is delivered, so that a crash cannot replay it as missed.
        """
        key = punch_key(punch)
        cursor = self._cursor
        if key in self._delivered_keys or (cursor is not None and key in cursor.unconfirmed):
            return
        if cursor is not None:
            self._set_cursor(replace(cursor, unconfirmed=(*cursor.unconfirmed, key)))
        self._deliver_once(punch, key, users, caught_up=punch.caught_up)

    def _deliver_once(
        self, punch: Punch, key: PunchKey, users: Mapping[str, TerminalUser], *, caught_up: bool
    ) -> None:
        if key in self._delivered_keys:
            return
        self.last_punch = record = self._record(punch, users, caught_up=caught_up)
        if len(self._delivered) == self._delivered.maxlen:
            self._delivered_keys.discard(self._delivered[0])
        self._delivered.append(key)
        self._delivered_keys.add(key)
        # The entities first: what the event starts finds them showing this punch.
        for listener in list(self._listeners):
            listener(record)
        self._publish(record)

    def _record(
        self, punch: Punch, users: Mapping[str, TerminalUser], *, caught_up: bool
    ) -> PunchRecord:
        user = users.get(punch.user_id)
        return PunchRecord(
            user_id=punch.user_id,
            name=(user.name or None) if user else None,
            time=self._localize(punch.timestamp),
            punch=punch.punch,
            kind=PUNCH_KINDS.get(punch.punch, "other"),
            verify=punch.status,
            verified_by=VERIFY_METHODS.get(punch.status, "other"),
            caught_up=caught_up,
        )

    def _set_cursor(self, cursor: Cursor) -> None:
        self._cursor = cursor
        self._store.async_delay_save(self._stored, SAVE_DELAY)

    def _stored(self) -> dict[str, Any]:
        cursor = self._cursor
        assert cursor is not None
        return {
            "total": cursor.total,
            "anchor": list(cursor.anchor) if cursor.anchor else None,
            "unconfirmed": [list(key) for key in cursor.unconfirmed],
            "head": list(cursor.head) if cursor.head else None,
        }


def _key(stored: list[Any] | None) -> PunchKey | None:
    return (str(stored[0]), str(stored[1]), int(stored[2]), int(stored[3])) if stored else None
