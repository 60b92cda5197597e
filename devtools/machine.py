"""What a benchmark ran on, for its table: figures mean little without the machine."""

from __future__ import annotations

from dataclasses import dataclass
import os
import platform


def describe_machine() -> str:
    """CPU model, core count and Python version, e.g. "AMD EPYC 7B13, 8 cores, Python 3.14.2"."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass(frozen=True)
class Row:
    """A line of a benchmark's table: what was measured, the figure, the goal if there is one."""

    measure: str
    value: str
    goal: str = ""


def print_table(rows: list[Row]) -> None:
    """The machine, then the rows in aligned columns."""
    print(f"Machine: {describe_machine()}")
    width = max(len(row.measure) for row in rows)
    value_width = max(len(row.value) for row in rows)
    print(f"{'measure':<{width}}  {'value':<{value_width}}  goal")
    for row in rows:
        print(f"{row.measure:<{width}}  {row.value:<{value_width}}  {row.goal}")
