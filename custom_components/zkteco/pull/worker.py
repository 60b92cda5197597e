"""One thread per terminal: every exchange with it goes through here, one at a time.

pyzk is synchronous and not thread-safe, and a terminal accepts few sessions. So each terminal
gets one thread that owns its one session: it runs the jobs the integration queues (polls,
enrollment), and between jobs it waits on the session's socket for realtime events. Nothing here
ever runs in the event loop; results and events are handed back to it, events as they arrive,
even in the middle of a job.

A session can be lost without a word: a terminal that rebooted or expired an idle UDP session
no longer knows it, and one that was power cycled or closed an idle TCP connection answers the
next command with an error. So a job that meets a lost connection on a session opened before it
runs once more on a new session; one that fails on a session opened for it fails.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
import concurrent.futures
from contextlib import suppress
import select
import socket
import threading
import time
import traceback
from typing import Any

from homeassistant.core import HomeAssistant, callback

from ..channel import (
    ChannelEvent,
    ChannelListener,
    ConnectionLost,
    SessionOpened,
    TerminalConnectionError,
    TerminalError,
    TerminalRefusedError,
)
from ..const import LOGGER
from .terminal import TerminalConfig, ZKTerminal

# While the session is down, the thread tries to open it again this often, so realtime events
# resume without waiting for the next poll.
RECONNECT_INTERVAL = 10.0


type _Job = tuple[Callable[[ZKTerminal], Any], concurrent.futures.Future[Any]]


class TerminalWorker:
    """Owns the session with one terminal and serialises every use of it."""

    def __init__(self, hass: HomeAssistant, config: TerminalConfig, name: str) -> None:
        self._hass = hass
        self._terminal = ZKTerminal(config, on_events=self._hand_over)
        self._name = name
        self._jobs: deque[_Job] = deque()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._listeners: list[ChannelListener] = []
        self._last_attempt = 0.0
        # Read and written by the worker thread only, in job order: an enrollment's start and
        # the release before it can never overtake each other.
        self._release_pending = False
        self._errors_seen: set[tuple[type[BaseException], str, int]] = set()
        self.realtime: bool | None = None

    @property
    def terminal(self) -> ZKTerminal:
        """The session, for benchmarks and tests that measure its traffic."""
        return self._terminal

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"zkteco {self._name}", daemon=True)
        self._thread.start()

    async def async_stop(self) -> None:
        """Close the session and end the thread."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake()
        thread, self._thread = self._thread, None
        await self._hass.async_add_executor_job(thread.join)
        for _, future in self._jobs:
            if not future.done():  # its caller may have given up on it
                future.set_exception(TerminalConnectionError("the worker stopped"))
        self._jobs.clear()
        self._wake_reader.close()
        self._wake_writer.close()

    async def async_run[T](self, job: Callable[[ZKTerminal], T]) -> T:
        """Run ``job`` with the open session on the worker thread, after the jobs before it.

        ``job`` must be safe to run twice: when the session it was given turns out to be lost
        (opened before this job, the terminal has forgotten it since), it runs again on a new one.
        """
        if self._thread is None:
            raise TerminalConnectionError("the worker is stopped")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        # Wrapped before the thread can finish the job: a future wrapped once done hands its
        # result over at once, ahead of the events the thread handed over before it.
        result = asyncio.wrap_future(future)
        self._jobs.append((job, future))
        self._wake()
        return await result

    @callback
    def async_add_listener(self, listener: ChannelListener) -> Callable[[], None]:
        """Call ``listener`` in the event loop for every realtime event."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def release_on_reconnect(self) -> None:
        """Called by a job about to put the terminal in enrollment mode.

        Until a release succeeds, every new session first takes the terminal out of it.
        """
        self._release_pending = True

    async def async_release(self) -> None:
        """Take the terminal out of enrollment mode and enable it.

        A release that fails closes the session: until one succeeds, every new session starts
        with it, and the worker opens new ones on its own, realtime events or not.
        """
        await self.async_run(self._release)

    def _release(self, terminal: ZKTerminal) -> None:
        self._release_pending = True
        try:
            terminal.end_enrollment()
        except TerminalError:
            terminal.close()  # the next session starts with the release
            raise
        self._release_pending = False

    def _wake(self) -> None:
        with suppress(OSError):  # the thread is gone already
            self._wake_writer.send(b"\x00")

    def _run(self) -> None:
        while not self._stopping:
            self._survive(self._serve)
        self._survive(self._run_jobs)
        self._terminal.close()

    def _serve(self) -> None:
        self._wait_for_work()
        self._run_jobs()
        self._read_events()
        self._reconnect_when_due()

    def _survive(self, step: Callable[[], None]) -> None:
        """Run ``step``; a bug in it ends the session, never the thread (jobs would hang)."""
        try:
            step()
        except Exception as err:
            self._log_unexpected(err, "Unexpected error in the thread of %s; reconnecting")
            self._terminal.close()

    def _log_unexpected(self, err: Exception, message: str) -> None:
        """With its traceback the first time; a bug that repeats would fill the log."""
        frame = traceback.extract_tb(err.__traceback__)[-1]
        kind = (type(err), frame.filename, frame.lineno or 0)
        new = kind not in self._errors_seen
        self._errors_seen.add(kind)
        (LOGGER.error if new else LOGGER.debug)(message, self._name, exc_info=err)

    def _wait_for_work(self) -> None:
        waiting_on: list[Any] = [self._wake_reader]
        if self._terminal.connected and self.realtime:
            waiting_on.append(self._terminal)
        readable, _, _ = select.select(waiting_on, [], [], self._idle_timeout())
        if self._wake_reader in readable:
            self._wake_reader.recv(4096)

    def _idle_timeout(self) -> float:
        """Wake up when the next reconnection is due, so realtime events resume on time."""
        if not self._reconnection_wanted():
            return 1.0
        due = self._last_attempt + RECONNECT_INTERVAL - time.monotonic()
        return min(max(due, 0.0), 1.0)

    def _reconnection_wanted(self) -> bool:
        """Without a session, realtime events are missed and a terminal may stay enrolling."""
        return not self._terminal.connected and bool(self.realtime or self._release_pending)

    def _run_jobs(self) -> None:
        while self._jobs:
            job, future = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = self._run_job(job)
            except BaseException as err:  # handed to the caller as it is
                future.set_exception(err)
                continue
            try:
                self._read_events()  # what the terminal announced meanwhile comes first
            finally:
                future.set_result(result)

    def _run_job(self, job: Callable[[ZKTerminal], Any]) -> Any:
        """Once more on a new session when the session it found open turns out to be lost."""
        reused = self._terminal.connected
        try:
            return self._with_session(job)
        except TerminalConnectionError as err:
            if not reused:
                raise
            LOGGER.debug("%s lost the session (%s); running the job on a new one", self._name, err)
        return self._with_session(job)

    def _with_session(self, job: Callable[[ZKTerminal], Any]) -> Any:
        try:
            self._ensure_session()
            return job(self._terminal)
        except TerminalConnectionError:
            self._terminal.close()
            # Counts as an attempt: the queued jobs come before the next reconnection.
            self._last_attempt = time.monotonic()
            raise

    def _ensure_session(self) -> None:
        if self._terminal.connected:
            return
        self._last_attempt = time.monotonic()
        try:
            self._open_session()
        except TerminalError:
            # Half set up (still in enrollment mode, or not registered for events), a session
            # would look ready to the next job, which would skip all this.
            self._terminal.close()
            raise

    def _open_session(self) -> None:
        self._terminal.connect()
        if self._release_pending:
            self._release(self._terminal)
        self._register_for_events()
        self._hand_over([SessionOpened()])

    def _register_for_events(self) -> None:
        try:
            self._terminal.register_events()
        except TerminalRefusedError:
            if self.realtime is not False:
                LOGGER.warning(
                    "%s does not send realtime events; punches arrive with each poll instead",
                    self._name,
                )
            self.realtime = False
        else:
            self.realtime = True

    def _read_events(self) -> None:
        if not self._terminal.connected:
            return
        try:
            events: list[ChannelEvent] = list(self._terminal.read_events(0))
        except TerminalConnectionError:
            self._terminal.close()
            events = [ConnectionLost()]
        if events:
            self._hand_over(events)

    def _reconnect_when_due(self) -> None:
        if (
            not self._reconnection_wanted()
            or self._stopping
            or time.monotonic() - self._last_attempt < RECONNECT_INTERVAL
        ):
            return
        with suppress(TerminalError):  # the next attempt is due in RECONNECT_INTERVAL
            self._ensure_session()

    def _hand_over(self, events: Sequence[ChannelEvent]) -> None:
        """From the worker thread, between jobs or in the middle of one."""
        if not self._stopping:
            self._hass.loop.call_soon_threadsafe(self._dispatch, events)

    @callback
    def _dispatch(self, events: Sequence[ChannelEvent]) -> None:
        for event in events:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception as err:  # one listener's bug must cost nobody else
                    self._log_unexpected(err, "Unexpected error handling an event of %s")
