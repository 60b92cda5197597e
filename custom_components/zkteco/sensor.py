"""Sensors of a terminal: what it holds, its clock, the last punch and the enrollment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ZKTecoConfigEntry, ZKTecoData
from .enrollment import EnrollmentState, finger_name
from .entity import ZKTecoEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ZKTecoSensorDescription(SensorEntityDescription):
    """A sensor and how to read its value from the terminal's data."""

    value_fn: Callable[[ZKTecoData], datetime | float | int | str | None]
    attributes_fn: Callable[[ZKTecoData], Mapping[str, Any] | None] = lambda _: None


def _usage(used: int, capacity: int) -> float | None:
    return 100 * used / capacity if capacity else None


def _last_punch_attributes(data: ZKTecoData) -> Mapping[str, Any] | None:
    punch = data.last_punch
    if punch is None:
        return None
    return {
        "user_id": punch.user_id,
        "name": punch.name,
        "kind": punch.kind,
        "verified_by": punch.verified_by,
    }


def _enrollment_state(data: ZKTecoData) -> str:
    return data.enrollment.state if data.enrollment else EnrollmentState.IDLE


def _enrollment_attributes(data: ZKTecoData) -> Mapping[str, Any] | None:
    status = data.enrollment
    if status is None or status.finger_index is None:
        return None
    return {
        "user_id": status.user_id,
        "finger_index": status.finger_index,
        "finger_name": finger_name(status.finger_index),
        "presses": status.presses,
    }


def _count(key: str, value_fn: Callable[[ZKTecoData], int]) -> ZKTecoSensorDescription:
    return ZKTecoSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=value_fn,
    )


def _usage_of(key: str, value_fn: Callable[[ZKTecoData], float | None]) -> ZKTecoSensorDescription:
    return ZKTecoSensorDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=value_fn,
    )


SENSORS: tuple[ZKTecoSensorDescription, ...] = (
    _count("users", lambda data: data.counters.users),
    _count("fingerprints", lambda data: data.counters.fingers),
    _count("attendance_records", lambda data: data.counters.records),
    _usage_of(
        "users_usage", lambda data: _usage(data.counters.users, data.counters.users_capacity)
    ),
    _usage_of(
        "fingerprints_usage",
        lambda data: _usage(data.counters.fingers, data.counters.fingers_capacity),
    ),
    _usage_of(
        "attendance_records_usage",
        lambda data: _usage(data.counters.records, data.counters.records_capacity),
    ),
    ZKTecoSensorDescription(
        key="clock",
        translation_key="clock",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.clock,
    ),
    ZKTecoSensorDescription(
        key="last_punch",
        translation_key="last_punch",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.last_punch.time if data.last_punch else None,
        attributes_fn=_last_punch_attributes,
    ),
    ZKTecoSensorDescription(
        key="enrollment",
        translation_key="enrollment",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in EnrollmentState],
        value_fn=_enrollment_state,
        attributes_fn=_enrollment_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of a terminal."""
    coordinator = entry.runtime_data
    async_add_entities(ZKTecoSensor(coordinator, description) for description in SENSORS)


class ZKTecoSensor(ZKTecoEntity, SensorEntity):
    """A value the terminal reports."""

    entity_description: ZKTecoSensorDescription

    @property
    def native_value(self) -> datetime | float | int | str | None:
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return self.entity_description.attributes_fn(self.coordinator.data)
