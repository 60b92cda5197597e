"""Diagnostics: useful to support, with no secret, name, address or fingerprint in them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers.discovery_flow import DiscoveryKey
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.zkteco.const import CONF_SOURCE_ADDRESS, DOMAIN
from zksim import ZKSimulator
from zksim.push import PushTerminal

from .conftest import RIGHT_THUMB, entry_data, until_terminal

STRANGER = "CQUJ999999999"

COMM_KEY = 271828


def dhcp_key(sim: ZKSimulator) -> str:
    """The terminal's MAC as DHCP discovery records it in the entry."""
    return sim.mac.replace(":", "").lower()


@pytest.fixture
def config_entry(simulator: ZKSimulator) -> MockConfigEntry:
    """A terminal with a comm key, found by DHCP: a key and a MAC to hide."""
    simulator.comm_key = COMM_KEY
    return MockConfigEntry(
        domain=DOMAIN,
        title="Principal",
        unique_id=simulator.serial,
        data=entry_data(simulator),
        discovery_keys={"dhcp": (DiscoveryKey(domain="dhcp", key=dhcp_key(simulator), version=1),)},
    )


@pytest.mark.freeze_time("2026-11-03 12:00:00+00:00")
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    assert diagnostics == snapshot(exclude=props("entry_id", "created_at", "modified_at", "port"))


async def test_no_personal_data(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    simulator: ZKSimulator,
) -> None:
    """Whatever the layout, no user name, address, key, serial or template bytes get out."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    text = json.dumps(diagnostics)

    template = simulator.template_of(2, RIGHT_THUMB)
    assert template is not None
    secrets = [
        *(user.name for user in simulator.users),
        "Principal",
        str(COMM_KEY),
        "127.0.0.1",
        simulator.serial,
        simulator.mac,
        dhcp_key(simulator),
        template.template.hex(),
        base64.b64encode(template.template).decode(),
    ]
    assert [secret for secret in secrets if secret in text] == []


# -- terminals that call Home Assistant ----------------------------------------------------------


@pytest.fixture
async def diagnostics_component(hass: HomeAssistant) -> None:
    """Its views registered before Home Assistant's server starts for the terminal."""
    assert await async_setup_component(hass, "diagnostics", {})


@pytest.mark.parametrize("entry_options", [{CONF_SOURCE_ADDRESS: "127.0.0.1"}])
async def test_both_channels(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    diagnostics_component: None,
    two_way_entry: MockConfigEntry,
    two_way_terminal: PushTerminal,
    make_push_terminal: Callable[..., PushTerminal],
    home_assistant_url: str,
    simulator: ZKSimulator,
) -> None:
    """When each channel last spoke; what the Push server refused; still nothing personal."""
    two_way_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(two_way_entry.entry_id)
    two_way_terminal.start()
    stranger = make_push_terminal(home_assistant_url, serial=STRANGER).start()
    await until_terminal(hass, stranger, lambda t: len(t.exchanges) >= 2)
    await until_terminal(hass, two_way_terminal, lambda t: t.polls >= 1)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, two_way_entry)

    channels = diagnostics["channels"]
    assert channels["pull"] == {"last_poll_succeeded": True}
    push = channels["push"]
    assert push["polling"] is True
    assert {"cdata", "getrequest"} <= set(push["contacts"])
    assert push["last_contact"] == max(push["contacts"].values())
    assert push["refused_from_another_address"] == 0
    assert push["refused_unknown_serial_numbers"] >= 2
    assert diagnostics["entry"]["options"] == {CONF_SOURCE_ADDRESS: "**REDACTED**"}
    text = json.dumps(diagnostics)
    assert [secret for secret in (simulator.serial, STRANGER, "127.0.0.1") if secret in text] == []
    await hass.config_entries.async_unload(two_way_entry.entry_id)


@pytest.mark.parametrize("entry_options", [{CONF_SOURCE_ADDRESS: "192.0.2.1"}])
async def test_push_refused_from_another_address(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    diagnostics_component: None,
    push_entry: MockConfigEntry,
    make_push_terminal: Callable[..., PushTerminal],
    home_assistant_url: str,
) -> None:
    """The terminal calls from an address it is not allowed: counted, never a contact."""
    push_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    push = make_push_terminal(home_assistant_url).start()
    await until_terminal(hass, push, lambda t: len(t.exchanges) >= 2)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, push_entry)

    assert set(diagnostics["channels"]) == {"push"}
    push_channel = diagnostics["channels"]["push"]
    assert push_channel["refused_from_another_address"] >= 2
    assert push_channel["last_contact"] is None
    assert push_channel["polling"] is False
    assert diagnostics["last_update_success"] is False
    await hass.config_entries.async_unload(push_entry.entry_id)


@pytest.mark.freeze_time("2026-11-03 12:00:00+00:00")
async def test_a_clock_that_cannot_be_kept(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    simulator: ZKSimulator,
    config_entry: MockConfigEntry,
) -> None:
    """Support sees that keeping the clock fails, and when it is tried again."""
    simulator.set_time_ignored = True
    simulator.set_clock(datetime(2000, 1, 1))
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)

    assert diagnostics["clock_keeping"] == {
        "keeping": True,
        "daily_set_due": False,
        "failing": True,
        "next_try": "2026-11-03T12:15:00+00:00",
    }
