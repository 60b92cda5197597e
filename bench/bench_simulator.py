"""Time the real pyzk reading 100,000 records and 3,000 users from the simulator.

Run: .venv/bin/python bench/bench_simulator.py
The baseline lines are measured in the same run: building and packing the data in the
simulator itself, i.e. the part of each figure the simulator is responsible for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zk import ZK

from zksim import ZKSimulator
from zksim.protocol import CMD_ATTLOG_RRQ
from zksim.terminal import Terminal

RECORDS = 100_000
USERS = 3_000


def timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"{label:<52} {time.perf_counter() - started:8.3f} s")
    return result


def baseline() -> None:
    terminal = Terminal()
    timed(f"baseline: load {USERS:,} users + {RECORDS:,} records", lambda: _load(terminal))
    timed(f"baseline: pack {RECORDS:,} records (40 bytes)", terminal.packed_records)
    timed(f"baseline: pack {USERS:,} users (72 bytes)", terminal.packed_users)


def _load(terminal: Terminal) -> None:
    terminal.add_numbered_users(USERS)
    terminal.add_records(RECORDS)


def pyzk_reads(sim: ZKSimulator, udp: bool) -> None:
    transport = "udp" if udp else "tcp"
    conn = ZK("127.0.0.1", port=sim.port, timeout=10, force_udp=udp, ommit_ping=True).connect()
    try:
        users = timed(f"pyzk {transport}: get_users() {USERS:,}", conn.get_users)
        timed(
            f"pyzk {transport}: read_with_buffer(ATTLOG) transfer only",
            lambda: conn.read_with_buffer(CMD_ATTLOG_RRQ),
        )
        records = timed(f"pyzk {transport}: get_attendance() {RECORDS:,}", conn.get_attendance)
        assert (len(users), len(records)) == (USERS, RECORDS)
    finally:
        conn.disconnect()


def main() -> None:
    baseline()
    with ZKSimulator(udp=True, users=USERS, records=RECORDS) as sim:
        for udp in (False, True):
            sim.reset_stats()
            pyzk_reads(sim, udp)
            print(f"{'':<52} {sim.bytes_out / 1e6:8.1f} MB served")


if __name__ == "__main__":
    main()
