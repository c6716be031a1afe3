"""Ticket details, the way into the Messenger, joining a conversation and the Messenger
tickets space with its banner back to the portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in

pytestmark = pytest.mark.browser


def facts(page: Page) -> dict[str, str]:
    terms = page.locator(".details-facts dt").all_inner_texts()
    values = page.locator(".details-facts dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def test_details_show_the_ticket_and_only_its_customer_visible_conversation(
    page: Page, portal: Portal
):
    printer = portal.scenario.printer
    sign_in(page, portal, "ann", "ann@acme.test", path="/?q=printer")
    page.get_by_role("link", name="Printer on fire").click()

    expect(page).to_have_url(f"{portal.base_url}/tickets/{printer}")
    expect(page.locator("h1#ticket-title")).to_have_text("Printer on fire")
    expect(page.locator("h1#ticket-title")).to_be_focused()
    expect(page.locator(".ticket-meta")).to_have_text(re.compile(rf"Submitted\s*#{printer}\s*Bug"))
    expect(page.locator(".description")).to_have_text(
        "The office printer emits smoke when printing invoices."
    )
    shown = facts(page)
    assert shown["Company"] == "Acme Inc"
    assert shown["Created by"] == "Ann Archer"
    assert shown["Priority"] == "High"
    assert "Churn risk" not in shown
    expect(page.locator(".part-author")).to_have_text(["Ann Archer", "Tess from Support"])
    expect(page.locator(".part-body")).to_have_text(
        [
            "Our office printer started smoking this morning.",
            "We replaced the toner cartridge remotely; please try again.",
        ]
    )
    expect(page.locator("main")).not_to_contain_text("grumpy")
    expect(page.get_by_role("button", name="Join conversation")).to_have_count(0)

    page.get_by_role("link", name="All tickets").click()
    expect(page).to_have_url(f"{portal.base_url}/?q=printer")
    expect(page.locator("#ticket-search")).to_have_value("printer")

    page.get_by_role("link", name="Printer on fire").click()
    page.get_by_role("link", name="Send us a message").click()
    expect(page).to_have_url(re.compile(r"/messenger/conversations/conv-[0-9a-f]{32}$"))
    expect(page.locator(".messenger h1")).to_have_text("Printer on fire")
    expect(page.locator(".messenger .part-body")).to_have_count(2)
    expect(page.locator(".messenger")).not_to_contain_text("grumpy")
    expect(page.get_by_label("Your message")).to_be_visible()


def test_joining_the_conversation_puts_the_ticket_in_the_tickets_space(page: Page, portal: Portal):
    question = portal.scenario.export_question
    sign_in(page, portal, "ann", "ann@acme.test", path="/messenger")
    expect(page.locator(".space-item").first).to_be_visible()
    expect(page.locator(".space-list")).not_to_contain_text("Exporting invoices")

    page.goto(f"/tickets/{question}")
    expect(page.locator("h1#ticket-title")).to_have_text("Exporting invoices")
    page.get_by_role("button", name="Join conversation").click()

    expect(page.locator(".action-status")).to_contain_text("You joined the conversation")
    expect(page.get_by_role("button", name="Join conversation")).to_have_count(0)
    expect(page.get_by_role("link", name="Send us a message")).to_be_visible()

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messenger").click()
    expect(page).to_have_url(f"{portal.base_url}/messenger")
    expect(page.locator(".space-list")).to_contain_text("Exporting invoices")
    banner = page.get_by_role("link", name=re.compile("Back to the customer portal"))
    expect(banner).to_be_visible()

    banner.click()
    expect(page).to_have_url(f"{portal.base_url}/")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))


def test_a_ticket_of_another_company_is_not_found(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test", path=f"/tickets/{portal.scenario.globex}")

    expect(page.get_by_role("heading", name="Ticket not found")).to_be_visible()
    expect(page.locator(".problem [role=status]")).to_have_text(
        "This ticket does not exist, or it is not shared with you."
    )
    expect(page.locator("main")).not_to_contain_text("Globex badge reader")


def test_the_tickets_space_without_portal_access_has_no_banner(page: Page, portal: Portal):
    """A user without a company still has their own tickets in the Messenger, but the
    banner would lead to a portal they may not use."""
    portal.admin.ticket(type="Question", title="Lost parcel", creator_id="loner", company_id=None)
    sign_in(page, portal, "loner", "lou@nowhere.test", path="/messenger")

    expect(page.locator(".space-list")).to_contain_text("Lost parcel")
    expect(page.locator(".portal-banner")).to_be_hidden()
    expect(page.locator(".space-list a")).to_have_count(0)
