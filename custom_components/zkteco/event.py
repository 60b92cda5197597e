"""Each punch on the terminal as an event entity, for automations and the logbook."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .attendance import PUNCH_KINDS, PunchRecord
from .coordinator import ZKTecoConfigEntry
from .entity import ZKTecoPunchEntity

PARALLEL_UPDATES = 0

PUNCH = EventEntityDescription(
    key="punch",
    translation_key="punch",
    event_types=[*PUNCH_KINDS.values(), "other"],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ZKTecoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the punch event entity of a terminal."""
    async_add_entities([ZKTecoPunchEvent(entry.runtime_data, PUNCH)])


class ZKTecoPunchEvent(ZKTecoPunchEntity, EventEntity):
    """Fires with each punch, check in or out, break or overtime."""

    @callback
    def _on_punch(self, record: PunchRecord) -> None:
        self._trigger_event(record.kind, record.as_event_data())
        super()._on_punch(record)
