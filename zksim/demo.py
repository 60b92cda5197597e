"""Demo content: a small Spanish office with some history and people punching."""

from __future__ import annotations

from datetime import datetime, timedelta
import random

from .records import Record
from .terminal import Terminal

DEMO_USERS = (
    ("123", "Ana Garcia", 14),
    ("124", "Luis Martinez", 0),
    ("125", "Carmen Lopez", 0),
    ("126", "Javier Sanchez", 0),
    ("127", "Lucia Fernandez", 0),
    ("128", "Miguel Romero", 0),
)
DEMO_HISTORY_DAYS = 14
DEMO_PUNCH_INTERVAL = (20.0, 40.0)


def seed_demo(terminal: Terminal, rng: random.Random | None = None) -> None:
    """Users (Ana Garcia, 123, with a finger), two weeks of punches, live punches on."""
    rng = rng or random.Random(123)
    for user_id, name, privilege in DEMO_USERS:
        terminal.add_user(user_id, name, privilege=privilege)
    terminal.add_template("123", 6)
    terminal.add_template("124", 5)
    today = terminal.clock.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(DEMO_HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=days_ago)
        if day.weekday() < 5:
            _working_day(terminal, day, rng)
    terminal.demo_auto_press = True
    terminal.demo_punch_interval = DEMO_PUNCH_INTERVAL


def _working_day(terminal: Terminal, day: datetime, rng: random.Random) -> None:
    """Four punches per person: in, out for lunch, back, out (punch 0 = in, 1 = out)."""
    day_log = [
        Record(user.uid, user.user_id, _around(day, hour, rng), 1, punch)
        for user in terminal.users
        for hour, punch in ((8, 0), (14, 1), (15, 0), (18, 1))
    ]
    terminal.log_history(sorted(day_log, key=lambda record: record.timestamp))


def _around(day: datetime, hour: int, rng: random.Random) -> datetime:
    return day + timedelta(hours=hour, minutes=rng.randint(-20, 20), seconds=rng.randint(0, 59))
