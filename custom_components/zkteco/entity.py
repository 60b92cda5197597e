"""Base entities of the ZKTeco integration."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .attendance import PunchRecord
from .const import DOMAIN
from .coordinator import ZKTecoCoordinator, ZKTecoRuntimeData


class ZKTecoEntity(CoordinatorEntity[ZKTecoCoordinator]):
    """An entity of one terminal: available while its polls succeed."""

    _attr_has_entity_name = True

    def __init__(self, runtime: ZKTecoRuntimeData, description: EntityDescription) -> None:
        super().__init__(runtime.coordinator)
        self.runtime = runtime
        self.entity_description = description
        info = runtime.channel.info
        self._attr_unique_id = f"{info.serial_number}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, info.serial_number)},
            connections={(CONNECTION_NETWORK_MAC, info.mac)} if info.mac else set(),
            manufacturer="ZKTeco",
            model=info.model,
            model_id=info.platform or None,
            name=runtime.coordinator.config_entry.title,
            serial_number=info.serial_number,
            sw_version=info.firmware,
        )


class ZKTecoPunchEntity(ZKTecoEntity):
    """An entity that also follows the punches, as each is delivered."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.attendance.async_add_listener(self._on_punch))

    @callback
    def _on_punch(self, record: PunchRecord) -> None:
        self.async_write_ha_state()
