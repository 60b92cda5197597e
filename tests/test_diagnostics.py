"""Diagnostics: useful to support, with no secret, name, address or fingerprint in them."""

from __future__ import annotations

import base64
import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers.discovery_flow import DiscoveryKey
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.zkteco.const import DOMAIN
from zksim import ZKSimulator

from .conftest import RIGHT_THUMB, entry_data

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
