"""The enrollment card, custom:zkteco-enroll-card, shipped with the integration.

frontend/zkteco-enroll-card.js is plain JavaScript with no build step: Home Assistant serves the
folder as it is, and its frontend loads the file as an extra module on every dashboard. The
module is added once the frontend is set up: Home Assistant sets it up before any custom
integration, and test set-ups have no frontend at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_when_setup

from .const import DOMAIN
from .websocket_api import async_register_commands

URL_BASE: Final = f"/{DOMAIN}/frontend"
CARD_FILE: Final = "zkteco-enroll-card.js"
FRONTEND_DIR: Final = Path(__file__).parent / "frontend"


async def async_setup_card(hass: HomeAssistant) -> None:
    """Serve the card, load it on dashboards, and answer its websocket commands."""
    async_register_commands(hass)
    await hass.http.async_register_static_paths(
        # Not cached for a month: the browser revalidates, so an update is seen at once.
        [StaticPathConfig(URL_BASE, str(FRONTEND_DIR), cache_headers=False)]
    )
    version = (await async_get_integration(hass, DOMAIN)).version
    module_url = f"{URL_BASE}/{CARD_FILE}?v={version}"

    async def _async_load_on_dashboards(hass: HomeAssistant, _component: str) -> None:
        add_extra_js_url(hass, module_url)

    async_when_setup(hass, "frontend", _async_load_on_dashboards)
