"""Browser tests: the whole platform running as processes, seeded through the teammates' API,
and the portal page driven in Debian's headless Chromium by Playwright.

Chromium comes from the distribution (``scripts/ensure-chromium``): a browser download
does not work on the machines here, so Playwright is pointed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import eventlet.hubs
import greenlet
import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api._context_manager import PlaywrightContextManager

from tests.browser.scenario import AdminApi, Scenario, seed, sign_in_link, verified_identity
from tests.support.broker import BROKER_URI
from tests.support.stack import running_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
# Long enough for a live refresh (every 3 s) on a busy two-core machine; a wait, not a
# timing assertion.
EVENTUALLY_MS = 15_000
expect.set_options(timeout=EVENTUALLY_MS)


@dataclass
class Portal:
    base_url: str
    admin: AdminApi
    scenario: Scenario

    def link(self, user_id: str, email: str | None, path: str = "/") -> str:
        return sign_in_link(self.base_url, user_id, email, path)

    def session_for(self, user_id: str, email: str | None) -> requests.Session:
        """An HTTP client signed in as a portal user (bearer token), to check the API side."""
        answer = requests.post(
            f"{self.base_url}/api/portal/session",
            json=verified_identity(user_id, email),
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        client = requests.Session()
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return client

    def wait_for(self, condition, timeout: float = EVENTUALLY_MS / 1000) -> None:
        """Until ``condition()`` holds: the read side catches up asynchronously."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true within {timeout}s: {condition}")
            time.sleep(0.1)

    def wait_for_access(self, user_id: str, email: str, tickets: int) -> None:
        """Until the user's portal lists ``tickets`` tickets."""
        client = self.session_for(user_id, email)
        url = f"{self.base_url}/api/portal/tickets"
        self.wait_for(lambda: client.get(url, timeout=10).json().get("total") == tickets)


@pytest.fixture(scope="session")
def portal(tmp_path_factory) -> Iterator[Portal]:
    """One platform for the whole browser session (starting it is the slow part); each test
    seeds or signs in as its own users where it changes anything."""
    with running_stack(tmp_path_factory.mktemp("browser"), BROKER_URI) as stack:
        admin = AdminApi(stack.base_url)
        yield Portal(stack.base_url, admin, seed(admin))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/ensure-chromium")
    manager = sync_playwright()
    playwright = manager.start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        stop_playwright(manager)


def stop_playwright(manager: PlaywrightContextManager) -> None:
    """Stop Playwright's driver although the tests run under eventlet's monkey patch.

    Eventlet's hub adopts every greenlet that waits on it as its child, Playwright's
    dispatcher greenlet included; when the driver has gone, that greenlet ends by returning
    to the hub instead of to us, and ``sync_playwright``'s exit would wait forever. A hub
    timer hands control back once the dispatcher has ended (a private attribute of
    playwright 1.65, pinned in pyproject.toml)."""
    caller = greenlet.getcurrent()
    hub = eventlet.hubs.get_hub()
    waiting = True

    def hand_back() -> None:
        nonlocal waiting
        if not waiting:
            return
        if manager._dispatcher_fiber.dead:
            waiting = False
            caller.switch()
        else:
            hub.schedule_call_global(0.05, hand_back)

    hub.schedule_call_global(0.05, hand_back)
    try:
        manager.__exit__(None, None, None)
    finally:
        waiting = False


@pytest.fixture
def page(browser: Browser, portal: Portal) -> Iterator[Page]:
    """A fresh browser profile (no cookies, no storage) per test. Script errors and Content
    Security Policy violations fail the test: the page must run under the gateway's CSP."""
    context = browser.new_context(
        base_url=portal.base_url,
        viewport=DESKTOP,
        locale="en-US",
        timezone_id="UTC",
        accept_downloads=True,
    )
    context.set_default_timeout(EVENTUALLY_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"CSP: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert problems == []


# axe-core, installed for the tests by scripts/ensure-axe-core (the version is pinned there).
AXE_SCRIPT = (
    Path(__file__).resolve().parents[2] / "var/browser-tests/node_modules/axe-core/axe.min.js"
)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Page, view: str) -> None:
    """Run axe-core's WCAG 2.1 A and AA rules on the view as it is drawn now; any violation
    fails the test, named with its rule and elements. axe is evaluated through the driver,
    not added as a script, so the page keeps its own Content Security Policy."""
    if not AXE_SCRIPT.exists():
        pytest.fail("axe-core is missing: run scripts/ensure-axe-core (or make browser)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate(
        """async (tags) => {
            const answer = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return answer.violations.map((v) => ({
                rule: v.id,
                impact: v.impact,
                help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }""",
        WCAG_21_AA,
    )
    assert results == [], f"WCAG 2.1 AA violations on {view}: {results}"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save a view for the docs (docs/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Page, portal: Portal, user_id: str, email: str | None, path: str = "/") -> None:
    """Arrive from the help center's hand-off link and wait for the first view."""
    page.goto(portal.link(user_id, email, path))
    page.locator("main h1").first.wait_for()
