"""Dashboard enrollment without YAML: choose the user and the finger, then press the button."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import FINGER_KEYS
from .coordinator import ZKTecoConfigEntry, ZKTecoRuntimeData
from .entity import ZKTecoEntity

PARALLEL_UPDATES = 0


def _user_options(runtime: ZKTecoRuntimeData) -> dict[str, str]:
    """Option label for each user id; names repeat, so the id is part of the label."""
    return {
        f"{user.name} ({user.user_id})" if user.name else user.user_id: user.user_id
        for user in sorted(
            runtime.coordinator.data.users.values(),
            key=lambda user: (user.name or user.user_id).lower(),
        )
    }


def _selected_user(runtime: ZKTecoRuntimeData) -> str | None:
    selected = runtime.enrollment.selected_user_id
    return next(
        (label for label, user_id in _user_options(runtime).items() if user_id == selected),
        None,
    )


def _select_user(runtime: ZKTecoRuntimeData, option: str) -> None:
    runtime.enrollment.selected_user_id = _user_options(runtime)[option]


def _select_finger(runtime: ZKTecoRuntimeData, option: str) -> None:
    runtime.enrollment.selected_finger = FINGER_KEYS.index(option)


@dataclass(frozen=True, kw_only=True)
class ZKTecoSelectDescription(SelectEntityDescription):
    """A select and how it reads and changes the enrollment's choice."""

    options_fn: Callable[[ZKTecoRuntimeData], list[str]]
    current_fn: Callable[[ZKTecoRuntimeData], str | None]
    select_fn: Callable[[ZKTecoRuntimeData, str], None]


SELECTS: tuple[ZKTecoSelectDescription, ...] = (
    ZKTecoSelectDescription(
        key="enrollment_user",
        translation_key="enrollment_user",
        entity_category=EntityCategory.CONFIG,
        options_fn=lambda runtime: list(_user_options(runtime)),
        current_fn=_selected_user,
        select_fn=_select_user,
    ),
    ZKTecoSelectDescription(
        key="enrollment_finger",
        translation_key="enrollment_finger",
        entity_category=EntityCategory.CONFIG,
        options_fn=lambda _: list(FINGER_KEYS),
        current_fn=lambda runtime: FINGER_KEYS[runtime.enrollment.selected_finger],
        select_fn=_select_finger,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the enrollment selects of a terminal."""
    runtime = entry.runtime_data
    async_add_entities(ZKTecoSelect(runtime, description) for description in SELECTS)


class ZKTecoSelect(ZKTecoEntity, SelectEntity):
    """A choice for the next enrollment started from the dashboard."""

    entity_description: ZKTecoSelectDescription

    @property
    def options(self) -> list[str]:
        return self.entity_description.options_fn(self.runtime)

    @property
    def current_option(self) -> str | None:
        return self.entity_description.current_fn(self.runtime)

    async def async_select_option(self, option: str) -> None:
        self.entity_description.select_fn(self.runtime, option)
        self.async_write_ha_state()
