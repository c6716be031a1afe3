"""Customers create tickets through a ticket type's form, and resolve and reopen them, on
the page: the form built from the type's customer-visible fields, the page's own checks
(the server's words, next to each field, announced to assistive technology), keyboard use,
and the new ticket shown at once in the portal and in the Messenger tickets space.

Each test signs in as the user of a company of their own, so the other browser tests'
tables do not change."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, assert_accessible, sign_in

pytestmark = pytest.mark.browser

FIELDS = [
    {"key": "severity", "label": "Severity", "type": "select", "required": True,
     "visible_to_customer": True, "options": ["Low", "High"]},
    {"key": "seats", "label": "Seats", "type": "number", "required": False,
     "visible_to_customer": True},
    {"key": "Since when", "label": "Since", "type": "date", "required": False,
     "visible_to_customer": True},
    {"key": "blocking", "label": "Blocking", "type": "boolean", "required": False,
     "visible_to_customer": True},
    {"key": "root_cause", "label": "Root cause", "type": "text", "required": False,
     "visible_to_customer": False},
]  # fmt: skip
_numbers = itertools.count(1)


@pytest.fixture
def customer(portal: Portal) -> tuple[str, str]:
    """A user of a company of their own with one ticket (so the portal opens), and the
    "Outage" type customers may create (defined once per session)."""
    number = next(_numbers)
    user_id, email = f"nina{number}", f"nina{number}@initech.test"
    portal.admin.contact(user_id, f"Nina {number}", email)
    portal.admin.company(f"initech{number}", f"Initech {number}", user_id)
    portal.admin.ticket(type="Question", title="First question", creator_id=user_id)
    types = portal.admin.call("GET", "/api/admin/ticket-types")["items"]
    if not any(t["id"] == "outage" for t in types):
        portal.admin.call(
            "POST",
            "/api/admin/ticket-types",
            {"id": "outage", "name": "Outage", "description": "Something is down",
             "customer_creatable": True, "attributes": FIELDS},
        )  # fmt: skip
    portal.wait_for_access(user_id, email, 1)
    return user_id, email


def choose_outage(page: Page) -> None:
    """The form of the Outage type: other browser tests on the same platform may define
    creatable types that come first in the list."""
    expect(page.get_by_label("Title (required)")).to_be_visible()
    page.get_by_label("Type").select_option(label="Outage")


def test_the_form_shows_only_customer_fields_and_marks_each_problem_next_to_its_field(
    page: Page, portal: Portal, customer
):
    sign_in(page, portal, *customer)
    page.get_by_role("link", name="New ticket").click()
    expect(page.get_by_role("heading", name="New ticket")).to_be_focused()
    choose_outage(page)
    expect(page.get_by_label("Severity (required)")).to_be_visible()
    expect(page.get_by_label("Root cause")).to_have_count(0)
    assert_accessible(page, "new ticket")

    page.get_by_label("Seats").fill("12")
    page.get_by_role("button", name="Create ticket").click()

    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading")).to_be_focused()
    title = page.get_by_label("Title (required)")
    severity = page.get_by_label("Severity (required)")
    for field, problem in ((title, "Title is required"), (severity, "Severity is required")):
        expect(field).to_have_attribute("aria-invalid", "true")
        described = field.get_attribute("aria-describedby")
        expect(page.locator(f"#{described.split()[-1]}")).to_have_text(problem)
    expect(page.get_by_label("Seats")).not_to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "new ticket with problems")
    # The summary's links lead to the fields.
    summary.get_by_role("link", name="Severity (required): Severity is required").click()
    expect(severity).to_be_focused()


def test_a_keyboard_user_creates_a_ticket_and_sees_it_at_once_then_resolves_and_reopens(
    page: Page, portal: Portal, customer
):
    sign_in(page, portal, *customer)
    page.get_by_role("link", name="New ticket").focus()
    page.keyboard.press("Enter")
    # The form shows once the types are loaded; focusing waits only for it to exist.
    expect(page.get_by_label("Title (required)")).to_be_visible()
    choose_outage(page)
    page.get_by_label("Title (required)").focus()
    page.keyboard.type("Nothing loads")
    page.keyboard.press("Tab")
    page.keyboard.type("Since this morning")
    page.get_by_label("Severity (required)").select_option("High")
    page.get_by_label("Blocking").focus()
    page.keyboard.press("Space")
    page.get_by_label("Since").fill("2026-11-30")
    page.get_by_role("button", name="Create ticket").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Nothing loads")
    facts = page.locator("[data-slot=facts]")
    expect(facts).to_contain_text("High")
    expect(facts).to_contain_text("2026-11-30")

    page.get_by_role("button", name="Mark as resolved").click()
    expect(page.locator("[data-slot=state]")).to_have_text("Resolved")
    page.get_by_role("button", name="Reopen ticket").click()
    expect(page.locator("[data-slot=state]")).to_have_text("In progress")
    ticket_id = int(page.url.rsplit("/", 1)[1])
    stored = portal.admin.call("GET", f"/api/admin/tickets/{ticket_id}")
    assert stored["state_changed_by"] == {"type": "user", "id": customer[0]}


def test_the_server_refuses_what_the_page_cannot_know_and_the_page_says_where(
    page: Page, portal: Portal, customer
):
    sign_in(page, portal, *customer, path="/tickets/new")
    choose_outage(page)
    page.get_by_label("Title (required)").fill("Late change")
    page.get_by_label("Severity (required)").select_option("Low")
    # A teammate changes the form meanwhile: Severity loses the option the user picked.
    changed = [{**FIELDS[0], "options": ["High", "Critical"]}, *FIELDS[1:]]
    portal.admin.call("PATCH", "/api/admin/ticket-types/outage", {"attributes": changed})
    try:
        page.get_by_role("button", name="Create ticket").click()
        severity = page.get_by_label("Severity (required)")
        expect(severity).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("alert")).to_contain_text("must be one of: High, Critical")
    finally:
        portal.admin.call("PATCH", "/api/admin/ticket-types/outage", {"attributes": FIELDS})


def test_the_messenger_tickets_space_creates_and_lists_the_new_ticket(
    page: Page, portal: Portal, customer
):
    sign_in(page, portal, *customer, path="/messenger")
    page.get_by_role("link", name="New ticket").click()
    expect(page.get_by_role("link", name="← Your tickets")).to_be_visible()
    choose_outage(page)
    page.get_by_label("Title (required)").fill("From the Messenger")
    page.get_by_label("Severity (required)").select_option("Low")
    page.get_by_role("button", name="Create ticket").click()

    expect(page.get_by_role("heading", name="Your tickets")).to_be_visible()
    expect(page.locator(".space-list")).to_contain_text("From the Messenger")
