"""Adding (by hand or discovered), re-authenticating, reconfiguring and tuning a terminal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.config_entries import (
    SOURCE_DHCP,
    SOURCE_IGNORE,
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.helpers.translation import async_get_translations
from homeassistant.loader import async_get_dhcp
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.zkteco.combined import CombinedChannel
from custom_components.zkteco.const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_ENROLLMENT_PATH,
    CONF_KEEP_CLOCK,
    CONF_LISTENER_PORT,
    CONF_PROTOCOL,
    CONF_PUSH,
    CONF_SERIAL_NUMBER,
    CONF_SHARE_FINGERPRINTS,
    CONF_SOURCE_ADDRESS,
    CONF_TIMEZONE,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    ENROLLMENT_AUTOMATIC,
    ENROLLMENT_PATHS,
    ENROLLMENT_PULL,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from custom_components.zkteco.push.server import REFUSED
from custom_components.zkteco.push_setup import (
    async_release_listener,
    async_use_listener,
    listener_ports,
)
from zksim import ZKSimulator
from zksim.push import PushTerminal

from .conftest import PUSH_SERIAL, closed_port, entry_data, until, until_terminal

OTHER_SERIAL = "CQUJ203960999"
COMM_KEY = 4321
# Where the entry of a terminal that has since moved still points (TEST-NET-1: nobody there).
OLD_HOST = "192.0.2.10"


@pytest.fixture(autouse=True)
async def unload_entries(hass: HomeAssistant) -> AsyncIterator[None]:
    """Entries created or reloaded by a flow run a worker thread: stop it after the test."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def other_simulator(socket_enabled: None) -> Iterator[ZKSimulator]:
    """A second terminal, with another serial number."""
    with ZKSimulator(serial=OTHER_SERIAL) as sim:
        yield sim


@pytest.fixture
def udp_simulator(socket_enabled: None) -> Iterator[ZKSimulator]:
    with ZKSimulator(udp=True) as sim:
        yield sim


@pytest.fixture
def twin_simulator(simulator: ZKSimulator) -> Iterator[ZKSimulator]:
    """The same terminal (same serial number) answering on another port."""
    with ZKSimulator(serial=simulator.serial) as sim:
        yield sim


def add_entry(hass: HomeAssistant, sim: ZKSimulator, serial: str) -> MockConfigEntry:
    """A terminal already added (not set up), reached at ``sim``, known by ``serial``."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=serial, data=entry_data(sim))
    entry.add_to_hass(hass)
    return entry


def connection_input(port: int, **changes: Any) -> dict[str, Any]:
    """What a person types in the reconfigure step (selectors hand numbers over as floats)."""
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: float(port),
        CONF_COMM_KEY: 0.0,
        CONF_PROTOCOL: PROTOCOL_TCP,
        **changes,
    }


def user_input(port: int, **changes: Any) -> dict[str, Any]:
    """What a person types in the user step, with a stray space around the host."""
    return connection_input(
        port, **{CONF_DEVICE_ID: "principal", CONF_HOST: " 127.0.0.1 ", **changes}
    )


async def choose(hass: HomeAssistant, mode: str) -> ConfigFlowResult:
    """Start adding a terminal by hand: who calls whom is asked first."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["pull", "push"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": mode}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == mode
    assert result["errors"] == {}
    return result


async def start_user_flow(hass: HomeAssistant) -> str:
    """Home Assistant calls the terminal: today's form."""
    return (await choose(hass, "pull"))["flow_id"]


async def submit(hass: HomeAssistant, flow_id: str, port: int, **changes: Any) -> ConfigFlowResult:
    """Fill in the user step (again, after an error)."""
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(port, **changes))
    await hass.async_block_till_done()
    return result


async def add_terminal(hass: HomeAssistant, port: int, **changes: Any) -> ConfigFlowResult:
    """Fill in the user step once."""
    return await submit(hass, await start_user_flow(hass), port, **changes)


def assert_added(
    result: ConfigFlowResult, sim: ZKSimulator, device_id: str, comm_key: int = 0
) -> None:
    """The terminal of ``sim`` was added as typed, is known by its serial number and set up.

    No name is asked: the entry is called by its device id (users rename entries).
    """
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == device_id
    assert result["data"] == {
        CONF_DEVICE_ID: device_id,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_COMM_KEY: comm_key,
        CONF_PROTOCOL: PROTOCOL_TCP,
    }
    assert result["result"].unique_id == sim.serial
    assert result["result"].state is ConfigEntryState.LOADED


async def test_user_step_creates_entry(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """The terminal is read once; its serial number becomes the unique id."""
    result = await add_terminal(hass, simulator.port, **{CONF_DEVICE_ID: "puerta"})

    assert_added(result, simulator, device_id="puerta")


async def test_user_step_asks_no_name_and_requires_the_device_id(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """The device id goes into URLs and automations: it is chosen, never made up."""
    result = await choose(hass, "pull")
    fields = {key.schema: key for key in result["data_schema"].schema}
    assert CONF_NAME not in fields
    assert isinstance(fields[CONF_DEVICE_ID], vol.Required)

    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {k: v for k, v in user_input(simulator.port).items() if k != CONF_DEVICE_ID},
        )


async def test_udp(hass: HomeAssistant, udp_simulator: ZKSimulator) -> None:
    """Older firmware speaks UDP only."""
    result = await add_terminal(hass, udp_simulator.port, **{CONF_PROTOCOL: PROTOCOL_UDP})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROTOCOL] == PROTOCOL_UDP
    assert result["result"].unique_id == udp_simulator.serial
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    "device_id", ["Principal", "con espacio", "-guion", "a" * 33, "puerta/1", "ñandu"]
)
async def test_invalid_device_id(
    hass: HomeAssistant, simulator: ZKSimulator, device_id: str
) -> None:
    """A device id goes into URLs; the terminal is not even contacted for a bad one."""
    simulator.reset_stats()
    result = await add_terminal(hass, simulator.port, **{CONF_DEVICE_ID: device_id})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE_ID: "invalid_device_id"}
    assert simulator.commands == []


async def test_duplicate_device_id(
    hass: HomeAssistant, simulator: ZKSimulator, other_simulator: ZKSimulator
) -> None:
    """Two terminals cannot share a device id, even when they are different terminals."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=OTHER_SERIAL, data=entry_data(other_simulator)
    ).add_to_hass(hass)
    result = await add_terminal(hass, simulator.port, **{CONF_DEVICE_ID: "principal"})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE_ID: "duplicate_device_id"}


async def test_already_configured(
    hass: HomeAssistant, simulator: ZKSimulator, twin_simulator: ZKSimulator
) -> None:
    """The same terminal (same serial) at another address is still the same terminal."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=simulator.serial, data=entry_data(simulator)
    ).add_to_hass(hass)
    result = await add_terminal(hass, twin_simulator.port, **{CONF_DEVICE_ID: "otra"})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_already_configured_terminal_allowing_one_session(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """Typed again at the same address: known without a session the terminal cannot give."""
    simulator.max_sessions = 1
    simulator.reset_stats()
    result = await add_terminal(hass, simulator.port, **{CONF_DEVICE_ID: "otra"})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert simulator.commands == []


@pytest.mark.usefixtures("short_timeout")
async def test_cannot_connect_then_recovers(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Nothing listening, then a terminal that does not answer, then one that does."""
    flow_id = await start_user_flow(hass)
    result = await submit(hass, flow_id, closed_port())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    simulator.unresponsive = True
    result = await submit(hass, flow_id, simulator.port)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    simulator.unresponsive = False
    result = await submit(hass, flow_id, simulator.port)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_invalid_auth_then_recovers(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    simulator.comm_key = COMM_KEY
    flow_id = await start_user_flow(hass)
    result = await submit(hass, flow_id, simulator.port, **{CONF_COMM_KEY: 1234.0})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await submit(hass, flow_id, simulator.port, **{CONF_COMM_KEY: float(COMM_KEY)})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_COMM_KEY] == COMM_KEY
    assert result["result"].state is ConfigEntryState.LOADED


async def test_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The comm key changed on the terminal: a wrong one is refused, the new one kept."""
    simulator.comm_key = COMM_KEY
    result = await init_integration.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {CONF_NAME: "Principal"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_COMM_KEY: 1.0})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_COMM_KEY: float(COMM_KEY)}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert init_integration.data[CONF_COMM_KEY] == COMM_KEY
    assert init_integration.state is ConfigEntryState.LOADED


async def test_reauth_wrong_terminal(
    hass: HomeAssistant, simulator: ZKSimulator, other_simulator: ZKSimulator
) -> None:
    """The entry's address now answers with another terminal."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=simulator.serial, data=entry_data(other_simulator)
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_COMM_KEY: 0.0})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_terminal"
    assert entry.data == entry_data(other_simulator)


async def test_reconfigure_new_address(
    hass: HomeAssistant, init_integration: MockConfigEntry, twin_simulator: ZKSimulator
) -> None:
    """The terminal moved; after an unreachable address, the right one is saved and used."""
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(closed_port())
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert init_integration.state is ConfigEntryState.LOADED  # at its old address meanwhile

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(twin_simulator.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.data[CONF_PORT] == twin_simulator.port
    assert init_integration.data[CONF_DEVICE_ID] == "principal"
    assert init_integration.state is ConfigEntryState.LOADED
    assert twin_simulator.wait_for(lambda sim: sim.sessions == 1)


async def test_reconfigure_wrong_terminal(
    hass: HomeAssistant, init_integration: MockConfigEntry, other_simulator: ZKSimulator
) -> None:
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(other_simulator.port)
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_terminal"
    assert init_integration.data[CONF_PORT] != other_simulator.port
    assert init_integration.state is ConfigEntryState.LOADED


async def test_reconfigure_terminal_allowing_one_session(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The entry holds the terminal's only session: it lets go of it for the check."""
    simulator.max_sessions = 1
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(simulator.port)
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.state is ConfigEntryState.LOADED
    assert simulator.sessions == 1


@pytest.mark.usefixtures("short_timeout")
async def test_reconfigure_unreachable_entry(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """An entry still waiting for its terminal at the old address is set up at the new one."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=simulator.serial,
        data={**entry_data(simulator), CONF_PORT: closed_port()},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(simulator.port)
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert entry.state is ConfigEntryState.LOADED


async def test_options(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The timezone, Home Assistant's offered first, which reaches the coordinator; the clock
    kept right and new fingers not shared unless told.

    No poll interval: punches come as realtime events, and homeassistant.update_entity polls
    on demand.
    """
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    defaults = {key.schema: key.default() for key in result["data_schema"].schema}
    assert defaults == {
        CONF_TIMEZONE: hass.config.time_zone,
        CONF_KEEP_CLOCK: True,
        CONF_SHARE_FINGERPRINTS: False,
    }
    await assert_translated(
        hass,
        "options.step.init.data.keep_clock",
        "options.step.init.data.share_fingerprints",
    )

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TIMEZONE: "America/Bogota"}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {
        CONF_TIMEZONE: "America/Bogota",
        CONF_KEEP_CLOCK: True,
        CONF_SHARE_FINGERPRINTS: False,
    }
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.timezone == ZoneInfo("America/Bogota")
    assert coordinator.data.clock.tzinfo == ZoneInfo("America/Bogota")


@pytest.mark.parametrize("entry_options", [{CONF_SCAN_INTERVAL: 5}])
async def test_poll_interval_saved_by_an_older_version_is_ignored(
    init_integration: MockConfigEntry,
) -> None:
    """The entry still sets up; it polls like every other."""
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.coordinator.update_interval == DEFAULT_SCAN_INTERVAL


# -- discovery -----------------------------------------------------------------------------------


@pytest.fixture
def discovery_port(simulator: ZKSimulator) -> Iterator[None]:
    """Discovery probes port 4370, where terminals listen: here, the simulator's port."""
    with patch("custom_components.zkteco.config_flow.DEFAULT_PORT", simulator.port):
        yield


def dhcp_mac(sim: ZKSimulator) -> str:
    """The terminal's MAC as DHCP discovery hands it over: lower case, no colons."""
    return sim.mac.replace(":", "").lower()


async def discover(hass: HomeAssistant, sim: ZKSimulator) -> ConfigFlowResult:
    """The terminal asked the network for an address, and got 127.0.0.1."""
    return await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_DHCP},
        data=DhcpServiceInfo(ip="127.0.0.1", hostname="k40", macaddress=dhcp_mac(sim)),
    )


async def discovered_form(hass: HomeAssistant, sim: ZKSimulator, step_id: str) -> ConfigFlowResult:
    """Discover the terminal of ``sim``; the flow must show the form ``step_id`` first."""
    result = await discover(hass, sim)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    return result


async def discovery_abort_reason(hass: HomeAssistant, sim: ZKSimulator) -> str:
    """Why discovering the terminal of ``sim`` ended at once."""
    result = await discover(hass, sim)
    assert result["type"] is FlowResultType.ABORT
    return str(result["reason"])


def add_moved_entry(hass: HomeAssistant, sim: ZKSimulator) -> MockConfigEntry:
    """The terminal of ``sim``, added when it had another address."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=sim.serial, data={**entry_data(sim), CONF_HOST: OLD_HOST}
    )
    entry.add_to_hass(hass)
    return entry


def register_device(hass: HomeAssistant, entry: MockConfigEntry, sim: ZKSimulator) -> None:
    """The device an entry registers for its terminal, with the terminal's MAC."""
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(entry.domain, sim.serial)},
        connections={(dr.CONNECTION_NETWORK_MAC, sim.mac)},
    )


async def test_dhcp_requests_of_zkteco_terminals_reach_us(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """ZKTeco's MAC prefix, and terminals already added whatever their MAC."""
    matchers = [matcher for matcher in await async_get_dhcp(hass) if matcher["domain"] == DOMAIN]

    assert {"domain": DOMAIN, "registered_devices": True} in matchers
    assert any(
        dhcp_mac(simulator).startswith(matcher.get("macaddress", "").rstrip("*").lower())
        for matcher in matchers
        if "macaddress" in matcher
    )


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_creates_entry(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """The terminal is read, shown with a device id to confirm, and added."""
    result = await discovered_form(hass, simulator, "discovery_confirm")
    assert result["description_placeholders"] == {
        CONF_HOST: "127.0.0.1",
        "mac": "00:17:61:c8:31:07",
        "model": "K40",
        "serial": simulator.serial,
    }
    device_id = next(key for key in result["data_schema"].schema if key == CONF_DEVICE_ID)
    assert device_id.description == {"suggested_value": "k40"}  # from the model

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: "puerta_norte"}
    )
    await hass.async_block_till_done()

    assert_added(result, simulator, device_id="puerta_norte")


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_of_terminal_with_comm_key(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """The comm key is asked first: the terminal cannot be read without it."""
    simulator.comm_key = COMM_KEY
    result = await discovered_form(hass, simulator, "discovery_comm_key")
    assert result["description_placeholders"] == {
        CONF_HOST: "127.0.0.1",
        "mac": "00:17:61:c8:31:07",
    }

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_COMM_KEY: 1.0})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_COMM_KEY: float(COMM_KEY)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"]["serial"] == simulator.serial

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: "principal"}
    )
    await hass.async_block_till_done()
    assert_added(result, simulator, device_id="principal", comm_key=COMM_KEY)


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_checks_like_the_user_step(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """A bad device id is refused, and what was typed is kept."""
    result = await discover(hass, simulator)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: "con espacio", CONF_COMM_KEY: 7.0}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["errors"] == {CONF_DEVICE_ID: "invalid_device_id"}
    comm_key = next(key for key in result["data_schema"].schema if key.schema == CONF_COMM_KEY)
    assert comm_key.default() == 7.0


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_follows_a_terminal_that_moved(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """Read at its new address, the terminal is known by its serial number."""
    entry = add_moved_entry(hass, simulator)

    assert await discovery_abort_reason(hass, simulator) == "already_configured"
    assert entry.data[CONF_HOST] == "127.0.0.1"


async def test_dhcp_discovery_knows_a_terminal_by_its_mac(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """A terminal with a comm key cannot be read: its device's MAC tells who it is."""
    simulator.comm_key = COMM_KEY
    entry = add_moved_entry(hass, simulator)
    register_device(hass, entry, simulator)
    simulator.reset_stats()

    assert await discovery_abort_reason(hass, simulator) == "already_configured"
    assert entry.data[CONF_HOST] == "127.0.0.1"
    assert simulator.commands == []


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_ignores_other_integrations_devices(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """A router's integration may register the same MAC: that is no terminal of ours."""
    router = MockConfigEntry(domain="router")
    router.add_to_hass(hass)
    register_device(hass, router, simulator)

    await discovered_form(hass, simulator, "discovery_confirm")


@pytest.mark.usefixtures("discovery_port")
async def test_dhcp_discovery_offers_a_terminal_once(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """Before its comm key is known, the MAC keeps a second discovery from offering it again."""
    simulator.comm_key = COMM_KEY
    await discovered_form(hass, simulator, "discovery_comm_key")
    assert await discovery_abort_reason(hass, simulator) == "already_in_progress"


async def test_dhcp_discovery_of_an_ignored_terminal(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """A terminal with a comm key, ignored when offered, is not offered again."""
    simulator.comm_key = COMM_KEY
    MockConfigEntry(
        domain=DOMAIN, source=SOURCE_IGNORE, unique_id=dr.format_mac(simulator.mac)
    ).add_to_hass(hass)

    assert await discovery_abort_reason(hass, simulator) == "already_configured"


async def test_dhcp_discovery_cannot_connect(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Nothing answers on the terminal port (a terminal that speaks UDP only, say)."""
    with patch("custom_components.zkteco.config_flow.DEFAULT_PORT", closed_port()):
        assert await discovery_abort_reason(hass, simulator) == "cannot_connect"


@pytest.mark.usefixtures("discovery_port")
async def test_adding_by_hand_ends_a_pending_discovery(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """Whoever finishes first adds the terminal; the other flow goes away."""
    await discovered_form(hass, simulator, "discovery_confirm")

    result = await add_terminal(hass, simulator.port)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert hass.config_entries.flow.async_progress() == []


# -- Push mode: the terminal calls Home Assistant ---------------------------------------------

LAN_URL = "http://192.168.1.20:8123"


@pytest.fixture
async def lan_address(hass: HomeAssistant) -> None:
    """Home Assistant's address on the network, as its network settings give it."""
    await async_process_ha_core_config(hass, {"internal_url": LAN_URL})


def push_input(serial: str = PUSH_SERIAL, **changes: Any) -> dict[str, Any]:
    """What a person types in the Push step."""
    return {CONF_DEVICE_ID: "principal", CONF_SERIAL_NUMBER: serial, **changes}


async def push_form(hass: HomeAssistant, **changes: Any) -> ConfigFlowResult:
    """Fill in the Push step once."""
    result = await choose(hass, "push")
    return await hass.config_entries.flow.async_configure(result["flow_id"], push_input(**changes))


async def translation(hass: HomeAssistant, language: str, key: str) -> str | None:
    strings = await async_get_translations(hass, language, key.split(".")[0], [DOMAIN])
    return strings.get(f"component.{DOMAIN}.{key}")


async def assert_translated(hass: HomeAssistant, *keys: str) -> None:
    """Each key has a text in English and in Spanish."""
    for language in ("en", "es"):
        assert [key for key in keys if not await translation(hass, language, key)] == [], language


def add_push_entry(hass: HomeAssistant, serial: str = PUSH_SERIAL) -> MockConfigEntry:
    """A terminal already added in Push mode (not set up)."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=serial, data={CONF_DEVICE_ID: "principal", CONF_PUSH: True}
    )
    entry.add_to_hass(hass)
    return entry


@pytest.mark.usefixtures("lan_address")
async def test_push_step_shows_the_terminal_settings(hass: HomeAssistant) -> None:
    """What to enter on the terminal for this Home Assistant, then the entry."""
    result = await push_form(hass, serial=f" {PUSH_SERIAL} ", source_address=" 192.168.1.50 ")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "push_terminal"
    assert result["description_placeholders"] == {
        "serial": PUSH_SERIAL,
        "address": "192.168.1.20",
        "port": "8123",
    }
    await assert_translated(
        hass,
        "config.step.user.menu_options.pull",
        "config.step.user.menu_options.push",
        "config.step.push.data.serial_number",
        "config.step.push.data.source_address",
        "config.step.push_terminal.description",
    )
    assert "Cloud Server Setting" in str(
        await translation(hass, "en", "config.step.push_terminal.description")
    )

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "principal"
    assert result["data"] == {CONF_DEVICE_ID: "principal", CONF_PUSH: True}
    assert result["options"] == {CONF_SOURCE_ADDRESS: "192.168.1.50"}
    assert result["result"].unique_id == PUSH_SERIAL
    # Set up before the terminal calls: it shows as connected once it does.
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("lan_address", "socket_enabled")
async def test_push_step_shows_the_listener_port(hass: HomeAssistant) -> None:
    """A terminal calls the plain listener when one runs: its port is the one to enter."""
    assert await async_setup_component(hass, DOMAIN, {})
    await async_use_listener(hass, 0, "other entry")
    (port,) = listener_ports(hass)

    result = await push_form(hass)

    assert result["description_placeholders"]["port"] == str(port)
    await async_release_listener(hass, port, "other entry")
    assert listener_ports(hass) == []


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_SERIAL_NUMBER: "CQUJ 2039"}, {CONF_SERIAL_NUMBER: "invalid_serial_number"}),
        ({CONF_SERIAL_NUMBER: "x" * 41}, {CONF_SERIAL_NUMBER: "invalid_serial_number"}),
        ({CONF_SOURCE_ADDRESS: "terminal.lan"}, {CONF_SOURCE_ADDRESS: "invalid_source_address"}),
        ({CONF_DEVICE_ID: "Con espacio"}, {CONF_DEVICE_ID: "invalid_device_id"}),
    ],
)
@pytest.mark.usefixtures("lan_address")
async def test_push_step_errors(
    hass: HomeAssistant, changes: dict[str, str], errors: dict[str, str]
) -> None:
    """Checked like the hub reads a serial number, and like the pull step a device id."""
    result = await push_form(hass, **changes)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "push"
    assert result["errors"] == errors
    await assert_translated(hass, *(f"config.error.{error}" for error in errors.values()))
    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], push_input())
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("lan_address")
async def test_push_step_duplicate_device_id(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Another terminal (another serial number) has the device id."""
    add_entry(hass, simulator, OTHER_SERIAL)

    result = await push_form(hass)

    assert result["errors"] == {CONF_DEVICE_ID: "duplicate_device_id"}


async def test_push_terminal_already_added(hass: HomeAssistant) -> None:
    add_push_entry(hass)

    result = await push_form(hass, **{CONF_DEVICE_ID: "otra"})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.usefixtures("lan_address")
async def test_push_attached_to_the_pull_entry_of_the_terminal(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The same serial number: the same terminal, one device; its device id stays."""
    result = await push_form(
        hass, serial=simulator.serial, **{CONF_DEVICE_ID: "principal", CONF_SOURCE_ADDRESS: ""}
    )
    assert result["step_id"] == "push_terminal"

    with patch("custom_components.zkteco.async_setup_entry", return_value=True) as setup:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "push_attached"
    await assert_translated(hass, "config.abort.push_attached")
    assert init_integration.data == {**entry_data(simulator), CONF_PUSH: True}
    assert init_integration.options == {}
    assert len(setup.mock_calls) == 1  # reloaded


async def test_push_needs_an_address_of_home_assistant(hass: HomeAssistant) -> None:
    """Without one there is nothing to tell the terminal."""
    with patch("custom_components.zkteco.push_setup.get_url", side_effect=NoURLAvailableError):
        result = await push_form(hass)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_url"
    await assert_translated(hass, "config.abort.no_url")


# -- a terminal calls Home Assistant unannounced ------------------------------------------------


async def push_discovery(hass: HomeAssistant, serial: str = PUSH_SERIAL) -> ConfigFlowResult:
    """What the Push server starts when an unknown terminal calls."""
    return await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={CONF_SERIAL_NUMBER: serial, CONF_SOURCE_ADDRESS: "192.168.1.50"},
    )


async def test_a_calling_terminal_is_offered_and_keeps_its_data(
    hass: HomeAssistant,
    home_assistant_url: str,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    """Offered once, shown by its serial number; what it sends waits until it is accepted."""
    push = make_push_terminal(home_assistant_url)
    push.terminal.add_records(3)
    push.start()
    await until_terminal(
        hass, push, lambda terminal: sum(e.reply == REFUSED for e in terminal.exchanges) >= 3
    )
    await until(lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN)))

    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "push_discovery_confirm"
    assert flow["context"]["title_placeholders"] == {CONF_NAME: PUSH_SERIAL}
    assert flow["context"]["unique_id"] == PUSH_SERIAL
    assert push.unacknowledged["ATTLOG"] == 3

    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_DEVICE_ID: "principal"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_DEVICE_ID: "principal", CONF_PUSH: True}
    assert result["options"] == {}  # an address seen once is no restriction


async def test_push_discovery_confirm(hass: HomeAssistant) -> None:
    """The device id is checked as in every step; the title says who calls."""
    result = await push_discovery(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "push_discovery_confirm"
    assert result["description_placeholders"] == {
        "serial": PUSH_SERIAL,
        "address": "192.168.1.50",
    }
    await assert_translated(
        hass,
        "config.step.push_discovery_confirm.title",
        "config.step.push_discovery_confirm.description",
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: "Con espacio"}
    )
    assert result["errors"] == {CONF_DEVICE_ID: "invalid_device_id"}

    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE_ID: " norte "}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "norte"


async def test_push_discovery_attaches_push_to_the_pull_entry(
    hass: HomeAssistant, simulator: ZKSimulator
) -> None:
    """The terminal added in pull mode now calls too: no second device, nothing to ask."""
    entry = add_entry(hass, simulator, simulator.serial)

    with patch("custom_components.zkteco.async_setup_entry", return_value=True) as setup:
        result = await push_discovery(hass, simulator.serial)
        await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "push_attached"
    assert entry.data == {**entry_data(simulator), CONF_PUSH: True}
    assert len(setup.mock_calls) == 1


@pytest.mark.parametrize(
    "entry",
    [
        MockConfigEntry(domain=DOMAIN, source=SOURCE_IGNORE, unique_id=PUSH_SERIAL),
        MockConfigEntry(
            domain=DOMAIN, unique_id=PUSH_SERIAL, data={CONF_DEVICE_ID: "p", CONF_PUSH: True}
        ),
    ],
    ids=["ignored", "push"],
)
async def test_push_discovery_of_a_known_terminal(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Ignored stays ignored; one served already (its entry not set up yet) is no news."""
    entry.add_to_hass(hass)

    result = await push_discovery(hass)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# -- options of a terminal that calls Home Assistant --------------------------------------------


# What every terminal's options hold unless the user changes them.
DEFAULT_OPTIONS = {CONF_KEEP_CLOCK: True, CONF_SHARE_FINGERPRINTS: False}


def option_fields(result: ConfigFlowResult) -> dict[str, Any]:
    """The options offered, with their defaults (None: no default)."""
    return {
        key.schema: key.default() if key.default is not vol.UNDEFINED else None
        for key in result["data_schema"].schema
    }


async def test_push_options(hass: HomeAssistant) -> None:
    """The source address and the listener's port; no enrollment path with one channel, and no
    sharing of new fingers (Push cannot read a fingerprint back)."""
    entry = add_push_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert option_fields(result) == {
        CONF_TIMEZONE: hass.config.time_zone,
        CONF_KEEP_CLOCK: True,
        CONF_SOURCE_ADDRESS: None,
        CONF_LISTENER_PORT: None,
    }
    await assert_translated(
        hass,
        "options.step.init.data.source_address",
        "options.step.init.data.listener_port",
        "options.error.invalid_source_address",
    )

    chosen = {CONF_TIMEZONE: "America/Bogota", CONF_LISTENER_PORT: 8081.0}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**chosen, CONF_SOURCE_ADDRESS: "192.168.1.300"}
    )
    assert result["errors"] == {CONF_SOURCE_ADDRESS: "invalid_source_address"}

    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**chosen, CONF_SOURCE_ADDRESS: " 192.168.1.50 "}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_TIMEZONE: "America/Bogota",
        CONF_KEEP_CLOCK: True,
        CONF_LISTENER_PORT: 8081,
        CONF_SOURCE_ADDRESS: "192.168.1.50",
    }


async def test_push_options_cleared(hass: HomeAssistant) -> None:
    """An empty source address lifts the restriction; no port turns the listener off."""
    entry = add_push_entry(hass)
    hass.config_entries.async_update_entry(
        entry, options={CONF_SOURCE_ADDRESS: "192.168.1.50", CONF_LISTENER_PORT: 8081}
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)

    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_TIMEZONE: "UTC", CONF_SOURCE_ADDRESS: ""}
        )
    assert entry.options == {CONF_TIMEZONE: "UTC", CONF_KEEP_CLOCK: True}


async def test_enrollment_path_option(hass: HomeAssistant, simulator: ZKSimulator) -> None:
    """Only a terminal with both channels has a choice, automatic unless told."""
    entry = add_entry(hass, simulator, simulator.serial)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PUSH: True})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert option_fields(result)[CONF_ENROLLMENT_PATH] == ENROLLMENT_AUTOMATIC
    await assert_translated(
        hass,
        "options.step.init.data.enrollment_path",
        *(f"selector.enrollment_path.options.{path}" for path in ENROLLMENT_PATHS),
    )

    with patch("custom_components.zkteco.async_setup_entry", return_value=True):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_TIMEZONE: "UTC", CONF_ENROLLMENT_PATH: ENROLLMENT_PULL}
        )
    assert entry.options == {
        CONF_TIMEZONE: "UTC",
        **DEFAULT_OPTIONS,
        CONF_ENROLLMENT_PATH: ENROLLMENT_PULL,
    }


async def test_reconfigure_a_push_entry_attaches_pull(
    hass: HomeAssistant, push_entry: MockConfigEntry, simulator: ZKSimulator
) -> None:
    """The terminal that calls Home Assistant also answers on port 4370: one entry, both."""
    push_entry.add_to_hass(hass)
    assert simulator.serial == push_entry.unique_id
    result = await push_entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], connection_input(simulator.port)
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert push_entry.data == {**entry_data(simulator), CONF_PUSH: True}
    assert push_entry.state is ConfigEntryState.LOADED
    assert isinstance(push_entry.runtime_data.channel, CombinedChannel)
