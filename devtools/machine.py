"""What a benchmark ran on, for its table: figures mean little without the machine."""

from __future__ import annotations

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
