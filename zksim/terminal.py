"""The terminal's state and behaviour, independent of sockets. All methods are thread-safe."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import enum
import random
import threading
import time
from typing import Self

from . import protocol as p
from .records import (
    EVENT_SIZES,
    RECORD_SIZES,
    USER_FORMATS,
    Record,
    Template,
    User,
    fake_template,
    pack_attlog_event,
    pack_enroll_result,
    pack_records,
    pack_templates,
    pack_users,
)

# (event code, payload, target session id or None for "every session registered for it").
EventSink = Callable[[int, bytes, int | None], None]

PRESSES_PER_ENROLLMENT = 3
FINGER_INDEXES = range(10)
DEMO_AUTO_PRESS_DELAY = 3.0
SECONDS_PER_DAY = 86400


class PressOutcome(enum.Enum):
    """What the finger placed on the sensor during enrollment turns out to be."""

    GOOD = "good"
    BAD_QUALITY = "bad_quality"  # score 0, the press does not count: the terminal asks again
    DUPLICATE = "duplicate"  # good image of a finger enrolled for someone else -> result 5
    MISMATCH = "mismatch"  # good images that do not merge into one template -> result 4


@dataclass(slots=True)
class _Enrollment:
    session_id: int
    user: User
    finger_index: int
    deadline: float
    presses: int = 0
    duplicate: bool = False
    mismatch: bool = False


class Terminal:
    """K40-like terminal: data, identity, limits, enrollment and fault switches."""

    def __init__(self, serial: str = "CQUJ203960001") -> None:
        self._lock = threading.RLock()
        self._emit: EventSink = lambda _event, _payload, _target: None
        self.serial = serial
        self.firmware = "Ver 6.60 May 25 2018"
        self.device_name = "K40"
        self.platform = "ZLM60_TFT"
        self.mac = "00:17:61:C8:31:07"
        self.ip_address = "192.168.1.201"
        self.netmask = "255.255.255.0"
        self.gateway = "192.168.1.1"
        self.comm_key = 0
        self.capacity_users = 3000
        self.capacity_fingers = 1000
        self.capacity_records = 80000
        self.capacity_cards = 3000
        self.capacity_faces = 0
        self.user_format = 72
        self.record_size = 40
        self.event_size = 32
        # Faults and limits, switchable at runtime (read by the server on every packet).
        self.max_sessions: int | None = None
        self.session_timeout: float | None = None
        self.reply_delay = 0.0
        self.unresponsive = False
        self.drop_in_buffered_read = False
        self.corrupt_checksum = 0
        self.enroll_timeout = 60.0
        self.tcp_data_packet = 0  # bytes per TCP CMD_DATA packet in chunk reads; 0 = whole
        # Shapes of real firmware, off by default (see the package docstring).
        self.plain_checksum = False
        self.data_counter_in_session = False
        self.data_size_in_ack = False
        self.tcp_segment = 0  # bytes per TCP send; 0 = a reply in one send
        self.event_window = 1  # realtime events sent before waiting for the client's ACK
        self.reboot_duration = 1.0
        self.ack_restart = True  # zk-protocol: a real device restarts without answering
        # Faults by command: answered CMD_ACK_ERROR; dropped unanswered before it is carried
        # out; carried out, then dropped before the answer (TCP hangs up, UDP stays silent).
        self.refused_commands: set[int] = set()
        self.dropped_commands: set[int] = set()
        self.lost_replies: set[int] = set()
        # CMD_SET_TIME acknowledged, the clock left as it was (see the package docstring).
        self.set_time_ignored = False
        self.relay_open_until: float | None = None  # time.monotonic() when the lock closes
        self.demo_auto_press = False
        self.demo_punch_interval: tuple[float, float] | None = None
        self._next_demo_punch: float | None = None
        self._users: dict[int, User] = {}
        self._uid_by_user_id: dict[str, int] = {}
        self._templates: dict[tuple[int, int], Template] = {}
        self._records: list[Record] = []
        self._packed: dict[tuple[str, int], bytes] = {}
        self._options: dict[str, str] = {}
        # The clock reads _clock_set_to plus the time elapsed since _clock_set_at, gaining
        # _clock_drift seconds a day.
        self._clock_set_at = datetime.now()
        self._clock_set_to = self._clock_set_at
        self._clock_drift = 0.0
        self._disabled = False
        self._enrollment: _Enrollment | None = None
        self._next_auto_press: float | None = None
        self.commands: list[int] = []
        # Each realtime event's first departure: (time.perf_counter(), event, payload), so that
        # benchmarks time the client from the wire, not from the simulator's own queue.
        self.events_sent: list[tuple[float, int, bytes]] = []
        self.bytes_in = 0
        self.bytes_out = 0

    # -- users -------------------------------------------------------------------------
    @property
    def users(self) -> list[User]:
        with self._lock:
            return sorted(self._users.values(), key=lambda u: u.uid)

    def add_user(
        self, user_id: str, name: str = "", privilege: int = 0, password: str = "", card: int = 0
    ) -> int:
        """Create or update the user with this user_id; returns its uid."""
        with self._lock:
            existing = self._user_by_id(str(user_id))
            uid = existing.uid if existing else max(self._users, default=0) + 1
            self.store_user(User(uid, str(user_id), name, privilege, password, card))
            return uid

    def store_user(self, user: User) -> bool:
        """Write a user by uid (CMD_USER_WRQ semantics).

        False when the terminal is full or the user_id already belongs to another uid.
        """
        with self._lock:
            if user.uid not in self._users and len(self._users) >= self.capacity_users:
                return False
            if self._uid_by_user_id.get(user.user_id, user.uid) != user.uid:
                return False
            previous = self._users.get(user.uid)
            if previous is not None:
                del self._uid_by_user_id[previous.user_id]
            self._users[user.uid] = user
            self._uid_by_user_id[user.user_id] = user.uid
            self._packed.clear()
            return True

    def store_user_with_templates(self, user: User, templates: list[Template]) -> bool:
        """CMD_SAVE_USERTEMPS: the user and their templates, all or nothing."""
        with self._lock:
            replaced = sum((user.uid, t.finger_index) in self._templates for t in templates)
            if len(self._templates) + len(templates) - replaced > self.capacity_fingers:
                return False
            if not self.store_user(user):
                return False
            for template in templates:
                self.add_template(user.user_id, template.finger_index, template.template)
            return True

    def add_numbered_users(self, n: int) -> None:
        """Bulk load users "1".."n" (fast path for large fixtures and benchmarks)."""
        for number in range(1, n + 1):
            self.store_user(User(number, str(number), f"Usuario {number}"))

    def delete_user(self, user_id: str) -> bool:
        with self._lock:
            user = self._user_by_id(str(user_id))
            return user is not None and self.delete_uid(user.uid)

    def delete_uid(self, uid: int) -> bool:
        with self._lock:
            user = self._users.pop(uid, None)
            if user is None:
                return False
            del self._uid_by_user_id[user.user_id]
            for key in [k for k in self._templates if k[0] == uid]:
                del self._templates[key]
            self._packed.clear()
            return True

    def _user_by_id(self, user_id: str) -> User | None:
        uid = self._uid_by_user_id.get(user_id)
        return None if uid is None else self._users[uid]

    def user_by_id(self, user_id: str) -> User | None:
        with self._lock:
            return self._user_by_id(user_id)

    def clear_admins(self) -> None:
        with self._lock:
            for user in self._users.values():
                user.privilege = 0
            self._packed.clear()

    # -- templates ---------------------------------------------------------------------
    @property
    def templates(self) -> list[Template]:
        with self._lock:
            return sorted(self._templates.values(), key=lambda t: (t.uid, t.finger_index))

    def add_template(self, user_id: str, finger_index: int, template: bytes | None = None) -> None:
        with self._lock:
            user = self._require_user(user_id)
            data = template if template is not None else fake_template(user.user_id, finger_index)
            self._templates[(user.uid, finger_index)] = Template(
                user.uid, user.user_id, finger_index, data
            )
            self._packed.clear()

    def has_template(self, user_id: str, finger_index: int) -> bool:
        with self._lock:
            user = self._user_by_id(str(user_id))
            return user is not None and (user.uid, finger_index) in self._templates

    def template_of(self, uid: int, finger_index: int) -> Template | None:
        with self._lock:
            return self._templates.get((uid, finger_index))

    def delete_template(self, uid: int, finger_index: int) -> bool:
        with self._lock:
            self._packed.clear()
            return self._templates.pop((uid, finger_index), None) is not None

    def _require_user(self, user_id: str) -> User:
        user = self._user_by_id(str(user_id))
        if user is None:
            raise KeyError(f"no user {user_id!r}")
        return user

    # -- attendance --------------------------------------------------------------------
    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def add_records(self, n: int, start: datetime | None = None) -> None:
        """Bulk history: n records, one every 5 minutes, cycling over the users."""
        step = timedelta(minutes=5)
        with self._lock:
            first = (start or self.clock - step * n).replace(microsecond=0)
            people = self.users or [User(1, "1")]
            count = len(people)
            self.log_history(
                Record(people[i % count].uid, people[i % count].user_id, first + step * i)
                for i in range(n)
            )

    def log_history(self, records: Iterable[Record]) -> None:
        """Append past records without realtime events (nobody was listening back then)."""
        with self._lock:
            self._records.extend(records)
            self._packed.clear()

    def punch(
        self, user_id: str, punch: int = 0, status: int = 1, timestamp: datetime | None = None
    ) -> Record:
        """Someone verifies on the terminal: log it and push EF_ATTLOG to listeners."""
        with self._lock:
            user = self._user_by_id(str(user_id))
            uid = user.uid if user else 0
            when = (timestamp or self.clock).replace(microsecond=0)
            record = Record(uid, str(user_id), when, status, punch)
            self._records.append(record)
            self._packed.clear()
            self._emit(p.EF_ATTLOG, pack_attlog_event(record, self.event_size), None)
            return record

    def send_event(self, event: int, payload: bytes) -> None:
        """Push a raw realtime event to every session registered for it, garbled ones too."""
        self._emit(event, payload, None)

    def clear_attendance(self) -> None:
        with self._lock:
            self._records.clear()
            self._packed.clear()

    def clear_all_data(self) -> None:
        with self._lock:
            self._users.clear()
            self._uid_by_user_id.clear()
            self._templates.clear()
            self.clear_attendance()

    # -- packed data sets (cached: 100k records pack once, not per read) -----------------
    def _cached(self, name: str, size: int, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            key = (name, size)
            if key not in self._packed:
                self._packed[key] = build()
            return self._packed[key]

    def packed_users(self) -> bytes:
        self._check_formats()
        return self._cached(
            "users", self.user_format, lambda: pack_users(self.users, self.user_format)
        )

    def packed_records(self) -> bytes:
        self._check_formats()
        size = self.record_size
        return self._cached(
            "records", size, lambda: p.with_total_size(pack_records(self._records, size))
        )

    def packed_templates(self) -> bytes:
        return self._cached("templates", 0, lambda: pack_templates(self.templates))

    def _check_formats(self) -> None:
        if self.user_format not in USER_FORMATS or self.record_size not in RECORD_SIZES:
            raise ValueError(f"unsupported formats {self.user_format}/{self.record_size}")
        if self.event_size not in EVENT_SIZES:
            raise ValueError(f"event_size must be one of {EVENT_SIZES}")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "users": len(self._users),
                "fingers": len(self._templates),
                "records": len(self._records),
                "cards": sum(1 for u in self._users.values() if u.card),
            }

    # -- identity, options, clock, enable ---------------------------------------------
    def option(self, key: str) -> str | None:
        """Value of a CMD_OPTIONS_RRQ key, None for keys a K40 does not know."""
        known = {
            "~SerialNumber": self.serial,
            "~DeviceName": self.device_name,
            "~Platform": self.platform,
            "~ZKFPVersion": "10",
            "MAC": self.mac,
            "~OS": "1",
            "~PIN2Width": "9",
            "~UserExtFmt": "1" if self.user_format == 72 else "0",
            "~ExtendFmt": "1" if self.record_size == 40 else "0",
            "FaceFunOn": "0",
            "CompatOldFirmware": "0",
            "IPAddress": self.ip_address,
            "NetMask": self.netmask,
            "GATEIPAddress": self.gateway,
            "~ProductTime": "2018-05-25 10:00:00",
            "~MaxUserCount": str(self.capacity_users // 100),
            "~MaxFingerCount": str(self.capacity_fingers // 100),
            "~MaxAttLogCount": str(self.capacity_records // 10000),
        }
        with self._lock:
            return self._options.get(key, known.get(key))

    def set_option(self, key: str, value: str) -> None:
        with self._lock:
            self._options[key] = value

    @property
    def clock(self) -> datetime:
        with self._lock:
            elapsed = datetime.now() - self._clock_set_at
            return self._clock_set_to + elapsed * (1 + self._clock_drift / SECONDS_PER_DAY)

    def set_clock(self, when: datetime) -> None:
        with self._lock:
            self._clock_set_at = datetime.now()
            self._clock_set_to = when

    @property
    def clock_drift(self) -> float:
        """Seconds the clock gains a day (negative: loses); from now on, no jump."""
        return self._clock_drift

    @clock_drift.setter
    def clock_drift(self, seconds_a_day: float) -> None:
        with self._lock:
            self.set_clock(self.clock)
            self._clock_drift = seconds_a_day

    @property
    def enabled(self) -> bool:
        with self._lock:
            return not self._disabled and self._enrollment is None

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._disabled = not enabled

    # -- door --------------------------------------------------------------------------
    def unlock(self, seconds: float) -> None:
        """CMD_UNLOCK: the lock relay opens for this long."""
        with self._lock:
            self.relay_open_until = time.monotonic() + seconds

    @property
    def relay_open(self) -> bool:
        with self._lock:
            until = self.relay_open_until
            return until is not None and time.monotonic() < until

    # -- enrollment --------------------------------------------------------------------
    @property
    def enrolling(self) -> bool:
        with self._lock:
            return self._enrollment is not None

    def start_enrollment(self, session_id: int, user_id: str, finger_index: int) -> bool:
        """CMD_STARTENROLL: False (-> ACK_ERROR) for unknown user, bad finger, busy, taken."""
        with self._lock:
            user = self._user_by_id(user_id)
            if user is None or finger_index not in FINGER_INDEXES or self._enrollment:
                return False
            if (user.uid, finger_index) in self._templates:
                return False
            deadline = time.monotonic() + self.enroll_timeout
            self._enrollment = _Enrollment(session_id, user, finger_index, deadline)
            self._schedule_auto_press()
            return True

    def press_finger(self, outcome: PressOutcome = PressOutcome.GOOD) -> bool:
        """A finger on the sensor; False when nobody is enrolling (the press is ignored)."""
        with self._lock:
            enrollment = self._enrollment
            if enrollment is None:
                return False
            self._emit(p.EF_FINGER, b"", enrollment.session_id)
            good = outcome is not PressOutcome.BAD_QUALITY
            score = p.SCORE_GOOD if good else p.SCORE_BAD
            self._emit(p.EF_FPFTR, bytes((score,)), enrollment.session_id)
            enrollment.deadline = time.monotonic() + self.enroll_timeout
            enrollment.presses += good
            enrollment.duplicate |= outcome is PressOutcome.DUPLICATE
            enrollment.mismatch |= outcome is PressOutcome.MISMATCH
            if enrollment.presses >= PRESSES_PER_ENROLLMENT:
                self._finish_enrollment(self._merge(enrollment))
            else:
                self._schedule_auto_press()
            return True

    def _merge(self, enrollment: _Enrollment) -> int:
        """Result of combining the three samples into a stored template."""
        if enrollment.duplicate:
            return p.ENROLL_DUPLICATE
        if enrollment.mismatch:
            return p.ENROLL_FAILED
        if len(self._templates) >= self.capacity_fingers:
            return p.ENROLL_SAVE_ERROR
        self.add_template(enrollment.user.user_id, enrollment.finger_index)
        return p.ENROLL_OK

    def cancel_enrollment(self) -> None:
        """Cancelled on the terminal or by CMD_CANCELCAPTURE: result 6 to the enroller."""
        with self._lock:
            if self._enrollment is not None:
                self._finish_enrollment(p.ENROLL_CANCELLED)

    def _finish_enrollment(self, result: int) -> None:
        enrollment = self._enrollment
        assert enrollment is not None
        stored = self._templates.get((enrollment.user.uid, enrollment.finger_index))
        size = len(stored.template) if stored else 0
        payload = pack_enroll_result(result, size, enrollment.user.user_id, enrollment.finger_index)
        self._end_enrollment()
        self._emit(p.EF_ENROLLFINGER, payload, enrollment.session_id)

    def _end_enrollment(self) -> None:
        # Firmware re-enables itself when it leaves enrollment, whatever disabled it before.
        self._enrollment = None
        self._next_auto_press = None
        self._disabled = False

    def session_closed(self, session_id: int) -> None:
        """The enrolling client went away: nobody to report to, just leave enrollment."""
        with self._lock:
            if self._enrollment and self._enrollment.session_id == session_id:
                self._end_enrollment()

    def _schedule_auto_press(self) -> None:
        if self.demo_auto_press:
            self._next_auto_press = time.monotonic() + DEMO_AUTO_PRESS_DELAY

    # -- time-driven behaviour (called by the server loop) ----------------------------
    def tick(self, now: float) -> None:
        with self._lock:
            if self._enrollment and now >= self._enrollment.deadline:
                self._finish_enrollment(p.ENROLL_CANCELLED)
            if self._next_auto_press is not None and now >= self._next_auto_press:
                self._next_auto_press = None
                self.press_finger(PressOutcome.GOOD)
            self._demo_punch(now)

    def _demo_punch(self, now: float) -> None:
        if self.demo_punch_interval is None or not self._users:
            return
        if self._next_demo_punch is None:
            self._next_demo_punch = now + random.uniform(*self.demo_punch_interval)
        elif now >= self._next_demo_punch:
            self._next_demo_punch = None
            if self.enabled:
                user = random.choice(list(self._users.values()))
                self.punch(user.user_id, punch=random.choice((0, 1)))

    def reset_runtime_state(self) -> None:
        """Power cycle: not enrolling, enabled, the lock closed; stored data survives."""
        with self._lock:
            self._end_enrollment()
            self.relay_open_until = None

    # -- statistics --------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._lock:
            self.commands.clear()
            self.events_sent.clear()
            self.bytes_in = 0
            self.bytes_out = 0

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True
