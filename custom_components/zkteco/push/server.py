"""The server side of Attendance PUSH 2.x: the hub that serves Push terminals, and its views.

Sections (§) and pitfalls (P) are those of our reference, shared/reference/push-protocol.md.

`PushHub` knows the terminals it serves by serial number (`ServedTerminal`: a `PushSink`, which
the terminal's channel implements, and its `CommandQueue`). It reads a request (`PushRequest`,
the same from Home Assistant's server and from the plain listener of listener.py) and answers it
(`PushAnswer`):

- `GET cdata?options=all`: the handshake (commands.handshake_answer, the terminal's time zone, the
  poll `Delay`, the last stamps seen, since a restart too: `ServedTerminal.stamps`/`on_stamp`);
- `POST cdata?table=ATTLOG`: the punches go to the sink, which stores them durably; only when it
  has returned is the batch acknowledged `OK: <n>` (§0 item 4, P1: the terminal forgets what is
  acknowledged and re-sends what is not). If the sink raises, the answer is a refusal and the
  terminal keeps the batch. `OPERLOG` and `BIODATA` likewise (templates already dropped by
  uploads.py); `options` and `getrequest?INFO=` report counts and capacities; `ATTPHOTO` and
  unknown tables are acknowledged and not kept (templates and photos never enter Home
  Assistant);
- `getrequest`: the queue's command lines, or `OK`; `devicecmd`: results to the queue;
  `ping`, the 3.x paths (`registry`, `push`, `querydata`, `rtdata`, `exchange`), `fdata`, the
  `.aspx` forms and anything else under `/iclock/`: answered `OK`.

Every answer is `200 text/plain` with a GMT `Date:` (the terminal sets its clock by it, §1.2),
never a redirect, HTML or JSON (P3); content types are never looked at (§1.2).

Security (the terminal cannot authenticate, §0 item 5): only configured serial numbers have data
accepted and commands delivered. An unknown serial is offered once to the discovery callback, and
its `cdata`, `getrequest` and `devicecmd` are answered `REFUSED`: not the `OK` the terminal
forgets its data on (P1), so it keeps its punches until a user accepts it; nothing it sends is
read. The same answer goes to a request with no serial, to one from another address than the
one a terminal is restricted to, to a body to be read that is over `MAX_BODY` (2 MiB; a
500-punch batch is about 30 KB; a photo over it is acknowledged unread like any photo) and to a
request whose handling failed. Malformed lines never cost the valid ones (uploads.py), and nothing
raises out of a view.

Bodies over `INLINE_PARSE_MAX` (32 KiB, about 900 punch lines: 6 ms on the event loop, measured)
are parsed in the executor (a 2 MiB body takes 0.8 s to parse), so a large backlog never blocks
the event loop for long.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from email.utils import formatdate
from ipaddress import ip_address
from typing import Final, Protocol

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, LOGGER
from . import commands, uploads
from .queue import CommandQueue
from .uploads import AttLogUpload, DeviceInfo, OperLogUpload, PushQuery

MAX_BODY: Final = 2 * 1024 * 1024
INLINE_PARSE_MAX: Final = 32 * 1024
# Not `OK`: the terminal keeps what it sent and tries again after ErrorDelay (reference P1).
REFUSED: Final = "ERROR: terminal not accepted"
CONTENT_TYPE: Final = "text/plain"
_READ_ENDPOINTS: Final = frozenset({"cdata", "getrequest", "devicecmd"})
# Tables whose upload the sink stores; the others are acknowledged and dropped.
_STORED_TABLES: Final = frozenset(
    {uploads.TABLE_ATTLOG, uploads.TABLE_OPERLOG, uploads.TABLE_BIODATA}
)

DATA_PUSH_HUB: HassKey[PushHub] = HassKey(f"{DOMAIN}_push_hub")


class PushSink(Protocol):
    """What a served terminal's channel does with what the terminal sends."""

    async def async_store_punches(self, upload: AttLogUpload) -> None:
        """Store the punches durably (the terminal is acknowledged after); raise to refuse."""

    async def async_store_operations(self, upload: OperLogUpload) -> None:
        """Store OPERLOG or BIODATA records (users, FP, OPLOG 6...); raise to refuse."""

    def device_info(self, info: DeviceInfo) -> None:
        """Counts, capacities and firmware (options, a poll's INFO=, the INFO command)."""

    def contacted(self, endpoint: str) -> None:
        """The terminal spoke: `cdata`, `getrequest`, `devicecmd`, `ping`..."""


@dataclass(frozen=True, slots=True)
class ServedTerminal:
    """A configured terminal: where its data goes, its commands, how it is set up."""

    serial: str
    sink: PushSink
    queue: CommandQueue
    time_zone: tzinfo
    delay: int = commands.DEFAULT_DELAY
    # Only requests from this address are served, when set.
    source_address: str | None = None
    # The stamps the terminal sent before (kept by its channel across restarts), and who keeps
    # the ones it sends next (§1.3: handed back at the next handshake).
    stamps: Mapping[str, str] = field(default_factory=dict)
    on_stamp: Callable[[str, str], None] | None = None


@dataclass(frozen=True, slots=True)
class PushDiscovery:
    """A terminal with an unknown serial number called Home Assistant."""

    serial: str
    address: str | None


@dataclass(frozen=True, slots=True)
class PushRequest:
    """A request from a terminal, whichever server received it."""

    method: str
    path: str
    query: Mapping[str, str]
    body: bytes = b""
    too_large: bool = False
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """The text of a `200 text/plain` answer."""

    text: str


def http_date() -> str:
    """The `Date:` header: now, in GMT (RFC 1123)."""
    return formatdate(usegmt=True)


def endpoint_of(path: str) -> str:
    """`cdata` of `/iclock/cdata`, `/iclock/cdata.aspx`, `/iclock/cdata/`, in lower case."""
    name = path.strip("/").removeprefix("iclock").strip("/").lower()
    return name.removesuffix(".aspx")


async def read_capped(read: Callable[[int], Awaitable[bytes]], cap: int = MAX_BODY) -> bytes | None:
    """The whole body from a stream's `read`; None when it is larger than `cap`."""
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        if not (chunk := await read(cap + 1 - size)):
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


class PushHub:
    """The terminals Home Assistant serves in Push mode, by serial number."""

    def __init__(
        self, hass: HomeAssistant, discover: Callable[[PushDiscovery], None] | None = None
    ) -> None:
        self.hass = hass
        self.discover = discover
        self._terminals: dict[str, ServedTerminal] = {}
        # The last upload cursors each terminal sent, handed back at its next handshake (§1.3).
        self._stamps: dict[str, dict[str, str]] = {}
        self._discovered: set[str] = set()
        # Requests refused, for diagnostics: those of unknown serial numbers, and by serial
        # number those from another address than the one the terminal is restricted to.
        self.refused_unknown = 0
        self.refused_source: Counter[str] = Counter()

    @callback
    def async_add_terminal(self, terminal: ServedTerminal) -> Callable[[], None]:
        """Serve a terminal; the returned callback stops serving it."""
        self._terminals[terminal.serial] = terminal
        self._stamps.setdefault(terminal.serial, {}).update(terminal.stamps)

        @callback
        def remove() -> None:
            if self._terminals.get(terminal.serial) is terminal:
                del self._terminals[terminal.serial]

        return remove

    async def async_handle(self, request: PushRequest) -> PushAnswer:
        """Answer a request; never raises."""
        try:
            return PushAnswer(await self._async_answer(request))
        except Exception:
            LOGGER.exception("Push request %s %s failed", request.method, request.path)
            return PushAnswer(REFUSED)

    async def _async_answer(self, request: PushRequest) -> str:
        query = uploads.parse_query(request.query)
        endpoint = endpoint_of(request.path)
        terminal = self._served(query.serial, request.remote)
        if terminal is not None:
            terminal.sink.contacted(endpoint)
        if endpoint not in _READ_ENDPOINTS:
            return commands.OK  # ping, 3.x and unknown paths: nothing to read, nothing to refuse
        if terminal is None or (request.too_large and _reads_body(endpoint, query)):
            return REFUSED
        if endpoint == "getrequest":
            return await self._async_poll(terminal, query)
        if endpoint == "devicecmd":
            return await self._async_results(terminal, request.body)
        if query.handshake:
            return self._handshake(terminal)
        if request.method != "POST" or query.table is None:
            return commands.OK
        return await self._async_upload(terminal, query, request.body)

    def _served(self, serial: str | None, remote: str | None) -> ServedTerminal | None:
        if serial is None:
            return None
        terminal = self._terminals.get(serial)
        if terminal is None:
            self.refused_unknown += 1
            self._discovered_once(serial, remote)
            return None
        if terminal.source_address is not None and not _same_address(
            remote, terminal.source_address
        ):
            self.refused_source[serial] += 1
            LOGGER.debug("Terminal %s refused: it called from %s", serial, remote)
            return None
        return terminal

    def _discovered_once(self, serial: str, remote: str | None) -> None:
        if serial in self._discovered:
            return
        self._discovered.add(serial)
        LOGGER.info("Unknown terminal %s calls Home Assistant from %s", serial, remote)
        if self.discover is not None:
            self.discover(PushDiscovery(serial, remote))

    def _handshake(self, terminal: ServedTerminal) -> str:
        stamps = self._stamps.get(terminal.serial, {})
        offset = dt_util.now(terminal.time_zone).utcoffset()
        return commands.handshake_answer(
            terminal.serial,
            utc_offset=offset or timedelta(),
            delay=terminal.delay,
            attlog_stamp=stamps.get(uploads.TABLE_ATTLOG, commands.DEFAULT_STAMP),
            operlog_stamp=stamps.get(uploads.TABLE_OPERLOG, commands.DEFAULT_STAMP),
            photo_stamp=stamps.get(uploads.TABLE_ATTPHOTO, commands.DEFAULT_STAMP),
        )

    async def _async_poll(self, terminal: ServedTerminal, query: PushQuery) -> str:
        if query.info is not None:
            terminal.sink.device_info(query.info)
        return commands.poll_answer(await terminal.queue.async_take())

    async def _async_results(self, terminal: ServedTerminal, body: bytes) -> str:
        parsed = await self._async_parse(uploads.parse_command_results, body)
        for result in parsed.results:
            if result.command.upper() == commands.Command.INFO and result.details:
                terminal.sink.device_info(uploads.device_info(result.details))
        unmatched = await terminal.queue.async_resolve(parsed.results)
        if unmatched or parsed.bad_lines:
            LOGGER.debug(
                "Terminal %s: %d results for no command of ours, %d unread lines",
                terminal.serial,
                len(unmatched),
                len(parsed.bad_lines),
            )
        return commands.OK

    async def _async_upload(self, terminal: ServedTerminal, query: PushQuery, body: bytes) -> str:
        table = query.table
        if table == uploads.TABLE_OPTIONS:
            terminal.sink.device_info(await self._async_parse(uploads.parse_options, body))
            return commands.OK
        if table not in _STORED_TABLES:
            return commands.OK  # ATTPHOTO and tables we do not know: acknowledged, not kept
        if table == uploads.TABLE_ATTLOG:
            punches = await self._async_parse(uploads.parse_attlog, body)
            await terminal.sink.async_store_punches(punches)
            acknowledged = punches.acknowledged
        else:
            operations = await self._async_parse(uploads.parse_operlog, body)
            await terminal.sink.async_store_operations(operations)
            acknowledged = operations.acknowledged
        if query.stamp is not None:
            self._stamps.setdefault(terminal.serial, {})[table] = query.stamp
            if terminal.on_stamp is not None:
                terminal.on_stamp(table, query.stamp)
        return commands.acknowledge(acknowledged)

    async def _async_parse[T](self, parse: Callable[[bytes], T], body: bytes) -> T:
        if len(body) <= INLINE_PARSE_MAX:
            return parse(body)
        return await self.hass.async_add_executor_job(parse, body)


def _same_address(remote: str | None, allowed: str) -> bool:
    """Whether two addresses are one; an IPv4 client of a dual-stack socket is IPv4-mapped."""
    try:
        addresses = [ip_address(address or "") for address in (remote, allowed)]
    except ValueError:
        return False
    unmapped = {getattr(address, "ipv4_mapped", None) or address for address in addresses}
    return len(unmapped) == 1


def _reads_body(endpoint: str, query: PushQuery) -> bool:
    """Whether the body is read: a photo or an unknown table is acknowledged unread."""
    if endpoint == "cdata":
        return query.table in _STORED_TABLES or query.table == uploads.TABLE_OPTIONS
    return endpoint == "devicecmd"


class IclockView(HomeAssistantView):
    """Every path under `/iclock/` on Home Assistant's own server, any method."""

    url = "/iclock/{path:.*}"
    name = "api:zkteco:iclock"
    requires_auth = False

    def __init__(self, hub: PushHub) -> None:
        self.hub = hub

    async def _async_serve(self, request: web.Request, path: str = "") -> web.Response:
        body = await read_capped(request.content.read)
        push_request = PushRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            body=body or b"",
            too_large=body is None,
            remote=request.remote,
        )
        answer = await self.hub.async_handle(push_request)
        return web.Response(
            text=answer.text, content_type=CONTENT_TYPE, headers={"Date": http_date()}
        )

    get = post = put = delete = patch = head = _async_serve


@callback
def async_get_push_hub(hass: HomeAssistant) -> PushHub:
    """The one hub of this Home Assistant; its views are registered the first time."""
    if (hub := hass.data.get(DATA_PUSH_HUB)) is None:
        hub = hass.data[DATA_PUSH_HUB] = PushHub(hass)
        hass.http.register_view(IclockView(hub))
    return hub
