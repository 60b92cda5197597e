"""The dashboard's button that starts an enrollment with what the selects chose."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ZKTecoConfigEntry
from .entity import ZKTecoEntity

PARALLEL_UPDATES = 1

START_ENROLLMENT = ButtonEntityDescription(
    key="start_enrollment",
    translation_key="start_enrollment",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the enrollment button of a terminal."""
    async_add_entities([ZKTecoEnrollButton(entry.runtime_data, START_ENROLLMENT)])


class ZKTecoEnrollButton(ZKTecoEntity, ButtonEntity):
    """Puts the terminal in enrollment mode for the chosen user and finger."""

    async def async_press(self) -> None:
        await self.runtime.enrollment.async_start_selected()
