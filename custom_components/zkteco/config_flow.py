"""Add a terminal from the UI.

Two ways: Home Assistant calls the terminal (pull, port 4370: the terminal is read once before
anything is saved), or the terminal calls Home Assistant (Push / Cloud Server: the user is told
what to enter on the terminal, which shows up once it calls). A terminal is known by its serial
number either way: a terminal added in pull mode that also calls gets Push attached to its entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address
import re
from typing import Any
import zoneinfo

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.util import slugify
import voluptuous as vol

from .channel import TerminalAuthError, TerminalError, TerminalInfo
from .const import (
    CONF_COMM_KEY,
    CONF_DEVICE_ID,
    CONF_ENROLLMENT_PATH,
    CONF_KEEP_CLOCK,
    CONF_LISTENER_PORT,
    CONF_PROTOCOL,
    CONF_PUSH,
    CONF_SERIAL_NUMBER,
    CONF_SHARE_FINGERPRINTS,
    CONF_SOURCE_ADDRESS,
    CONF_TIMEZONE,
    DEFAULT_PORT,
    DOMAIN,
    ENROLLMENT_AUTOMATIC,
    ENROLLMENT_PATHS,
    MAX_COMM_KEY,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
)
from .coordinator import ZKTecoConfigEntry
from .pull.channel import terminal_config
from .pull.terminal import ZKTerminal
from .push import uploads
from .push_setup import terminal_server

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


ENROLLMENT_PATH_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(ENROLLMENT_PATHS),
        mode=SelectSelectorMode.LIST,
        translation_key=CONF_ENROLLMENT_PATH,
    )
)

COMM_KEY_SCHEMA = vol.Schema({vol.Required(CONF_COMM_KEY): COMM_KEY_SELECTOR})


def _link_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """How to talk to a terminal whose address is known."""
    return {
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): PORT_SELECTOR,
        vol.Required(CONF_COMM_KEY, default=defaults.get(CONF_COMM_KEY, 0)): COMM_KEY_SELECTOR,
        vol.Required(
            CONF_PROTOCOL, default=defaults.get(CONF_PROTOCOL, PROTOCOL_TCP)
        ): PROTOCOL_SELECTOR,
    }


def _connection_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
        **_link_fields(defaults),
    }


def _device_id_field(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Required: it goes into URLs and automations, so the user chooses it once.

    No name is asked: the entry is called by its device id, and users rename entries.
    """
    return {
        vol.Required(
            CONF_DEVICE_ID, description={"suggested_value": defaults.get(CONF_DEVICE_ID)}
        ): TextSelector(),
    }


def _user_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema({**_device_id_field(defaults), **_connection_fields(defaults)})


def _discovery_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The user step without the host: discovery found it."""
    return vol.Schema({**_device_id_field(defaults), **_link_fields(defaults)})


def _push_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            **_device_id_field(defaults),
            vol.Required(
                CONF_SERIAL_NUMBER, default=defaults.get(CONF_SERIAL_NUMBER, vol.UNDEFINED)
            ): TextSelector(),
            **_source_address_field(defaults),
        }
    )


def _source_address_field(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    return {
        vol.Optional(
            CONF_SOURCE_ADDRESS, description={"suggested_value": defaults.get(CONF_SOURCE_ADDRESS)}
        ): TextSelector(),
    }


def _serial_number(text: str) -> str | None:
    """The serial number as the Push server reads it from a terminal's requests, if valid."""
    return uploads.parse_query({"SN": text}).serial


def _check_source_address(user_input: dict[str, Any], errors: dict[str, str]) -> None:
    """Keep a valid source address, without stray spaces; drop an empty one."""
    address = str(user_input.pop(CONF_SOURCE_ADDRESS, "")).strip()
    if not address:
        return
    try:
        ip_address(address)
    except ValueError:
        errors[CONF_SOURCE_ADDRESS] = "invalid_source_address"
    user_input[CONF_SOURCE_ADDRESS] = address


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

    def __init__(self) -> None:
        # A discovered terminal: how it was reached, and what it said about itself.
        self._discovered: dict[str, Any] = {}
        self._found: dict[str, str] = {}
        # What was typed in the Push step, until the terminal's set-up is shown.
        self._push: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ZKTecoConfigEntry) -> ZKTecoOptionsFlow:
        return ZKTecoOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Who calls whom: Home Assistant the terminal (pull), or the terminal Home Assistant."""
        return self.async_show_menu(step_id="user", menu_options=["pull", "push"])

    async def async_step_pull(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None and (
            result := await self._async_add_terminal(user_input, errors)
        ):
            return result
        return self.async_show_form(
            step_id="pull",
            data_schema=_user_schema(user_input or {}),
            errors=errors,
        )

    async def async_step_push(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The terminal's serial number and device id; then what to enter on the terminal."""
        errors: dict[str, str] = {}
        pull_entry = None
        if user_input is not None:
            serial = _serial_number(str(user_input[CONF_SERIAL_NUMBER]))
            if serial is None:
                errors[CONF_SERIAL_NUMBER] = "invalid_serial_number"
            else:
                user_input[CONF_SERIAL_NUMBER] = serial
                await self.async_set_unique_id(serial, raise_on_progress=False)
                if not (pull_entry := self._pull_entry_without_push()):
                    self._abort_if_unique_id_configured()
            _check_source_address(user_input, errors)
            if not errors and not pull_entry:
                user_input[CONF_DEVICE_ID] = str(user_input[CONF_DEVICE_ID]).strip()
                self._check_device_id(user_input[CONF_DEVICE_ID], errors)
            if not errors:
                self._push = user_input
                return await self.async_step_push_terminal()
        return self.async_show_form(
            step_id="push", data_schema=_push_schema(user_input or {}), errors=errors
        )

    async def async_step_push_terminal(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """What to enter in the terminal's menu for this Home Assistant; it then calls."""
        if (server := terminal_server(self.hass)) is None:
            return self.async_abort(reason="no_url")
        if user_input is not None:
            return self._async_add_push_terminal(self._push)
        return self.async_show_form(
            step_id="push_terminal",
            description_placeholders={
                "serial": str(self.unique_id),
                "address": str(server.host),
                "port": str(server.port),
            },
        )

    def _pull_entry_without_push(self) -> ConfigEntry | None:
        """The entry of this serial number that has pull and no Push yet, if any."""
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, str(self.unique_id)
        )
        if entry is None or CONF_HOST not in entry.data or entry.data.get(CONF_PUSH):
            return None
        return entry

    def _async_add_push_terminal(self, user_input: Mapping[str, Any]) -> ConfigFlowResult:
        """A new entry, or Push attached to the pull entry of the same terminal (reloaded)."""
        options = {key: user_input[key] for key in (CONF_SOURCE_ADDRESS,) if user_input.get(key)}
        if entry := self._pull_entry_without_push():
            return self.async_update_reload_and_abort(
                entry,
                data_updates={CONF_PUSH: True},
                options={**entry.options, **options},
                reason="push_attached",
            )
        # Not raising on progress above: whoever finishes first adds the terminal.
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=user_input[CONF_DEVICE_ID],
            data={CONF_DEVICE_ID: user_input[CONF_DEVICE_ID], CONF_PUSH: True},
            options=options,
        )

    async def async_step_integration_discovery(
        self, discovery_info: dict[str, Any]
    ) -> ConfigFlowResult:
        """A terminal with an unknown serial number calls Home Assistant.

        A terminal added in pull mode gets Push attached at once: it is the same terminal, and
        its user set its Cloud Server to Home Assistant. Any other is offered once.
        """
        serial: str = discovery_info[CONF_SERIAL_NUMBER]
        await self.async_set_unique_id(serial)
        if self._pull_entry_without_push():
            return self._async_add_push_terminal({})
        self._abort_if_unique_id_configured()
        self._found = {
            "serial": serial,
            "address": discovery_info.get(CONF_SOURCE_ADDRESS) or "?",
        }
        self.context["title_placeholders"] = {CONF_NAME: serial}
        return await self.async_step_push_discovery_confirm()

    async def async_step_push_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Accept the calling terminal with a device id; nothing it sent was used before."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = str(user_input[CONF_DEVICE_ID]).strip()
            self._check_device_id(device_id, errors)
            if not errors:
                return self._async_add_push_terminal({CONF_DEVICE_ID: device_id})
        return self.async_show_form(
            step_id="push_discovery_confirm",
            data_schema=vol.Schema(_device_id_field(user_input or {})),
            description_placeholders=self._found,
            errors=errors,
        )

    async def _async_add_terminal(
        self, user_input: Mapping[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult | None:
        """Create the entry once the terminal has been read; else None, and why in ``errors``."""
        data = _normalized(user_input)
        data[CONF_DEVICE_ID] = str(data[CONF_DEVICE_ID]).strip()
        # Known before it is read: a terminal allowing one session is busy with its entry.
        self._async_abort_entries_match({CONF_HOST: data[CONF_HOST], CONF_PORT: data[CONF_PORT]})
        self._check_device_id(data[CONF_DEVICE_ID], errors)
        if errors or not (info := await _async_probe(self.hass, data, errors)):
            return None
        # Not raising on progress: whoever finishes first adds the terminal, and Home Assistant
        # then drops the other flows for it (a pending discovery, say).
        await self.async_set_unique_id(info.serial_number, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=data[CONF_DEVICE_ID], data=data)

    def _check_device_id(self, device_id: str, errors: dict[str, str]) -> None:
        if not DEVICE_ID_PATTERN.match(device_id):
            errors[CONF_DEVICE_ID] = "invalid_device_id"
        elif any(
            entry.data.get(CONF_DEVICE_ID) == device_id for entry in self._async_current_entries()
        ):
            errors[CONF_DEVICE_ID] = "duplicate_device_id"

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """A terminal asked for an address: follow a known one, offer a new one."""
        host = discovery_info.ip
        mac = dr.format_mac(discovery_info.macaddress)
        if known := self._entry_with_mac(mac):
            # Known by its MAC: its host is updated and the flow ends, with no need to read the
            # terminal (a comm key could keep us from it).
            await self.async_set_unique_id(known.unique_id)
            self._abort_if_unique_id_configured(updates={CONF_HOST: host})
        # Until its serial number is read, the MAC stands for the terminal: a terminal with a
        # comm key is then offered once, and stays away once ignored.
        await self.async_set_unique_id(mac)
        self._abort_if_unique_id_configured()
        self._discovered = {
            CONF_HOST: host,
            CONF_PORT: DEFAULT_PORT,
            CONF_COMM_KEY: 0,
            CONF_PROTOCOL: PROTOCOL_TCP,
        }
        self._found = {CONF_HOST: host, "mac": mac}
        self.context["title_placeholders"] = {CONF_NAME: host}
        errors: dict[str, str] = {}
        if info := await _async_probe(self.hass, self._discovered, errors):
            return await self._async_identified(info)
        if errors["base"] == "invalid_auth":
            return await self.async_step_discovery_comm_key()
        return self.async_abort(reason="cannot_connect")

    def _entry_with_mac(self, mac: str) -> ConfigEntry | None:
        """The entry whose terminal has this MAC, known from the device it registered."""
        registry = dr.async_get(self.hass)
        connection = (dr.CONNECTION_NETWORK_MAC, mac)
        return next(
            (
                entry
                for entry in self._async_current_entries(include_ignore=False)
                if any(
                    connection in device.connections
                    for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
                )
            ),
            None,
        )

    async def async_step_discovery_comm_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The discovered terminal has a comm key: it is needed to read the terminal."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._discovered[CONF_COMM_KEY] = int(user_input[CONF_COMM_KEY])
            if info := await _async_probe(self.hass, self._discovered, errors):
                return await self._async_identified(info)
        return self.async_show_form(
            step_id="discovery_comm_key",
            data_schema=COMM_KEY_SCHEMA,
            description_placeholders=self._found,
            errors=errors,
        )

    async def _async_identified(self, info: TerminalInfo) -> ConfigFlowResult:
        """The discovered terminal was read: follow it if known, else ask for its device id."""
        await self.async_set_unique_id(info.serial_number)
        self._abort_if_unique_id_configured(updates={CONF_HOST: self._discovered[CONF_HOST]})
        self._discovered[CONF_DEVICE_ID] = slugify(info.model)
        self._found.update(model=info.model, serial=info.serial_number)
        self.context["title_placeholders"] = {CONF_NAME: f"{info.model} ({info.serial_number})"}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The discovered terminal's device id; the rest is as in the user step, bar the host."""
        errors: dict[str, str] = {}
        if user_input is not None and (
            result := await self._async_add_terminal(
                {**user_input, CONF_HOST: self._discovered[CONF_HOST]}, errors
            )
        ):
            return result
        return self.async_show_form(
            step_id="discovery_confirm",
            data_schema=_discovery_schema(user_input or self._discovered),
            description_placeholders=self._found,
            errors=errors,
        )

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
            data_schema=COMM_KEY_SCHEMA,
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
            if info := await self._async_probe_unloaded(entry, data, errors):
                await self.async_set_unique_id(info.serial_number)
                self._abort_if_unique_id_mismatch(reason="wrong_terminal")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(_connection_fields(user_input or entry.data)),
            errors=errors,
        )

    async def _async_probe_unloaded(
        self, entry: ConfigEntry, data: Mapping[str, Any], errors: dict[str, str]
    ) -> TerminalInfo | None:
        """Probe with the entry unloaded: its worker may hold the only session the terminal allows.

        The entry is set up again as it was, unless its terminal answered (it is then reloaded
        with the new data).
        """
        if entry.state is not ConfigEntryState.LOADED:
            return await _async_probe(self.hass, data, errors)
        await self.hass.config_entries.async_unload(entry.entry_id)
        info = await _async_probe(self.hass, data, errors)
        if info is None or info.serial_number != entry.unique_id:
            await self.hass.config_entries.async_setup(entry.entry_id)
        return info


class ZKTecoOptionsFlow(OptionsFlowWithReload):
    """The timezone the terminal's clock is set to, whether Home Assistant keeps that clock right,
    and, for a terminal reached on port 4370, whether a finger enrolled here is copied to the
    other terminals; for a terminal that calls Home Assistant,
    the address it must call from and the plain listener's port; for one with both channels,
    which one enrolls.

    No poll interval (Home Assistant's guidelines): punches come as realtime events, and
    homeassistant.update_entity polls on demand. One saved by an older version is ignored.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            _check_source_address(user_input, errors)
            if CONF_LISTENER_PORT in user_input:
                user_input[CONF_LISTENER_PORT] = int(user_input[CONF_LISTENER_PORT])
            if not errors:
                return self.async_create_entry(data=user_input)
        options = user_input or self.config_entry.options
        timezones = await self.hass.async_add_executor_job(zoneinfo.available_timezones)
        fields: dict[vol.Marker, Any] = {
            vol.Required(
                CONF_TIMEZONE,
                default=options.get(CONF_TIMEZONE, self.hass.config.time_zone),
            ): SelectSelector(
                SelectSelectorConfig(options=sorted(timezones), mode=SelectSelectorMode.DROPDOWN)
            ),
            vol.Required(CONF_KEEP_CLOCK, default=options.get(CONF_KEEP_CLOCK, True)): bool,
        }
        data = self.config_entry.data
        if CONF_HOST in data:  # Push alone cannot read a fingerprint back to share it
            fields[
                vol.Required(
                    CONF_SHARE_FINGERPRINTS, default=options.get(CONF_SHARE_FINGERPRINTS, False)
                )
            ] = bool
        if data.get(CONF_PUSH):
            fields.update(_push_option_fields(options, both=CONF_HOST in data))
        return self.async_show_form(step_id="init", data_schema=vol.Schema(fields), errors=errors)


def _push_option_fields(options: Mapping[str, Any], *, both: bool) -> dict[vol.Marker, Any]:
    fields: dict[vol.Marker, Any] = {}
    if both:
        fields[
            vol.Required(
                CONF_ENROLLMENT_PATH,
                default=options.get(CONF_ENROLLMENT_PATH, ENROLLMENT_AUTOMATIC),
            )
        ] = ENROLLMENT_PATH_SELECTOR
    fields.update(_source_address_field(options))
    fields[
        vol.Optional(
            CONF_LISTENER_PORT, description={"suggested_value": options.get(CONF_LISTENER_PORT)}
        )
    ] = PORT_SELECTOR
    return fields
