"""Fixtures: a simulated K40 on loopback and a config entry that points at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import socket
import struct
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_IGNORE, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, Platform, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, TestClient
from syrupy.assertion import SnapshotAssertion

# Imported at module level on purpose: the test plugin ships a `custom_components` package of
# its own, and Home Assistant would otherwise load that one instead of ours.
from custom_components.zkteco import PLATFORMS
from custom_components.zkteco.attendance import (
    AttendanceTracker,
    bus_publisher,
    delivered_store,
)
from custom_components.zkteco.channel import ChannelEvent, EnrollmentResult, TerminalUser
from custom_components.zkteco.const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_PROTOCOL,
    CONF_PUSH,
    DOMAIN,
    EVENT_ATTENDANCE,
    EVENT_ENROLLMENT_FINISHED,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from custom_components.zkteco.enrollment import EnrollmentManager
from custom_components.zkteco.push import commands
from custom_components.zkteco.push.channel import PushChannel
from custom_components.zkteco.push.commands import DEFAULT_DELAY
from custom_components.zkteco.push.queue import FinishedCommand
from custom_components.zkteco.push.server import PushHub, PushRequest, async_get_push_hub
from custom_components.zkteco.push.uploads import AttLogUpload, DeviceInfo, OperLogUpload
from zksim import ZKSimulator
from zksim.push import PushTerminal

SNAPSHOTS_HA_VERSION = "2026.10.4"
# The terminal's own finger numbers (FID) of the API's finger indexes used in the tests.
RIGHT_THUMB = 5  # index 0
RIGHT_INDEX = 6  # index 1
HISTORY_START = datetime(2026, 11, 2, 8, 0, 0)
# A terminal that stops answering must fail fast in tests, not after the real timeout.
SHORT_TIMEOUT = 0.2
HISTORY_RECORDS = 20
# After the simulator's history (20 records from 2026-11-02 08:00, one every 5 minutes).
PUNCH_TIME = datetime(2026, 11, 3, 9, 0, 0)
# A 32-byte EF_ATTLOG payload no firmware should send, but a garbled one might.
PUNCH_ON_FEBRUARY_30 = struct.pack("<24sBB6s", b"123", 1, 0, bytes((26, 2, 30, 9, 0, 0)))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's serializer and tests/snapshots/ (syrupy shadows the plugin's fixture)."""
    if HA_VERSION != SNAPSHOTS_HA_VERSION:
        # Other versions serialize registry entries and attributes differently; what the
        # snapshots show is asserted by the other tests on every version.
        pytest.skip(f"snapshots are taken with Home Assistant {SNAPSHOTS_HA_VERSION}")
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def short_timeout() -> Iterator[None]:
    """Exchanges with the terminal give up after a fraction of a second."""
    with patch("custom_components.zkteco.pull.channel.CONNECT_TIMEOUT", SHORT_TIMEOUT):
        yield


def closed_port() -> int:
    """A port on loopback where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Runs a test over each protocol a terminal speaks.
BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", [PROTOCOL_TCP, PROTOCOL_UDP])


@pytest.fixture
def simulator(socket_enabled: None) -> Iterator[ZKSimulator]:
    """A K40 with two users, one fingerprint and some history, on an ephemeral port.

    It serves UDP on the same port too, as a real K40 does: each test picks its transport.
    """
    sim = ZKSimulator(host="127.0.0.1", port=0, udp=True)
    sim.add_user("123", "Ana Garcia")
    sim.add_user("7", "Luis Perez", privilege=14)
    sim.add_template("7", RIGHT_THUMB)
    sim.add_records(HISTORY_RECORDS, start=HISTORY_START)
    sim.enroll_timeout = 2.0
    sim.start()
    yield sim
    sim.stop()


def entry_data(sim: ZKSimulator, device_id: str = "principal") -> dict[str, object]:
    """What the config flow stores for a terminal."""
    return {
        CONF_DEVICE_ID: device_id,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_COMM_KEY: sim.comm_key,
        CONF_PROTOCOL: PROTOCOL_TCP,
    }


@pytest.fixture
def entry_options() -> dict[str, object]:
    """The options of the test's terminal (override in a module, or parametrize)."""
    return {}


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms to set up (a snapshot of one platform overrides it)."""
    return PLATFORMS


@pytest.fixture
def protocol() -> str:
    """The transport of the test's terminal (override in a module, or parametrize)."""
    return PROTOCOL_TCP


@pytest.fixture
def config_entry(
    simulator: ZKSimulator, entry_options: dict[str, object], protocol: str
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Principal",
        unique_id=simulator.serial,
        data={**entry_data(simulator), CONF_PROTOCOL: protocol},
        options=entry_options,
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, config_entry: MockConfigEntry, platforms: list[Platform]
) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the simulator; unloaded afterwards so the worker stops."""
    config_entry.add_to_hass(hass)
    with patch("custom_components.zkteco.PLATFORMS", platforms):
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
    yield config_entry
    if (
        hass.config_entries.async_get_entry(config_entry.entry_id)
        and config_entry.state.recoverable
    ):
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


def punch(sim: ZKSimulator, minute: int, user_id: str = "123", kind: int = 0) -> None:
    """A punch at a distinct time, so that no two punches of a test look the same."""
    sim.punch(user_id, punch=kind, timestamp=PUNCH_TIME + timedelta(minutes=minute))


async def until(condition: Callable[[], bool]) -> None:
    """Let the worker thread hand its events to the event loop."""
    async with asyncio.timeout(5):
        # The condition changes in callbacks the worker thread schedules: nothing to await.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def add_unreachable_terminal(hass: HomeAssistant, sim: ZKSimulator) -> None:
    """The terminal "principal", configured but not set up: Home Assistant retries it later.

    Beside it, an ignored discovery: an entry without a device id.
    """
    MockConfigEntry(domain=DOMAIN, source=SOURCE_IGNORE, unique_id=sim.mac).add_to_hass(hass)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=sim.serial, data={**entry_data(sim), CONF_PORT: closed_port()}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


# -- More terminals: enroll once, use everywhere ------------------------------------------------

LUIS_THUMB_TEMPLATE = b"SS21" + bytes(range(256)) * 2  # what Luis enrolled on the principal


@pytest.fixture
async def other_terminals(
    hass: HomeAssistant,
    simulator: ZKSimulator,
    protocol: str,
) -> AsyncIterator[dict[str, ZKSimulator]]:
    """Two more terminals set up beside the principal, almacen and oficina, with Ana and
    without Luis."""
    simulator.add_template("7", RIGHT_THUMB, LUIS_THUMB_TEMPLATE)
    others: dict[str, ZKSimulator] = {}
    entries = []
    for number, device_id in enumerate(("almacen", "oficina"), start=2):
        sim = ZKSimulator(host="127.0.0.1", port=0, udp=True, serial=f"CQUJ20396000{number}")
        sim.add_user("123", "Ana Garcia")
        sim.start()
        others[device_id] = sim
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=device_id,
            unique_id=sim.serial,
            data={**entry_data(sim, device_id), CONF_PROTOCOL: protocol},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        entries.append(entry)
    await hass.async_block_till_done()
    yield others
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    for sim in others.values():
        sim.stop()


def template_of(sim: ZKSimulator, user_id: str, finger: int) -> bytes | None:
    """The template the terminal holds for this finger (its own number) of this user."""
    user = sim.user_by_id(user_id)
    template = None if user is None else sim.template_of(user.uid, finger)
    return None if template is None else template.template


# -- Push mode: a served terminal's sink, and a simulated Push K40 ------------------------------

PUSH_SERIAL = "CQUJ203960001"
PUSH_TIME_SCALE = 0.01  # the handshake's Delay=5 polls every 50 ms, ErrorDelay=30 waits 300 ms
ATTLOG_LINE = "1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0"


@dataclass
class RecordingSink:
    """A push channel that records what the hub hands it; storing can be held or made to fail."""

    punches: list[AttLogUpload] = field(default_factory=list)
    operations: list[OperLogUpload] = field(default_factory=list)
    infos: list[DeviceInfo] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    finished: list[FinishedCommand] = field(default_factory=list)
    storing: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event | None = None
    fail: bool = False

    async def async_store_punches(self, upload: AttLogUpload) -> None:
        self.storing.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise OSError("disk full")
        self.punches.append(upload)

    async def async_store_operations(self, upload: OperLogUpload) -> None:
        if self.fail:
            raise OSError("disk full")
        self.operations.append(upload)

    def device_info(self, info: DeviceInfo) -> None:
        self.infos.append(info)

    def contacted(self, endpoint: str) -> None:
        self.contacts.append(endpoint)

    @property
    def users_punching(self) -> list[str]:
        return [record.user_id for upload in self.punches for record in upload.records]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def make_push_terminal(
    hass: HomeAssistant,
) -> AsyncIterator[Callable[..., PushTerminal]]:
    """Simulated Push K40s with users 1..3 calling `url`; stopped off the event loop at the end.

    Stopping joins the terminal's thread, which may be in the middle of a request: the event
    loop has to go on serving it meanwhile.
    """
    made: list[PushTerminal] = []

    def factory(url: str, serial: str = PUSH_SERIAL, **settings: Any) -> PushTerminal:
        push = PushTerminal(url, serial=serial, time_scale=PUSH_TIME_SCALE)
        push.terminal.add_numbered_users(3)
        for name, value in settings.items():
            setattr(push, name, value)
        made.append(push)
        return push

    yield factory
    for push in made:
        await hass.async_add_executor_job(push.close)


async def until_terminal(
    hass: HomeAssistant, push: PushTerminal, check: Callable[[PushTerminal], Any]
) -> None:
    """Let the Push terminal work (the event loop serves it meanwhile) until `check` holds."""
    assert await hass.async_add_executor_job(push.wait_for, lambda t: bool(check(t)))


# -- Home Assistant's Push server and a simulated Push K40 calling it ---------------------------


@pytest.fixture
async def hub(hass: HomeAssistant) -> PushHub:
    """The hub, its views on Home Assistant's server."""
    assert await async_setup_component(hass, "http", {})
    return async_get_push_hub(hass)


@pytest.fixture
async def client(hass_client_no_auth: ClientSessionGenerator, hub: PushHub) -> TestClient:
    """Home Assistant's server, on loopback."""
    return await hass_client_no_auth()


@pytest.fixture
def make_push(
    client: TestClient, make_push_terminal: Callable[..., PushTerminal]
) -> Callable[..., PushTerminal]:
    """Simulated Push K40s whose Cloud Server points at Home Assistant."""
    return partial(make_push_terminal, f"http://127.0.0.1:{client.port}")


@pytest.fixture
def push(make_push: Callable[..., PushTerminal]) -> PushTerminal:
    return make_push()


# -- Home Assistant's side of a Push terminal, without a config entry ---------------------------


@pytest.fixture
def push_delay() -> int:
    """The poll interval the handshake asks for (override with parametrize)."""
    return DEFAULT_DELAY


@dataclass
class Seen:
    """What Home Assistant announced, and what the channel emitted."""

    punches: list[dict[str, Any]] = field(default_factory=list)
    events: list[ChannelEvent] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[EnrollmentResult]:
        return [event for event in self.events if isinstance(event, EnrollmentResult)]


@pytest.fixture
def seen(hass: HomeAssistant) -> Seen:
    seen = Seen()
    hass.bus.async_listen(EVENT_ATTENDANCE, callback(lambda e: seen.punches.append(e.data)))
    hass.bus.async_listen(
        EVENT_ENROLLMENT_FINISHED, callback(lambda e: seen.finished.append(e.data["result"]))
    )
    return seen


class ChannelUsers:
    """The users a channel knows, as the coordinator hands them to attendance and enrollment."""

    def __init__(self, channel: PushChannel) -> None:
        self._channel = channel
        self.users: dict[str, TerminalUser] = {}

    def known_users(self) -> dict[str, TerminalUser]:
        return self.users

    async def async_refresh_users(self) -> dict[str, TerminalUser]:
        self.users = {user.user_id: user for user in await self._channel.async_read_users()}
        return self.users


@dataclass
class PushSide:
    """Home Assistant's side of one Push terminal: its channel, attendance and enrollment."""

    channel: PushChannel
    users: ChannelUsers
    tracker: AttendanceTracker
    enrollment: EnrollmentManager


@pytest.fixture
async def open_push_side(
    hass: HomeAssistant, hub: PushHub, seen: Seen, push_delay: int
) -> AsyncIterator[Callable[[], Awaitable[PushSide]]]:
    """Home Assistant's side, started (again, after a restart: over the same storage)."""
    entry = MockConfigEntry(domain=DOMAIN, title="Principal")
    entry.add_to_hass(hass)
    opened: list[PushSide] = []

    async def open_push_side() -> PushSide:
        zone = dt_util.get_default_time_zone()
        channel = PushChannel(hass, PUSH_SERIAL, "Principal", time_zone=zone, delay=push_delay)
        users = ChannelUsers(channel)
        tracker = AttendanceTracker(
            channel,
            delivered_store(hass, entry.entry_id),
            name="Principal",
            users=users.known_users,
            localize=lambda when: when.replace(tzinfo=zone),
            publish=bus_publisher(hass, "principal", PUSH_SERIAL),
        )
        manager = EnrollmentManager(
            hass, entry, channel, users, device_id="principal", on_enrolled=lambda: None
        )
        channel.async_add_listener(seen.events.append)
        channel.async_add_listener(tracker.on_event)
        channel.async_add_listener(manager.on_event)
        await tracker.async_load()
        await channel.async_open(hub)
        opened.append(side := PushSide(channel, users, tracker, manager))
        return side

    yield open_push_side
    for side in opened:
        await side.enrollment.async_shutdown()
        await side.channel.async_stop()


@pytest.fixture
async def push_side(open_push_side: Callable[[], Awaitable[PushSide]]) -> PushSide:
    return await open_push_side()


async def hand(hub: PushHub, method: str, endpoint: str, body: str = "", **query: str) -> str:
    """A request as a terminal sends it, written by hand."""
    request = PushRequest(
        method, f"/iclock/{endpoint}", {"SN": PUSH_SERIAL, **query}, body.encode()
    )
    return (await hub.async_handle(request)).text


async def started(hass: HomeAssistant, push: PushTerminal) -> PushTerminal:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    return push


async def know_user(
    hass: HomeAssistant, side: PushSide, user_id: str, name: str = "Ana Garcia"
) -> None:
    """Home Assistant writes the user to the terminal: the channel knows it once answered."""
    command_id = await side.channel.queue.async_add(commands.update_user(user_id, name=name))
    await side.channel.queue.async_wait_finished(command_id)
    await side.users.async_refresh_users()


# -- Entries of terminals that call Home Assistant ---------------------------------------------


@pytest.fixture
def push_entry(entry_options: dict[str, object]) -> MockConfigEntry:
    """A terminal added in Push mode: known by its serial number, no address."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Principal",
        unique_id=PUSH_SERIAL,
        data={CONF_DEVICE_ID: "principal", CONF_PUSH: True},
        options=entry_options,
    )


@pytest.fixture
async def home_assistant_url(
    hass: HomeAssistant, hass_client_no_auth: Callable[[], Awaitable[Any]]
) -> str:
    """Home Assistant's server on loopback with the integration's Push server on it (views are
    registered before the server starts)."""
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client_no_auth()
    return f"http://127.0.0.1:{client.port}"


@pytest.fixture
async def two_way_terminal(
    hass: HomeAssistant, simulator: ZKSimulator, home_assistant_url: str
) -> AsyncIterator[PushTerminal]:
    """The simulator's terminal, its Cloud Server pointing at Home Assistant too (not started)."""
    push = PushTerminal(home_assistant_url, simulator, time_scale=PUSH_TIME_SCALE)
    yield push
    await hass.async_add_executor_job(push.close)


@pytest.fixture
def two_way_entry(simulator: ZKSimulator, entry_options: dict[str, object]) -> MockConfigEntry:
    """The simulator's terminal added in pull mode, with Push attached."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Principal",
        unique_id=simulator.serial,
        data={**entry_data(simulator), CONF_PUSH: True},
        options=entry_options,
    )


async def enroll(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    simulator: ZKSimulator,
    finger_index: int,
    user_id: str = "123",
) -> str:
    """Enroll a finger of the user with three good presses; the result the event gives."""
    finished = async_capture_events(hass, EVENT_ENROLLMENT_FINISHED)
    await entry.runtime_data.enrollment.async_start(user_id, finger_index)
    # A Push terminal shows its capture screen just after the poll that took the command.
    assert await hass.async_add_executor_job(simulator.wait_for, lambda sim: sim.enrolling)
    for _ in range(3):
        assert simulator.press_finger()
    await until(lambda: len(finished) == 1)
    return str(finished[0].data["result"])
