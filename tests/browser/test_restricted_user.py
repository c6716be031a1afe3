"""A user whom a visibility condition restricts to the tickets they created reads that on
the page, as the server decides it (``restricted_to_own_tickets`` of ``/api/portal/me``),
never "all tickets" of their company."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in

pytestmark = pytest.mark.browser

# The demo's rule: members of a customer company see only the tickets they created.
MEMBERS_ONLY = {"attribute": "role", "operator": "eq", "value": "member"}
BOB = ("bob", "Bob Baker", "bob@acme.test")


@contextmanager
def bob_restricted(portal: Portal) -> Iterator[None]:
    """Bob as the demo's restricted user (a member, under the members-only condition) until
    the end of the block; then the stack shared by every browser test is as it was."""
    user_id, name, email = BOB
    client = portal.session_for(user_id, email)

    def restricted() -> bool:
        return client.get(f"{portal.base_url}/api/portal/me", timeout=10).json()[
            "restricted_to_own_tickets"
        ]

    portal.admin.contact(user_id, name, email, role="member")
    portal.admin.visibility_conditions([MEMBERS_ONLY])
    try:
        portal.wait_for(restricted)
        yield
    finally:
        portal.admin.visibility_conditions([])
        portal.admin.contact(user_id, name, email)
        portal.wait_for(lambda: not restricted())


def test_a_restricted_user_reads_that_they_see_the_tickets_they_created(page: Page, portal: Portal):
    # given: Bob, a member, under the demo's members-only condition
    own = portal.scenario.acme_ids(creator_id="bob")
    with bob_restricted(portal):
        # when
        sign_in(page, portal, "bob", "bob@acme.test")

        # then: the heading's notice and the table's caption say whose tickets these are
        expect(page.locator("tbody tr")).to_have_count(len(own))
        expect(page.locator(".subtitle")).to_have_text("Tickets you created at Acme Inc")
        expect(page.locator("caption")).to_have_text(
            "Tickets you created, sorted by Last updated, descending"
        )
        expect(page.locator("main")).not_to_contain_text("All tickets")

        # and the Messenger's banner back to the portal says the same
        page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messenger").click()
        banner = "Back to the customer portal: the tickets you created at Acme Inc"
        expect(page.get_by_role("link", name=banner, exact=True)).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("every ticket of your company")


def test_an_unrestricted_user_reads_that_they_see_every_ticket_of_the_company(
    page: Page, portal: Portal
):
    sign_in(page, portal, "ann", "ann@acme.test")

    expect(page.locator(".subtitle")).to_have_text("All tickets of Acme Inc")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messenger").click()
    banner = "Back to the customer portal: every ticket of your company"
    expect(page.get_by_role("link", name=banner, exact=True)).to_be_visible()
