"""Whether Home Assistant can reach the terminal, and the ways it is reached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .combined import channels_of, push_of
from .coordinator import ZKTecoConfigEntry
from .entity import ZKTecoEntity

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensor of a terminal."""
    async_add_entities([ZKTecoConnectivitySensor(entry.runtime_data, CONNECTIVITY)])


class ZKTecoConnectivitySensor(ZKTecoEntity, BinarySensorEntity):
    """On while the terminal answers (pull) or polls within its expected interval (Push only);
    stays available to say when it does not.

    Its attributes: the channels (``pull``, ``push``) and, with Push, when the terminal last
    called Home Assistant.
    """

    @property
    def available(self) -> bool:
        return True

    @property
    def is_on(self) -> bool:
        return self.coordinator.last_update_success

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        channel = self.runtime.channel
        attributes: dict[str, Any] = {"channels": list(channels_of(channel))}
        if (push := push_of(channel)) is not None:
            attributes["last_push_contact"] = push.last_contact
        return attributes
