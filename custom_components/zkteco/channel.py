"""What the parts above a transport may ask of a terminal, and what a terminal tells them.

A terminal is reached through a channel: pull (Home Assistant calls the terminal on port 4370,
``pull/``) or Push (the terminal calls Home Assistant, ``push/``). Attendance, enrollment, the
coordinator, the entities, the actions and the REST view see a ``TerminalChannel`` only, and the
events it emits. What only some channels can do is a capability the parts ask for, never a
channel's type: pull reads the attendance log on demand; a Push terminal cannot be asked for it,
but re-sends what was not acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class TerminalError(Exception):
    """The terminal did not answer as it should."""


class TerminalConnectionError(TerminalError):
    """The terminal cannot be reached, or the connection broke."""


class TerminalAuthError(TerminalError):
    """The terminal refused the comm key."""


@dataclass(frozen=True, slots=True)
class TerminalInfo:
    """What a terminal says about itself."""

    serial_number: str
    model: str
    firmware: str
    platform: str
    mac: str


@dataclass(frozen=True, slots=True)
class Counters:
    """How much the terminal holds, and how much it can hold."""

    users: int
    fingers: int
    records: int
    cards: int
    users_capacity: int
    fingers_capacity: int
    records_capacity: int


@dataclass(frozen=True, slots=True)
class TerminalUser:
    """A person known to the terminal (the password is deliberately not kept)."""

    uid: int
    user_id: str
    name: str
    privilege: int
    card: int


@dataclass(frozen=True, slots=True)
class Punch:
    """One attendance record, time as the terminal's wall clock shows it.

    ``caught_up``: the terminal held it back (Home Assistant was unreachable) and sends it now.
    """

    user_id: str
    timestamp: datetime
    status: int
    punch: int
    caught_up: bool = False


@dataclass(frozen=True, slots=True)
class FingerScored:
    """The terminal judged a press: 100 is good, 0 is bad."""

    score: int


class EnrollmentOutcome(StrEnum):
    """How the terminal ended an enrollment, whatever code its transport used for it.

    Each channel maps its own codes in one place (pull: EF_ENROLLFINGER's result; Push: the
    ``Return`` of ``ENROLL_FP``, confirmed by the template upload).
    """

    SUCCESS = "success"
    DUPLICATE = "duplicate"
    """The finger is already enrolled for another user."""
    ALREADY_ENROLLED = "already_enrolled"
    """The user already has a template for that finger."""
    CAPTURE_FAILED = "capture_failed"
    """Bad presses: poor quality, or presses that do not merge."""
    TIMEOUT_OR_CANCELLED = "timeout_or_cancelled"
    """Nobody pressed in time, or someone cancelled on the keypad (one code for both)."""
    CANCELLED = "cancelled"
    BUSY = "busy"
    USER_NOT_FOUND = "user_not_found"
    NOT_SUPPORTED = "not_supported"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    """The terminal ended an enrollment."""

    outcome: EnrollmentOutcome
    template_size: int = 0


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The session broke while nothing was asked of the terminal."""


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """A new session began: the terminal may have logged punches that no event announced."""


@dataclass(frozen=True, slots=True)
class UsersChanged:
    """The terminal told its users unasked (a Push upload): they name the punches that follow."""

    users: tuple[TerminalUser, ...]


type ChannelEvent = (
    Punch | FingerScored | EnrollmentResult | ConnectionLost | SessionOpened | UsersChanged
)
type ChannelListener = Callable[[ChannelEvent], None]


class Capability(StrEnum):
    """What a channel can do beyond what every channel does."""

    READ_LOG = "read_log"
    """The attendance log can be read on demand (catch-up after missed events)."""

    ENROLLMENT_PRESSES = "enrollment_presses"
    """The terminal reports each press while it enrolls (a Push terminal reports only the end
    and guides the person on its own screen)."""


class PunchLog(Protocol):
    """The terminal's attendance log as read at one moment; records are decoded when asked for.

    A record that cannot be decoded reads as None.
    """

    @property
    def total(self) -> int: ...

    def punches(self, first: int = 0) -> list[Punch | None]:
        """The records from index ``first`` on, oldest first."""

    def newest(self, end: int | None = None) -> Punch | None:
        """The newest record that can be read, among the first ``end`` (all by default)."""

    def oldest(self) -> Punch | None:
        """The oldest record that can be read."""


class LogReader(Protocol):
    """Reads the attendance log, within the exchange of a poll (``Capability.READ_LOG``)."""

    def read_attendance(self, users: list[TerminalUser]) -> PunchLog:
        """The whole log; ``users`` name the records that hold a user's number."""


type CatchUp[T] = Callable[[Counters, list[TerminalUser] | None, LogReader], T]
"""Runs in the same exchange as a poll (no punch falls between the counters and the log) with
the counters, the users the poll read (None when it did not read them) and the log reader."""


@dataclass(frozen=True, slots=True)
class Polled[T]:
    """What one poll read: ``users`` is None when they were not read, ``caught_up`` is what the
    poll's catch-up returned (None without one)."""

    counters: Counters
    clock: datetime
    users: list[TerminalUser] | None
    caught_up: T | None


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What a write changes in a user: None keeps what the terminal holds, so a partial update
    never wipes the rest. ``card`` 0 and ``password`` "" remove them."""

    name: str | None = None
    admin: bool | None = None
    card: int | None = None
    password: str | None = field(default=None, repr=False)


class TerminalChannel(Protocol):
    """One way of talking to one terminal."""

    @property
    def info(self) -> TerminalInfo:
        """What the terminal says about itself."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def realtime(self) -> bool | None:
        """Whether the terminal announces punches as they happen (None: not known yet)."""

    @property
    def enrolling(self) -> bool:
        """Whether a poll now would disturb an enrollment (the terminal waits for a finger)."""

    @property
    def enrollment_timeout(self) -> timedelta:
        """How long, from the start or the last press, the terminal may take to end an
        enrollment; past it, Home Assistant declares it timed out."""

    def async_add_listener(self, listener: ChannelListener) -> Callable[[], None]:
        """Call ``listener`` in the event loop with every event the terminal sends."""

    async def async_poll[T](
        self, read_users: Callable[[Counters], bool], catch_up: CatchUp[T] | None = None
    ) -> Polled[T]:
        """Read the counters and the clock, and the users when ``read_users`` says so.

        ``catch_up`` needs ``Capability.READ_LOG``.
        """

    async def async_check_contact(self) -> None:
        """Raise TerminalConnectionError when the terminal is known to be out of reach, without
        a word to it: what stands for a poll while it waits for a finger."""

    async def async_read_users(self) -> list[TerminalUser]: ...

    async def async_start_enrollment(self, user: TerminalUser, finger: int) -> bool:
        """Ask the terminal to enroll ``finger`` (its own number, the FID); False when the user
        already has it.

        Answers once the terminal waits for the first press; what follows comes as events.
        """

    async def async_end_enrollment(self) -> None:
        """Take the terminal out of enrollment mode and enable it, now or as soon as it answers."""

    async def async_enrolled_fingers(self, user: TerminalUser) -> frozenset[int]:
        """The fingers (the terminal's own numbers) ``user`` has a template for."""

    async def async_write_clock(self, clock: Callable[[], datetime]) -> None:
        """Set the terminal's clock to ``clock()``, taken right before it is sent."""

    async def async_unlock(self, seconds: int) -> None:
        """Open the lock relay for ``seconds`` (1 to 60)."""

    async def async_restart(self) -> None:
        """Restart the terminal; the channel reconnects once it is back."""

    async def async_stop(self) -> None:
        """Close the channel; nothing is sent or emitted after."""

    async def async_write_user(self, user_id: str, changes: UserChanges) -> TerminalUser:
        """Add the user, or make the changes to them; returns the user as written.

        A value the terminal cannot store raises TerminalInputError before anything is written.
        """

    async def async_delete_user(self, user_id: str) -> None:
        """Delete the user and their fingerprints (TerminalUnknownUserError: there is none)."""

    async def async_delete_finger(self, user_id: str, finger: int) -> bool:
        """Delete one finger (the terminal's own number); False when the user has none there."""

    async def async_read_people(self) -> list[Person]:
        """Every user, with the fingers they have a template for (never the templates)."""

    async def async_clear_attendance(self, delivered: int) -> None:
        """Clear the attendance log, which must hold the ``delivered`` punches and no more.

        TerminalUndeliveredError when it holds others: nothing is cleared.
        """

    async def async_read_templates(self, user_id: str) -> list[FingerTemplate]:
        """The user's templates, finger by finger; they are kept in memory only."""

    async def async_write_templates(
        self, user_id: str, templates: Collection[FingerTemplate]
    ) -> None:
        """Store these fingers for an existing user, replacing them; the others are kept."""


# What the management actions may meet. A write that raises TerminalWriteUncertainError is not
# sent again: only reading the terminal tells whether it was carried out.


class TerminalRefusedError(TerminalError):
    """The terminal answered a command with an error."""


class TerminalInputError(TerminalError):
    """A value the terminal cannot store; refused before anything was written.

    ``problem`` is one of: empty, too_long, control_character, not_encodable, not_digits,
    out_of_range, repeated.
    """

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


class TerminalUnknownUserError(TerminalError):
    """The terminal has no user with this user id."""


class TerminalWriteUncertainError(TerminalConnectionError):
    """The connection broke after a write was sent: it may or may not have been carried out."""


class TerminalUndeliveredError(TerminalError):
    """The terminal holds punches that were not delivered yet: its log was not cleared."""


class TerminalNotSupportedError(TerminalError):
    """The way this terminal is connected cannot do what was asked."""


@dataclass(frozen=True, slots=True)
class Person:
    """A user and the fingers (the terminal's own numbers) they have a template for."""

    user: TerminalUser
    fingers: frozenset[int]


@dataclass(frozen=True, slots=True)
class FingerTemplate:
    """One finger's template (the terminal's own number), for copying it to another terminal.

    It stays in memory: never in a repr, a log, state or an event.
    """

    finger: int
    template: bytes = field(repr=False)
