"""Terminal state and enrollment state machine, without sockets."""

from __future__ import annotations

from datetime import datetime
import struct
import time

import pytest

from zksim import PressOutcome, protocol as p
from zksim.terminal import Terminal

Event = tuple[int, bytes, int | None]


@pytest.fixture
def terminal() -> tuple[Terminal, list[Event]]:
    term = Terminal()
    events: list[Event] = []
    term._emit = lambda event, payload, target: events.append((event, payload, target))
    term.add_user("123", "Ana Garcia")
    term.add_user("124", "Luis Martinez")
    return term, events


def enroll_results(events: list[Event]) -> list[int]:
    return [struct.unpack_from("<H", e[1])[0] for e in events if e[0] == p.EF_ENROLLFINGER]


def test_users_are_indexed_by_user_id(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    assert term.add_user("123", "Ana G.") == 1  # same user_id: update, same uid
    assert [(u.uid, u.name) for u in term.users] == [(1, "Ana G."), (2, "Luis Martinez")]
    term.add_template("124", 1)
    assert term.delete_user("124")
    assert not term.has_template("124", 1)
    assert not term.delete_user("124")


def test_user_id_taken_by_another_uid_is_refused(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    ana = term.users[0]
    ana_clone = type(ana)(uid=9, user_id="123")
    assert not term.store_user(ana_clone)


def test_capacity_users(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    term.capacity_users = 2
    with pytest.raises(KeyError):
        term.add_template("999", 0)
    assert term.add_user("125") == 3
    assert term.user_by_id("125") is None


def test_bulk_load_is_fast() -> None:
    term = Terminal()
    started = time.perf_counter()
    term.add_numbered_users(3000)
    term.add_records(100_000)
    packed = term.packed_records()
    elapsed = time.perf_counter() - started
    assert len(packed) == 4 + 100_000 * 40
    assert elapsed < 1.0
    assert term.packed_records() is packed  # cached until the log changes


def test_punch_logs_and_notifies(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    record = term.punch("123", punch=1, timestamp=datetime(2025, 1, 1, 9, 0, 0, 500))
    assert term.records == [record]
    assert record.timestamp.microsecond == 0
    assert events == [(p.EF_ATTLOG, events[0][1], None)]
    assert events[0][1][:3] == b"123"


def test_send_event_as_it_is(terminal: tuple[Terminal, list[Event]]) -> None:
    """Garbled events too: the client's decoder is under test, not the terminal."""
    term, events = terminal
    term.send_event(p.EF_ATTLOG, b"\xff" * 11)
    assert events == [(p.EF_ATTLOG, b"\xff" * 11, None)]
    assert term.records == []


def test_enrollment_success(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    assert term.start_enrollment(7, "123", 6)
    assert term.enrolling
    assert not term.enabled
    for _ in range(3):
        term.press_finger()
    assert [e[0] for e in events] == [p.EF_FINGER, p.EF_FPFTR] * 3 + [p.EF_ENROLLFINGER]
    assert {e[2] for e in events} == {7}
    assert events[1][1] == bytes((100,))
    assert enroll_results(events) == [p.ENROLL_OK]
    assert term.has_template("123", 6)
    assert term.enabled
    assert not term.enrolling


def test_bad_quality_press_does_not_count(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    term.start_enrollment(7, "123", 6)
    term.press_finger(PressOutcome.BAD_QUALITY)
    assert events[1] == (p.EF_FPFTR, b"\x00", 7)
    for _ in range(2):
        term.press_finger()
    assert term.enrolling
    term.press_finger()
    assert enroll_results(events) == [p.ENROLL_OK]


@pytest.mark.parametrize(
    ("outcome", "result"),
    [(PressOutcome.DUPLICATE, p.ENROLL_DUPLICATE), (PressOutcome.MISMATCH, p.ENROLL_FAILED)],
)
def test_failed_merges_are_reported_after_the_third_press(
    terminal: tuple[Terminal, list[Event]], outcome: PressOutcome, result: int
) -> None:
    term, events = terminal
    term.start_enrollment(7, "123", 6)
    term.press_finger(outcome)
    term.press_finger()
    term.press_finger()
    assert enroll_results(events) == [result]
    assert not term.has_template("123", 6)
    assert term.enabled


def test_full_finger_storage_is_a_save_error(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    term.capacity_fingers = 0
    term.start_enrollment(7, "123", 6)
    for _ in range(3):
        term.press_finger()
    assert enroll_results(events) == [p.ENROLL_SAVE_ERROR]


@pytest.mark.parametrize(("user_id", "finger"), [("999", 0), ("123", 10), ("123", -1), ("124", 1)])
def test_start_enrollment_refusals(
    terminal: tuple[Terminal, list[Event]], user_id: str, finger: int
) -> None:
    term, _ = terminal
    term.add_template("124", 1)
    assert not term.start_enrollment(7, user_id, finger)
    assert term.enabled


def test_only_one_enrollment_at_a_time(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    assert term.start_enrollment(7, "123", 0)
    assert not term.start_enrollment(8, "124", 0)


def test_cancel_and_timeout_report_result_6(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    term.start_enrollment(7, "123", 0)
    term.cancel_enrollment()
    term.enroll_timeout = 0.0
    term.start_enrollment(7, "123", 0)
    term.tick(time.monotonic() + 0.01)
    assert enroll_results(events) == [p.ENROLL_CANCELLED, p.ENROLL_CANCELLED]
    assert events[-1][1] == b"\x06\x00"
    assert term.enabled


def test_enroller_leaving_ends_enrollment_silently(
    terminal: tuple[Terminal, list[Event]],
) -> None:
    term, events = terminal
    term.set_enabled(False)
    term.start_enrollment(7, "123", 0)
    term.session_closed(8)
    assert term.enrolling
    term.session_closed(7)
    assert not term.enrolling
    assert term.enabled
    assert events == []


def test_press_without_enrollment_is_ignored(terminal: tuple[Terminal, list[Event]]) -> None:
    term, events = terminal
    assert not term.press_finger()
    assert events == []


def test_demo_auto_press_completes_an_enrollment(
    terminal: tuple[Terminal, list[Event]],
) -> None:
    term, events = terminal
    term.demo_auto_press = True
    term.start_enrollment(7, "123", 0)
    for _ in range(3):
        term.tick(time.monotonic() + 10)
    assert enroll_results(events) == [p.ENROLL_OK]


def test_clock_offset(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    term.set_clock(datetime(2030, 1, 1))
    assert abs((term.clock - datetime(2030, 1, 1)).total_seconds()) < 1


def test_unsupported_formats_are_rejected(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    term.record_size = 12
    with pytest.raises(ValueError, match="unsupported"):
        term.packed_records()


def test_wait_for(terminal: tuple[Terminal, list[Event]]) -> None:
    term, _ = terminal
    assert term.wait_for(lambda t: t.enabled, 0.1)
    assert not term.wait_for(lambda t: t.enrolling, 0.05)
