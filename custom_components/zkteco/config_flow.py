"""Add a terminal from the UI: it is read once before anything is saved."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any
import zoneinfo

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.util import slugify
import voluptuous as vol

from .const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_PROTOCOL,
    CONF_TIMEZONE,
    DEFAULT_PORT,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    MAX_COMM_KEY,
    MAX_SCAN_INTERVAL_SECONDS,
    MIN_SCAN_INTERVAL_SECONDS,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from .coordinator import ZKTecoConfigEntry, terminal_config
from .terminal import TerminalAuthError, TerminalError, TerminalInfo, ZKTerminal

# A device id goes into URLs (/devices/{device_id}/...): short, lower case, no spaces.
DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

COMM_KEY_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, max=MAX_COMM_KEY, step=1, mode=NumberSelectorMode.BOX)
)
PORT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)
PROTOCOL_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[PROTOCOL_TCP, PROTOCOL_UDP],
        mode=SelectSelectorMode.LIST,
        translation_key=CONF_PROTOCOL,
    )
)


def _connection_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): PORT_SELECTOR,
        vol.Required(CONF_COMM_KEY, default=defaults.get(CONF_COMM_KEY, 0)): COMM_KEY_SELECTOR,
        vol.Required(
            CONF_PROTOCOL, default=defaults.get(CONF_PROTOCOL, PROTOCOL_TCP)
        ): PROTOCOL_SELECTOR,
    }


def _user_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, vol.UNDEFINED)): TextSelector(),
            vol.Optional(
                CONF_DEVICE_ID, description={"suggested_value": defaults.get(CONF_DEVICE_ID)}
            ): TextSelector(),
            **_connection_fields(defaults),
        }
    )


def _normalized(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers from selectors arrive as floats; the host without stray spaces."""
    data = dict(user_input)
    data[CONF_HOST] = str(data[CONF_HOST]).strip()
    data[CONF_PORT] = int(data[CONF_PORT])
    data[CONF_COMM_KEY] = int(data[CONF_COMM_KEY])
    return data


def _read_terminal(data: Mapping[str, Any]) -> TerminalInfo:
    terminal = ZKTerminal(terminal_config(dict(data)))
    terminal.connect()
    try:
        return terminal.read_info()
    finally:
        terminal.close()


async def _async_probe(
    hass: HomeAssistant, data: Mapping[str, Any], errors: dict[str, str]
) -> TerminalInfo | None:
    """Read the terminal once; on failure, say why in ``errors``."""
    try:
        return await hass.async_add_executor_job(_read_terminal, data)
    except TerminalAuthError:
        errors["base"] = "invalid_auth"
    except TerminalError:
        errors["base"] = "cannot_connect"
    return None


class ZKTecoConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a ZKTeco terminal."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ZKTecoConfigEntry) -> ZKTecoOptionsFlow:
        return ZKTecoOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalized(user_input)
            data[CONF_DEVICE_ID] = str(
                user_input.get(CONF_DEVICE_ID) or slugify(data[CONF_NAME])
            ).strip()
            self._check_device_id(data[CONF_DEVICE_ID], errors)
            if not errors and (info := await _async_probe(self.hass, data, errors)):
                await self.async_set_unique_id(info.serial_number)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=data.pop(CONF_NAME), data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=_user_schema(user_input or {}),
            errors=errors,
        )

    def _check_device_id(self, device_id: str, errors: dict[str, str]) -> None:
        if not DEVICE_ID_PATTERN.match(device_id):
            errors[CONF_DEVICE_ID] = "invalid_device_id"
        elif any(
            entry.data.get(CONF_DEVICE_ID) == device_id for entry in self._async_current_entries()
        ):
            errors[CONF_DEVICE_ID] = "duplicate_device_id"

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_COMM_KEY: int(user_input[CONF_COMM_KEY])}
            if info := await _async_probe(self.hass, data, errors):
                await self.async_set_unique_id(info.serial_number)
                self._abort_if_unique_id_mismatch(reason="wrong_terminal")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_COMM_KEY): COMM_KEY_SELECTOR}),
            description_placeholders={CONF_NAME: entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **_normalized(user_input)}
            if info := await _async_probe(self.hass, data, errors):
                await self.async_set_unique_id(info.serial_number)
                self._abort_if_unique_id_mismatch(reason="wrong_terminal")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(_connection_fields(user_input or entry.data)),
            errors=errors,
        )


class ZKTecoOptionsFlow(OptionsFlowWithReload):
    """How often to poll, and which timezone the terminal's clock is set to."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            user_input[CONF_SCAN_INTERVAL] = int(user_input[CONF_SCAN_INTERVAL])
            return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        timezones = await self.hass.async_add_executor_job(zoneinfo.available_timezones)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL.total_seconds()),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL_SECONDS,
                        max=MAX_SCAN_INTERVAL_SECONDS,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_TIMEZONE,
                    default=options.get(CONF_TIMEZONE, self.hass.config.time_zone),
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=sorted(timezones), mode=SelectSelectorMode.DROPDOWN
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
