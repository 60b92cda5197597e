"""python -m zksim: run a simulated K40 until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from .demo import seed_demo
from .push import PushTerminal
from .simulator import ZKSimulator
from .terminal import Terminal


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zksim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4370)
    parser.add_argument("--udp", action="store_true", help="also serve UDP on the same port")
    parser.add_argument("--comm-key", type=int, default=0)
    parser.add_argument("--users", type=int, default=0, help="numbered users to create")
    parser.add_argument("--records", type=int, default=0, help="attendance records to create")
    parser.add_argument("--demo", action="store_true", help="named users, history, live punches")
    parser.add_argument("--serial", default="CQUJ203960001")
    parser.add_argument(
        "--push", metavar="URL", help="run in Push mode against this server (http://host:port)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    if args.push:
        run_push(args, stopped)
    else:
        run_pull(args, stopped)
    print("zksim stopped", flush=True)


def run_push(args: argparse.Namespace, stopped: threading.Event) -> None:
    terminal = Terminal(args.serial)
    terminal.add_numbered_users(args.users)
    terminal.add_records(args.records)
    if args.demo:
        seed_demo(terminal)
    with PushTerminal(args.push, terminal):
        print(f"zksim {terminal.device_name} {args.serial} pushing to {args.push}", flush=True)
        stopped.wait()


def run_pull(args: argparse.Namespace, stopped: threading.Event) -> None:
    sim = ZKSimulator(
        args.host, args.port, args.udp, args.comm_key, args.serial, args.users, args.records
    )
    if args.demo:
        seed_demo(sim)
    with sim:
        transport = "tcp+udp" if args.udp else "tcp"
        print(
            f"zksim {sim.device_name} listening on {args.host}:{sim.port} ({transport})", flush=True
        )
        stopped.wait()


if __name__ == "__main__":
    main()
