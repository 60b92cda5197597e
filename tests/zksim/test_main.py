"""python -m zksim as a process: prints where it listens, stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path
import re
import signal
import subprocess
import sys

from zk import ZK

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_and_exits_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "zksim", "--port", "0", "--udp", "--demo", "--comm-key", "7"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        zk = ZK("127.0.0.1", port=int(match.group(1)), timeout=2, password=7, ommit_ping=True)
        zk._ZK__sock.close()  # pyzk opens a socket in __init__ it never uses
        conn = zk.connect()
        assert "Ana Garcia" in [u.name for u in conn.get_users()]
        conn.disconnect()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert "stopped" in process.stdout.read()
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
