"""The ticket page's e-mail notifications setting: it shows the user's preferences, saves a
change made with the keyboard at once (``PUT /api/portal/notifications``), says so in a live
region, and shows the saved choice after a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, assert_accessible, sign_in

pytestmark = pytest.mark.browser


def test_a_user_follows_their_company_tickets_from_the_ticket_page(page: Page, portal: Portal):
    printer = portal.scenario.printer
    client = portal.session_for("ann", "ann@acme.test")
    preferences = f"{portal.base_url}/api/portal/notifications"
    try:
        sign_in(page, portal, "ann", "ann@acme.test", path=f"/tickets/{printer}")
        settings = page.get_by_role("region", name="E-mail notifications")
        mine = settings.get_by_label("Tickets I created or take part in")
        company = settings.get_by_label("Every ticket of my companies that I can see")
        expect(mine).to_be_checked()
        expect(company).not_to_be_checked()
        expect(company).to_be_enabled()

        company.focus()
        page.keyboard.press("Space")
        expect(settings.get_by_role("status")).to_have_text("Saved.")
        assert_accessible(page, "ticket details with the e-mail setting")
        assert client.get(preferences, timeout=10).json() == {
            "my_tickets": True,
            "company_tickets": True,
        }

        page.reload()
        expect(page.get_by_label("Every ticket of my companies that I can see")).to_be_checked()
    finally:
        client.put(
            preferences, json={"my_tickets": True, "company_tickets": False}, timeout=10
        ).raise_for_status()
