"""Run a real Home Assistant (`hass`) as a subprocess and set it up the way a user would.

Everything after start-up goes through Home Assistant's public HTTP and websocket APIs:
onboarding, a long-lived token, a second (non-admin) user, the zkteco config flow and a
dashboard with the enrollment card. Used by
`scripts/develop` and by the end-to-end tests in `tests/e2e/`.

Running it again on the same config dir reuses what exists: the credentials, token and config
entry ids are kept in `STATE_FILE_NAME` inside the config dir (never committed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
import fcntl
from importlib.util import find_spec
import json
from pathlib import Path
import secrets
import socket
import subprocess
import sys
import time
from typing import Any, Self

import aiohttp
from homeassistant.runner import LOCK_FILE_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
INTEGRATION_DIR = REPO_ROOT / "custom_components" / "zkteco"
STATE_FILE_NAME = ".zkteco_dev_state.json"
CONSOLE_LOG_NAME = "hass-console.log"
LOOPBACK = "127.0.0.1"
# The dashboard that shows the enrollment card (ensure_card_dashboard).
CARD_DASHBOARD = "zkteco-enroll"
CARD_VIEW = "card"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# Polling a loopback server costs nothing; clients that must subscribe to events right after a
# start (the end-to-end tests) need to see it answering at once.
POLL_INTERVAL = 0.05

# Without `default_config:` (dozens of integrations, several times slower to start): what
# onboarding, the config flow and the REST/websocket APIs need. `config` serves /api/config/...
# and the user-management websocket commands. `http:` is not here: see write_http_settings.
CONFIGURATION_YAML = """\
# Written by devtools/hass_runner.py on every start: edit that file, not this one.
api:
auth:
config:
onboarding:
websocket_api:
logger:
  default: warning
  logs:
    custom_components.zkteco: debug
"""


class HassError(RuntimeError):
    """Home Assistant did not start or refused a set-up step."""


@dataclass(frozen=True)
class Account:
    """A Home Assistant user with a password login."""

    name: str
    username: str
    password: str


@dataclass(frozen=True)
class TerminalConfig:
    """The zkteco config flow's user step, as a user would fill it in."""

    port: int
    device_id: str = "principal"
    host: str = LOOPBACK
    comm_key: int = 0
    protocol: str = "tcp"


@dataclass(frozen=True)
class PushTerminalConfig:
    """The zkteco config flow's Push step: a terminal that calls Home Assistant."""

    serial_number: str
    device_id: str = "principal"
    # A Push terminal has no port of its own: it calls Home Assistant's.
    port: int = 0


@dataclass(frozen=True)
class AddedTerminal:
    """A config entry the set-up created, and the simulator port it points at."""

    entry_id: str
    port: int


@dataclass
class RunnerState:
    """What a set-up created, saved so that a second run reuses it."""

    admin: Account
    reader: Account
    token: str | None = None
    terminals: dict[str, AddedTerminal] = field(default_factory=dict)  # by device_id

    @classmethod
    def load_or_create(cls, path: Path) -> Self:
        """Read the saved state, or make new random passwords for a fresh config dir."""
        if path.exists():
            saved = json.loads(path.read_text())
            return cls(
                admin=Account(**saved["admin"]),
                reader=Account(**saved["reader"]),
                token=saved["token"],
                terminals={
                    device_id: AddedTerminal(**added)
                    for device_id, added in saved["terminals"].items()
                },
            )
        return cls(
            admin=Account("Developer", "dev", secrets.token_urlsafe(12)),
            reader=Account("Reader", "reader", secrets.token_urlsafe(12)),
        )

    def save(self, path: Path) -> None:
        """Write the state readable by the owner only: it holds passwords and a token."""
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Tell whether a loopback TCP port can be bound."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


async def poll_until(check: Callable[[], Awaitable[bool]], goal: str) -> None:
    """Call `check` until it returns True; raise HassError after START_TIMEOUT seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(POLL_INTERVAL)
    raise HassError(f"Not reached within {START_TIMEOUT} s: {goal}")


class HassApi:
    """The few HTTP calls of Home Assistant's API that a set-up needs."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        """Talk to the Home Assistant at `url` through `session`."""
        self.session = session
        self.url = url
        # IndieAuth accepts a client id on the same host as Home Assistant without fetching it.
        self.client_id = f"{url}/"

    async def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """Send a request, raise HassError on a non-2xx answer, return the decoded JSON."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            if response.status >= 300:
                raise HassError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json(content_type=None)

    async def onboarding_done_steps(self) -> set[str] | None:
        """Return the onboarding steps already completed, None when onboarding is over."""
        async with self.session.get(f"{self.url}/api/onboarding") as response:
            # Once onboarded, hass no longer loads the onboarding integration at all.
            if response.status == 404:
                return None
            response.raise_for_status()
            steps = await response.json()
        return {step["step"] for step in steps if step["done"]}

    async def create_owner(self, owner: Account) -> str:
        """Do onboarding's user step and return an access token for the new owner."""
        answer = await self.request(
            "POST",
            "/api/onboarding/users",
            json={
                "name": owner.name,
                "username": owner.username,
                "password": owner.password,
                "language": "en",
                "client_id": self.client_id,
            },
        )
        return await self.token_from_auth_code(answer["auth_code"])

    async def login(self, account: Account) -> str:
        """Log in with a password through the login flow and return an access token."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            json={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json={
                "client_id": self.client_id,
                "username": account.username,
                "password": account.password,
            },
        )
        if result["type"] != "create_entry":
            raise HassError(f"Login as {account.username} refused: {result.get('errors')}")
        return await self.token_from_auth_code(result["result"])

    async def token_from_auth_code(self, code: str) -> str:
        """Exchange an authorization code for an access token."""
        tokens = await self.request(
            "POST",
            "/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        )
        return str(tokens["access_token"])

    async def finish_onboarding(self, access_token: str, done: set[str]) -> None:
        """Complete the onboarding steps after the user step, as the frontend's wizard does."""
        if "core_config" not in done:
            await self.request("POST", "/api/onboarding/core_config", access_token)
        if "analytics" not in done:
            await self.request("POST", "/api/onboarding/analytics", access_token)
        if "integration" not in done:
            await self.request(
                "POST",
                "/api/onboarding/integration",
                access_token,
                json={"client_id": self.client_id, "redirect_uri": self.client_id},
            )

    async def token_works(self, token: str) -> bool:
        """Tell whether a token is accepted by the API."""
        async with self.session.get(
            f"{self.url}/api/", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            return response.status == 200

    async def core_state(self, token: str) -> str:
        """Return hass's state: NOT_RUNNING, STARTING, RUNNING, STOPPING ..."""
        config = await self.request("GET", "/api/config", token)
        return str(config["state"])

    async def entry_ids(self, token: str, domain: str) -> set[str]:
        """Return the ids of the config entries of a domain."""
        entries = await self.request(
            "GET", "/api/config/config_entries/entry", token, params={"domain": domain}
        )
        return {entry["entry_id"] for entry in entries}

    async def remove_entry(self, token: str, entry_id: str) -> None:
        """Delete a config entry."""
        await self.request("DELETE", f"/api/config/config_entries/entry/{entry_id}", token)

    async def remove_onboarding_examples(self, token: str) -> None:
        """Delete the entries onboarding adds as examples (radio, translation, shopping list).

        They reach the internet on every start, which delays the end of start-up by seconds
        (more without a network) and adds noise to what tests and benchmarks measure. The
        entries Home Assistant makes itself (source "system": analytics, backup) stay.
        """
        entries = await self.request("GET", "/api/config/config_entries/entry", token)
        for entry in entries:
            if entry["source"] == "onboarding":
                await self.remove_entry(token, entry["entry_id"])

    async def add_terminal(self, token: str, terminal: TerminalConfig | PushTerminalConfig) -> str:
        """Add a terminal through the zkteco config flow and return the new entry's id.

        The first step asks who calls whom; a Push terminal's step is followed by the page that
        tells what to enter on the terminal, confirmed as it is.
        """
        flow = await self.request(
            "POST", "/api/config/config_entries/flow", token, json={"handler": "zkteco"}
        )
        steps: list[dict[str, Any]]
        if isinstance(terminal, PushTerminalConfig):
            push_step = {"serial_number": terminal.serial_number, "device_id": terminal.device_id}
            steps = [{"next_step_id": "push"}, push_step, {}]
        else:
            steps = [{"next_step_id": "pull"}, asdict(terminal)]
        path = f"/api/config/config_entries/flow/{flow['flow_id']}"
        for step in steps:
            result = await self.request("POST", path, token, json=step)
        if result["type"] != "create_entry":
            raise HassError(f"Config flow did not create an entry: {result}")
        return str(result["result"]["entry_id"])


class HassWebSocket:
    """A minimal client of Home Assistant's websocket API."""

    def __init__(self, connection: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an authenticated websocket connection."""
        self.connection = connection
        self.last_id = 0

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, url: str, token: str) -> Self:
        """Open /api/websocket and authenticate with a token."""
        connection = await session.ws_connect(f"{url}/api/websocket")
        await connection.receive_json()  # auth_required
        await connection.send_json({"type": "auth", "access_token": token})
        answer = await connection.receive_json()
        if answer["type"] != "auth_ok":
            await connection.close()
            raise HassError(f"Websocket authentication refused: {answer}")
        return cls(connection)

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()

    async def call(self, command: str, **payload: Any) -> Any:
        """Send a command, wait for its result and return it; raise HassError on an error."""
        self.last_id += 1
        await self.connection.send_json({"id": self.last_id, "type": command, **payload})
        while True:
            answer = await self.connection.receive_json()
            # Events of earlier subscriptions may arrive before our result.
            if answer.get("id") == self.last_id and answer["type"] == "result":
                break
        if not answer["success"]:
            raise HassError(f"{command}: {answer['error']}")
        return answer["result"]

    async def subscribe_events(self, event_type: str) -> int:
        """Subscribe to one event type and return the subscription id."""
        await self.call("subscribe_events", event_type=event_type)
        return self.last_id

    async def next_event(self, subscription: int) -> dict[str, Any]:
        """Wait for the next event of a subscription and return it (event_type, data, ...).

        Callers bound the wait with `asyncio.timeout`.
        """
        _, event = await self.next_event_of({subscription})
        return event

    async def next_event_of(self, subscriptions: Collection[int]) -> tuple[int, dict[str, Any]]:
        """Wait for the next event of any of `subscriptions`; return its subscription and it."""
        while True:
            message = await self.connection.receive_json()
            if message["type"] == "event" and message["id"] in subscriptions:
                return int(message["id"]), dict(message["event"])


async def create_long_lived_token(
    session: aiohttp.ClientSession, url: str, access_token: str
) -> str:
    """Create a long-lived access token for the user of `access_token`."""
    ws = await HassWebSocket.connect(session, url, access_token)
    try:
        # Home Assistant refuses two long-lived tokens with the same client name.
        client_name = f"zkteco devtools {secrets.token_hex(3)}"
        return str(
            await ws.call("auth/long_lived_access_token", client_name=client_name, lifespan=3650)
        )
    finally:
        await ws.close()


async def ensure_card_dashboard(
    session: aiohttp.ClientSession, url: str, token: str, entry_id: str
) -> str:
    """Put the enrollment card of a terminal's entry on a dashboard; return the view's path.

    Made through the dashboard websocket API, as the dashboard editor does; a second call
    writes the same dashboard again.
    """
    ws = await HassWebSocket.connect(session, url, token)
    try:
        devices = await ws.call("config/device_registry/list")
        [terminal] = [device for device in devices if entry_id in device["config_entries"]]
        dashboards = await ws.call("lovelace/dashboards/list")
        if not any(dashboard["url_path"] == CARD_DASHBOARD for dashboard in dashboards):
            await ws.call(
                "lovelace/dashboards/create",
                url_path=CARD_DASHBOARD,
                title="Enrollment",
                icon="mdi:fingerprint",
                mode="storage",
                show_in_sidebar=True,
                require_admin=False,
            )
        card = {"type": "custom:zkteco-enroll-card", "device_id": terminal["id"]}
        view = {"title": "Enroll", "path": CARD_VIEW, "cards": [card]}
        await ws.call("lovelace/config/save", url_path=CARD_DASHBOARD, config={"views": [view]})
    finally:
        await ws.close()
    return f"/{CARD_DASHBOARD}/{CARD_VIEW}"


async def ensure_non_admin_user(
    session: aiohttp.ClientSession, url: str, token: str, account: Account
) -> None:
    """Create a password user in the system-users (non-admin) group unless it exists."""
    ws = await HassWebSocket.connect(session, url, token)
    try:
        users = await ws.call("config/auth/list")
        if any(user["username"] == account.username for user in users):
            return
        created = await ws.call("config/auth/create", name=account.name, group_ids=["system-users"])
        await ws.call(
            "config/auth_provider/homeassistant/create",
            user_id=created["user"]["id"],
            username=account.username,
            password=account.password,
        )
    finally:
        await ws.close()


class HassRunner:
    """One `hass` process on a loopback port, with its config dir."""

    def __init__(
        self,
        config_dir: Path,
        port: int | None = None,
        *,
        integration_dir: Path = INTEGRATION_DIR,
        extra_configuration: str = "",
    ) -> None:
        """Prepare to run hass in `config_dir` on `port` (a free one when None).

        `extra_configuration` is appended to configuration.yaml (automations, for instance).
        """
        self.config_dir = config_dir.resolve()
        self.port = port or free_port()
        self.integration_dir = integration_dir
        self.extra_configuration = extra_configuration
        self.state_path = self.config_dir / STATE_FILE_NAME
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of this Home Assistant."""
        return f"http://{LOOPBACK}:{self.port}"

    def write_config(self) -> None:
        """Write the configuration, the HTTP settings, and link the integration in."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION_YAML + self.extra_configuration + self.write_http_settings()
        )
        link = self.config_dir / "custom_components" / "zkteco"
        link.parent.mkdir(exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.integration_dir, target_is_directory=True)

    def write_http_settings(self) -> str:
        """Make hass listen on 127.0.0.1:port only, from its very first second.

        Returns what configuration.yaml needs for it: nothing from 2026.4 on, where `http:` in
        YAML is read once, staged as a "pending" trial and, unless an admin promotes it within
        5 minutes, reverted to the default (port 8123 on every interface), and later starts
        ignore it. There the confirmed ("stable") settings are written to hass's own HTTP store,
        in its format and schema, before each start. Older versions (the oldest hacs.json
        claims) have no such store and read `http:` on every start. hass runs on this
        process's interpreter, so the Home Assistant imported here is the one that starts.
        """
        if find_spec("homeassistant.components.http.config") is None:
            return f"http:\n  server_host: {LOOPBACK}\n  server_port: {self.port}\n"
        from homeassistant.components.http import config as http_config  # noqa: PLC0415

        settings = http_config.HTTP_STORAGE_SCHEMA(
            {"server_host": [LOOPBACK], "server_port": self.port}
        )
        stable = {
            **settings,
            http_config.HTTP_CONFIG_CREATED_AT: datetime.now(UTC).isoformat(),
            http_config.HTTP_CONFIG_ERROR: None,
            http_config.HTTP_CONFIG_ERROR_MESSAGE: None,
        }
        document = {
            "version": http_config.STORAGE_VERSION,
            "minor_version": http_config.STORAGE_MINOR_VERSION,
            "key": http_config.STORAGE_KEY,
            "data": {
                http_config.KEY_STABLE: stable,
                http_config.KEY_PENDING: None,
                http_config.KEY_YAML_MIGRATION_DONE: True,
            },
        }
        storage_dir = self.config_dir / ".storage"
        storage_dir.mkdir(exist_ok=True)
        (storage_dir / http_config.STORAGE_KEY).write_text(json.dumps(document, indent=2))
        return ""

    def raise_if_running(self) -> None:
        """Refuse to touch a config dir that a running hass holds (its run lock is taken)."""
        lock_path = self.config_dir / LOCK_FILE_NAME
        if not lock_path.exists():
            return
        with lock_path.open("a") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HassError(
                    f"A Home Assistant is already running with {self.config_dir}: stop it first"
                ) from None
            fcntl.flock(lock_file, fcntl.LOCK_UN)

    def start(self) -> None:
        """Start hass in the background; its console output goes to CONSOLE_LOG_NAME."""
        self.raise_if_running()
        self.write_config()
        console_log = (self.config_dir / CONSOLE_LOG_NAME).open("wb")
        self.process = subprocess.Popen(
            # No --skip-pip: like any first start, hass installs what its built-in integrations
            # need (the frontend above all: without it hass falls into recovery mode and loads
            # no custom integration). Later starts find them installed.
            [
                sys.executable,
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                "--log-no-color",
            ],
            # `python -m` puts the working directory on sys.path: from the repo's root, Python
            # would import the repo's custom_components/ instead of the config dir's.
            cwd=self.config_dir,
            stdout=console_log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches our code, which stops hass in order.
            start_new_session=True,
        )
        console_log.close()

    async def wait_until_answering(self, session: aiohttp.ClientSession) -> None:
        """Wait until hass's HTTP server answers (401 on /api/ without a token)."""

        async def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise HassError(f"hass exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                async with session.get(f"{self.url}/api/"):
                    return True
            except aiohttp.ClientConnectionError:
                return False

        console_log = self.config_dir / CONSOLE_LOG_NAME
        await poll_until(answers, f"hass answering on {self.url} (see {console_log})")

    async def set_up(
        self,
        terminals: Iterable[TerminalConfig | PushTerminalConfig] = (),
        *,
        onboarding_examples: bool = True,
    ) -> RunnerState:
        """Onboard, make a token and a non-admin user, add missing terminals; reuse the rest.

        `onboarding_examples=False` deletes the example entries onboarding adds (tests and
        benchmarks measure Home Assistant and this integration, not a radio directory).
        """
        state = RunnerState.load_or_create(self.state_path)
        # Saved before the owner exists, so an interrupted run still knows the password.
        state.save(self.state_path)
        async with aiohttp.ClientSession() as session:
            await self.wait_until_answering(session)
            api = HassApi(session, self.url)
            await self.onboard(api, state)
            if state.token is None or not await api.token_works(state.token):
                access_token = await api.login(state.admin)
                state.token = await create_long_lived_token(session, self.url, access_token)
                state.save(self.state_path)
            await ensure_non_admin_user(session, self.url, state.token, state.reader)
            await self.wait_until_running(api, state.token)
            if not onboarding_examples:
                await api.remove_onboarding_examples(state.token)
            for terminal in terminals:
                await self.ensure_terminal(api, state.token, state, terminal)
        return state

    async def login(self, account: Account) -> str:
        """Return a (30-minute) access token for `account`, through the login flow."""
        async with aiohttp.ClientSession() as session:
            return await HassApi(session, self.url).login(account)

    async def wait_until_running(self, api: HassApi, token: str) -> None:
        """Wait for the end of start-up: a SIGTERM before it kills hass without saving."""

        async def running() -> bool:
            return await api.core_state(token) == "RUNNING"

        await poll_until(running, "hass start-up finished")

    async def onboard(self, api: HassApi, state: RunnerState) -> None:
        """Run whichever onboarding steps are not done yet."""
        done = await api.onboarding_done_steps()
        if done is None:
            return
        if "user" in done:
            access_token = await api.login(state.admin)
        else:
            access_token = await api.create_owner(state.admin)
        await api.finish_onboarding(access_token, done)

    async def ensure_terminal(
        self,
        api: HassApi,
        token: str,
        state: RunnerState,
        terminal: TerminalConfig | PushTerminalConfig,
    ) -> None:
        """Add a terminal through the config flow unless this config dir already has it."""
        added = state.terminals.get(terminal.device_id)
        if added and added.entry_id in await api.entry_ids(token, "zkteco"):
            if added.port == terminal.port:
                return
            # The simulator had to move to another port: add it again at its new address.
            await api.remove_entry(token, added.entry_id)
        entry_id = await api.add_terminal(token, terminal)
        state.terminals[terminal.device_id] = AddedTerminal(entry_id, terminal.port)
        state.save(self.state_path)

    def stop(self) -> None:
        """Stop hass: SIGTERM (a clean shutdown), then SIGKILL after STOP_TIMEOUT."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Kill hass with SIGKILL, as a power cut or the OOM killer would: nothing is saved."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of hass's console output, for error messages."""
        console_log = self.config_dir / CONSOLE_LOG_NAME
        if not console_log.exists():
            return ""
        return "\n".join(console_log.read_text(errors="replace").splitlines()[-lines:])
