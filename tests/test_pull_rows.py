"""The terminal's user rows and template tables, as bytes (pull/rows.py).

What they do on the wire is tested through the terminal (test_pull_terminal.py); here is what a
simulator would not send.
"""

from __future__ import annotations

import struct

import pytest

from custom_components.zkteco.pull.rows import enrolled_fingers


@pytest.mark.parametrize(
    "table",
    [struct.pack("<IHHbb", 16, 2, 1, 0, 1), struct.pack("<IHHbb", 50, 40, 1, 0, 1)],
    ids=["entry_too_short", "entry_overruns"],
)
def test_malformed_template_table(table: bytes) -> None:
    with pytest.raises(ValueError, match="template table entry"):
        enrolled_fingers(table.ljust(20, b"\x00"))
