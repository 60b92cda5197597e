"""Enroll once, use everywhere: a finger enrolled on a terminal that shares new fingerprints
reaches the other terminals on its own (sharing.py).

The principal (the simulator) shares; almacen and oficina are two more simulated terminals set
up beside it (conftest's ``other_terminals``), with Ana and without Luis. Luis enrolls his right
index finger on the principal, where he has his right thumb already.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

from homeassistant.const import CONF_PORT
from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.zkteco.const import (
    CONF_DEVICE_ID,
    CONF_ENROLLMENT_PATH,
    CONF_PUSH,
    CONF_SHARE_FINGERPRINTS,
    DOMAIN,
    ENROLLMENT_PUSH,
    EVENT_ENROLLMENT_FINISHED,
    EVENT_FINGERPRINT_SHARED,
)
from zksim import ZKSimulator, protocol as p
from zksim.push import PushTerminal

from .conftest import (
    LUIS_THUMB_TEMPLATE,
    RIGHT_INDEX,
    RIGHT_THUMB,
    closed_port,
    enroll,
    entry_data,
    started,
    template_of,
    until,
    until_terminal,
)

SHARING = {CONF_SHARE_FINGERPRINTS: True}
LUIS_INDEX = 1  # the document's right index finger, RIGHT_INDEX on the terminal


@pytest.fixture
def entry_options() -> dict[str, object]:
    return SHARING


@pytest.fixture
def announced(hass: HomeAssistant) -> list[Event]:
    """The enrollment's end and the sharing, in the order they were fired."""
    events: list[Event] = []

    @callback
    def record(event: Event) -> None:
        events.append(event)

    for event_type in (EVENT_ENROLLMENT_FINISHED, EVENT_FINGERPRINT_SHARED):
        hass.bus.async_listen(event_type, record)
    return events


def shared(announced: list[Event]) -> list[dict[str, Any]]:
    return [dict(event.data) for event in announced if event.event_type == EVENT_FINGERPRINT_SHARED]


async def enroll_luis(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: ZKSimulator, announced: list[Event]
) -> dict[str, Any]:
    """Luis enrolls his right index finger on the principal; what the sharing announced."""
    assert await enroll(hass, entry, simulator, LUIS_INDEX, user_id="7") == "success"
    await until(lambda: bool(shared(announced)))
    await hass.async_block_till_done()
    [sharing] = shared(announced)
    return sharing


type Share = Callable[[], Awaitable[dict[str, Any]]]


@pytest.fixture
def share(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    other_terminals: dict[str, ZKSimulator],
    announced: list[Event],
) -> Share:
    """Luis enrolls on the principal, beside almacen and oficina; what the sharing announced."""
    return partial(enroll_luis, hass, init_integration, simulator, announced)


def failure(device_id: str, error: str, message: str, *, user_created: bool = False) -> Any:
    return {
        "device_id": device_id,
        "error": error,
        "message": message,
        "user_created": user_created,
    }


def luis_index(sim: ZKSimulator) -> bytes | None:
    return template_of(sim, "7", RIGHT_INDEX)


async def test_the_new_finger_reaches_the_other_terminals_one_failing(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    other_terminals: dict[str, ZKSimulator],
    share: Share,
    announced: list[Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Almacen gets Luis and that finger only; oficina refuses the templates; garaje is not
    set up. The enrollment's end is announced first; the sharing then says where it went."""
    almacen, oficina = other_terminals["almacen"], other_terminals["oficina"]
    oficina.refused_commands = {p.CMD_SAVE_USERTEMPS}
    garaje = MockConfigEntry(
        domain=DOMAIN,
        unique_id="CQUJ203960004",
        data={**entry_data(simulator, "garaje"), CONF_PORT: closed_port()},
    )
    garaje.add_to_hass(hass)
    await hass.config_entries.async_setup(garaje.entry_id)

    sharing = await share()

    assert [event.event_type for event in announced] == [
        EVENT_ENROLLMENT_FINISHED,
        EVENT_FINGERPRINT_SHARED,
    ]
    assert sharing == {
        "device_id": "principal",
        "user_id": "7",
        "finger_index": LUIS_INDEX,
        "finger_name": "Indice derecho",
        "copied_to": ["almacen"],
        "failed": [
            failure(
                "oficina",
                "terminal_refused",
                sharing["failed"][0]["message"],
                user_created=True,
            ),
            failure("garaje", "device_error", sharing["failed"][1]["message"]),
        ],
    }
    assert sharing["failed"][0]["message"].startswith("The terminal refused the change: ")
    assert sharing["failed"][1]["message"].startswith("The terminal could not be reached")
    new_template = luis_index(simulator)
    assert new_template is not None
    assert luis_index(almacen) == new_template
    assert template_of(almacen, "7", RIGHT_THUMB) is None  # the finger enrolled, no other
    luis = almacen.user_by_id("7")
    assert luis is not None
    assert (luis.name, luis.privilege) == ("Luis Perez", 14)
    assert luis_index(oficina) is None
    # Templates only pass through memory.
    assert "oficina (The terminal refused the change" in caplog.text
    for template in (new_template, LUIS_THUMB_TEMPLATE):
        assert template.hex() not in caplog.text
        assert repr(template) not in caplog.text + repr(sharing)


async def test_the_new_finger_wins_and_the_others_stay(
    simulator: ZKSimulator, other_terminals: dict[str, ZKSimulator], share: Share
) -> None:
    """Luis has that finger and his thumb at the almacen already: the finger he just enrolled
    replaces the old one there; his thumb and the person there stay as they are."""
    almacen = other_terminals["almacen"]
    almacen.add_user("7", "Luis P.")
    almacen.add_template("7", RIGHT_INDEX, b"SS21 an old index finger")
    almacen.add_template("7", RIGHT_THUMB, b"SS21 enrolled at the almacen")

    sharing = await share()

    assert sharing["copied_to"] == ["almacen", "oficina"]
    assert sharing["failed"] == []
    assert luis_index(almacen) == luis_index(simulator)
    assert template_of(almacen, "7", RIGHT_THUMB) == b"SS21 enrolled at the almacen"
    luis = almacen.user_by_id("7")
    assert luis is not None
    assert luis.name == "Luis P."


async def test_a_terminal_busy_enrolling_is_not_interrupted(
    hass: HomeAssistant, other_terminals: dict[str, ZKSimulator], share: Share
) -> None:
    """The almacen waits for Ana's finger: it is reported busy, and left enrolling."""
    almacen_entry = next(
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data[CONF_DEVICE_ID] == "almacen"
    )
    await almacen_entry.runtime_data.enrollment.async_start("123", 1)

    sharing = await share()

    assert sharing["copied_to"] == ["oficina"]
    assert sharing["failed"] == [
        failure(
            "almacen",
            "enrollment_in_progress",
            "An enrollment is already running on this terminal.",
        )
    ]
    assert other_terminals["almacen"].enrolling
    assert other_terminals["almacen"].user_by_id("7") is None
    await almacen_entry.runtime_data.enrollment.async_cancel()


@pytest.mark.usefixtures("short_timeout")
async def test_an_unreachable_terminal_is_reported(
    other_terminals: dict[str, ZKSimulator], share: Share
) -> None:
    """The oficina went away after it was set up."""
    oficina = other_terminals["oficina"]
    oficina.stop()

    sharing = await share()

    assert sharing["copied_to"] == ["almacen"]
    assert [(item["device_id"], item["error"]) for item in sharing["failed"]] == [
        ("oficina", "device_error")
    ]
    assert luis_index(oficina) is None


@pytest.mark.parametrize("entry_options", [{}])
async def test_nothing_shared_without_the_option(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    other_terminals: dict[str, ZKSimulator],
    announced: list[Event],
) -> None:
    assert await enroll(hass, init_integration, simulator, LUIS_INDEX, user_id="7") == "success"
    await hass.async_block_till_done()

    assert shared(announced) == []
    assert all(sim.user_by_id("7") is None for sim in other_terminals.values())


async def test_nothing_shared_when_the_enrollment_does_not_succeed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    other_terminals: dict[str, ZKSimulator],
    announced: list[Event],
) -> None:
    enrollment = init_integration.runtime_data.enrollment
    await enrollment.async_start("7", LUIS_INDEX)
    await enrollment.async_cancel()
    await hass.async_block_till_done()

    assert [event.data["result"] for event in announced] == ["cancelled"]
    assert all(sim.user_by_id("7") is None for sim in other_terminals.values())


async def test_nothing_shared_without_other_terminals(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    init_integration: MockConfigEntry,
    announced: list[Event],
) -> None:
    assert await enroll(hass, init_integration, simulator, LUIS_INDEX, user_id="7") == "success"
    await hass.async_block_till_done()

    assert shared(announced) == []


# -- Push: a terminal that calls Home Assistant --------------------------------------------------

PORTERIA_SERIAL = "CQUJ203960009"


@pytest.fixture
async def porteria(
    hass: HomeAssistant,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> AsyncIterator[PushTerminal]:
    """A third terminal, added in Push mode and calling; Luis was added at its keypad."""
    push = make_push_terminal(home_assistant_url, serial=PORTERIA_SERIAL)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Porteria",
        unique_id=PORTERIA_SERIAL,
        data={CONF_DEVICE_ID: "porteria", CONF_PUSH: True},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await started(hass, push)
    push.add_user("7", "Luis Perez", privilege=14)
    await until(lambda: "7" in entry.runtime_data.coordinator.known_users())
    yield push
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_push_terminal_cannot_take_it(share: Share, porteria: PushTerminal) -> None:
    """Templates are written over pull only: the Push terminal is reported, nothing sent."""
    sharing = await share()

    assert sharing["copied_to"] == ["almacen", "oficina"]
    assert sharing["failed"] == [
        failure(
            "porteria",
            "not_supported",
            "The way terminal porteria is connected does not allow this.",
        )
    ]
    assert not porteria.terminal.has_template("7", RIGHT_INDEX)
    assert porteria.results == []


@pytest.mark.parametrize(
    "entry_options", [{**SHARING, CONF_ENROLLMENT_PATH: ENROLLMENT_PUSH}], ids=["through_push"]
)
async def test_a_finger_enrolled_through_push_is_read_over_pull(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    two_way_entry: MockConfigEntry,
    two_way_terminal: PushTerminal,
    other_terminals: dict[str, ZKSimulator],
    announced: list[Event],
) -> None:
    """The principal talks both ways and enrolls through Push; its template is read over
    pull and reaches the others."""
    two_way_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(two_way_entry.entry_id)
    two_way_terminal.start()
    await until_terminal(hass, two_way_terminal, lambda t: t.polls >= 1)

    sharing = await enroll_luis(hass, two_way_entry, simulator, announced)

    assert sharing["copied_to"] == ["almacen", "oficina"]
    assert luis_index(other_terminals["almacen"]) == luis_index(simulator)
    await hass.config_entries.async_unload(two_way_entry.entry_id)


async def test_a_push_terminal_cannot_give_it(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
    other_terminals: dict[str, ZKSimulator],
    announced: list[Event],
) -> None:
    """A terminal added in Push mode only keeps no template Home Assistant could read: each
    other terminal is reported, saying why."""
    push = make_push_terminal(home_assistant_url)
    push_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await started(hass, push)
    push.add_user("7", "Luis Perez", privilege=14)
    await until(lambda: "7" in push_entry.runtime_data.coordinator.known_users())

    sharing = await enroll_luis(hass, push_entry, push.terminal, announced)

    message = "The way terminal principal is connected does not allow this."
    assert sharing["copied_to"] == []
    assert sharing["failed"] == [
        failure("almacen", "not_supported", message),
        failure("oficina", "not_supported", message),
    ]
    assert all(sim.user_by_id("7") is None for sim in other_terminals.values())
    await hass.config_entries.async_unload(push_entry.entry_id)
