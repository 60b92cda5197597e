"""The terminal's buttons: start the enrollment the selects chose, set the clock, open the door,
restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .channel import TerminalError
from .const import DEFAULT_UNLOCK_SECONDS
from .coordinator import ZKTecoConfigEntry, ZKTecoRuntimeData
from .enrollment import TerminalUnavailable
from .entity import ZKTecoEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ZKTecoButtonEntityDescription(ButtonEntityDescription):
    """A button, and what pressing it asks of the terminal."""

    press_fn: Callable[[ZKTecoRuntimeData], Awaitable[object]]


BUTTONS: tuple[ZKTecoButtonEntityDescription, ...] = (
    ZKTecoButtonEntityDescription(
        key="start_enrollment",
        translation_key="start_enrollment",
        press_fn=lambda runtime: runtime.enrollment.async_start_selected(),
    ),
    ZKTecoButtonEntityDescription(
        key="set_clock",
        translation_key="set_clock",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda runtime: runtime.coordinator.async_set_clock(),
    ),
    ZKTecoButtonEntityDescription(
        key="open_door",
        translation_key="open_door",
        press_fn=lambda runtime: runtime.channel.async_unlock(DEFAULT_UNLOCK_SECONDS),
    ),
    ZKTecoButtonEntityDescription(
        key="restart",
        translation_key="restart",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda runtime: runtime.channel.async_restart(),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of a terminal."""
    async_add_entities(ZKTecoButton(entry.runtime_data, description) for description in BUTTONS)


class ZKTecoButton(ZKTecoEntity, ButtonEntity):
    """Asks the terminal what its description says."""

    entity_description: ZKTecoButtonEntityDescription

    async def async_press(self) -> None:
        try:
            await self.entity_description.press_fn(self.runtime)
        except TerminalError as err:
            raise TerminalUnavailable(error=err) from err
