"""The Push channel: one terminal that calls Home Assistant (ZKTeco Attendance PUSH 2.x).

Sections (§) and pitfalls (P) are those of shared/reference/push-protocol.md.

How an entry uses it::

    channel = PushChannel(
        hass, serial, name, time_zone=tz, source_address=None, delay=commands.DEFAULT_DELAY
    )
    info = await channel.async_open(hub)  # loads its stores and its command queue, and serves
    # the terminal on `hub`; does not wait for the terminal to call (info is the last known)
    ...
    await channel.async_stop()  # stops serving it, unloads the queue, writes what it knows
    await PushChannel.async_remove_stores(hass, serial)  # the entry was removed

``last_contact`` (None until the terminal calls) and ``contacts`` (the last call per endpoint,
`cdata`, `getrequest`, `devicecmd`...) are for diagnostics; ``queue`` is the terminal's
``CommandQueue``. The channel is the hub's ``PushSink`` for this serial number and a
``TerminalChannel`` for the parts above it.

Punches. Each ATTLOG line becomes a ``Punch`` (``status`` the verify method, ``punch`` the
check-in/out state, as pull's; an absent field reads 255, "none", §1.5). A line is recognised by
its content, never by a stamp (§1.3, P2): the keys of the punches delivered are kept in an
append-only journal (journal.py: the last 20,000 and the last batch whole, compacted past twice
that). New lines are remembered (500 between two turns of the event loop), emitted (50 between
two turns, and to the end even if the request is cut off), then the journal is written and
fsynced, and only then does the hub acknowledge the batch. Batches are stored one at a time: a
copy the terminal sends again while the first still fires is acknowledged once the first is
stored. Killed between storing and answering, the terminal re-sends the batch and its new lines
are emitted once more (at least once across a crash, exactly once otherwise); a failed write
raises, the terminal keeps the batch, and the keys are written with the next batch. A punch
whose time is more than ``CAUGHT_UP_AGE`` (2 minutes) before Home Assistant's clock in the
entry's time zone on arrival was held back by the terminal (Home Assistant was unreachable, the
terminal was offline): it is marked ``caught_up``. With ``Realtime=1`` a live punch arrives
within seconds, and the terminal's clock is Home Assistant's (set from the ``Date:`` header at
each handshake). The stamps the terminal sends are kept and handed back at its handshakes, after
a restart too.

What the terminal says about itself (options, a poll's ``INFO=``, the ``INFO`` command), the users
(``USER`` lines on OPERLOG, and users Home Assistant wrote with ``DATA UPDATE USERINFO`` answered
0) and the fingers (``FP``, ``BIODATA`` type 1, ``OPLOG 6``: sizes, never templates) are kept in
`.storage`, so a restart shows the last known values. ``info`` has the serial number from the
entry and the rest as the terminal said it (empty until it does).

Polls read nothing from the terminal: a Push terminal cannot be called. ``async_poll`` answers
from what it pushed, and raises ``TerminalConnectionError`` when it has not called within
``contact_timeout`` (3 x Delay + 30 s: three missed polls, or one ErrorDelay after a failure), or
never since Home Assistant started: Connectivity means "polled within its expected interval". The
clock is Home Assistant's wall clock in the entry's time zone: the terminal sets its own from our
``Date:`` header at each handshake, and says nothing of it after.

Enrollment (§1.9) is enrollment.py's ``EnrollmentTracker``: ``async_start_enrollment`` answers
False at once for a finger seen uploaded, True once a poll has taken the ``ENROLL_FP`` within
``enroll_delivery_timeout`` (max(15 s, 3 x Delay)), and otherwise raises
``TerminalConnectionError``; the finger is confirmed by its template upload within
``CONFIRM_TIMEOUT`` of the result. A result that never comes ends it after the queue's
``UNANSWERED_TIMEOUT``, hence ``enrollment_timeout``.

Other commands wait for their result within ``command_timeout`` (the delivery bound + 15 s):
``async_unlock`` sends ``AC_UNLOCK`` (no duration in 2.x: the terminal's own lock time applies;
-1002 raises ``TerminalError`` "not supported"), ``async_restart`` ``REBOOT``. ``async_write_clock``
sends ``CHECK``: the terminal handshakes again and takes its clock from that answer's ``Date:``
and ``TimeZone`` (§1.11); no 2.x command sets the time reliably (§1.6).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..channel import (
    Capability,
    CatchUp,
    ChannelEvent,
    ChannelListener,
    Counters,
    EnrollmentOutcome,
    EnrollmentResult,
    FingerTemplate,
    Person,
    Polled,
    Punch,
    TerminalConnectionError,
    TerminalError,
    TerminalInfo,
    TerminalNotSupportedError,
    TerminalUnknownUserError,
    TerminalUser,
    UserChanges,
    UsersChanged,
)
from ..const import DOMAIN
from . import commands, uploads
from .enrollment import CONFIRM_TIMEOUT, EnrollmentTracker
from .journal import PunchJournal
from .queue import UNANSWERED_TIMEOUT, CommandQueue, FinishedCommand
from .server import PushHub, ServedTerminal
from .uploads import AttLogRow, AttLogUpload, CommandResult, DeviceInfo, OperLogUpload

CAPABILITIES: Final = frozenset[Capability]()
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 1.0
CAUGHT_UP_AGE: Final = timedelta(minutes=2)
MISSED_POLLS: Final = 3
CONTACT_MARGIN: Final = timedelta(seconds=30)
ENROLL_DELIVERY_MIN: Final = timedelta(seconds=15)
ANSWER_TIMEOUT: Final = timedelta(seconds=15)
# Events fired between two turns of the event loop (one takes about 0.1 ms on a slow machine).
EMIT_CHUNK: Final = 50
# Lines keyed and looked up in the journal between two turns: the terminal's own batch size.
KEY_CHUNK: Final = 500
UNKNOWN: Final = 255  # a field the line did not have (255 is "no punch state", §1.5)
_BIO_FINGER: Final = 1
_OPLOG_FINGER_ENROLLED: Final = 6
_UPDATE_USER: Final = "DATA UPDATE USERINFO "
_DELETE_USER: Final = "DATA DELETE USERINFO "


def punch_line_key(row: AttLogRow) -> str:
    """What tells one punch line from another (P2: PIN, time, state, verify)."""
    user_id, time, status, verify, _work_code = row
    return f"{user_id}\t{time.isoformat()}\t{status}\t{verify}"


class PushChannel:
    """One terminal that calls Home Assistant."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        hass: HomeAssistant,
        serial: str,
        name: str,
        *,
        time_zone: tzinfo,
        source_address: str | None = None,
        delay: int = commands.DEFAULT_DELAY,
    ) -> None:
        self._hass = hass
        self.serial = serial
        self._name = name
        self._time_zone = time_zone
        self._source_address = source_address
        self._delay = delay
        self.queue = CommandQueue(hass, serial, self._on_finished)
        self._journal = PunchJournal(hass, serial)
        self._storing = asyncio.Lock()
        self._store: Store[dict[str, Any]] = _terminal_store(hass, serial)
        self._device = DeviceInfo()
        self._users: dict[str, TerminalUser] = {}
        self._fingers: dict[str, dict[int, int]] = {}
        self._stamps: dict[str, str] = {}
        self._listeners: list[ChannelListener] = []
        self._enrollment = EnrollmentTracker(hass, self.queue, self._on_enrollment_end)
        self._stop_serving: CALLBACK_TYPE | None = None
        self.last_contact: datetime | None = None
        self.contacts: dict[str, datetime] = {}

    # -- life --------------------------------------------------------------------------
    async def async_open(self, hub: PushHub) -> TerminalInfo:
        """Load what is known, serve the terminal on `hub`; the terminal need not call yet."""
        await self._journal.async_load()
        self._restore(await self._store.async_load() or {})
        await self.queue.async_load()
        await self._enrollment.async_withdraw_queued()
        self._stop_serving = hub.async_add_terminal(
            ServedTerminal(
                self.serial,
                self,
                self.queue,
                self._time_zone,
                delay=self._delay,
                source_address=self._source_address,
                stamps=dict(self._stamps),
                on_stamp=self._on_stamp,
            )
        )
        return self.info

    async def async_stop(self) -> None:
        if self._stop_serving is not None:
            self._stop_serving()
            self._stop_serving = None
        self.queue.async_unload()
        self._enrollment.stop()
        await self._store.async_save(self._stored())

    @staticmethod
    async def async_remove_stores(hass: HomeAssistant, serial: str) -> None:
        """Forget everything kept about the terminal (its entry was removed)."""
        await CommandQueue(hass, serial).async_remove()
        await PunchJournal(hass, serial).async_remove()
        await _terminal_store(hass, serial).async_remove()

    # -- what the parts above see ------------------------------------------------------
    @property
    def info(self) -> TerminalInfo:
        device = self._device
        return TerminalInfo(
            serial_number=self.serial,
            model=device.device_name or "",
            firmware=device.firmware or "",
            platform="",
            mac="",
        )

    @property
    def realtime(self) -> bool | None:
        """Once it called, the terminal has our handshake's `Realtime=1`."""
        return True if self.last_contact is not None else None

    @property
    def enrolling(self) -> bool:
        return self._enrollment.active

    @property
    def contact_timeout(self) -> timedelta:
        return MISSED_POLLS * timedelta(seconds=self._delay) + CONTACT_MARGIN

    @property
    def enroll_delivery_timeout(self) -> timedelta:
        return max(ENROLL_DELIVERY_MIN, MISSED_POLLS * timedelta(seconds=self._delay))

    @property
    def command_timeout(self) -> timedelta:
        return self.enroll_delivery_timeout + ANSWER_TIMEOUT

    @property
    def enrollment_timeout(self) -> timedelta:
        """Longer than the queue's wait for a result and the wait for the template after it:
        the channel itself always reports the end first."""
        return UNANSWERED_TIMEOUT + CONFIRM_TIMEOUT + timedelta(minutes=1)

    @callback
    def async_add_listener(self, listener: ChannelListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_poll[T](
        self, read_users: Callable[[Counters], bool], catch_up: CatchUp[T] | None = None
    ) -> Polled[T]:
        """What the terminal last pushed; the attendance needs no catch-up (it re-sends)."""
        await self.async_check_contact()
        counters = self._counters()
        users = list(self._users.values()) if read_users(counters) else None
        clock = dt_util.now(self._time_zone).replace(tzinfo=None)
        return Polled(counters, clock, users, None)

    async def async_check_contact(self) -> None:
        """Whether it called within ``contact_timeout``."""
        if self.last_contact is None:
            raise TerminalConnectionError(f"{self._name} has not called Home Assistant yet")
        if dt_util.utcnow() - self.last_contact > self.contact_timeout:
            raise TerminalConnectionError(
                f"{self._name} last called at {self.last_contact.isoformat()}"
            )

    async def async_read_users(self) -> list[TerminalUser]:
        return list(self._users.values())

    async def async_enrolled_fingers(self, user: TerminalUser) -> frozenset[int]:
        return frozenset(self._fingers.get(user.user_id, {}))

    # -- the hub's sink ----------------------------------------------------------------
    async def async_store_punches(self, upload: AttLogUpload) -> None:
        # In a task of its own: what is remembered must fire, even if the request is cut off.
        store = self._async_store(upload.rows, dt_util.now(self._time_zone))
        await asyncio.shield(self._hass.async_create_task(store))

    async def _async_store(self, rows: Sequence[AttLogRow], now: datetime) -> None:
        """One batch at a time: a copy sent again while the first still fires is answered only
        once the first has fired and is stored."""
        async with self._storing:
            new = await self._async_remember(rows)
            for index, row in enumerate(new):
                if index and not index % EMIT_CHUNK:
                    # A 500-line batch fires 500 events: let the loop breathe.
                    await asyncio.sleep(0)
                # Each Punch made as it goes out: a batch of them held across the loop's turns
                # would be promoted to the garbage collector's oldest generation (uploads.py).
                self._emit(self._punch(row, now))
            await self._journal.async_flush(len(rows))

    async def _async_remember(self, rows: Sequence[AttLogRow]) -> list[AttLogRow]:
        """The rows not delivered before, now remembered; `KEY_CHUNK` between two turns of the
        event loop (a 2 MiB body holds 65,000 lines)."""
        new: list[AttLogRow] = []
        for start in range(0, len(rows), KEY_CHUNK):
            if start:
                await asyncio.sleep(0)
            chunk: dict[str, AttLogRow] = {}
            for row in rows[start : start + KEY_CHUNK]:
                key = punch_line_key(row)
                if key not in self._journal and key not in chunk:
                    chunk[key] = row
            self._journal.add(list(chunk))
            new += chunk.values()
        return new

    async def async_store_operations(self, upload: OperLogUpload) -> None:
        for user in upload.users:
            self._users[user.user_id] = _terminal_user(user)
        for finger in upload.fingers:
            self._finger_uploaded(finger.user_id, finger.finger, finger.size)
        for bio in upload.biodata:
            if bio.bio_type == _BIO_FINGER:
                self._finger_uploaded(bio.user_id, bio.number, bio.size)
        for operation in upload.operations:
            if operation.code == _OPLOG_FINGER_ENROLLED and len(operation.values) >= 3:
                pin, fid, size = operation.values[:3]
                if (number := _number(fid)) is not None:
                    self._finger_uploaded(pin, number, _number(size))
        await self._store.async_save(self._stored())
        if upload.users:
            self._emit(UsersChanged(tuple(self._users.values())))

    def device_info(self, info: DeviceInfo) -> None:
        said = {name: value for name, value in asdict(info).items() if value is not None}
        self._device = replace(self._device, **said)
        self._save_later()

    def contacted(self, endpoint: str) -> None:
        self.last_contact = self.contacts[endpoint] = dt_util.utcnow()

    @callback
    def _on_stamp(self, table: str, stamp: str) -> None:
        self._stamps[table] = stamp
        self._save_later()

    # -- enrollment --------------------------------------------------------------------
    async def async_start_enrollment(self, user: TerminalUser, finger: int) -> bool:
        if finger in self._fingers.get(user.user_id, {}):
            return False
        within = self.enroll_delivery_timeout
        if await self._enrollment.async_start(user.user_id, finger, within=within):
            return True
        raise TerminalConnectionError(
            f"{self._name} did not poll within {within.total_seconds():g} s"
        )

    async def async_end_enrollment(self) -> None:
        await self._enrollment.async_withdraw()

    @callback
    def _on_finished(self, end: FinishedCommand) -> None:
        if end.result is not None and end.result.code == 0:
            self._learn_users(end.command)
        self._enrollment.command_finished(end)

    def _finger_uploaded(self, user_id: str, finger: int, size: int | None) -> None:
        self._fingers.setdefault(user_id, {})[finger] = size or 0
        self._enrollment.finger_uploaded(user_id, finger, size)

    def _on_enrollment_end(self, result: EnrollmentResult) -> None:
        if result.outcome is EnrollmentOutcome.SUCCESS and self._device.fingers is not None:
            # The terminal's count says so only at its next handshake; polls show it now.
            self.device_info(DeviceInfo(fingers=self._device.fingers + 1))
        self._emit(result)

    # -- other commands ----------------------------------------------------------------
    async def async_write_clock(self, clock: Callable[[], datetime]) -> None:
        """`CHECK`: the terminal handshakes again and sets its clock from our answer's `Date:`
        and `TimeZone` (Home Assistant's time in the entry's time zone, which `clock` gives)."""
        await self._async_command(commands.Command.CHECK)

    async def async_unlock(self, seconds: int) -> None:
        """`AC_UNLOCK`: 2.x has no duration, the terminal's own lock time applies."""
        await self._async_command("AC_UNLOCK")

    async def async_restart(self) -> None:
        await self._async_command(commands.Command.REBOOT)

    # -- people and fingers ------------------------------------------------------------
    async def async_read_people(self) -> list[Person]:
        """The users and fingers the terminal uploaded or confirmed (it cannot be read)."""
        return [
            Person(user, frozenset(self._fingers.get(user.user_id, {})))
            for user in self._users.values()
        ]

    async def async_delete_user(self, user_id: str) -> None:
        if user_id not in self._users:
            raise TerminalUnknownUserError(user_id)
        await self._async_command(commands.delete_user(user_id))

    async def async_delete_finger(self, user_id: str, finger: int) -> bool:
        if finger not in self._fingers.get(user_id, {}):
            return False
        await self._async_command(commands.delete_fingerprint(user_id, finger))
        self._fingers[user_id].pop(finger, None)
        self._save_later()
        return True

    async def async_write_user(self, user_id: str, changes: UserChanges) -> TerminalUser:
        """Not over Push: its only user command rewrites the whole record, and the keypad
        password, which Home Assistant never keeps, would be wiped (reference P13)."""
        raise TerminalNotSupportedError("DATA UPDATE USERINFO would wipe the password")

    async def async_clear_attendance(self, delivered: int) -> None:
        """Not over Push: the terminal's count of what it still holds cannot be asked for."""
        raise TerminalNotSupportedError("the log cannot be compared before clearing")

    async def async_read_templates(self, user_id: str) -> list[FingerTemplate]:
        """Not over Push: templates the terminal uploads are dropped on arrival."""
        raise TerminalNotSupportedError("templates are not kept")

    async def async_write_templates(
        self, user_id: str, templates: Collection[FingerTemplate]
    ) -> None:
        raise TerminalNotSupportedError("templates are written over pull only")

    async def _async_command(self, command: str) -> CommandResult:
        """Queue `command` and wait for its result; raise unless the terminal answers 0."""
        command_id = await self.queue.async_add(command)
        try:
            async with asyncio.timeout(self.command_timeout.total_seconds()):
                end = await self.queue.async_wait_finished(command_id)
        except TimeoutError:
            await self.queue.async_cancel(command_id)
            raise TerminalConnectionError(f"{self._name} did not answer {command}") from None
        if end.result is None:
            raise TerminalConnectionError(f"{self._name}: {command} {end.state}")
        if end.result.code != 0:
            raise TerminalError(f"{self._name} answered {command}: {end.result.outcome}")
        return end.result

    # -- helpers -----------------------------------------------------------------------
    def _counters(self) -> Counters:
        device = self._device
        fingers = sum(len(fingers) for fingers in self._fingers.values())
        return Counters(
            users=device.users if device.users is not None else len(self._users),
            fingers=device.fingers if device.fingers is not None else fingers,
            records=device.records or 0,
            cards=0,
            users_capacity=device.user_capacity or 0,
            fingers_capacity=device.finger_capacity or 0,
            records_capacity=device.record_capacity or 0,
        )

    def _punch(self, row: AttLogRow, now: datetime) -> Punch:
        user_id, time, status, verify, _work_code = row
        return Punch(
            user_id=user_id,
            timestamp=time,
            status=UNKNOWN if verify is None else verify,
            punch=UNKNOWN if status is None else status,
            caught_up=now - time.replace(tzinfo=self._time_zone) > CAUGHT_UP_AGE,
        )

    def _emit(self, event: ChannelEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _learn_users(self, command: str) -> None:
        """A user Home Assistant wrote or deleted, as the terminal confirmed it."""
        if command.startswith(_UPDATE_USER):
            body = f"USER {command.removeprefix(_UPDATE_USER)}".encode()
            for user in uploads.parse_operlog(body).users:
                self._users[user.user_id] = _terminal_user(user)
        elif command.startswith(_DELETE_USER):
            user_id = command.removeprefix(_DELETE_USER).removeprefix("PIN=").strip()
            self._users.pop(user_id, None)
            self._fingers.pop(user_id, None)
        else:
            return
        self._save_later()

    def _save_later(self) -> None:
        self._store.async_delay_save(self._stored, SAVE_DELAY)

    def _stored(self) -> dict[str, Any]:
        return {
            "device": asdict(self._device),
            "users": [asdict(user) for user in self._users.values()],
            "fingers": {
                user_id: {str(finger): size for finger, size in fingers.items()}
                for user_id, fingers in self._fingers.items()
            },
            "stamps": self._stamps,
        }

    def _restore(self, stored: dict[str, Any]) -> None:
        self._device = DeviceInfo(**stored.get("device", {}))
        self._users = {user["user_id"]: TerminalUser(**user) for user in stored.get("users", [])}
        self._fingers = {
            user_id: {int(finger): size for finger, size in fingers.items()}
            for user_id, fingers in stored.get("fingers", {}).items()
        }
        self._stamps = dict(stored.get("stamps", {}))


def _terminal_store(hass: HomeAssistant, serial: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.push.{serial}.terminal")


def _terminal_user(user: uploads.UserRecord) -> TerminalUser:
    # Push has no record number (pull's uid): users are known by their PIN only.
    return TerminalUser(
        uid=0,
        user_id=user.user_id,
        name=user.name,
        privilege=user.privilege or 0,
        card=_number(user.card) or 0,
    )


def _number(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
