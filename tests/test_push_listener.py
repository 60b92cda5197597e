"""The plain HTTP listener for Push terminals (push/listener.py), on a real socket on loopback.

It takes what firmware sends and Home Assistant's server refuses (a raw space in the request
line, bare LF), and serves the same hub as the views.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.zkteco.push import commands, listener as listener_module
from custom_components.zkteco.push.listener import (
    MAX_HEADERS,
    PushListener,
    async_start_listener,
)
from custom_components.zkteco.push.queue import CommandQueue
from custom_components.zkteco.push.server import MAX_BODY, REFUSED, PushHub, ServedTerminal
from zksim.push import PushTerminal

from .conftest import (
    ATTLOG_LINE,
    PUSH_SERIAL,
    RecordingSink,
    until_terminal,
)

FIRMWARE = "Ver 8.0.4.3-20230515"


@pytest.fixture
async def hub(hass: HomeAssistant, sink: RecordingSink) -> AsyncIterator[PushHub]:
    """A hub serving the test's terminal (no Home Assistant HTTP server at all)."""
    hub = PushHub(hass)
    queue = CommandQueue(hass, PUSH_SERIAL, sink.finished.append)
    await queue.async_load()
    hub.async_add_terminal(
        ServedTerminal(PUSH_SERIAL, sink, queue, dt_util.get_default_time_zone())
    )
    yield hub
    queue.async_unload()


@pytest.fixture
async def listener(socket_enabled: None, hub: PushHub) -> AsyncIterator[PushListener]:
    listener = await async_start_listener(hub, port=0, host="127.0.0.1")
    yield listener
    await listener.async_stop()


async def exchange(listener: PushListener, request: bytes) -> tuple[str, dict[str, str], str]:
    """Send raw bytes and nothing more, read until the listener closes: status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(request)
    writer.write_eof()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.decode().partition("\r\n\r\n")
    status, *header_lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return status, headers, body


def assert_push_answer(status: str, headers: dict[str, str]) -> None:
    assert status == "HTTP/1.1 200 OK"
    assert headers["Content-Type"].startswith("text/plain")
    assert parsedate_to_datetime(headers["Date"]).tzname() == "UTC"


async def test_a_terminal_with_raw_spaces_in_its_poll_is_served(
    hass: HomeAssistant,
    listener: PushListener,
    sink: RecordingSink,
    make_push_terminal: Callable[..., PushTerminal],
) -> None:
    push = make_push_terminal(f"http://127.0.0.1:{listener.port}", info_raw_spaces=True)
    push.terminal.firmware = FIRMWARE
    push.start()
    push.terminal.punch("1")

    await until_terminal(hass, push, lambda t: t.polls >= 1 and t.acknowledged["ATTLOG"])

    assert " " in next(e.path for e in push.exchanges if "INFO=" in e.path)
    assert FIRMWARE in [info.firmware for info in sink.infos]
    assert sink.users_punching == ["1"]
    assert all(e.status == 200 for e in push.exchanges)


async def test_bare_lf_and_a_raw_space(listener: PushListener, sink: RecordingSink) -> None:
    request = (
        f"GET /iclock/getrequest?SN={PUSH_SERIAL}&INFO={FIRMWARE},2,2,19 HTTP/1.1\nHost: x\n\n"
    )

    status, headers, body = await exchange(listener, request.encode())

    assert_push_answer(status, headers)
    assert body == commands.OK
    assert sink.infos[0].firmware == FIRMWARE
    assert sink.infos[0].records == 19


async def test_a_punch_is_acknowledged_with_its_count(
    listener: PushListener, sink: RecordingSink
) -> None:
    body = (ATTLOG_LINE + "\r\n").encode()
    request = (
        f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG&Stamp=1 HTTP/1.1\r\n"
        f"Content-Length: {len(body)}\r\nContent-Type: application/push\r\n\r\n"
    ).encode()

    _, headers, answer = await exchange(listener, request + body)

    assert answer == "OK: 1"
    assert headers["Content-Length"] == "5"
    assert sink.users_punching == ["1452"]


async def test_expect_100_continue(listener: PushListener, sink: RecordingSink) -> None:
    body = ATTLOG_LINE.encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(
        f"POST /iclock/cdata.aspx?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
    )

    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    assert (await reader.read()).endswith(b"OK: 1")
    writer.close()
    await writer.wait_closed()
    assert sink.users_punching == ["1452"]


async def test_a_chunked_body(listener: PushListener, sink: RecordingSink) -> None:
    body = ATTLOG_LINE.encode()
    half = len(body) // 2
    chunks = b"".join(
        f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
    )
    request = (
        f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()

    _, _, answer = await exchange(listener, request + chunks + b"0\r\nTrailer: x\r\n\r\n")

    assert answer == "OK: 1"
    assert sink.users_punching == ["1452"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode(),
            id="content-length-over-the-cap",
        ),
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\nExpect: 100-continue\r\n\r\n".encode(),
            id="no-100-continue-for-a-body-over-the-cap",
        ),
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n{MAX_BODY + 1:x}\r\n".encode(),
            id="chunk-over-the-cap",
        ),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", id="tls-hello"),
        pytest.param(b"GET iclock/cdata HTTP/1.1\r\n\r\n", id="no-leading-slash"),
        pytest.param(b"\r\n\r\n", id="empty-request-line"),
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            "Content-Length: -5\r\n\r\n".encode(),
            id="negative-length",
        ),
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            "Content-Length: many\r\n\r\n".encode(),
            id="length-not-a-number",
        ),
        pytest.param(
            f"POST /iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG HTTP/1.1\r\n"
            "Content-Length: 500\r\n\r\nshort".encode(),
            id="body-cut-short",
        ),
        pytest.param(
            b"GET /iclock/ping HTTP/1.1\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n",
            id="too-many-headers",
        ),
        pytest.param(
            b"GET /iclock/ping?" + b"A" * 20000 + b" HTTP/1.1\r\n\r\n", id="line-too-long"
        ),
    ],
)
async def test_hostile_requests_are_refused_without_harm(
    listener: PushListener, sink: RecordingSink, request_bytes: bytes
) -> None:
    status, headers, body = await exchange(listener, request_bytes)

    assert_push_answer(status, headers)
    assert body == REFUSED
    assert sink.punches == []


async def test_an_http_0_9_style_line_is_read(listener: PushListener) -> None:
    _, _, body = await exchange(listener, f"GET /iclock/ping?SN={PUSH_SERIAL}\n\n".encode())

    assert body == commands.OK


async def test_a_silent_connection_is_closed(listener: PushListener, sink: RecordingSink) -> None:
    with patch.object(listener_module, "READ_TIMEOUT", 0):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()

    status, _, body = answer.decode().partition("\r\n")

    assert status == "HTTP/1.1 200 OK"
    assert body.endswith(REFUSED)


async def test_a_connection_lost_while_answering_is_let_go(
    listener: PushListener, hub: PushHub
) -> None:
    with patch.object(hub, "async_handle", side_effect=ConnectionResetError):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET /iclock/ping HTTP/1.1\r\n\r\n")
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()

    _, _, body = await exchange(listener, b"GET /iclock/ping HTTP/1.1\r\n\r\n")
    assert body == commands.OK


async def test_stopping_closes_the_port(socket_enabled: None, hub: PushHub) -> None:
    listener = await async_start_listener(hub, port=0, host="127.0.0.1")
    port = listener.port

    await listener.async_stop()

    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_taken_port_is_reported(listener: PushListener, hub: PushHub) -> None:
    with pytest.raises(OSError, match="address already in use"):
        await async_start_listener(hub, port=listener.port, host="127.0.0.1")
