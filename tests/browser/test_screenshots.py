"""The README's screenshots, taken from the demo a person gets with ``make run`` (five
companies, a hundred tickets over eight weeks), not from the other tests' fixtures: the
portal's views and the teammates' console. A platform of its own, seeded with
``portalctl.demo`` exactly as ``make run`` seeds it; every view is checked with axe-core
too, on data as varied as a real help desk's."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from portalctl.demo import TICKET_COUNT, Demo
from tests.browser.conftest import DESKTOP, EVENTUALLY_MS, assert_accessible, screenshot
from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET, event_store_of, running_stack


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    with running_stack(tmp_path_factory.mktemp("demo"), BROKER_URI) as stack:
        demo = Demo(stack.base_url, ADMIN_TOKEN, IDENTITY_SECRET)
        store = event_store_of(stack)
        try:
            demo.seed(store)
        finally:
            store.close()
        inbox = f"{stack.base_url}/api/admin/tickets?per_page=1"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        wait_until(
            lambda: requests.get(inbox, headers=headers, timeout=10).json()["total"] >= TICKET_COUNT
        )
        yield demo


def wait_until(condition, timeout: float = 60.0) -> None:
    """Until the read side has caught up with the imported demo (a wait, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the demo was not projected in time"
        time.sleep(0.2)


@pytest.fixture
def tab(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(
        base_url=demo.base_url, viewport=DESKTOP, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(EVENTUALLY_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def test_the_portal_as_the_demo_users_see_it(tab: Page, demo: Demo):
    tab.goto(demo.sign_in_link("ann"))
    expect(tab.locator("tbody tr")).to_have_count(25)
    screenshot(tab, "table")
    tab.get_by_label("Search tickets").fill("export")
    expect(tab.locator(".preview-snippet").first).to_be_visible()
    assert_accessible(tab, "demo search")
    screenshot(tab, "search-preview")

    tab.get_by_label("Search tickets").fill("")
    tab.locator("tbody tr th a").first.click()
    expect(tab.locator(".part").first).to_be_visible()
    assert_accessible(tab, "demo details")
    screenshot(tab, "details")

    tab.get_by_role("link", name="Messenger").click()
    expect(tab.locator(".space-item").first).to_be_visible()
    screenshot(tab, "tickets-space")
    tab.locator(".space-item a").first.click()
    expect(tab.locator(".part").first).to_be_visible()
    assert_accessible(tab, "demo conversation")
    screenshot(tab, "conversation")

    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto("/")
    expect(tab.locator("tbody tr").first).to_be_visible()
    screenshot(tab, "narrow", full_page=False)


def test_the_no_access_page_of_a_demo_user_without_an_email(tab: Page, demo: Demo):
    tab.goto(demo.sign_in_link("erin"))
    expect(tab.locator(".signed-in-as")).to_have_text("You are signed in as Erin Evans.")
    screenshot(tab, "no-access")


def test_the_console_on_the_demo(tab: Page, demo: Demo):
    tab.goto("/admin/")
    tab.get_by_label("Teammate token").fill(ADMIN_TOKEN)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.locator("tbody tr")).to_have_count(25)
    assert_accessible(tab, "demo inbox")
    screenshot(tab, "console-inbox")

    tab.locator("tbody tr th a").first.click()
    expect(tab.locator(".part").first).to_be_visible()
    assert_accessible(tab, "demo console ticket")
    screenshot(tab, "console-ticket")

    tab.get_by_role("link", name="Companies").click()
    tab.get_by_role("link", name="Acme Corp").click()
    expect(tab.get_by_role("rowheader", name="Ann Archer")).to_be_visible()
    screenshot(tab, "console-company")
    tab.get_by_role("tab", name="Tickets").click()
    expect(tab.locator("tbody tr")).to_have_count(25)
    assert_accessible(tab, "demo company tickets")

    tab.get_by_role("link", name="Ticket types").click()
    expect(tab.locator(".form-preview").first).to_be_visible()
    assert_accessible(tab, "demo ticket types")
    screenshot(tab, "console-ticket-types")

    tab.get_by_role("link", name="Portal settings").click()
    expect(tab.locator(".condition-count")).to_contain_text("Matches")
    assert_accessible(tab, "demo portal settings")
    screenshot(tab, "console-settings")


def test_a_demo_user_creates_a_ticket_through_the_bug_form(tab: Page, demo: Demo):
    """Last in this module: the ticket it creates joins the demo the tests above show."""
    tab.goto(demo.sign_in_link("ann"))
    tab.get_by_role("link", name="New ticket").click()
    title = tab.get_by_label("Title (required)")
    expect(title).to_be_visible()
    tab.get_by_label("Type").select_option(label="Bug")
    tab.get_by_role("button", name="Create ticket").click()
    expect(tab.get_by_label("Priority (required)")).to_have_attribute("aria-invalid", "true")
    screenshot(tab, "new-ticket-errors")

    title.fill("Exports stop after 10,000 rows")
    tab.get_by_label("Description").fill("The CSV export of the orders report ends early.")
    tab.get_by_label("Priority (required)").select_option("High")
    tab.get_by_label("How many users are affected?").fill("12")
    tab.get_by_role("button", name="Create ticket").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Exports stop after 10,000 rows")
    expect(tab.get_by_role("region", name="E-mail notifications")).to_be_visible()
    assert_accessible(tab, "demo new ticket")
    screenshot(tab, "new-ticket-created")
