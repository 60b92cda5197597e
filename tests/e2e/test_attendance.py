"""Punches on the terminal reach a real hass's websocket API, live and after a restart."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from devtools.hass_runner import HassApi, HassWebSocket
from zksim import ZKSimulator

from .conftest import (
    DEVICE_ID,
    ENROLLED_USER_ID,
    EVENT_TIMEOUT,
    RELAYED_ATTENDANCE,
    USER_ID,
    LiveHass,
    next_event_data,
)

pytestmark = pytest.mark.e2e

ATTENDANCE = "zkteco_attendance"
CHECK_OUT = 1
FINGERPRINT = 1
# People in a queue at the terminal, one after the other.
PUNCH_INTERVAL = 0.3

type Delivered = list[tuple[str, str, bool | None]]  # user id, time, caught up


def delivered(event_data: dict[str, Any]) -> tuple[str, str, bool | None]:
    """What tells punches apart, and whether it came caught up (an automation's relay has no flag).

    The relay's template renders "123" as a number: compared as text.
    """
    return str(event_data["user_id"]), event_data["time"][:19], event_data.get("caught_up")


def local_time(when: datetime) -> str:
    """A punch's time as its event shows it, without the zone (hass adds its own)."""
    return when.isoformat()


async def test_punch_arrives_over_the_websocket(ws: HassWebSocket, sim: ZKSimulator) -> None:
    """A finger on the terminal: zkteco_attendance with who, when, how and what kind, at once."""
    punches = await ws.subscribe_events(ATTENDANCE)
    record = sim.punch(USER_ID, punch=CHECK_OUT, status=FINGERPRINT)
    data = await next_event_data(ws, punches)
    assert data["time"].startswith(local_time(record.timestamp))
    assert {key: value for key, value in data.items() if key != "time"} == {
        "device_id": DEVICE_ID,
        "serial_number": sim.serial,
        "user_id": USER_ID,
        "name": "Ana Garcia",
        "punch": CHECK_OUT,
        "kind": "check_out",
        "verify": FINGERPRINT,
        "verified_by": "fingerprint",
        "caught_up": False,
    }


@dataclass(frozen=True)
class AfterRestart:
    """What a websocket client got from a restart on: the punches, and an automation's relays."""

    expected: Delivered
    punches: Delivered
    relayed: Delivered


def punch_at(sim: ZKSimulator, user_id: str, when: datetime) -> tuple[str, str]:
    record = sim.punch(user_id, timestamp=when)
    return user_id, local_time(record.timestamp)


async def listen_from_start(
    live_hass: LiveHass, sim: ZKSimulator, missed: Delivered
) -> AfterRestart:
    """Start hass, subscribe as soon as it answers, then punch live once it runs; collect both.

    The live punch comes after any duplicate would have: delivery is in order, so waiting for it
    shows everything that was delivered.
    """
    runner = live_hass.runner
    runner.start()
    async with aiohttp.ClientSession() as http:
        await runner.wait_until_answering(http)
        ws = await HassWebSocket.connect(http, live_hass.url, live_hass.token)
        streams: dict[int, Delivered] = {
            await ws.subscribe_events(ATTENDANCE): [],
            await ws.subscribe_events(RELAYED_ATTENDANCE): [],
        }
        # Automations are armed once start-up is over.
        await runner.wait_until_running(HassApi(http, live_hass.url), live_hass.token)
        last = missed[-1][1]
        live = punch_at(sim, USER_ID, datetime.fromisoformat(last) + timedelta(seconds=1))
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                while not all(stream and stream[-1][:2] == live for stream in streams.values()):
                    subscription, event = await ws.next_event_of(streams)
                    streams[subscription].append(delivered(event["data"]))
        except TimeoutError:
            pass  # what came is compared below
        await ws.close()
    punches, relayed = streams.values()
    return AfterRestart([*missed, (*live, False)], punches, relayed)


@pytest.fixture(scope="module")
def after_restart(live_hass: LiveHass, sim: ZKSimulator) -> AfterRestart:
    """hass stopped, three punches made meanwhile, hass started again with the same config."""
    live_hass.runner.stop()
    start = sim.clock
    missed: Delivered = [
        (*punch_at(sim, user_id, start + timedelta(seconds=offset)), True)
        for offset, user_id in enumerate((ENROLLED_USER_ID, USER_ID, ENROLLED_USER_ID), 1)
    ]
    return asyncio.run(listen_from_start(live_hass, sim, missed))


def test_restart_delivers_missed_punches_once_in_order(after_restart: AfterRestart) -> None:
    """The punches made while hass was down come once each, in order, marked caught up."""
    assert after_restart.punches == after_restart.expected


def test_restart_gives_automations_the_missed_punches(after_restart: AfterRestart) -> None:
    """An automation on zkteco_attendance sees the missed punches too, not only the live one."""
    assert after_restart.relayed == [(*punch[:2], None) for punch in after_restart.expected]


async def stream_then_kill(
    live_hass: LiveHass, sim: ZKSimulator, when: list[datetime]
) -> Delivered:
    """Punch at each of ``when``, one after the other; SIGKILL hass the moment the last arrives."""
    async with aiohttp.ClientSession() as http:
        ws = await HassWebSocket.connect(http, live_hass.url, live_hass.token)
        subscription = await ws.subscribe_events(ATTENDANCE)
        seen: Delivered = []
        for index, moment in enumerate(when):
            if index:
                await asyncio.sleep(PUNCH_INTERVAL)
            punch_at(sim, USER_ID, moment)
            seen.append(delivered(await next_event_data(ws, subscription)))
        live_hass.runner.kill()
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await ws.close()
    return seen


def test_sigkill_loses_no_punch(live_hass: LiveHass, sim: ZKSimulator) -> None:
    """hass killed (SIGKILL) in a stream of punches, more punches while it is down, a restart.

    None is lost, and all come in order. At most one comes twice: the punch delivered at the
    very moment of the kill, if its delivery was not written to disk yet; it comes again
    caught up. (What is delivered is written in the next turn of the event loop.)
    """
    start = sim.clock.replace(microsecond=0) + timedelta(hours=1)
    streamed = [start + timedelta(seconds=offset) for offset in range(6)]
    before = asyncio.run(stream_then_kill(live_hass, sim, streamed))
    missed: Delivered = [
        (*punch_at(sim, USER_ID, start + timedelta(seconds=offset)), True) for offset in (6, 7, 8)
    ]
    after = asyncio.run(listen_from_start(live_hass, sim, missed))
    assert before == [(USER_ID, local_time(moment), False) for moment in streamed]
    again = after.punches[: len(after.punches) - len(after.expected)]
    assert after.punches[len(again) :] == after.expected
    assert again in ([], [(*before[-1][:2], True)]), f"{len(again)} delivered twice"
