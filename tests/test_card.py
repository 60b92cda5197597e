"""The enrollment card is served by Home Assistant and loaded by its frontend on dashboards.

Unit tests run without the frontend's package (home-assistant-frontend): a stand-in frontend
keeps the list of extra modules as the real one does. The browser tests (tests/e2e/test_card.py)
load the card in the real frontend.
"""

from __future__ import annotations

from http import HTTPStatus
import json

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL, UrlManager
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockModule, mock_integration
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.zkteco.card import CARD_FILE, FRONTEND_DIR, URL_BASE
from custom_components.zkteco.const import DOMAIN

VERSION = json.loads((FRONTEND_DIR.parent / "manifest.json").read_text())["version"]


@pytest.fixture
def frontend(hass: HomeAssistant) -> None:
    """A frontend that keeps the extra module URLs, as the real one's set-up does."""

    async def async_setup(hass: HomeAssistant, _config: object) -> bool:
        hass.data[DATA_EXTRA_MODULE_URL] = UrlManager(lambda _change, _url: None, [])
        return True

    mock_integration(hass, MockModule("frontend", async_setup=async_setup))


def card_modules(hass: HomeAssistant) -> list[str]:
    return [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if CARD_FILE in url]


async def test_card_served_as_it_is(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """No build step and no login: the browser loads the file before anyone is known."""
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client_no_auth()
    response = await client.get(f"{URL_BASE}/{CARD_FILE}")
    assert response.status == HTTPStatus.OK
    assert response.content_type == "text/javascript"
    assert await response.text() == (FRONTEND_DIR / CARD_FILE).read_text()


@pytest.mark.usefixtures("frontend")
@pytest.mark.parametrize("frontend_first", [True, False])
async def test_card_loaded_on_dashboards(hass: HomeAssistant, frontend_first: bool) -> None:
    """Whichever is set up first, the frontend loads the card once, named by our version."""
    order = ["frontend", DOMAIN] if frontend_first else [DOMAIN, "frontend"]
    for component in order:
        assert await async_setup_component(hass, component, {})
    await hass.async_block_till_done()
    assert card_modules(hass) == [f"{URL_BASE}/{CARD_FILE}?v={VERSION}"]


async def test_no_frontend_no_module(hass: HomeAssistant) -> None:
    """Set-ups without a frontend (tests, a headless install) still get the rest."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert DATA_EXTRA_MODULE_URL not in hass.data
    assert "zkteco/users" in hass.data["websocket_api"]
