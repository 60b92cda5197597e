"""A simulated K40 in Push mode: the terminal calls the server (ZKTeco Attendance PUSH 2.x).

``PushTerminal`` drives a ``Terminal`` (the same users, templates, records and enrollment
presses as the pull simulator; pass a ``ZKSimulator`` to get one terminal speaking both
protocols) from a thread of its own, with the standard library's HTTP client, against a server
base URL (``http://host:port``; the terminal builds the ``/iclock/...`` paths itself).
Section numbers below are those of ``shared/reference/push-protocol.md`` and its sources.

Faithful to the reference:

- handshake ``GET /iclock/cdata?SN=..&options=all&pushver=2.4.1&language=69&DeviceType=att&
  PushOptionsFlag=1`` as a real terminal sent it (§1.3; zf0916/hr-system SPEC §12); a reply
  starting ``GET OPTION FROM:`` is obeyed: ``Delay`` (poll interval), ``ErrorDelay`` (wait after
  a failure), ``Realtime``, ``TransFlag`` (both formats: bit string, position 1 AttLog, 2 OpLog,
  4 EnrollFP; and ``TransData AttLog\\tOpLog...``), ``TransInterval`` (minutes), ``TransTimes``
  (``HH:MM;HH:MM`` on the terminal's clock), ``TimeZone`` (hours when |TZ| <= 14, else minutes,
  §1.11) with the reply's GMT ``Date:`` header setting the clock; a stamp of ``0``
  (``ATTLOGStamp``/``Stamp``, ``OPERLOGStamp``/``OpStamp``) re-uploads everything, any other
  stamp is ignored (§1.3 "Stamp semantics"); a bare ``OK`` keeps the current settings
  (2.x devices carry on, §1.3);
- ``POST cdata?table=options`` with ``Key=Value,...`` after each handshake, including a value
  with commas (``~OEMVendor=ZKTECO CO., LTD.``, §1.4);
- ``GET getrequest?SN=..`` every ``Delay`` s, the first after a handshake carrying the positional
  ``INFO=<firmware>,<users>,<fingers>,<attlogs>,<ip>,<fp algo>,<face algo>,<faces needed>,
  <faces>,<feature bits>`` (§1.4), %20-encoded or, with ``info_raw_spaces``, with the raw
  spaces of the vendor's example (issue 10); every ``C:<id>:<command>`` line is executed and the
  results of one poll go back batched in one ``POST devicecmd`` as
  ``ID=..&Return=..&CMD=..`` lines (§1.6, §1.7; s0x90 datasheet);
- ``POST cdata?table=ATTLOG&Stamp=..``: one tab-separated line per punch,
  ``PIN, time, state, verify, workcode, 0, 0`` (7 fields, §1.5) or the SenseFace's 10 fields
  (``attlog_fields=10``), optional trailing tab, LF or CRLF (§1.2, zf0916 SPEC §12);
  ``Realtime=1`` posts at once, otherwise on TransInterval/TransTimes/``LOG``;
- a batch counts as delivered only on ``OK: <n>``/``OK:<n>``; a bare ``OK`` (unless
  ``accept_bare_ok``), another status or no answer makes the terminal wait ``ErrorDelay`` and
  post the same lines again (§0 item 4, §4 pitfall 1: the gate that re-sent a batch 220 times);
  nothing is lost: a backlog goes out in ``batch_size`` lines per post once the server answers
  (the whole log at first contact: nothing of it was acknowledged yet); a network failure also
  starts over with a handshake;
- commands (``push_commands.py``); after an ``ENROLL_FP`` that answered 0, as TransFlag's
  OpLog and EnrollFP allow, ``OPLOG 6\\t0\\t<time>\\t<PIN>\\t<FID>\\t<bytes>\\t0`` and
  ``FP PIN=\\tFID=\\tSize=<base64 length>\\tValid=1\\tTMP=<base64>`` on
  ``table=OPERLOG&OpStamp=``;
- headers ``User-Agent: iClock Proxy/1.09``, ``Connection: close``, ``Accept: */*``;
  ``.aspx`` paths of old iClock firmware with ``aspx_paths`` (§1.1).

Simplified or assumed (nothing here was seen on a K40):

- ``batch_size`` (500) is not documented anywhere; the 2.x dialect only, no encryption, no
  ``pushcommkey``, no photos, no ``BIODATA`` (a K40 is ZKFinger 10: ``FP`` on OPERLOG);
- ``Delay``/``ErrorDelay``/``TransInterval`` accept fractions, and ``time_scale`` shrinks them,
  so tests run fast whatever the server asks; stamps sent are line counts (opaque to servers);
- no ``OPLOG`` for power on/off or for users the server writes; ``USER`` is uploaded only for a
  user added at the terminal with ``add_user`` (not at a ``CHECK`` with a stamp of 0);
- unacknowledged data lives in this object: ``reboot()`` and ``stop()``/``start()`` keep it,
  as the terminal's flash does; a punch logged and then cleared by ``CLEAR LOG`` is gone.

Faults for tests: ``unreachable`` (every request fails as if the server were down),
``lose_replies`` (the server gets the next N requests but the answers are lost, so the
terminal re-sends), ``lose_upload_replies`` (the same for the next N ATTLOG/OPERLOG posts
only, as when the server stops right after storing a batch), ``drop_template_upload``
(``ENROLL_FP`` answers 0 but neither ``OPLOG 6`` nor ``FP`` follows: the real-hardware case of
§1.9 where ``Return=0`` left no usable finger),
``reboot()``. Observable: ``exchanges`` (each with the seconds its answer took, for
benchmarks), ``acknowledged``, ``results``, ``unacknowledged``, ``server_options``,
``handshakes``, ``polls``; ``wait_for(predicate)``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, replace
from datetime import timedelta
from email.utils import parsedate_to_datetime
import http.client
import re
import threading
import time
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlencode, urlsplit

from .push_commands import (
    RETURN_OK,
    CommandResult,
    Effect,
    PushCommands,
    PushEnrollment,
    parse_command_lines,
)
from .records import Record
from .terminal import Terminal

PUSH_VERSION = "2.4.1"
LANGUAGE_ENGLISH = "69"
USER_AGENT = "iClock Proxy/1.09"
TICK = 0.1  # idle step: the terminal clock (timeouts, demo); events wake it at once
# TransFlag format 1, position by position ([ATT-CN] §6).
TRANSFLAG_BITS = (
    "attlog",
    "oplog",
    "attphoto",
    "enrollfp",
    "enrolluser",
    "fpimag",
    "chguser",
    "chgfp",
    "face",
    "userpic",
    "workcode",
    "biophoto",
)
DEFAULT_TRANSFLAG = "1111000000"
UPLOAD_ACK = re.compile(r"OK:\s*\d+$")


class _Unreachable(Exception):
    """No answer: the terminal starts over with a handshake after ErrorDelay."""


class _Refused(Exception):
    """An answer that is not the acknowledgement: try again after ErrorDelay."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the terminal made and the answer (status None: none came back)."""

    method: str
    path: str
    body: str
    status: int | None = None
    reply: str = ""
    date: str = ""  # the answer's Date header
    elapsed: float = 0.0  # seconds from connecting to the answer's last byte (0: not sent)


def parse_transflag(value: str) -> frozenset[str]:
    """Both TransFlag formats, as lower-case names."""
    value = value.strip()
    if value.startswith("TransData"):
        return frozenset(name.lower() for name in value.removeprefix("TransData").split())
    return frozenset(name for name, bit in zip(TRANSFLAG_BITS, value, strict=False) if bit == "1")


def parse_timezone(value: str) -> timedelta:
    """TimeZone is in hours when small, in minutes otherwise (330 = +5:30)."""
    zone = int(value)
    return timedelta(hours=zone) if abs(zone) <= 14 else timedelta(minutes=zone)


def _is_upload(path: str) -> bool:
    """A post of punches or operations (not the options, not a command result)."""
    return "/cdata" in path and ("table=ATTLOG" in path or "table=OPERLOG" in path)


class _FirmwareConnection(http.client.HTTPConnection):
    """Sends a request line with raw spaces, as the vendor's INFO example shows."""

    def _validate_path(self, url: str) -> None:
        if re.search(r"[\x00-\x1f\x7f]", url):
            raise http.client.InvalidURL(f"control character in {url!r}")


class PushTerminal:
    """A K40 whose Cloud Server setting points at ``url``."""

    def __init__(
        self,
        url: str,
        terminal: Terminal | None = None,
        serial: str = "CQUJ203960001",
        *,
        delay: float = 30.0,
        error_delay: float = 30.0,
        time_scale: float = 1.0,
    ) -> None:
        self.terminal = terminal if terminal is not None else Terminal(serial)
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.http_port = parts.port or 80
        # The terminal's own settings until a handshake says otherwise.
        self.delay = delay
        self.error_delay = error_delay
        self.time_scale = time_scale
        self.realtime = True
        self.trans_flags = parse_transflag(DEFAULT_TRANSFLAG)
        self.trans_interval = 0.0
        self.trans_times: tuple[str, ...] = ()
        self.timezone: timedelta | None = None
        # How this firmware writes things.
        self.pushver = PUSH_VERSION
        self.language = LANGUAGE_ENGLISH
        self.batch_size = 500
        self.attlog_fields = 7
        self.trailing_tab = False
        self.line_ending = "\n"
        self.content_type: str | None = "text/plain"
        self.info_raw_spaces = False
        self.aspx_paths = False
        self.accept_bare_ok = False
        self.upload_options = True
        self.sync_clock = True
        self.request_timeout = 5.0
        self.record_exchanges = True
        # Faults.
        self.unreachable = False
        self.lose_replies = 0
        self.lose_upload_replies = 0
        self.drop_template_upload = False
        # Observable state.
        self.server_options: dict[str, str] = {}
        self.handshakes = 0
        self.polls = 0
        self.reboots = 0
        self._exchanges: list[Exchange] = []
        self._acknowledged: dict[str, list[str]] = {"ATTLOG": [], "OPERLOG": []}
        self._results: list[CommandResult] = []
        # Runtime state (survives stop/start and reboots, like the terminal's flash).
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attlog_sent = 0
        self._operlog: list[str] = []
        self._operlog_sent = 0
        self._commands = PushCommands(self.terminal, self.device_info)
        self._connected = False
        self._info_due = False
        self._options_due = False
        self._upload_due = False
        self._power_cut = False
        self._reboot_due = False
        self._next_poll = 0.0
        self._next_transfer = 0.0
        self._last_transfer_time = ""
        self._attach()

    # -- life cycle ----------------------------------------------------------------------
    @property
    def serial(self) -> str:
        return self.terminal.serial

    def start(self) -> Self:
        """Power on: handshake, then upload and poll until stop()."""
        if self._thread is None:
            self._stop.clear()
            self._connected = False
            self._thread = threading.Thread(
                target=self._run, name=f"zksim-push-{self.serial}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Power off and join the thread; unacknowledged data is kept. Safe to call twice."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop and give the terminal's event sink back (for a terminal shared with pull)."""
        self.stop()
        self.terminal._emit = self._previous_emit

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def reboot(self) -> None:
        """Power cycle now: enrollment ends, the handshake starts over, nothing is lost."""
        self._power_cut = True
        self._wake.set()

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 5.0) -> bool:
        return self.terminal.wait_for(lambda _terminal: predicate(self), timeout)

    # -- observable state ----------------------------------------------------------------
    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    @property
    def acknowledged(self) -> dict[str, list[str]]:
        """Lines the server acknowledged, per table, in order."""
        with self._lock:
            return {table: list(lines) for table, lines in self._acknowledged.items()}

    @property
    def results(self) -> list[CommandResult]:
        with self._lock:
            return list(self._results)

    @property
    def unacknowledged(self) -> dict[str, int]:
        """Lines still to be delivered, per table."""
        records = len(self.terminal.records)
        with self._lock:
            return {
                "ATTLOG": records - min(self._attlog_sent, records),
                "OPERLOG": len(self._operlog) - self._operlog_sent,
            }

    def result(self, command_id: str) -> CommandResult | None:
        return next((r for r in self.results if r.command_id == command_id), None)

    # -- people at the terminal ----------------------------------------------------------
    def add_user(self, user_id: str, name: str = "", privilege: int = 0, card: int = 0) -> None:
        """Someone adds a user on the terminal's keypad: kept, then uploaded on OPERLOG.

        As TransFlag's EnrollUser allows, in the record form of §1.5 (``Grp``, ``TZ``,
        ``Verify`` and ``ViceCard`` as a K40 leaves them for a new user; assumed).
        """
        self.terminal.add_user(user_id, name, privilege, card=card)
        if "enrolluser" not in self.trans_flags:
            return
        line = (
            f"USER PIN={user_id}\tName={name}\tPri={privilege}\tPasswd=\tCard={card}\tGrp=1"
            "\tTZ=0000000000000000\tVerify=-1\tViceCard="
        )
        with self._lock:
            self._operlog.append(line)
        self._wake.set()

    # -- the terminal's events -----------------------------------------------------------
    def _attach(self) -> None:
        self._previous_emit = self.terminal._emit
        previous = self._previous_emit

        def emit(event: int, payload: bytes, target: int | None) -> None:
            previous(event, payload, target)
            self._on_event(event, payload, target)

        self.terminal._emit = emit

    def _on_event(self, event: int, payload: bytes, target: int | None) -> None:
        """Called with the terminal's lock held: note what happened, the thread does the rest."""
        ended = self._commands.on_event(event, payload, target)
        if ended is not None:
            self._enrollment_finished(*ended)
        self._wake.set()

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self._step()
            except _Unreachable:
                self._connected = False
                self._pause(self.error_delay)
            except _Refused:
                self._pause(self.error_delay)
            else:
                if not busy:
                    self._idle()

    def _step(self) -> bool:
        """One round of the terminal's push loop; True when more is waiting to go out."""
        self.terminal.tick(time.monotonic())
        if self._power_cut:
            self._power_cycle()
        if not self._connected:
            self._handshake()
        if self._options_due:
            self._post_options()
        self._post_results()
        if self._reboot_due:  # the REBOOT command, once its result went out
            self._power_cycle()
            return True
        enrollment = self._commands.enrollment  # the presses end it from another thread
        if enrollment is not None and enrollment.retries_exhausted:
            self.terminal.cancel_enrollment()
        busy = self._upload_attlog()
        busy |= self._upload_operlog()
        if time.monotonic() >= self._next_poll:
            self._poll()
        return busy

    def _idle(self) -> None:
        wait = min(max(self._next_poll - time.monotonic(), 0.0), TICK)
        self._wake.wait(wait)

    def _pause(self, seconds: float) -> None:
        """Wait without giving up the clock: enrollment timeouts still fire."""
        deadline = time.monotonic() + seconds * self.time_scale
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.terminal.tick(time.monotonic())
            self._stop.wait(min(TICK, max(deadline - time.monotonic(), 0.0)))

    def _power_cycle(self) -> None:
        self._power_cut = self._reboot_due = False
        self.terminal.reset_runtime_state()
        self._commands.enrollment = None
        self._stop.wait(self.terminal.reboot_duration)
        self._connected = False
        self.reboots += 1

    # -- HTTP ----------------------------------------------------------------------------
    def _request(self, method: str, endpoint: str, query: str, body: str | None = None) -> Exchange:
        """Send one request; its exchange when answered with a 200, else _Unreachable/_Refused."""
        path = f"/iclock/{endpoint}{'.aspx' if self.aspx_paths else ''}?{query}"
        exchange = self._send(Exchange(method, path, body or ""), body is not None)
        self._record(exchange)
        if exchange.status is None:
            raise _Unreachable(path)
        if exchange.status != 200:
            raise _Refused(f"{exchange.status} {exchange.reply!r}")
        return exchange

    def _send(self, request: Exchange, has_body: bool) -> Exchange:
        if self.unreachable:
            return request
        connection = _FirmwareConnection(self.host, self.http_port, timeout=self.request_timeout)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
        if has_body and self.content_type:
            headers["Content-Type"] = self.content_type
        body = request.body.encode() if has_body else None
        started = time.perf_counter()
        try:
            connection.request(request.method, request.path, body, headers)
            response = connection.getresponse()
            reply = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            return request
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        if self.lose_replies > 0:
            self.lose_replies -= 1
            return request
        if self.lose_upload_replies > 0 and _is_upload(request.path):
            self.lose_upload_replies -= 1
            return request
        date = response.getheader("Date") or ""
        return replace(request, status=response.status, reply=reply, date=date, elapsed=elapsed)

    def _record(self, exchange: Exchange) -> None:
        if self.record_exchanges:
            with self._lock:
                self._exchanges.append(exchange)

    def _query(self, **params: str) -> str:
        return urlencode({"SN": self.serial, **params})

    # -- handshake and options -----------------------------------------------------------
    def _handshake(self) -> None:
        query = self._query(
            options="all",
            pushver=self.pushver,
            language=self.language,
            DeviceType="att",
            PushOptionsFlag="1",
        )
        answer = self._request("GET", "cdata", query)
        lines = answer.reply.replace("\r\n", "\n").split("\n")
        if lines[0].startswith("GET OPTION FROM"):
            pairs = (line.partition("=") for line in lines[1:] if "=" in line)
            self._obey({key.strip(): value.strip() for key, _, value in pairs})
        self._set_clock(answer.date)
        self.handshakes += 1
        self._connected = True
        self._info_due = True
        self._options_due = self.upload_options
        self._next_poll = time.monotonic()

    def _obey(self, options: dict[str, str]) -> None:
        self.server_options = options
        numbers = {"Delay": "delay", "ErrorDelay": "error_delay", "TransInterval": "trans_interval"}
        for key, attribute in numbers.items():
            if key in options:
                with contextlib.suppress(ValueError):
                    setattr(self, attribute, float(options[key]))
        if "Realtime" in options:
            self.realtime = options["Realtime"].strip() == "1"
        if "TransFlag" in options:
            self.trans_flags = parse_transflag(options["TransFlag"])
        if "TransTimes" in options:
            self.trans_times = tuple(t.strip() for t in options["TransTimes"].split(";"))
        if "TimeZone" in options:
            with contextlib.suppress(ValueError):
                self.timezone = parse_timezone(options["TimeZone"])
        self._next_transfer = time.monotonic() + self._transfer_interval()
        if options.get("ATTLOGStamp", options.get("Stamp")) == "0":
            self._attlog_sent = 0
        if options.get("OPERLOGStamp", options.get("OpStamp")) == "0":
            self._operlog_sent = 0

    def _set_clock(self, date: str) -> None:
        """The server's GMT Date plus the TimeZone it gave sets the terminal's clock."""
        if not (self.sync_clock and date and self.timezone is not None):
            return
        try:
            utc = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        self.terminal.set_clock((utc + self.timezone).replace(tzinfo=None))

    def device_info(self) -> dict[str, str]:
        """What table=options and the INFO command report."""
        t = self.terminal
        counts = t.counts()
        return {
            "~DeviceName": t.device_name,
            "~SerialNumber": t.serial,
            "FWVersion": t.firmware,
            "PushVersion": f"Ver {self.pushver}",
            "~Platform": t.platform,
            "~OEMVendor": "ZKTECO CO., LTD.",
            "MAC": t.mac,
            "IPAddress": t.ip_address,
            "Language": self.language,
            "UserCount": str(counts["users"]),
            "~MaxUserCount": str(t.option("~MaxUserCount")),
            "FingerFunOn": "1",
            "FPVersion": str(t.option("~ZKFPVersion")),
            "FPCount": str(counts["fingers"]),
            "~MaxFingerCount": str(t.option("~MaxFingerCount")),
            "TransactionCount": str(counts["records"]),
            "~MaxAttLogCount": str(t.option("~MaxAttLogCount")),
            "FaceFunOn": "0",
            "FaceCount": "0",
        }

    def _post_options(self) -> None:
        body = ",".join(f"{key}={value}" for key, value in self.device_info().items())
        self._expect_ok(self._request("POST", "cdata", self._query(table="options"), body).reply)
        self._options_due = False

    def _info_line(self) -> str:
        t = self.terminal
        counts = t.counts()
        info = f"{t.firmware},{counts['users']},{counts['fingers']},{counts['records']},"
        info += f"{t.ip_address},{t.option('~ZKFPVersion')},0,0,0,100"
        return info if self.info_raw_spaces else quote(info, safe=",.:-")

    @staticmethod
    def _expect_ok(reply: str) -> None:
        if not reply.strip().startswith("OK"):
            raise _Refused(reply)

    # -- uploads -------------------------------------------------------------------------
    def _transfer_interval(self) -> float:
        return self.trans_interval * 60 * self.time_scale

    def _transfer_due(self) -> bool:
        """Realtime, LOG, or a TransInterval/TransTimes moment has come."""
        now = time.monotonic()
        if self.trans_interval > 0 and now >= self._next_transfer:
            self._next_transfer = now + self._transfer_interval()
            self._upload_due = True
        minute = self.terminal.clock.strftime("%H:%M")
        if minute in self.trans_times and minute != self._last_transfer_time:
            self._last_transfer_time = minute
            self._upload_due = True
        return self.realtime or self._upload_due

    def _upload_attlog(self) -> bool:
        if "attlog" not in self.trans_flags or not self._transfer_due():
            return False
        records = self.terminal.records
        if self._attlog_sent > len(records):  # the log was cleared under us
            self._attlog_sent = 0
        batch = records[self._attlog_sent : self._attlog_sent + self.batch_size]
        if batch:
            lines = [self._attlog_line(record) for record in batch]
            self._post_lines("ATTLOG", "Stamp", self._attlog_sent + len(batch), lines)
            self._attlog_sent += len(batch)
        more = self._attlog_sent < len(records)
        self._upload_due = more and self._upload_due
        return more

    def _attlog_line(self, record: Record) -> str:
        t = record.timestamp  # field by field: a clock reading may be an impossible date
        when = f"{t.year:04}-{t.month:02}-{t.day:02} {t.hour:02}:{t.minute:02}:{t.second:02}"
        fields = [record.user_id, when, str(record.punch), str(record.status)]
        fields += ["0"] * (self.attlog_fields - len(fields))
        return "\t".join(fields) + ("\t" if self.trailing_tab else "")

    def _upload_operlog(self) -> bool:
        with self._lock:
            lines = self._operlog[self._operlog_sent : self._operlog_sent + self.batch_size]
        if lines:
            self._post_lines("OPERLOG", "OpStamp", self._operlog_sent + len(lines), lines)
            self._operlog_sent += len(lines)
        with self._lock:
            return self._operlog_sent < len(self._operlog)

    def _post_lines(self, table: str, stamp_key: str, stamp: int, lines: list[str]) -> None:
        """Post one batch; returns only when the server acknowledged it with its count."""
        query = self._query(table=table, **{stamp_key: str(stamp)})
        body = "".join(line + self.line_ending for line in lines)
        reply = self._request("POST", "cdata", query, body).reply.strip()
        if not (UPLOAD_ACK.match(reply) or (self.accept_bare_ok and reply == "OK")):
            raise _Refused(reply)
        with self._lock:
            self._acknowledged[table].extend(lines)

    # -- commands ------------------------------------------------------------------------
    def _poll(self) -> None:
        query = self._query()
        if self._info_due:
            query += "&INFO=" + self._info_line()
        reply = self._request("GET", "getrequest", query).reply
        self._info_due = False
        self.polls += 1
        self._next_poll = time.monotonic() + self.delay * self.time_scale
        for command_id, command in parse_command_lines(reply):
            self._execute(command_id, command)

    def _execute(self, command_id: str, command: str) -> None:
        executed = self._commands.execute(command_id, command)
        if executed.effect is Effect.HANDSHAKE:
            self._connected = False
        elif executed.effect is Effect.REBOOT:
            self._reboot_due = True
        elif executed.effect is Effect.RESEND_ATTLOG:
            self._attlog_sent = 0
        elif executed.effect is Effect.UPLOAD:
            self._upload_due = True
        if executed.result is not None:
            self._add_result(executed.result)

    def _add_result(self, result: CommandResult) -> None:
        with self._lock:
            self._results.append(result)
        self._wake.set()

    def _post_results(self) -> None:
        """Every result not yet acknowledged, batched in one devicecmd post."""
        with self._lock:
            pending = [r for r in self._results if not r.acknowledged]
        if not pending:
            return
        body = "".join(line + self.line_ending for r in pending for line in r.lines)
        self._expect_ok(self._request("POST", "devicecmd", self._query(), body).reply)
        with self._lock:
            self._results = [
                replace(r, acknowledged=True) if r in pending else r for r in self._results
            ]

    def _enrollment_finished(self, enrollment: PushEnrollment, result: CommandResult) -> None:
        if result.code == RETURN_OK and not self.drop_template_upload:
            self._log_enrolled_finger(enrollment)
        self._add_result(result)

    def _log_enrolled_finger(self, enrollment: PushEnrollment) -> None:
        """OPLOG 6 and the FP upload, on OPERLOG, as TransFlag allows."""
        user = self.terminal.user_by_id(enrollment.pin)
        stored = user and self.terminal.template_of(user.uid, enrollment.finger_index)
        if not stored:
            return
        pin, finger = enrollment.pin, enrollment.finger_index
        when = self.terminal.clock.strftime("%Y-%m-%d %H:%M:%S")
        lines = []
        if "oplog" in self.trans_flags:
            lines.append(f"OPLOG 6\t0\t{when}\t{pin}\t{finger}\t{len(stored.template)}\t0")
        if "enrollfp" in self.trans_flags:
            tmp = base64.b64encode(stored.template).decode()
            lines.append(f"FP PIN={pin}\tFID={finger}\tSize={len(tmp)}\tValid=1\tTMP={tmp}")
        with self._lock:
            self._operlog.extend(lines)
