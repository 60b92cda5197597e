"""A plain HTTP listener for Push terminals that Home Assistant's own server cannot take.

Home Assistant's server (aiohttp) answers `400` before any view runs to a request line holding a
raw space, and to bare-LF line endings (measured on 2026.10.4: `GET /iclock/getrequest?SN=ABC&
INFO=Ver 8.0.4.3-...` is refused, the same with `%20` reaches the router). The vendor's own
example `getrequest` carries such an `INFO=`, and a terminal whose polls are refused never gets
a command. It is also HTTPS-only where the user set it so, while terminals speak plain HTTP
(reference P4). This listener, on a port of the user's choice (8081 is the ecosystem's default,
§1.2, P5), reads what firmware sends and hands it to the same `PushHub` as the views:

- the request line is `<method> <target> <version>`, the target being everything between the
  first and the last space (raw spaces kept); lines end with CRLF or a bare LF;
- the head (request line and headers) is at most `MAX_HEAD` bytes; the body is read by
  `Content-Length`, or chunked, up to the hub's `MAX_BODY`; `Expect: 100-continue` is honoured
  (ZKTeco's C# demo does, §1.2);
- a connection that sends nothing for `READ_TIMEOUT` seconds is closed; each connection carries
  one request (`Connection: close`, as terminals send);
- every answer is `200 text/plain` with a GMT `Date:`; a request that cannot be read at all is
  answered with the hub's refusal, so a terminal keeps its data; nothing raises out of a
  connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from typing import Final
from urllib.parse import parse_qsl, unquote

from ..const import LOGGER
from .server import (
    CONTENT_TYPE,
    MAX_BODY,
    REFUSED,
    PushAnswer,
    PushHub,
    PushRequest,
    http_date,
)

DEFAULT_PORT: Final = 8081
MAX_HEAD: Final = 16 * 1024
MAX_HEADERS: Final = 100
READ_TIMEOUT: Final = 30.0
WRITE_TIMEOUT: Final = 10.0


class _Unreadable(Exception):
    """A request that is not HTTP enough to be read."""


class PushListener:
    """A running listener; `async_stop` closes it and its connections."""

    def __init__(self, hub: PushHub, server: asyncio.Server) -> None:
        self.hub = hub
        self._server = server

    @property
    def port(self) -> int:
        """The port it listens on (the one asked for, or the one given for 0)."""
        return int(self._server.sockets[0].getsockname()[1])

    async def async_stop(self) -> None:
        """Stop listening and close the open connections."""
        self._server.close()
        self._server.close_clients()
        await self._server.wait_closed()


async def async_start_listener(
    hub: PushHub, port: int = DEFAULT_PORT, host: str | None = None
) -> PushListener:
    """Listen on `port` (all addresses unless `host`); OSError when the port is taken."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_connection(hub, reader, writer)

    server = await asyncio.start_server(serve, host, port, limit=MAX_HEAD)
    listener = PushListener(hub, server)
    LOGGER.info("Listening for Push terminals on port %d", listener.port)
    return listener


async def _serve_connection(
    hub: PushHub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        answer = await _answer(hub, reader, writer)
        writer.write(_response(answer))
        async with asyncio.timeout(WRITE_TIMEOUT):
            await writer.drain()
    except (OSError, TimeoutError) as err:
        LOGGER.debug("Push connection from %s lost: %s", _peer(writer), err)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _answer(
    hub: PushHub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> PushAnswer:
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            request = await _read_request(reader, writer)
    except (
        _Unreadable,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        ValueError,
        TimeoutError,
    ):
        LOGGER.debug("Unreadable or unfinished Push request from %s", _peer(writer))
        return PushAnswer(REFUSED)
    return await hub.async_handle(request)


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> PushRequest:
    method, target = _request_line(await _line(reader))
    headers = await _headers(reader)
    path, _, query = target.partition("?")
    body = await _body(reader, writer, headers)
    return PushRequest(
        method=method,
        path=unquote(path),
        query=_query(query),
        body=body or b"",
        too_large=body is None,
        remote=_peer(writer),
    )


async def _line(reader: asyncio.StreamReader) -> str:
    raw = await reader.readuntil(b"\n")
    return raw.decode("latin-1").rstrip("\r\n")


def _request_line(line: str) -> tuple[str, str]:
    method, _, rest = line.strip().partition(" ")
    target, _, version = rest.rpartition(" ")
    if not version.upper().startswith("HTTP/"):
        target = rest  # an HTTP/0.9-style line: no version
    if not method.isalpha() or not target.startswith("/"):
        raise _Unreadable
    return method.upper(), target


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        if not (line := await _line(reader)):
            return headers
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    raise _Unreadable


async def _body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: Mapping[str, str]
) -> bytes | None:
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = 0 if chunked else int(headers.get("content-length") or 0)
    if length < 0:
        raise _Unreadable
    if length > MAX_BODY:
        return None  # refused before the client sends it
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return await _chunked_body(reader) if chunked else await reader.readexactly(length)


async def _chunked_body(reader: asyncio.StreamReader) -> bytes | None:
    body = b""
    while size := int((await _line(reader)).partition(";")[0].strip() or "0", 16):
        if len(body) + size > MAX_BODY:
            return None
        body += await reader.readexactly(size)
        await _line(reader)
    while await _line(reader):  # trailers
        pass
    return body


def _query(query: str) -> dict[str, str]:
    """Keys and values, decoded; raw spaces kept, the first of a key wins."""
    pairs: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        pairs.setdefault(name, value)
    return pairs


def _response(answer: PushAnswer) -> bytes:
    body = answer.text.encode()
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {CONTENT_TYPE}; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Date: {http_date()}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _peer(writer: asyncio.StreamWriter) -> str | None:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if peer else None
