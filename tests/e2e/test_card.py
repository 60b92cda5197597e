"""The enrollment card in a real browser: headless Chromium on a real hass's dashboard.

The card is added to a dashboard through Home Assistant's dashboard websocket API, as the
dashboard editor does; the browser logs in with the hass_runner's tokens (stored where the
frontend keeps its own after a login). Presses come from the simulator, as from a finger.
Every state is photographed into SCREENSHOTS (gitignored), one folder per Home Assistant version
(scripts/test runs these tests on the newest and the oldest supported); the README's pictures in
docs/ are copies of the newest's.

Chromium and its driver are Debian's (scripts/test-e2e installs them); selenium drives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import shutil
from typing import Any

from homeassistant.const import __version__ as HA_VERSION
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from custom_components.zkteco.enrollment import terminal_finger
from devtools.hass_runner import REPO_ROOT, RunnerState, ensure_card_dashboard
from zksim import PressOutcome, ZKSimulator

from .conftest import (
    DEVICE_ID,
    ENROLLED_FINGER,
    ENROLLED_USER_ID,
    TERMINAL_TIMEOUT,
    USER_ID,
    LiveHass,
    run_api,
)

pytestmark = pytest.mark.e2e

SCREENSHOTS = REPO_ROOT / "build" / "e2e-screenshots" / f"ha-{HA_VERSION}"
# A phone's width: the card must fit one column there.
WINDOW = (412, 1000)
# hass's first answer to a new browser loads the frontend's bundles: seconds, not minutes.
PAGE_TIMEOUT = 60.0
CARD_TIMEOUT = 20.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# What the frontend itself logs on the runner's minimal Home Assistant (no recorder, whose
# websocket command it asks for; no /favicon.ico, which Chromium asks for): not the card's.
UNRELATED_CONSOLE_ERRORS = (
    "Uncaught Object: Unknown command.",
    "/favicon.ico - Failed to load",
    # The 2026.3 frontend's own page transition, cut short by a reload, and its failure to log
    # that rejection (not raised from the card's file; 2026.10 logs neither).
    "Uncaught DOMException: Transition was skipped. New ViewTransition started",
    '"Failure writing unhandled promise rejection to system log:" Error: Cannot parse given Error',
)
# Finds the card through every shadow root of the page.
FIND_CARD = """
function find(root) {
  const card = root.querySelector("zkteco-enroll-card");
  if (card) return card;
  for (const node of root.querySelectorAll("*")) {
    if (node.shadowRoot) {
      const found = find(node.shadowRoot);
      if (found) return found;
    }
  }
  return null;
}
return find(document);
"""


def browser_binaries() -> tuple[str, str]:
    """Debian's chromium and chromedriver, the same version by construction."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail("chromium and chromium-driver are missing: scripts/test-e2e installs them")
    return chromium, driver


@dataclass
class Page:
    """One browser tab on the dashboard with the card, logged in as one user."""

    driver: webdriver.Chrome
    name: str

    def card(self) -> WebElement:
        card = WebDriverWait(self.driver, CARD_TIMEOUT).until(
            lambda driver: driver.execute_script(FIND_CARD)
        )
        assert isinstance(card, WebElement)
        return card

    def inside(self, selector: str) -> WebElement:
        """An element of the card's shadow DOM, once it is there."""

        def found(_driver: Any) -> WebElement | bool:
            elements = self.card().shadow_root.find_elements("css selector", selector)
            return elements[0] if elements else False

        element = WebDriverWait(self.driver, CARD_TIMEOUT).until(found, selector)
        assert isinstance(element, WebElement)
        return element

    def click(self, selector: str) -> None:
        def clicked() -> bool:
            self.inside(selector).click()
            return True

        self.until(clicked, f"{selector} clicked")

    def read(self, selector: str, attribute: str | None = None) -> str | None:
        """The text of an element of the card, or one of its attributes."""
        value: list[str | None] = []

        def got() -> bool:
            element = self.inside(selector)
            value[:] = [element.get_attribute(attribute) if attribute else element.text]
            return True

        self.until(got, f"{selector} read")
        return value[0]

    def until(
        self, condition: Callable[[], bool], what: str, timeout: float = CARD_TIMEOUT
    ) -> None:
        # The card draws itself anew on every change: an element read a moment ago may be gone.
        WebDriverWait(
            self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda _driver: condition(), what)

    def status(self) -> WebElement:
        return self.inside(".status")

    def status_is(self, phase: str, outcome: str = "", timeout: float = CARD_TIMEOUT) -> None:
        def reached() -> bool:
            status = self.status()
            return (status.get_attribute("data-phase"), status.get_attribute("data-outcome")) == (
                phase,
                outcome,
            )

        self.until(reached, f"the card shows {phase} {outcome}", timeout)

    def presses_done(self) -> int:
        return len(
            self.card().shadow_root.find_elements("css selector", '.presses li[data-done="true"]')
        )

    def choose(self, search: str, user_id: str, finger: int) -> None:
        """Type in the search box, pick the person, wait for their fingers, pick a finger."""
        box = self.inside("input[type=search]")
        box.clear()
        box.send_keys(search)
        self.click(f'[data-user="{user_id}"]')
        self.until(lambda: self.inside(f'[data-finger="{finger}"]').is_enabled(), "fingers enabled")
        self.click(f'[data-finger="{finger}"]')

    def start(self, search: str, user_id: str, finger: int) -> None:
        """Choose the person and the finger, press Start, see the card wait for the finger."""
        self.choose(search, user_id, finger)
        self.click("button.start")
        self.status_is("waiting")

    def keys(self, *keys: str) -> None:
        """Keys typed wherever the focus is, as a keyboard user does."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def focused(self) -> dict[str, str | None]:
        """What has the keyboard focus inside the card: its finger or person, and its name.

        Read in one script: the card draws its controls anew when data arrives (and gives the
        focus to the new one), so an element found in one call may be gone by the next.
        """
        focused: dict[str, str | None] = self.driver.execute_script(
            """
            const element = arguments[0].shadowRoot.activeElement;
            if (!element) return {};
            const read = {text: element.innerText};
            for (const name of arguments[1]) read[name] = element.getAttribute(name);
            return read;
            """,
            self.card(),
            ["data-user", "data-finger", "aria-label", "class"],
        )
        return focused

    def screenshot(self, state: str) -> Path:
        path = SCREENSHOTS / f"{self.name}-{state}.png"
        self.card().screenshot(str(path))
        return path

    def console_errors(self) -> list[str]:
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE"
            and not any(unrelated in entry["message"] for unrelated in UNRELATED_CONSOLE_ERRORS)
        ]


@pytest.fixture(scope="module")
def dashboard(live_hass: LiveHass) -> str:
    """The URL of the dashboard view that holds the card."""
    terminal = RunnerState.load_or_create(live_hass.runner.state_path).terminals[DEVICE_ID]
    path = run_api(
        live_hass,
        lambda api: ensure_card_dashboard(
            api.session, live_hass.url, live_hass.token, terminal.entry_id
        ),
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return live_hass.url + path


@pytest.fixture
def open_page(live_hass: LiveHass, dashboard: str, tmp_path: Path) -> Iterator[Callable[..., Page]]:
    """Open the dashboard in a fresh Chromium as a user; no console errors by the end."""
    chromium, chromedriver = browser_binaries()
    pages: list[Page] = []

    def open_as(token: str, name: str, language: str | None = None) -> Page:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-{len(pages)}'}")
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        page = Page(driver, name)
        pages.append(page)
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        # Any page of the origin, to store the login where the frontend keeps it.
        driver.get(f"{live_hass.url}/manifest.json")
        tokens = {
            "hassUrl": live_hass.url,
            "clientId": f"{live_hass.url}/",
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 1800,
            "refresh_token": "",
            # Never refreshed: the test is over long before either token expires.
            "expires": 4102444800000,
        }
        driver.execute_script(
            "localStorage.setItem('hassTokens', arguments[0])", json.dumps(tokens)
        )
        if language:
            # What the profile's language picker stores for this browser.
            driver.execute_script(
                "localStorage.setItem('selectedLanguage', arguments[0])", json.dumps(language)
            )
        driver.get(dashboard)
        page.card()
        return page

    yield open_as
    try:
        for page in pages:
            assert page.console_errors() == [], f"{page.name}: errors in the browser console"
    finally:
        for page in pages:
            page.driver.quit()


def press(sim: ZKSimulator, outcome: PressOutcome = PressOutcome.GOOD) -> None:
    assert sim.press_finger(outcome)


def test_three_presses_enroll_a_finger(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    """Pick, start, three presses filling in live, success; the finger is marked enrolled."""
    page = open_page(live_hass.token, "en")
    page.inside(f'[data-user="{USER_ID}"]')
    page.screenshot("people")
    page.choose("ana", USER_ID, 6)
    assert page.status().text == "Choose a person and a finger, then press Start."
    page.screenshot("chosen")
    page.click("button.start")
    page.status_is("waiting")
    assert page.status().text == "Ana Garcia: place the left index finger on the terminal."
    assert sim.enrolling
    for done in range(1, 4):
        press(sim)
        if done < 3:
            page.until(lambda done=done: page.presses_done() == done, f"press {done} shown")
            page.screenshot(f"press-{done}")
    page.status_is("done", "success")
    assert (
        page.status().text
        == "Enrolled. Ana Garcia can now use the left index finger on the terminal."
    )
    assert page.read('[data-finger="6"]', "data-enrolled") == "true"
    assert page.read('[data-finger="6"]', "aria-label") == "6: left index finger (enrolled)"
    page.screenshot("success")
    assert sim.has_template(USER_ID, terminal_finger(6))  # the terminal's own number


def test_enrolled_finger_is_marked_and_not_enrolled_twice(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    page = open_page(live_hass.token, "en")
    page.choose("Luis", ENROLLED_USER_ID, ENROLLED_FINGER)
    page.until(
        lambda: page.inside(f'[data-finger="{ENROLLED_FINGER}"]').get_attribute("data-enrolled")
        == "true",
        "the enrolled finger marked",
    )
    page.click("button.start")
    page.status_is("done", "already_enrolled")
    assert page.status().text.startswith("Luis Perez already has the right thumb enrolled.")
    page.screenshot("already-enrolled")
    assert not sim.enrolling


def test_finger_of_someone_else(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    page = open_page(live_hass.token, "en")
    page.start("123", USER_ID, 7)
    for outcome in (PressOutcome.GOOD, PressOutcome.GOOD, PressOutcome.DUPLICATE):
        press(sim, outcome)
    page.status_is("done", "duplicate")
    assert page.status().text.startswith("This finger is already enrolled for someone else.")
    page.screenshot("duplicate")


def test_bad_press_then_cancel(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    """A bad press asks for the finger again; Cancel ends it and frees the terminal."""
    page = open_page(live_hass.token, "en")
    page.start("garcia", USER_ID, 8)
    press(sim)
    press(sim, PressOutcome.BAD_QUALITY)
    assert page.read(".hint") == (
        "That press was not clear. Place the finger again, flat and still."
    )
    assert page.presses_done() == 1
    page.screenshot("bad-press")
    page.click("button.cancel")
    page.status_is("done", "cancelled")
    assert page.status().text == "Enrollment cancelled. The terminal is back to normal."
    page.screenshot("cancelled")
    assert sim.wait_for(lambda terminal: not terminal.enrolling)


def test_enrollment_started_elsewhere_can_be_cancelled(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    """Started by an automation (or in another tab): the card says so and its Cancel ends it."""
    page = open_page(live_hass.token, "en")
    run_api(
        live_hass,
        lambda api: api.request(
            "POST",
            "/api/services/zkteco/enroll_finger",
            live_hass.token,
            json={"device_id": DEVICE_ID, "user_id": USER_ID, "finger_index": 9},
        ),
    )
    assert sim.enrolling
    page.choose("luis", ENROLLED_USER_ID, 5)
    page.click("button.start")
    page.status_is("done", "busy")
    assert page.status().text.startswith("Another enrollment is running on this terminal.")
    page.screenshot("busy")
    page.click("button.cancel")
    page.status_is("done", "cancelled")
    assert sim.wait_for(lambda terminal: not terminal.enrolling)
    page.until(
        lambda: page.read(f'[data-finger="{ENROLLED_FINGER}"]', "data-enrolled") == "true",
        "the fingers read once the terminal is free",
    )


def test_terminal_unreachable(
    open_page: Callable[..., Page],
    live_hass: LiveHass,
    switched_off_terminal: tuple[str, ZKSimulator],
) -> None:
    """The card of a terminal that is switched off says so, and what to do."""
    device_id, _terminal = switched_off_terminal
    page = open_page(live_hass.token, "en")
    # The card as written in YAML with the config flow's device id.
    page.driver.execute_script(
        "arguments[0].setConfig({type: 'custom:zkteco-enroll-card', device_id: arguments[1]})",
        page.card(),
        device_id,
    )
    page.choose("ana", USER_ID, 1)
    page.click("button.start")
    page.status_is("done", "failed", timeout=TERMINAL_TIMEOUT)
    assert page.status().text == (
        "The finger was not enrolled: the terminal could not be reached, or it did not store the"
        " finger. Check that it is on and connected, then try again."
    )
    page.screenshot("unreachable")


def test_keyboard_only(open_page: Callable[..., Page], live_hass: LiveHass) -> None:
    """Search, person, finger, Start and Cancel with Tab, Enter and Space; named controls."""
    page = open_page(live_hass.token, "keyboard")
    page.inside("input[type=search]").send_keys("ana", Keys.TAB)
    assert page.focused()["data-user"] == USER_ID
    page.keys(Keys.ENTER)
    page.until(
        lambda: page.inside(f'[data-user="{USER_ID}"]').get_attribute("aria-pressed") == "true",
        "Ana chosen",
    )
    page.until(lambda: page.inside('[data-finger="3"]').is_enabled(), "fingers enabled")
    # Left little to left thumb, then right thumb to right ring: the order they are drawn in.
    page.keys(*[Keys.TAB] * 9)
    assert page.focused()["aria-label"] in {
        "3: right ring finger",
        "3: right ring finger (enrolled)",
    }
    page.keys(Keys.SPACE)
    page.until(
        lambda: page.inside('[data-finger="3"]').get_attribute("aria-pressed") == "true",
        "finger 3 chosen",
    )
    page.keys(Keys.TAB, Keys.TAB)  # the right little finger, then Start (Cancel is not usable)
    assert page.focused()["text"] == "Start"
    page.keys(Keys.ENTER)
    page.status_is("waiting")
    assert page.focused()["text"] == "Cancel"
    page.keys(Keys.ENTER)
    page.status_is("done", "cancelled")
    assert page.focused()["text"] == "Start"


def test_spanish(open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator) -> None:
    """A user whose Home Assistant speaks Spanish gets the card in Spanish."""
    page = open_page(live_hass.token, "es", language="es")
    assert page.inside("h2").text == "Registro de huellas"
    assert page.status().text == "Elige una persona y un dedo, y pulsa Empezar."
    page.start("ana", USER_ID, 5)
    assert page.status().text == "Ana Garcia: pon el pulgar izquierdo en el terminal."
    press(sim)
    page.until(lambda: page.presses_done() == 1, "press 1 shown")
    assert page.read(".presses li") == "Pulsación 1 de 3: hecha"
    page.screenshot("press-1")
    page.click("button.cancel")
    page.status_is("done", "cancelled")
    assert (
        page.status().text == "Registro cancelado. El terminal vuelve a funcionar con normalidad."
    )


def test_non_administrator_is_told_why(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    page = open_page(live_hass.reader_token, "reader")
    notice = page.inside('[data-state="admin-only"]')
    assert notice.text.startswith("Only Home Assistant administrators can enroll fingerprints.")
    assert page.card().shadow_root.find_elements("css selector", "button") == []
    page.screenshot("not-admin")


def test_card_picker_and_editor(open_page: Callable[..., Page], live_hass: LiveHass) -> None:
    """Listed in the card picker; the visual editor offers the terminal."""
    page = open_page(live_hass.token, "editor")
    picker = page.driver.execute_script("return window.customCards")
    assert {"type": "zkteco-enroll-card", "name": "ZKTeco enrollment"}.items() <= picker[0].items()
    options = page.driver.execute_script(
        """
        const editor = arguments[0].constructor.getConfigElement();
        document.body.append(editor);
        editor.setConfig({type: "custom:zkteco-enroll-card"});
        editor.hass = document.querySelector("home-assistant").hass;
        const options = [...editor.shadowRoot.querySelectorAll("option")].map((o) => o.text);
        editor.remove();
        return options;
        """,
        page.card(),
    )
    assert options == ["principal"]


@pytest.fixture
def terminal_timeout(sim: ZKSimulator) -> Iterator[ZKSimulator]:
    """The terminal, restored to its own wait for a press after the test."""
    wait = sim.enroll_timeout
    yield sim
    sim.enroll_timeout = wait


def test_nobody_came(
    open_page: Callable[..., Page], live_hass: LiveHass, terminal_timeout: ZKSimulator
) -> None:
    """The terminal gives up waiting for a finger: the card says so, and what to do."""
    page = open_page(live_hass.token, "en")
    page.choose("ana", USER_ID, 2)
    terminal_timeout.enroll_timeout = 0.5  # from the start: no press ever comes
    page.click("button.start")
    page.status_is("done", "timeout")
    assert page.status().text == (
        "Nobody placed the finger in time. Press Start again when the person is at the terminal."
    )
    page.screenshot("timeout")


def test_presses_not_clear(
    open_page: Callable[..., Page], live_hass: LiveHass, terminal_timeout: ZKSimulator
) -> None:
    """A bad press and then nothing: the bad press is the reason given, with the remedy."""
    page = open_page(live_hass.token, "en")
    page.start("ana", USER_ID, 3)
    press(terminal_timeout)
    page.until(lambda: page.presses_done() == 1, "press 1 shown")
    terminal_timeout.enroll_timeout = 0.0  # the terminal stops waiting right after the next press
    press(terminal_timeout, PressOutcome.BAD_QUALITY)
    page.status_is("done", "bad_quality")
    assert page.status().text.startswith("The presses were not clear enough.")
    page.screenshot("bad-quality")


def test_reload_resumes_the_enrollment(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    """A page reloaded mid-way shows the enrollment where it is and follows it to the end."""
    page = open_page(live_hass.token, "en")
    page.start("ana", USER_ID, 4)
    press(sim)
    page.until(lambda: page.presses_done() == 1, "press 1 shown")
    page.driver.refresh()
    page.status_is("waiting")
    assert page.status().text == "Ana Garcia: place the right little finger on the terminal."
    assert page.presses_done() == 1
    assert page.read(f'[data-user="{USER_ID}"]', "aria-pressed") == "true"
    assert page.read('[data-finger="4"]', "aria-pressed") == "true"
    page.screenshot("resumed")
    press(sim)
    press(sim)
    page.status_is("done", "success")
    assert page.read('[data-finger="4"]', "data-enrolled") == "true"
    assert sim.has_template(USER_ID, terminal_finger(4))


def test_push_terminal_guides_the_presses(
    open_page: Callable[..., Page], live_hass: LiveHass, sim: ZKSimulator
) -> None:
    """A terminal that reports no presses: the card points to its screen and waits for the end.

    Push terminals cannot be added to this hass yet, so the websocket's answer about the
    terminal is the one a Push entry gets (tests/test_websocket_api.py); the rest is real.
    """
    page = open_page(live_hass.token, "en")
    page.driver.execute_script(
        """
        const connection = document.querySelector("home-assistant").hass.connection;
        const send = connection.sendMessagePromise.bind(connection);
        connection.sendMessagePromise = (message) =>
          send(message).then((answer) =>
            message.type === "zkteco/enrollment" ? { ...answer, reports_presses: false } : answer,
          );
        // Read again: the config-flow device id names the same terminal.
        arguments[0].setConfig({ type: "custom:zkteco-enroll-card", device_id: arguments[1] });
        """,
        page.card(),
        DEVICE_ID,
    )
    page.start("ana", USER_ID, 0)
    assert page.status().text == (
        "Ana Garcia: follow the terminal's screen. It asks for the right thumb three times; "
        "the result shows here when it is done."
    )
    assert page.card().shadow_root.find_elements("css selector", ".presses") == []
    page.screenshot("push-waiting")
    for _press in range(3):
        press(sim)
    page.status_is("done", "success")
