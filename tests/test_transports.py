"""The same behaviour whichever way a terminal talks: pull (Home Assistant calls the simulated K40
on port 4370) or Push (the simulated Push K40 calls Home Assistant).

One body per test, run once per transport, each terminal a configured entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.zkteco.enrollment import EnrollmentManager
from zksim import PressOutcome, ZKSimulator
from zksim.push import PushTerminal
from zksim.records import Record

from .conftest import PUSH_SERIAL, Seen, started, until, until_terminal


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """The Push punch journal is a real file in `.storage`: one directory per test."""
    return hass_tmp_config_dir


class SimulatedTerminal(Protocol):
    """What both simulators let a test do at the terminal."""

    @property
    def enrolling(self) -> bool: ...

    def punch(self, user_id: str) -> Record: ...

    def press_finger(self, outcome: PressOutcome = PressOutcome.GOOD) -> bool: ...


@dataclass
class Transport:
    """A terminal Home Assistant serves, one way or the other."""

    terminal: SimulatedTerminal
    serial: str
    enrollment_of: Callable[[], EnrollmentManager]
    """The enrollment manager (an entry's exists once it is set up)."""
    prepare: Callable[[], Awaitable[None]]
    """Have the terminal talk to Home Assistant, which knows user 123, Ana Garcia."""
    settle: Callable[[], Awaitable[None]]
    """Let whatever the terminal still has to say reach Home Assistant."""


def pull_transport(hass: HomeAssistant, request: pytest.FixtureRequest) -> Transport:
    simulator: ZKSimulator = request.getfixturevalue("simulator")
    entry: MockConfigEntry = request.getfixturevalue("init_integration")

    async def prepare() -> None:
        """The entry is set up: it polled the terminal once."""

    async def settle() -> None:
        # A poll reads the log: what realtime events delivered is not delivered again.
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()

    return Transport(
        simulator, simulator.serial, lambda: entry.runtime_data.enrollment, prepare, settle
    )


def push_transport(hass: HomeAssistant, request: pytest.FixtureRequest) -> Transport:
    entry: MockConfigEntry = request.getfixturevalue("push_entry")
    url: str = request.getfixturevalue("home_assistant_url")
    make_push_terminal: Callable[..., PushTerminal] = request.getfixturevalue("make_push_terminal")
    push = make_push_terminal(url)

    async def prepare() -> None:
        """The entry is set up, the terminal calls; Ana Garcia is added at its keypad."""
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await started(hass, push)
        await entry.runtime_data.coordinator.async_refresh()
        push.add_user("123", "Ana Garcia")
        await until(lambda: "123" in entry.runtime_data.coordinator.known_users())

    async def settle() -> None:
        await until_terminal(hass, push, lambda t: not any(t.unacknowledged.values()))
        await hass.async_block_till_done()

    return Transport(
        push.terminal, PUSH_SERIAL, lambda: entry.runtime_data.enrollment, prepare, settle
    )


@pytest.fixture(params=[pull_transport, push_transport], ids=["pull", "push"])
def transport_of_a_kind(
    hass: HomeAssistant, request: pytest.FixtureRequest, socket_enabled: None
) -> Transport:
    make: Callable[[HomeAssistant, pytest.FixtureRequest], Transport] = request.param
    return make(hass, request)


@pytest.fixture
async def transport(transport_of_a_kind: Transport) -> Transport:
    await transport_of_a_kind.prepare()
    return transport_of_a_kind


async def test_a_punch_fires_once_with_the_same_data(
    hass: HomeAssistant, transport: Transport, seen: Seen
) -> None:
    record = transport.terminal.punch("123")
    await until(lambda: bool(seen.punches))
    await transport.settle()

    time = record.timestamp.replace(tzinfo=dt_util.get_default_time_zone())
    assert seen.punches == [
        {
            "device_id": "principal",
            "serial_number": transport.serial,
            "user_id": "123",
            "name": "Ana Garcia",
            "time": time.isoformat(),
            "punch": 0,
            "kind": "check_in",
            "verify": 1,
            "verified_by": "fingerprint",
            "caught_up": False,
        }
    ]


async def enroll(transport: Transport, seen: Seen, press: PressOutcome) -> list[str]:
    """Finger 1 of user 123, three presses as `press`: the results announced."""
    await transport.enrollment_of().async_start("123", 1)
    await until(lambda: transport.terminal.enrolling)
    for _ in range(3):
        transport.terminal.press_finger(press)
    await until(lambda: bool(seen.finished))
    await transport.settle()
    return seen.finished


async def test_three_presses_enroll(transport: Transport, seen: Seen) -> None:
    assert await enroll(transport, seen, PressOutcome.GOOD) == ["success"]


async def test_a_finger_of_someone_else_is_a_duplicate(transport: Transport, seen: Seen) -> None:
    assert await enroll(transport, seen, PressOutcome.DUPLICATE) == ["duplicate"]
