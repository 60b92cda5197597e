"""Repair issues: what retrying cannot fix is told to the user, with a fix where there is one.

- ``wrong_terminal``: another terminal answers at the entry's address (a DHCP lease moved, say).
  Set-up keeps retrying; Reconfigure is the fix, and the issue says where to find it. Removed
  once the right terminal answers.
- ``realtime_refused``: the terminal refuses realtime events; punches arrive with each poll.
  Nothing to fix from Home Assistant. Removed once a session gets events again.
- ``clock_wrong``: the terminal's clock is more than ``CLOCK_TOLERANCE`` off Home Assistant's
  time in the terminal's timezone; punches are stamped by that clock. The fix sets it. Removed
  once a poll reads a right clock. While Home Assistant keeps the clock right (clock.py), only
  raised once setting it failed.

The last two are judged after each poll, and removed when the entry unloads (the next set-up
judges again).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .channel import TerminalError
from .const import CLOCK_TOLERANCE, DOMAIN
from .coordinator import ZKTecoConfigEntry, ZKTecoRuntimeData, wall_clock

if TYPE_CHECKING:  # annotations only: the oldest Home Assistant we support does not export it
    from homeassistant.components.repairs import RepairsFlowResult


class Issue(StrEnum):
    """The kinds of repair issue, and their translation keys."""

    WRONG_TERMINAL = "wrong_terminal"
    REALTIME_REFUSED = "realtime_refused"
    CLOCK_WRONG = "clock_wrong"


def _issue_id(issue: Issue, entry: ZKTecoConfigEntry) -> str:
    return f"{issue}_{entry.entry_id}"


@callback
def _async_raise(
    hass: HomeAssistant,
    issue: Issue,
    entry: ZKTecoConfigEntry,
    severity: ir.IssueSeverity,
    **placeholders: str,
) -> None:
    """Raise the issue, or keep it as it is (the registry saves only what changed)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(issue, entry),
        data={"entry_id": entry.entry_id},
        is_fixable=issue is Issue.CLOCK_WRONG,
        severity=severity,
        translation_key=issue,
        translation_placeholders={"name": entry.title, **placeholders},
    )


@callback
def _async_clear(hass: HomeAssistant, entry: ZKTecoConfigEntry, *issues: Issue) -> None:
    for issue in issues:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(issue, entry))


@callback
def async_wrong_terminal(hass: HomeAssistant, entry: ZKTecoConfigEntry, found: str) -> None:
    """Another terminal (serial number ``found``) answers at the entry's address."""
    _async_raise(
        hass,
        Issue.WRONG_TERMINAL,
        entry,
        ir.IssueSeverity.ERROR,
        host=str(entry.data[CONF_HOST]),
        port=str(entry.data[CONF_PORT]),
        expected=str(entry.unique_id),
        found=found,
    )


@callback
def async_right_terminal(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> None:
    """The entry's own terminal answered."""
    _async_clear(hass, entry, Issue.WRONG_TERMINAL)


@callback
def async_clear_all(hass: HomeAssistant, entry: ZKTecoConfigEntry) -> None:
    """The entry is deleted: nothing of it stays in the repairs."""
    _async_clear(hass, entry, *Issue)


@callback
def async_watch(hass: HomeAssistant, runtime: ZKTecoRuntimeData) -> CALLBACK_TYPE:
    """Judge the realtime events and the clock after each poll, until the entry unloads."""
    coordinator, channel = runtime.coordinator, runtime.channel
    entry = coordinator.config_entry
    judged: tuple[datetime, bool] | None = None

    @callback
    def judge() -> None:
        nonlocal judged
        if channel.realtime is False:
            _async_raise(hass, Issue.REALTIME_REFUSED, entry, ir.IssueSeverity.WARNING)
        else:
            _async_clear(hass, entry, Issue.REALTIME_REFUSED)
        # A clock is judged when it is read, or when keeping it right has just failed: the data
        # also changes between polls, and keeps an old clock while an enrollment holds polls
        # back. A clock Home Assistant keeps is set at once: the user is told if that fails.
        clock, in_hand = coordinator.data.clock, runtime.clock.in_hand
        if (clock, in_hand) == judged:
            return
        judged = clock, in_hand
        if abs(clock - dt_util.utcnow()) > CLOCK_TOLERANCE and not in_hand:
            _async_raise(hass, Issue.CLOCK_WRONG, entry, ir.IssueSeverity.WARNING)
        else:
            _async_clear(hass, entry, Issue.CLOCK_WRONG)

    stop_listening = coordinator.async_add_listener(judge)
    judge()

    @callback
    def stop() -> None:
        stop_listening()
        _async_clear(hass, entry, Issue.REALTIME_REFUSED, Issue.CLOCK_WRONG)

    return stop


class SetClockFlow(RepairsFlow):
    """Set the terminal's clock to Home Assistant's time, in the terminal's timezone."""

    def __init__(self, entry_id: str) -> None:
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        entry: ZKTecoConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        coordinator = entry.runtime_data.coordinator
        timezone = coordinator.timezone
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_set_clock()
            except TerminalError:
                errors["base"] = "clock_not_set"
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            errors=errors,
            description_placeholders={
                "name": entry.title,
                "terminal_clock": f"{coordinator.data.clock:%Y-%m-%d %H:%M:%S}",
                "home_assistant_clock": f"{wall_clock(timezone):%Y-%m-%d %H:%M:%S}",
                "timezone": str(timezone),
            },
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Only the clock has a fix flow (the other issues are not fixable)."""
    assert data is not None
    return SetClockFlow(str(data["entry_id"]))
