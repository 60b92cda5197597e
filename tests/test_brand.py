"""Brand images: our own fingerprint mark, served by Home Assistant from brand/."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
import struct

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.zkteco.const import DOMAIN

BRAND = Path(__file__).parent.parent / "custom_components" / DOMAIN / "brand"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGBA = 6
# The sizes the brands repository asks for; a square mark serves as the logo too.
SIZES = {"icon.png": 256, "icon@2x.png": 512, "logo.png": 256, "logo@2x.png": 512}


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type, from the IHDR chunk that must come first."""
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def test_brand_folder_holds_only_known_images() -> None:
    assert {path.name for path in BRAND.iterdir()} == set(SIZES)


@pytest.mark.parametrize(("image", "size"), SIZES.items())
def test_brand_image_is_a_transparent_square_png(image: str, size: int) -> None:
    assert png_header((BRAND / image).read_bytes()) == (size, size, 8, RGBA)


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        ("icon.png", "icon.png"),
        ("icon@2x.png", "icon@2x.png"),
        ("logo.png", "logo.png"),
        ("logo@2x.png", "logo@2x.png"),
        # One colour that reads on light and dark themes: no dark variants of our own.
        ("dark_icon.png", "icon.png"),
        ("dark_logo@2x.png", "logo@2x.png"),
    ],
)
async def test_home_assistant_serves_our_brand(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, requested: str, served: str
) -> None:
    """From the integration's folder: nothing is fetched from the brands CDN."""
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()

    response = await client.get(f"/api/brands/integration/{DOMAIN}/{requested}")

    assert response.status == HTTPStatus.OK
    assert await response.read() == (BRAND / served).read_bytes()
