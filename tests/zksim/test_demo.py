"""Demo content."""

from __future__ import annotations

import random
import time

from zksim.demo import DEMO_USERS, seed_demo
from zksim.terminal import Terminal


def test_seed_demo() -> None:
    terminal = Terminal()
    seed_demo(terminal, random.Random(1))
    ana = terminal.user_by_id("123")
    assert ana is not None
    assert ana.name == "Ana Garcia"
    assert terminal.has_template("123", 6)
    assert len(terminal.users) == len(DEMO_USERS)
    assert 100 < len(terminal.records) < 1000
    assert terminal.records == sorted(terminal.records, key=lambda r: r.timestamp)
    assert terminal.demo_auto_press


def test_demo_punches_happen_on_their_own() -> None:
    terminal = Terminal()
    seed_demo(terminal)
    terminal.demo_punch_interval = (0.0, 0.0)
    history = len(terminal.records)
    now = time.monotonic()
    terminal.tick(now)  # schedules the next punch
    terminal.tick(now + 1)  # due: somebody punches
    assert len(terminal.records) == history + 1
