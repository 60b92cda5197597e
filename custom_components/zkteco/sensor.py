"""Sensors of a terminal: what it holds, its clock, the last punch and the enrollment.

What it holds and its clock are polled (the coordinator's data); the last punch and the
enrollment follow the attendance and the enrollment as they change. All go unavailable with the
terminal (a failed poll).
"""

from __future__ import annotations

import asyncio
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
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .attendance import PunchRecord
from .coordinator import ZKTecoConfigEntry, ZKTecoData
from .enrollment import EnrollmentState, EnrollmentStatus, finger_name
from .entity import ZKTecoEntity, ZKTecoPunchEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ZKTecoSensorDescription(SensorEntityDescription):
    """A sensor and how to read its value from the terminal's data."""

    value_fn: Callable[[ZKTecoData], datetime | float | int | str | None]
    attributes_fn: Callable[[ZKTecoData], Mapping[str, Any] | None] = lambda _: None


def _usage(used: int, capacity: int) -> float | None:
    return 100 * used / capacity if capacity else None


def _last_punch_attributes(punch: PunchRecord | None) -> Mapping[str, Any] | None:
    if punch is None:
        return None
    return {
        "user_id": punch.user_id,
        "name": punch.name,
        "kind": punch.kind,
        "verified_by": punch.verified_by,
    }


def _enrollment_attributes(status: EnrollmentStatus | None) -> Mapping[str, Any] | None:
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
)
LAST_PUNCH = SensorEntityDescription(
    key="last_punch",
    translation_key="last_punch",
    device_class=SensorDeviceClass.TIMESTAMP,
)
ENROLLMENT = SensorEntityDescription(
    key="enrollment",
    translation_key="enrollment",
    device_class=SensorDeviceClass.ENUM,
    options=[state.value for state in EnrollmentState],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of a terminal."""
    runtime = entry.runtime_data
    async_add_entities(
        [
            *(ZKTecoSensor(runtime, description) for description in SENSORS),
            ZKTecoLastPunchSensor(runtime, LAST_PUNCH),
            ZKTecoEnrollmentSensor(runtime, ENROLLMENT),
        ]
    )


class ZKTecoSensor(ZKTecoEntity, SensorEntity):
    """A value the terminal reports."""

    entity_description: ZKTecoSensorDescription

    @property
    def native_value(self) -> datetime | float | int | str | None:
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return self.entity_description.attributes_fn(self.coordinator.data)


class ZKTecoLastPunchSensor(ZKTecoPunchEntity, SensorEntity):
    """The last punch, as soon as it is delivered.

    A punch is shown at once, before anything its event triggers runs. Punches delivered
    together (a catch-up, a Push terminal's batch) are shown twice: the first at once, the
    newest when the event loop next turns; each fires its own event, and a backlog of 100,000
    would otherwise hand the recorder 100,000 states of a sensor nobody saw in between.
    """

    _turn_ends: asyncio.Handle | None = None
    _newer_in_turn = False

    async def async_will_remove_from_hass(self) -> None:
        if self._turn_ends is not None:
            self._turn_ends.cancel()
        await super().async_will_remove_from_hass()

    @callback
    def _on_punch(self, record: PunchRecord) -> None:
        if self._turn_ends is None:
            self.async_write_ha_state()
            self._turn_ends = self.hass.loop.call_soon(self._show_the_newest)
        else:
            self._newer_in_turn = True

    @callback
    def _show_the_newest(self) -> None:
        self._turn_ends = None
        if self._newer_in_turn:
            self._newer_in_turn = False
            self.async_write_ha_state()

    @property
    def native_value(self) -> datetime | None:
        punch = self.runtime.attendance.last_punch
        return punch.time if punch else None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return _last_punch_attributes(self.runtime.attendance.last_punch)


class ZKTecoEnrollmentSensor(ZKTecoEntity, SensorEntity):
    """Where the enrollment is: waiting for a press, or its last result."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        enrollment = self.runtime.enrollment
        self.async_on_remove(enrollment.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> str:
        status = self.runtime.enrollment.status
        return status.state if status else EnrollmentState.IDLE

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return _enrollment_attributes(self.runtime.enrollment.status)
