"""The teammates' console at /admin/, driven in Chromium against the real stack: signing in
with the teammate token (never in a URL), the inbox with its company filter ("No company"
included) and Company column, a ticket (company picker, state, reply, internal note,
removing a participant), a company profile (members, Tickets tab) and the portal settings
(the switch, the preview column, visibility conditions with live counts). Every view is
checked with axe-core for WCAG 2.1 AA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, Portal, assert_accessible, sign_in
from tests.support.stack import ADMIN_TOKEN


@pytest.fixture
def console(page: Page) -> Page:
    """The console, signed in with the teammate token through its own form."""
    page.goto("/admin/")
    page.get_by_label("Teammate token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    return page


@pytest.fixture(scope="module")
def two_company_ticket(portal: Portal) -> Iterator[dict]:
    """A ticket whose two participants belong to two different companies, from their
    conversation: the automatic rule leaves it without a company."""
    admin = portal.admin
    admin.contact("pia", "Pia Park", "pia@wayne.test")
    admin.contact("quin", "Quin Quast", "quin@stark.test")
    admin.company("wayne", "Wayne Enterprises", "pia")
    admin.company("stark", "Stark Industries", "quin")
    conversation = admin.conversation("pia", "Both our teams lost access to the reports.")
    ticket = admin.ticket(
        type="Bug",
        title="Reports vanished for two teams",
        creator_id="pia",
        participant_ids=["quin"],
        conversation_id=conversation,
        attributes=[
            {"name": "Priority", "value": "High", "visible_to_customer": True},
            {"name": "Account value", "value": "large", "visible_to_customer": False},
        ],
    )
    portal.wait_for(lambda: admin.call("GET", "/api/admin/tickets?q=vanished")["total"] == 1)
    yield ticket


def test_signing_in_keeps_the_token_out_of_the_url_and_refuses_a_wrong_one(page: Page):
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert_accessible(page, "console sign-in")
    page.get_by_label("Teammate token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text("That token was not accepted.")

    page.get_by_label("Teammate token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert ADMIN_TOKEN not in page.url
    assert page.evaluate("() => document.cookie") == ""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_the_inbox_filters_by_company_or_no_company_and_hides_the_company_column(
    console: Page, two_company_ticket: dict
):
    expect(console.get_by_role("columnheader", name="Company")).to_be_visible()
    assert_accessible(console, "console inbox")

    console.get_by_label("Company", exact=True).select_option(label="No company")
    rows = console.locator("table tbody tr")
    expect(rows.first).to_contain_text("No company")
    expect(console.get_by_role("link", name="Reports vanished for two teams")).to_be_visible()
    assert "no_company" not in console.url and "company=none" in console.url

    console.get_by_label("Company", exact=True).select_option(label="Globex")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Globex badge reader offline")

    console.get_by_label("Search tickets").fill("printer")
    console.get_by_label("Company", exact=True).select_option(label="Any company")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Printer on fire")

    console.get_by_label("Show the Company column").uncheck()
    expect(console.get_by_role("columnheader", name="Company")).to_have_count(0)
    console.reload()
    expect(console.get_by_label("Show the Company column")).not_to_be_checked()
    console.get_by_label("Show the Company column").check()


def test_a_ticket_picks_a_company_takes_a_reply_and_a_note_and_loses_a_participant(
    console: Page, portal: Portal, two_company_ticket: dict
):
    number = two_company_ticket["id"]
    console.get_by_role("link", name="Reports vanished for two teams").click()
    expect(console.get_by_role("heading", level=1)).to_contain_text("Reports vanished")
    picker = console.get_by_role("combobox", name="Company")
    expect(picker.locator("option")).to_have_text(
        ["Stark Industries", "Wayne Enterprises", "No company (automatic rule)"]
    )
    expect(console.locator("#company-rule")).to_contain_text("automatic rule")
    expect(console.get_by_text("Account value")).to_be_visible()
    expect(console.locator(".internal-tag").first).to_have_text("Internal")
    assert_accessible(console, "console ticket")

    picker.select_option(label="Wayne Enterprises")
    console.get_by_role("button", name="Set company").click()
    expect(console.locator("#company-rule")).to_contain_text("Chosen by a teammate")
    assert portal.admin.call("GET", f"/api/admin/tickets/{number}")["company_id"] == "wayne"

    console.get_by_role("combobox", name="State").select_option(label="In progress")
    console.get_by_role("button", name="Change state").click()
    expect(console.locator(".ticket-meta .state-badge")).to_have_text("In progress")

    console.get_by_label("Reply or internal note").fill("We restored the reports.")
    console.get_by_role("button", name="Send reply").click()
    expect(console.locator(".part").last).to_contain_text("We restored the reports.")
    console.get_by_label("Reply or internal note").fill("Root cause: expired licence")
    console.get_by_label("Internal note (teammates only)").check()
    console.get_by_role("button", name="Add note").click()
    note = console.locator(".part").last
    expect(note).to_contain_text("Root cause: expired licence")
    expect(note.locator(".internal-tag")).to_have_text("Internal note")
    expect(note).to_have_class("part part-teammate part-internal")

    console.get_by_role("button", name="Remove Pia Park").click()
    expect(console.get_by_role("status")).to_contain_text("Pia Park no longer takes part")
    expect(console.get_by_role("button", name="Remove Pia Park")).to_have_count(0)
    conversation = portal.admin.call(
        "GET", f"/api/admin/conversations/{two_company_ticket['conversation_id']}"
    )
    assert conversation["participant_ids"] == []


def test_a_company_profile_lists_members_and_its_tickets(console: Page, portal: Portal):
    console.get_by_role("link", name="Companies").click()
    expect(console.get_by_role("heading", name="Companies", level=1)).to_be_visible()
    assert_accessible(console, "console companies")
    console.get_by_role("link", name="Acme Inc").click()
    expect(console.get_by_role("heading", name="Acme Inc", level=1)).to_be_visible()
    expect(console.get_by_role("tab", name="Members")).to_have_attribute("aria-selected", "true")
    expect(console.get_by_role("rowheader", name="Ann Archer")).to_be_visible()
    assert_accessible(console, "console company members")

    console.get_by_role("tab", name="Tickets").click()
    expect(console.get_by_role("link", name="Printer on fire")).to_be_visible()
    expect(console.locator(".result-count")).to_contain_text(
        f"of {len(portal.scenario.acme)} tickets"
    )
    expect(console.get_by_role("button", name="Next page")).to_have_count(0)
    assert "tab=tickets" in console.url
    assert_accessible(console, "console company tickets")


def test_portal_settings_count_conditions_live_and_switch_the_portal_off(
    console: Page, portal: Portal, browser
):
    before = portal.admin.call("GET", "/api/admin/portal/settings")
    console.get_by_role("link", name="Portal settings").click()
    expect(console.get_by_label("The portal is on")).to_be_checked()
    console.get_by_role("button", name="Add condition").click()
    console.get_by_label("Attribute").fill("role")
    console.get_by_label("Value").fill("admin")
    counts = portal.admin.call(
        "POST",
        "/api/admin/portal/restricted-counts",
        {"visibility_conditions": [{"attribute": "role", "operator": "eq", "value": "admin"}]},
    )
    users, admins = counts["users"], counts["restricted"]
    expect(console.locator(".condition-count")).to_have_text(
        f"Matches {admins} of {users} portal users"
    )
    expect(console.locator(".condition-total")).to_contain_text(f"restrict {admins} of {users}")
    assert_accessible(console, "console portal settings")
    console.get_by_role("button", name="Remove", exact=True).click()
    expect(console.locator(".condition-total")).to_contain_text("No conditions")

    try:
        console.get_by_label("The portal is on").uncheck()
        console.get_by_role("button", name="Save settings").click()
        expect(console.get_by_role("status")).to_have_text("Saved. The portal is off.")
        ann = portal.session_for("ann", "ann@acme.test")
        me = f"{portal.base_url}/api/portal/me"
        portal.wait_for(lambda: ann.get(me, timeout=10).status_code == 403)

        customer = browser.new_context(base_url=portal.base_url, viewport=DESKTOP)
        try:
            tab = customer.new_page()
            sign_in(tab, portal, "ann", "ann@acme.test")
            expect(tab.get_by_role("heading", level=1)).to_have_text(
                "The customer portal is turned off"
            )
            assert_accessible(tab, "portal turned off")
            tab.get_by_role("link", name="Open your Messenger tickets").click()
            expect(tab.get_by_role("heading", name="Your tickets")).to_be_visible()
            expect(tab.locator(".portal-banner")).to_be_hidden()
        finally:
            customer.close()
    finally:
        portal.admin.call("PUT", "/api/admin/portal/settings", before)
    console.reload()
    expect(console.get_by_label("The portal is on")).to_be_checked()


def test_ticket_types_show_their_fields_and_the_form_a_customer_sees(console: Page, portal: Portal):
    portal.admin.call(
        "POST",
        "/api/admin/ticket-types",
        {
            "id": "console-access",
            "name": "Access request",
            "description": "Ask for access to a workspace.",
            "customer_creatable": False,
            "attributes": [
                {
                    "key": "workspace",
                    "label": "Workspace",
                    "type": "select",
                    "required": True,
                    "visible_to_customer": True,
                    "options": ["Sales", "Finance"],
                },
                {
                    "key": "approver",
                    "label": "Approver",
                    "type": "text",
                    "required": False,
                    "visible_to_customer": False,
                },
            ],
        },
    )
    console.get_by_role("link", name="Ticket types").click()
    section = console.get_by_role("region", name="Access request")
    expect(section.get_by_role("rowheader", name="Approver")).to_be_visible()
    preview = section.get_by_role("group", name="New ticket: Access request")
    expect(preview.get_by_label("Workspace (required)")).to_be_disabled()
    expect(preview.get_by_label("Approver")).to_have_count(0)
    expect(preview).to_contain_text("Customers cannot create this type now.")
    assert_accessible(console, "console ticket types")

    section.get_by_label("Customers may create it").check()
    expect(console.get_by_role("status")).to_have_text("Access request: customers may create it.")
    types = portal.admin.call("GET", "/api/admin/ticket-types")["items"]
    assert next(t for t in types if t["id"] == "console-access")["customer_creatable"] is True
