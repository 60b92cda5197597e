"""Base entity of the ZKTeco integration."""

from __future__ import annotations

from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import ZKTecoCoordinator


class ZKTecoEntity(CoordinatorEntity[ZKTecoCoordinator]):
    """An entity of one terminal."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: ZKTecoCoordinator, description: EntityDescription) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        info = coordinator.info
        self._attr_unique_id = f"{info.serial_number}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, info.serial_number)},
            connections={(CONNECTION_NETWORK_MAC, info.mac)} if info.mac else set(),
            manufacturer="ZKTeco",
            model=info.model,
            model_id=info.platform or None,
            name=coordinator.config_entry.title,
            serial_number=info.serial_number,
            sw_version=info.firmware,
        )
