"""python -m zksim as a process: prints where it listens, stops cleanly on SIGTERM."""

from __future__ import annotations

import re

from zk import ZK

from .conftest import zksim_process


def test_cli_serves_and_exits_cleanly() -> None:
    with zksim_process("--port", "0", "--udp", "--demo", "--comm-key", "7") as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        zk = ZK("127.0.0.1", port=int(match.group(1)), timeout=2, password=7, ommit_ping=True)
        zk._ZK__sock.close()  # pyzk opens a socket in __init__ it never uses
        conn = zk.connect()
        assert "Ana Garcia" in [u.name for u in conn.get_users()]
        conn.disconnect()
