"""Time writing 10 fingerprint templates to the simulator over TCP, with and without Nagle.

Run: .venv/bin/python bench/bench_templates.py
pyzk's TCP socket keeps Nagle's algorithm on; the integration's has TCP_NODELAY. Two sessions
write the same templates to the same simulator in the same run, taking turns: the baseline has
Nagle on again, the other keeps TCP_NODELAY. Nagle holds a write back while an earlier one is
unacknowledged, so the second half has punches arriving during the writes: acknowledging a
realtime event is the one place where the client writes twice without reading in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.zkteco.channel import FingerTemplate
from custom_components.zkteco.pull.terminal import TerminalConfig, ZKTerminal
from devtools.bench_harness import Row, print_table
from zksim import ZKSimulator
from zksim.records import fake_template

TEMPLATES = 10  # every finger a person has
ROUNDS = 50
PUNCH_EVERY = 0.002


def open_terminal(sim: ZKSimulator, nodelay: bool) -> ZKTerminal:
    terminal = ZKTerminal(TerminalConfig("127.0.0.1", sim.port, timeout=10), on_events=drop_events)
    terminal.connect()
    terminal.register_events()
    with socket.fromfd(terminal.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
    return terminal


def drop_events(_events: object) -> None:
    """Events are handed over and dropped: only the writes are timed."""


@contextmanager
def punching(sim: ZKSimulator, user_id: str, on: bool) -> Iterator[None]:
    stop = threading.Event()

    def punch() -> None:
        while not stop.wait(PUNCH_EVERY):
            sim.punch(user_id)

    thread = threading.Thread(target=punch, daemon=True)
    if on:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if on:
            thread.join()


def timed_writes(sim: ZKSimulator, with_punches: bool) -> dict[bool, list[float]]:
    """Seconds per write of TEMPLATES templates, by TCP_NODELAY; the two sockets take turns."""
    user_id = sim.users[0].user_id
    templates = [
        FingerTemplate(finger, fake_template(user_id, finger)) for finger in range(TEMPLATES)
    ]
    terminals = {nodelay: open_terminal(sim, nodelay) for nodelay in (False, True)}
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        with punching(sim, user_id, with_punches):
            for _ in range(ROUNDS):
                for nodelay, terminal in terminals.items():
                    started = time.perf_counter()
                    terminal.write_templates(user_id, templates)
                    times[nodelay].append(time.perf_counter() - started)
                    terminal.read_events(0)
    finally:
        for terminal in terminals.values():
            terminal.close()
    return times


def rows(label: str, times: dict[bool, list[float]]) -> list[Row]:
    nagle, nodelay = (statistics.median(times[flag]) for flag in (False, True))
    slowest = {flag: max(times[flag]) * 1000 for flag in (False, True)}
    return [
        Row(f"{label}, pyzk's socket (Nagle on), p50", f"{nagle * 1000:.2f} ms (baseline)"),
        Row(f"{label}, TCP_NODELAY, p50", f"{nodelay * 1000:.2f} ms ({nodelay / nagle:.2f}x)"),
        Row(f"{label}, max Nagle / TCP_NODELAY", f"{slowest[False]:.1f} / {slowest[True]:.1f} ms"),
    ]


def main() -> None:
    with ZKSimulator(users=1) as sim:
        sim.event_window = 100  # punches keep coming while the client is busy writing
        quiet = timed_writes(sim, with_punches=False)
        busy = timed_writes(sim, with_punches=True)
    label = f"{TEMPLATES} templates over TCP, {ROUNDS} writes"
    print_table([*rows(label, quiet), *rows(f"{label} among punches", busy)])


if __name__ == "__main__":
    main()
