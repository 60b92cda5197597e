"""Enrollment against the simulated terminal: the presses, every outcome, and the terminal after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.zkteco.channel import (
    EnrollmentOutcome,
    EnrollmentResult,
    TerminalConnectionError,
)
from custom_components.zkteco.const import (
    DEFAULT_SCAN_INTERVAL,
    EVENT_ENROLLMENT_FINISHED,
    EVENT_ENROLLMENT_PRESS,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from custom_components.zkteco.enrollment import (
    EnrollmentBusy,
    EnrollmentManager,
    FingerAlreadyEnrolled,
    TerminalUnavailable,
    terminal_finger,
)
from custom_components.zkteco.pull.channel import ENROLLMENT_TIMEOUT
from custom_components.zkteco.pull.terminal import ZKTerminal
from zksim import PressOutcome, ZKSimulator
from zksim.protocol import (
    CMD_CANCELCAPTURE,
    CMD_CONNECT,
    CMD_DISABLEDEVICE,
    CMD_ENABLEDEVICE,
    CMD_GET_FREE_SIZES,
    CMD_STARTENROLL,
)

from .conftest import RIGHT_INDEX

ENROLLMENT_SENSOR = "sensor.principal_enrollment"
FINGERPRINTS_SENSOR = "sensor.principal_fingerprints"
ANA = {
    "user_id": "123",
    "device_id": "principal",
    "finger_index": 1,
    "finger_name": "Indice derecho",
}
# Short, so that the terminal's own timeout ends the enrollment within the test.
TERMINAL_TIMEOUT = 0.2


@dataclass
class Watch:
    """What Home Assistant shows of an enrollment: its events and the sensor's states."""

    presses: list[tuple[int, str]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    states: list[str | None] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def recorder[T](self, into: list[T], value: Callable[[Event[Any]], T]) -> Callable[..., None]:
        @callback
        def record(event: Event[Any]) -> None:
            into.append(value(event))
            self.changed.set()

        return record

    async def until(self, hass: HomeAssistant, condition: Callable[[], bool]) -> None:
        """Wait for the terminal's events: they reach Home Assistant from the worker's thread."""
        async with asyncio.timeout(5):
            while not condition():
                self.changed.clear()
                await self.changed.wait()
        await hass.async_block_till_done()

    async def result(self, hass: HomeAssistant) -> dict[str, Any]:
        await self.until(hass, lambda: bool(self.finished))
        (finished,) = self.finished
        return finished


@pytest.fixture(params=[PROTOCOL_TCP, PROTOCOL_UDP])
def protocol(request: pytest.FixtureRequest) -> str:
    """Enrollment runs on realtime events, which both transports carry."""
    return str(request.param)


@pytest.fixture
def manager(init_integration: MockConfigEntry) -> EnrollmentManager:
    return init_integration.runtime_data.enrollment


@pytest.fixture
def watch(hass: HomeAssistant, init_integration: MockConfigEntry) -> Watch:
    watch = Watch()
    hass.bus.async_listen(
        EVENT_ENROLLMENT_PRESS,
        watch.recorder(watch.presses, lambda event: (event.data["press"], event.data["quality"])),
    )
    hass.bus.async_listen(
        EVENT_ENROLLMENT_FINISHED, watch.recorder(watch.finished, lambda event: dict(event.data))
    )
    async_track_state_change_event(
        hass,
        ENROLLMENT_SENSOR,
        watch.recorder(
            watch.states, lambda event: (state := event.data["new_state"]) and state.state
        ),
    )
    return watch


def assert_terminal_released(simulator: ZKSimulator) -> None:
    """People must be able to use the terminal again, whatever the outcome."""
    assert not simulator.enrolling
    assert simulator.enabled


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_three_presses_enroll_the_finger(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager, watch: Watch
) -> None:
    """Each press is announced, the template is stored, and the new finger counted at once."""
    assert await manager.async_start("123", 1) == ANA
    simulator.reset_stats()

    for press in (1, 2, 3):
        simulator.press_finger(PressOutcome.GOOD)
        await watch.until(hass, lambda press=press: len(watch.presses) == press)

    assert await watch.result(hass) == {**ANA, "result": "success"}
    assert watch.presses == [(1, "good"), (2, "good"), (3, "good")]
    assert watch.states == ["waiting_press_1", "waiting_press_2", "waiting_press_3", "success"]
    assert hass.states.get(ENROLLMENT_SENSOR).attributes["presses"] == 3
    assert simulator.has_template("123", RIGHT_INDEX)
    assert state_of(hass, FINGERPRINTS_SENSOR) == "2"
    assert CMD_GET_FREE_SIZES not in simulator.commands  # counted without a poll
    assert CMD_ENABLEDEVICE in simulator.commands
    assert_terminal_released(simulator)


async def test_terminal_waits_in_enrollment_mode_not_disabled(
    simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    """What the protocol documents and pyzk do: cancel the capture, then start the enrollment.

    The terminal then verifies nobody, so nobody punches; CMD_DISABLEDEVICE would shield the
    sensor that must read the finger.
    """
    simulator.reset_stats()

    await manager.async_start("123", 1)

    assert simulator.commands[-2:] == [CMD_CANCELCAPTURE, CMD_STARTENROLL]
    assert CMD_DISABLEDEVICE not in simulator.commands
    assert simulator.enrolling
    assert not simulator.enabled


def cancel_on_terminal(sim: ZKSimulator) -> None:
    sim.cancel_enrollment()


def press(*outcomes: PressOutcome) -> Callable[[ZKSimulator], None]:
    def do(sim: ZKSimulator) -> None:
        for outcome in outcomes:
            sim.press_finger(outcome)

    return do


@pytest.mark.parametrize(
    ("terminal_does", "result"),
    [
        pytest.param(press(*[PressOutcome.DUPLICATE] * 3), "duplicate", id="duplicate"),
        pytest.param(
            press(PressOutcome.GOOD, PressOutcome.MISMATCH, PressOutcome.GOOD),
            "bad_quality",
            id="samples_do_not_merge",
        ),
        # The bad press does not count; the person gives up and the terminal times out.
        pytest.param(press(PressOutcome.GOOD, PressOutcome.BAD_QUALITY), "bad_quality", id="bad"),
        pytest.param(press(), "timeout", id="timeout"),
        # The terminal reports a cancel on its keypad as it reports a timeout.
        pytest.param(cancel_on_terminal, "timeout", id="cancelled_on_terminal"),
    ],
)
async def test_terminal_ends_without_a_template(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    manager: EnrollmentManager,
    watch: Watch,
    terminal_does: Callable[[ZKSimulator], None],
    result: str,
) -> None:
    """Whatever goes wrong at the terminal is told, and the terminal is usable again."""
    simulator.enroll_timeout = TERMINAL_TIMEOUT
    await manager.async_start("123", 1)

    terminal_does(simulator)

    assert (await watch.result(hass))["result"] == result
    assert state_of(hass, ENROLLMENT_SENSOR) == result
    assert state_of(hass, FINGERPRINTS_SENSOR) == "1"
    assert not simulator.has_template("123", RIGHT_INDEX)
    assert_terminal_released(simulator)


async def test_bad_press_is_announced(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager, watch: Watch
) -> None:
    """A bad press asks for the same press again."""
    await manager.async_start("123", 1)

    simulator.press_finger(PressOutcome.GOOD)
    simulator.press_finger(PressOutcome.BAD_QUALITY)
    await watch.until(hass, lambda: len(watch.presses) == 2)

    assert watch.presses == [(1, "good"), (2, "bad")]
    assert state_of(hass, ENROLLMENT_SENSOR) == "waiting_press_2"


async def cancel(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.enrollment.async_cancel()


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.config_entries.async_unload(entry.entry_id)


async def stop_home_assistant(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)


@pytest.mark.parametrize("end", [cancel, unload, stop_home_assistant])
async def test_home_assistant_ends_the_enrollment(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    manager: EnrollmentManager,
    watch: Watch,
    end: Callable[[HomeAssistant, MockConfigEntry], Awaitable[None]],
) -> None:
    """Cancelled, unloaded or stopping: the terminal is taken out of enrollment and enabled."""
    await manager.async_start("123", 1)
    simulator.reset_stats()

    await end(hass, init_integration)
    await hass.async_block_till_done()

    assert (await watch.result(hass))["result"] == "cancelled"
    assert simulator.commands[:2] == [CMD_CANCELCAPTURE, CMD_ENABLEDEVICE]
    assert_terminal_released(simulator)


@pytest.mark.parametrize("protocol", [PROTOCOL_TCP])  # a lost UDP session shows no loss
async def test_lost_connection_restores_the_terminal_once_back(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    manager: EnrollmentManager,
    watch: Watch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The terminal reboots mid-enrollment: failed, and restored as soon as it answers again."""
    await manager.async_start("123", 1)
    simulator.reboot_duration = 0
    simulator.max_sessions = 0  # still refusing sessions after the reboot

    simulator.reboot()

    assert (await watch.result(hass))["result"] == "failed"
    assert "could not be re-enabled now" in caplog.text
    simulator.max_sessions = None
    simulator.reset_stats()
    await init_integration.runtime_data.coordinator.async_refresh()
    assert simulator.commands[:3] == [CMD_CONNECT, CMD_CANCELCAPTURE, CMD_ENABLEDEVICE]
    assert_terminal_released(simulator)


@pytest.mark.parametrize("protocol", [PROTOCOL_TCP])  # a lost UDP session shows no loss
async def test_enrollment_started_right_behind_a_release_is_released_too(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    manager: EnrollmentManager,
    watch: Watch,
) -> None:
    """The end of one and the start of the next run back to back on the worker: the news that
    the first was released must not cancel the release the second will need."""
    await manager.async_start("123", 1)
    simulator.reset_stats()
    cancelling = asyncio.ensure_future(manager.async_cancel())
    starting = asyncio.ensure_future(manager.async_start("123", 2))
    await asyncio.sleep(0)  # both are queued on the worker
    # Holding the event loop: it hears of the release only once the next enrollment began.
    assert simulator.wait_for(lambda sim: CMD_STARTENROLL in sim.commands and sim.enrolling)
    await cancelling
    await starting
    simulator.reboot_duration = 0
    simulator.max_sessions = 0  # the release after the reboot cannot be sent at once

    simulator.reboot()

    await watch.until(hass, lambda: len(watch.finished) == 2)
    assert [finished["result"] for finished in watch.finished] == ["cancelled", "failed"]
    simulator.max_sessions = None
    simulator.reset_stats()
    await init_integration.runtime_data.coordinator.async_refresh()
    assert simulator.commands[:3] == [CMD_CONNECT, CMD_CANCELCAPTURE, CMD_ENABLEDEVICE]


async def settle(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.async_block_till_done()


@pytest.mark.parametrize("then", [settle, unload], ids=["running", "unloaded_at_once"])
async def test_terminal_that_never_reports_the_end(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    manager: EnrollmentManager,
    watch: Watch,
    caplog: pytest.LogCaptureFixture,
    then: Callable[[HomeAssistant, MockConfigEntry], Awaitable[None]],
) -> None:
    """Home Assistant's own deadline ends an enrollment the terminal forgot about.

    Unloaded right then, the session closes only once the terminal is released.
    """
    simulator.enroll_timeout = 3600
    await manager.async_start("123", 1)
    simulator.reply_delay = 0.05  # the release is still under way when the unload begins

    async_fire_time_changed(hass, dt_util.utcnow() + ENROLLMENT_TIMEOUT + timedelta(seconds=1))
    await then(hass, init_integration)

    assert [finished["result"] for finished in watch.finished] == ["timeout"]
    assert "never reported the end of an enrollment" in caplog.text
    assert_terminal_released(simulator)


async def test_result_of_the_enrollment_before_is_ignored(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager, watch: Watch
) -> None:
    """The end of a cancelled enrollment, announced as the next one starts, does not end it.

    The simulator cannot time its announcement into that moment: it is handed over directly.
    """
    simulator.reply_delay = 0.05  # the terminal is still agreeing when the result comes
    start = hass.async_create_task(manager.async_start("123", 1))
    assert manager.active

    manager.on_event(EnrollmentResult(EnrollmentOutcome.TIMEOUT_OR_CANCELLED))

    assert await start == ANA
    assert watch.finished == []
    assert simulator.enrolling
    await manager.async_cancel()


async def poll(hass: HomeAssistant) -> None:
    """Let the next scheduled poll run."""
    async_fire_time_changed(hass, dt_util.utcnow() + DEFAULT_SCAN_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_polling_pauses_during_enrollment(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    """Polls would interrupt the terminal while it waits for the finger."""
    await manager.async_start("123", 1)
    simulator.reset_stats()

    await poll(hass)
    assert simulator.commands == []

    await manager.async_cancel()
    await poll(hass)
    assert CMD_GET_FREE_SIZES in simulator.commands


async def test_user_added_at_the_terminal_since_the_last_poll(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    """Unknown to Home Assistant yet: the users are read again; two requests still make one."""
    simulator.add_user("55", "Marta Ruiz")
    simulator.reply_delay = 0.02  # both requests are reading the users when the first goes on

    results = await asyncio.gather(
        manager.async_start("55", 1), manager.async_start("55", 2), return_exceptions=True
    )

    assert {type(result) for result in results} == {dict, EnrollmentBusy}
    assert simulator.enrolling


@pytest.mark.usefixtures("short_timeout")  # an unanswered UDP request waits for the timeout
async def test_users_cannot_be_read(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    simulator.stop()

    with pytest.raises(TerminalUnavailable) as err:
        await manager.async_start("55", 1)

    assert err.value.translation_key == "device_error"


async def test_unloaded_while_the_terminal_agrees(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    manager: EnrollmentManager,
    watch: Watch,
) -> None:
    """The caller is told it failed, and the terminal is released, not left enrolling."""
    simulator.reply_delay = 0.1  # the unload comes while the terminal is still answering

    start, _ = await asyncio.gather(
        manager.async_start("123", 1),
        hass.config_entries.async_unload(init_integration.entry_id),
        return_exceptions=True,
    )

    assert isinstance(start, TerminalUnavailable)
    assert (await watch.result(hass))["result"] == "cancelled"
    assert_terminal_released(simulator)
    # Closed and answered: the simulator is idle again when the test stops it.
    assert simulator.wait_for(lambda sim: sim.sessions == 0)


@pytest.mark.parametrize("protocol", [PROTOCOL_UDP])
async def test_terminal_rebooted_since_the_last_poll(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager, watch: Watch
) -> None:
    """Over UDP nothing tells the reboot: the start meets the forgotten session and runs again."""
    simulator.reboot_duration = 0
    simulator.reboot()
    assert simulator.wait_for(lambda sim: sim.sessions == 0)

    assert await manager.async_start("123", 1) == ANA
    simulator.press_finger(PressOutcome.GOOD)
    await watch.until(hass, lambda: len(watch.presses) == 1)


async def test_answer_lost_after_asking_to_enroll(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    """The terminal may be waiting for a finger though its answer never came: release it."""
    start = ZKTerminal.start_enrollment

    def start_then_lose_the_answer(terminal: ZKTerminal, user_id: str, finger: int) -> None:
        start(terminal, user_id, finger)
        raise TerminalConnectionError("the answer was lost")  # no simulator fault does this

    with (
        patch.object(ZKTerminal, "start_enrollment", start_then_lose_the_answer),
        pytest.raises(TerminalUnavailable),
    ):
        await manager.async_start("123", 1)
    assert simulator.commands[-2:] == [CMD_CANCELCAPTURE, CMD_ENABLEDEVICE]
    assert_terminal_released(simulator)


@pytest.mark.parametrize(
    ("finger_index", "terminal_fid"),
    [(0, 5), (1, 6), (2, 7), (3, 8), (4, 9), (5, 4), (6, 3), (7, 2), (8, 1), (9, 0)],
)
def test_the_terminal_counts_fingers_from_the_left_little(
    finger_index: int, terminal_fid: int
) -> None:
    """The document counts from the right thumb, the terminal from the left little finger."""
    assert terminal_finger(finger_index) == terminal_fid


async def test_the_terminal_enrolls_the_finger_chosen(
    hass: HomeAssistant, simulator: ZKSimulator, manager: EnrollmentManager, watch: Watch
) -> None:
    """Index 1, the right index, is the terminal's finger 6: its screen shows the right finger."""
    await manager.async_start("123", 1)
    for _ in range(3):
        simulator.press_finger(PressOutcome.GOOD)
    assert (await watch.result(hass))["result"] == "success"
    assert simulator.has_template("123", 6)
    assert not simulator.has_template("123", 1)


async def test_already_enrolled_means_the_same_finger_on_the_terminal(
    simulator: ZKSimulator, manager: EnrollmentManager
) -> None:
    """The terminal's finger 1 is the left ring: it does not make index 1 (right index) taken."""
    simulator.add_template("123", 1)
    await manager.async_start("123", 1)
    await manager.async_cancel()

    simulator.add_template("123", 6)
    with pytest.raises(FingerAlreadyEnrolled):
        await manager.async_start("123", 1)


OUTCOMES = [
    (EnrollmentOutcome.SUCCESS, [], "success"),
    (EnrollmentOutcome.DUPLICATE, [], "duplicate"),
    (EnrollmentOutcome.ALREADY_ENROLLED, [], "already_enrolled"),
    (EnrollmentOutcome.CAPTURE_FAILED, [], "bad_quality"),
    (EnrollmentOutcome.TIMEOUT_OR_CANCELLED, [], "timeout"),
    (EnrollmentOutcome.CANCELLED, [], "cancelled"),
    (EnrollmentOutcome.BUSY, [], "busy"),
    (EnrollmentOutcome.USER_NOT_FOUND, [], "user_not_found"),
    (EnrollmentOutcome.NOT_SUPPORTED, [], "not_supported"),
    (EnrollmentOutcome.FAILED, [], "failed"),
    # The terminal gave up right after a bad press: the press is the reason worth telling.
    (EnrollmentOutcome.TIMEOUT_OR_CANCELLED, [PressOutcome.BAD_QUALITY], "bad_quality"),
    (EnrollmentOutcome.FAILED, [PressOutcome.BAD_QUALITY], "bad_quality"),
    (EnrollmentOutcome.CANCELLED, [PressOutcome.BAD_QUALITY], "cancelled"),
    (EnrollmentOutcome.DUPLICATE, [PressOutcome.BAD_QUALITY], "duplicate"),
]


@pytest.mark.parametrize(("outcome", "presses", "result"), OUTCOMES)
async def test_each_outcome_is_told(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    manager: EnrollmentManager,
    watch: Watch,
    outcome: EnrollmentOutcome,
    presses: list[PressOutcome],
    result: str,
) -> None:
    """Whichever transport reported it, an outcome has one state and one result.

    The pull simulator cannot end an enrollment in each of these ways: handed over directly.
    """
    await manager.async_start("123", 1)
    press(*presses)(simulator)
    await watch.until(hass, lambda: len(watch.presses) == len(presses))

    manager.on_event(EnrollmentResult(outcome))

    assert (await watch.result(hass))["result"] == result
    assert state_of(hass, ENROLLMENT_SENSOR) == result
    assert_terminal_released(simulator)
