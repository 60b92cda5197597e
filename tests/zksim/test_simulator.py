"""Lifecycle of ZKSimulator: start, stop, context manager, reboot."""

from __future__ import annotations

import socket
import threading

import pytest

from zksim import ZKSimulator

from .conftest import RawFactory, SimFactory


def test_start_binds_an_ephemeral_port_and_stop_is_idempotent() -> None:
    sim = ZKSimulator(udp=True).start()
    try:
        assert sim.port > 0
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
    finally:
        sim.stop()
    sim.stop()
    assert not any(t.name.startswith("zksim") for t in threading.enumerate())


def test_context_manager() -> None:
    with ZKSimulator(users=2, records=3) as sim:
        assert sim.port
        assert len(sim.users) == 2
        assert len(sim.records) == 3
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=0.5).close()


def test_reboot_refuses_connections_for_a_while(make_sim: SimFactory, make_raw: RawFactory) -> None:
    sim = make_sim(users=1)
    sim.reboot_duration = 0.3
    client = make_raw(sim)
    assert sim.start_enrollment(1, "1", 0)
    sim.reboot()
    assert sim.rebooting
    assert not sim.enrolling
    with pytest.raises(ConnectionError):
        client.receive()
    assert sim.wait_for(lambda s: not s.rebooting, 2)
    make_raw(sim)
    assert sim.sessions == 1
    assert sim.enabled
