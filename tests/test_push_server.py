"""The Push server on Home Assistant's own HTTP server (push/server.py): the hub and its view.

A simulated Push K40 (zksim's PushTerminal, an HTTP client faithful to the reference) calls the
views wherever a real client helps; hostile and odd requests are sent by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
import threading
from unittest.mock import patch

from aiohttp import ClientResponse
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.typing import TestClient

from custom_components.zkteco.push import commands, uploads
from custom_components.zkteco.push.queue import CommandQueue, CommandState
from custom_components.zkteco.push.server import (
    INLINE_PARSE_MAX,
    MAX_BODY,
    REFUSED,
    PushDiscovery,
    PushHub,
    ServedTerminal,
    async_get_push_hub,
)
from custom_components.zkteco.push.uploads import AttLogUpload, DeviceInfo
from zksim import PressOutcome
from zksim.push import PushTerminal

from .conftest import ATTLOG_LINE, PUSH_SERIAL, RecordingSink, until_terminal

STRANGER = "CQUJ999999999"
ATTLOG = f"/iclock/cdata?SN={PUSH_SERIAL}&table=ATTLOG"


@pytest.fixture
def source_address() -> str | None:
    """The address the served terminal is restricted to (override with parametrize)."""
    return None


@pytest.fixture
async def queue(hass: HomeAssistant, sink: RecordingSink) -> AsyncIterator[CommandQueue]:
    queue = CommandQueue(hass, PUSH_SERIAL, sink.finished.append)
    await queue.async_load()
    yield queue
    queue.async_unload()


@pytest.fixture
def served(
    hub: PushHub, sink: RecordingSink, queue: CommandQueue, source_address: str | None
) -> RecordingSink:
    """The test's terminal is a configured one."""
    hub.async_add_terminal(
        ServedTerminal(
            PUSH_SERIAL, sink, queue, dt_util.get_default_time_zone(), source_address=source_address
        )
    )
    return sink


async def send(
    client: TestClient, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[ClientResponse, str]:
    response = await client.request(
        method, path, data=body or None, headers=headers, allow_redirects=False
    )
    return response, await response.text()


def assert_push_answer(response: ClientResponse) -> None:
    """200 text/plain with a GMT Date, whatever was asked."""
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert parsedate_to_datetime(response.headers["Date"]).tzname() == "UTC"
    assert response.headers["Date"].endswith("GMT")


# --- A configured terminal ---------------------------------------------------------------


async def test_handshake_sets_the_terminal_up(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)

    assert push.server_options["Realtime"] == "1"
    assert push.server_options["Delay"] == str(commands.DEFAULT_DELAY)
    assert push.server_options["TransFlag"] == commands.TRANS_FLAG
    offset = dt_util.now().utcoffset()
    assert offset is not None
    assert push.server_options["TimeZone"] == commands.timezone_option(offset)
    handshake = push.exchanges[0]
    assert handshake.reply.startswith(f"GET OPTION FROM: {PUSH_SERIAL}\n")
    assert handshake.date.endswith("GMT")
    assert "cdata" in served.contacts
    assert "getrequest" in served.contacts


async def test_the_terminal_reports_its_counts(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.terminal.add_template("1", 5)
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    await hass.async_block_till_done()

    from_options, from_poll = served.infos[:2]
    assert from_options.users == 3
    assert from_options.fingers == 1
    assert from_options.user_capacity is not None
    assert from_poll.firmware == push.terminal.firmware
    assert from_poll.users == 3


async def test_a_punch_is_acknowledged_only_after_the_sink_stored_it(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    served.release = asyncio.Event()

    push.terminal.punch("2")
    await served.storing.wait()

    assert push.acknowledged["ATTLOG"] == []
    assert served.punches == []
    served.release.set()
    await until_terminal(hass, push, lambda t: t.acknowledged["ATTLOG"])
    assert served.users_punching == ["2"]
    assert push.unacknowledged["ATTLOG"] == 0


async def test_a_batch_the_sink_could_not_store_stays_on_the_terminal(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    served.fail = True
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    push.terminal.punch("2")
    await served.storing.wait()

    await until_terminal(hass, push, lambda t: any(e.reply == REFUSED for e in t.exchanges))
    assert push.unacknowledged["ATTLOG"] == 1

    served.fail = False
    await until_terminal(hass, push, lambda t: t.acknowledged["ATTLOG"])
    assert served.users_punching == ["2"]


async def test_a_batch_whose_answer_was_lost_is_sent_again_and_handed_on_again(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    push.lose_replies = 1

    push.terminal.punch("2")
    await until_terminal(hass, push, lambda t: t.acknowledged["ATTLOG"])

    # Recognising the repeat is the channel's business (the reference: dedupe downstream).
    assert served.users_punching == ["2", "2"]
    assert push.acknowledged["ATTLOG"] == [push.acknowledged["ATTLOG"][0]]


async def test_a_backlog_arrives_in_batches_each_acknowledged_with_its_count(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.terminal.add_records(25, start=datetime(2026, 11, 2, 8, 0))
    push.batch_size = 10
    push.attlog_fields = 10
    push.trailing_tab = True
    push.line_ending = "\r\n"
    push.start()

    await until_terminal(hass, push, lambda t: len(t.acknowledged["ATTLOG"]) == 25)

    assert [len(upload.records) for upload in served.punches] == [10, 10, 5]
    replies = [e.reply for e in push.exchanges if "ATTLOG" in e.path]
    assert replies == ["OK: 10", "OK: 10", "OK: 5"]


async def test_commands_reach_the_terminal_and_results_come_back_by_id(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal, queue: CommandQueue
) -> None:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)
    served.infos.clear()

    info = await queue.async_add(commands.Command.INFO)
    unknown = await queue.async_add("SHELL ls")
    end = await queue.async_wait_finished(unknown)

    assert end.result is not None
    assert end.result.outcome is uploads.Outcome.NOT_SUPPORTED
    assert [f.command_id for f in served.finished] == [info, unknown]
    assert served.finished[0].state is CommandState.ANSWERED
    assert served.infos[0].users == 3


async def test_a_finger_enrolled_at_the_terminal_comes_back_without_its_template(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal, queue: CommandQueue
) -> None:
    push.start()
    await until_terminal(hass, push, lambda t: t.polls >= 1)

    command_id = await queue.async_add(commands.enroll_fp("2", 6))
    assert await queue.async_wait_delivered(command_id)
    await until_terminal(hass, push, lambda t: t.terminal.enrolling)
    for _ in range(3):
        push.terminal.press_finger(PressOutcome.GOOD)
    end = await queue.async_wait_finished(command_id)
    await until_terminal(hass, push, lambda t: t.acknowledged["OPERLOG"])

    assert end.result is not None
    assert end.result.outcome is uploads.Outcome.SUCCESS
    (upload,) = served.operations
    (finger,) = upload.fingers
    assert (finger.user_id, finger.finger) == ("2", 6)
    assert [operation.code for operation in upload.operations] == [6]
    template = push.terminal.template_of(2, 6)
    assert template is not None
    assert template.template.hex() not in repr(served)


async def test_old_iclock_firmware_uses_aspx_paths(
    hass: HomeAssistant, served: RecordingSink, make_push: Callable[..., PushTerminal]
) -> None:
    push = make_push(aspx_paths=True)
    push.start()
    push.terminal.punch("3")

    await until_terminal(hass, push, lambda t: t.acknowledged["ATTLOG"])

    assert served.users_punching == ["3"]


async def test_a_raw_space_in_the_poll_is_refused_by_home_assistants_server(
    hass: HomeAssistant, served: RecordingSink, make_push: Callable[..., PushTerminal]
) -> None:
    """Measured on 2026.10.4: the reason for listener.py."""
    push = make_push(info_raw_spaces=True)
    push.terminal.firmware = "Ver 8.0.4.3-20230515"
    push.start()

    await until_terminal(hass, push, lambda t: any(e.status == 400 for e in t.exchanges))

    (refused,) = [e for e in push.exchanges if e.status == 400][:1]
    assert refused.path.startswith("/iclock/getrequest?")
    assert "getrequest" not in served.contacts


@pytest.mark.parametrize("source_address", ["192.0.2.7", "::ffff:192.0.2.7", "not an address"])
async def test_a_terminal_restricted_to_another_address_is_refused(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.start()
    push.terminal.punch("2")

    await until_terminal(hass, push, lambda t: any(e.reply == REFUSED for e in t.exchanges))

    assert served.contacts == []
    assert push.unacknowledged["ATTLOG"] == 1


@pytest.mark.parametrize("source_address", ["127.0.0.1", "::ffff:127.0.0.1"])
async def test_a_terminal_calling_from_its_address_is_served(
    hass: HomeAssistant, served: RecordingSink, push: PushTerminal
) -> None:
    push.start()
    push.terminal.punch("2")

    await until_terminal(hass, push, lambda t: t.acknowledged["ATTLOG"])


async def test_a_removed_terminal_is_no_longer_served(
    hass: HomeAssistant, hub: PushHub, queue: CommandQueue, client: TestClient
) -> None:
    stop = hub.async_add_terminal(
        ServedTerminal(PUSH_SERIAL, RecordingSink(), queue, dt_util.get_default_time_zone())
    )
    stop()
    stop()

    _, text = await send(client, "POST", ATTLOG, ATTLOG_LINE.encode())

    assert text == REFUSED


async def test_the_stamps_a_terminal_sent_come_back_at_its_next_handshake(
    served: RecordingSink, client: TestClient
) -> None:
    await send(
        client,
        "POST",
        f"{ATTLOG}&Stamp=77",
        ATTLOG_LINE.encode(),
    )
    await send(client, "POST", f"/iclock/cdata?SN={PUSH_SERIAL}&table=OPERLOG&OpStamp=12", b"")

    _, text = await send(client, "GET", f"/iclock/cdata?SN={PUSH_SERIAL}&options=all")

    assert "\nATTLOGStamp=77\nStamp=77\n" in text
    assert "\nOPERLOGStamp=12\nOpStamp=12\n" in text
    assert f"\nATTPHOTOStamp={commands.DEFAULT_STAMP}\n" in text


# --- Unknown terminals -------------------------------------------------------------------


async def test_an_unknown_terminal_is_discovered_once_and_keeps_its_data(
    hass: HomeAssistant,
    hub: PushHub,
    served: RecordingSink,
    make_push: Callable[..., PushTerminal],
) -> None:
    discovered: list[PushDiscovery] = []
    hub.discover = discovered.append
    stranger = make_push(STRANGER)
    stranger.terminal.add_records(3)
    stranger.start()

    await until_terminal(
        hass, stranger, lambda t: sum(e.reply == REFUSED for e in t.exchanges) >= 3
    )

    assert discovered == [PushDiscovery(STRANGER, "127.0.0.1")]
    assert stranger.acknowledged["ATTLOG"] == []
    assert stranger.unacknowledged["ATTLOG"] == 3
    assert "GET OPTION FROM" not in stranger.exchanges[0].reply
    assert served.contacts == []


async def test_without_a_discovery_handler_an_unknown_terminal_is_still_refused(
    hub: PushHub, client: TestClient
) -> None:
    _, text = await send(client, "GET", f"/iclock/cdata?SN={STRANGER}&options=all")

    assert text == REFUSED


# --- Every path, every method, any content ------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/iclock/ping?SN=" + PUSH_SERIAL,
        "/iclock/registry?SN=" + PUSH_SERIAL,
        "/iclock/push?SN=" + PUSH_SERIAL,
        "/iclock/querydata?SN=" + PUSH_SERIAL,
        "/iclock/rtdata?SN=" + PUSH_SERIAL + "&type=time",
        "/iclock/exchange?SN=" + PUSH_SERIAL,
        "/iclock/fdata?SN=" + PUSH_SERIAL,
        "/iclock/nothing/here",
        "/iclock/",
        "/iclock/cdata/?SN=" + PUSH_SERIAL,
        "/iclock/cdata?SN=" + PUSH_SERIAL,
        "/iclock/cdata?SN=" + PUSH_SERIAL + "&table=ATTPHOTO",
        "/iclock/cdata?SN=" + PUSH_SERIAL + "&table=NEWTABLE",
        "/iclock/cdata.aspx?SN=" + PUSH_SERIAL + "&table=ERRORLOG",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
async def test_every_path_and_method_is_answered_ok(
    served: RecordingSink, client: TestClient, path: str, method: str
) -> None:
    response, text = await send(client, method, path, b"\xff\xd8\x00binary\x00photo")

    assert_push_answer(response)
    assert text == commands.OK
    assert served.punches == served.operations == []


async def test_head_is_answered(served: RecordingSink, client: TestClient) -> None:
    response, _ = await send(client, "HEAD", f"/iclock/ping?SN={PUSH_SERIAL}")

    assert_push_answer(response)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/push;charset=UTF-8",
        "application-push; charset=UTF-8",
        "application/octet-stream",
        "application/json",
        "",
    ],
)
async def test_content_types_are_never_looked_at(
    served: RecordingSink, client: TestClient, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response, text = await send(
        client,
        "POST",
        ATTLOG,
        ATTLOG_LINE.encode(),
        **headers,
    )

    assert_push_answer(response)
    assert text == "OK: 1"
    assert served.users_punching == ["1452"]


async def test_malformed_lines_never_cost_the_valid_ones(
    served: RecordingSink, client: TestClient
) -> None:
    body = b"\r\n".join(
        [
            ATTLOG_LINE.encode(),
            b"\x00\xff\xfe binary \x81\x82",
            b"7\tnot a time\t0\t1",
            b"\t\t\t",
            b"8\t2015-07-30 15:17:00\t0\t1\t0\t0\t0\t",
            b"A" * 5000,
        ]
    )

    response, text = await send(client, "POST", ATTLOG, body)

    assert_push_answer(response)
    assert text == "OK: 5"  # every line but the blank one: a bad line does not mend by re-sending
    assert served.users_punching == ["1452", "8"]


async def test_operation_log_with_odd_lines_and_templates(
    served: RecordingSink, client: TestClient
) -> None:
    body = "\n".join(
        [
            "USER PIN=7\tName=Mu\u00f1oz\tPri=0\tPasswd=1234\tCard=\tGrp=1",
            "FP PIN=7\tFID=6\tSize=8\tValid=1\tTMP=QUJDREVGR0g=",
            "GARBAGE\x00\x01",
            "FACE PIN=7\tFID=0\tSIZE=4\tVALID=1\tTMP=QUJD",
        ]
    ).encode()

    _, text = await send(client, "POST", f"/iclock/cdata?SN={PUSH_SERIAL}&table=OPERLOG", body)

    assert text == "OK: 4"
    (upload,) = served.operations
    assert upload.users[0].name == "Mu\u00f1oz"
    assert upload.fingers[0].size == len("QUJDREVGR0g=")
    assert "QUJDREVGR0g" not in repr(upload)
    assert "1234" not in repr(upload)


async def test_unified_templates_arrive_as_biodata(
    served: RecordingSink, client: TestClient
) -> None:
    body = b"BIODATA Pin=7\tNo=6\tIndex=0\tValid=1\tDuress=0\tType=1\tMajorVer=10\tTmp=QUJD\n"

    _, text = await send(client, "POST", f"/iclock/cdata?SN={PUSH_SERIAL}&table=BIODATA", body)

    assert text == "OK: 1"
    assert served.operations[0].biodata[0].number == 6


async def test_an_operation_log_the_sink_cannot_store_is_refused(
    served: RecordingSink, client: TestClient
) -> None:
    served.fail = True

    _, text = await send(client, "POST", f"/iclock/cdata?SN={PUSH_SERIAL}&table=OPERLOG", b"")

    assert text == REFUSED


async def test_options_with_commas_inside_values(served: RecordingSink, client: TestClient) -> None:
    body = b"~DeviceName=K40,~OEMVendor=ZKTECO CO., LTD.,UserCount=12,~MaxUserCount=1000"

    _, text = await send(client, "POST", f"/iclock/cdata?SN={PUSH_SERIAL}&table=options", body)

    assert text == commands.OK
    assert served.infos == [DeviceInfo(device_name="K40", users=12, user_capacity=1000)]


async def test_results_for_commands_never_given_are_answered_and_ignored(
    served: RecordingSink, client: TestClient
) -> None:
    body = b"ID=nobody&Return=0&CMD=DATA\nReturn=5\n\x00\xff"

    response, text = await send(client, "POST", f"/iclock/devicecmd?SN={PUSH_SERIAL}", body)

    assert_push_answer(response)
    assert text == commands.OK
    assert served.finished == []


@pytest.mark.parametrize(
    "path",
    [
        "/iclock/cdata?table=ATTLOG",
        "/iclock/cdata?SN=&table=ATTLOG",
        "/iclock/cdata?SN=bad%20serial&table=ATTLOG",
        "/iclock/getrequest",
        "/iclock/devicecmd?SN=" + "9" * 200,
    ],
)
async def test_a_request_without_a_usable_serial_is_refused(
    served: RecordingSink, client: TestClient, path: str
) -> None:
    response, text = await send(client, "POST", path, ATTLOG_LINE.encode())

    assert_push_answer(response)
    assert text == REFUSED
    assert served.punches == []


async def test_a_body_over_the_cap_is_refused_and_the_terminal_keeps_it(
    served: RecordingSink, client: TestClient
) -> None:
    body = (ATTLOG_LINE + "\n").encode() * (MAX_BODY // len(ATTLOG_LINE) + 1)

    response, text = await send(client, "POST", ATTLOG, body)

    assert_push_answer(response)
    assert text == REFUSED
    assert served.punches == []


@pytest.mark.parametrize(
    ("endpoint", "answer"),
    [("devicecmd", REFUSED), ("getrequest", commands.OK), ("ping", commands.OK)],
)
async def test_only_a_body_that_is_read_is_refused_over_the_cap(
    served: RecordingSink, client: TestClient, endpoint: str, answer: str
) -> None:
    body = b"ID=1&Return=0&CMD=DATA\n" * (MAX_BODY // 20)

    _, text = await send(client, "POST", f"/iclock/{endpoint}?SN={PUSH_SERIAL}", body)

    assert text == answer


async def test_a_photo_over_the_cap_is_acknowledged_unread(
    served: RecordingSink, client: TestClient
) -> None:
    body = b"PIN=20260101080000-1.jpg\nSN=x\nsize=9\nCMD=uploadphoto\0" + b"\xff" * MAX_BODY
    path = f"/iclock/cdata?SN={PUSH_SERIAL}&table=ATTPHOTO"

    response, text = await send(client, "POST", path, body)

    assert_push_answer(response)
    assert text == commands.OK


async def test_a_large_body_is_parsed_off_the_event_loop(
    hass: HomeAssistant, served: RecordingSink, client: TestClient
) -> None:
    body = (ATTLOG_LINE + "\n").encode() * (INLINE_PARSE_MAX // len(ATTLOG_LINE) + 1)
    threads: list[threading.Thread] = []
    parse = uploads.parse_attlog

    def parse_and_note(raw: bytes) -> AttLogUpload:
        threads.append(threading.current_thread())
        return parse(raw)

    with patch.object(uploads, "parse_attlog", parse_and_note):
        _, text = await send(client, "POST", ATTLOG, body)

    count = body.count(b"\n")
    assert text == f"OK: {count}"
    assert len(served.users_punching) == count
    assert threads != [threading.main_thread()]


async def test_a_failure_inside_the_hub_is_answered_not_raised(
    served: RecordingSink, client: TestClient
) -> None:
    with patch.object(commands, "handshake_answer", side_effect=RuntimeError("bug")):
        response, text = await send(client, "GET", f"/iclock/cdata?SN={PUSH_SERIAL}&options=all")

    assert_push_answer(response)
    assert text == REFUSED


async def test_one_hub_per_home_assistant(hass: HomeAssistant, hub: PushHub) -> None:
    assert async_get_push_hub(hass) is hub
