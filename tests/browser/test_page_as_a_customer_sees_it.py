"""The portal page as a customer sees it: axe-core finds no WCAG 2.1 AA violation on any of
its views, no pager when everything fits on one page, filters unfolded above the table on a
wide screen, no "Press /" hint on a touch screen, and the details page saying the state once.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import EVENTUALLY_MS, Portal, assert_accessible, sign_in


def test_every_view_of_the_portal_meets_wcag_2_1_aa(page: Page, portal: Portal):
    scenario = portal.scenario
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr").first).to_be_visible()
    assert_accessible(page, "tickets")
    page.get_by_label("Search tickets").fill("printer")
    expect(page.locator("tbody tr")).to_have_count(1)
    assert_accessible(page, "search results with previews")

    page.goto(f"/tickets/{scenario.printer}")
    expect(page.locator("#ticket-title")).to_have_text("Printer on fire")
    assert_accessible(page, "ticket details")

    page.goto("/messenger")
    expect(page.get_by_role("heading", name="Your tickets")).to_be_visible()
    expect(page.locator(".space-item").first).to_be_visible()
    assert_accessible(page, "Messenger tickets space")
    page.locator(".space-item a").first.click()
    expect(page.locator(".part").first).to_be_visible()
    assert_accessible(page, "Messenger conversation")

    sign_in(page, portal, "idle", "ida@initech.test")
    expect(page.locator("main h1")).to_contain_text("use the customer portal yet")
    assert_accessible(page, "no access")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("main h1")).to_have_text("Sign in to see your tickets")
    assert_accessible(page, "signed out")


def test_no_pager_when_every_ticket_fits_on_one_page(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))
    expect(page.get_by_role("button", name="Next page")).to_be_hidden()
    expect(page.get_by_role("button", name="Previous page")).to_be_hidden()
    expect(page.locator(".page-of")).to_be_hidden()
    expect(page.get_by_label("Rows per page")).to_be_visible()

    page.select_option("#per-page", "10")
    expect(page.get_by_role("button", name="Next page")).to_be_visible()


def test_filters_are_unfolded_above_the_table_on_a_wide_screen_only(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    expect(page.locator("#filter-type")).to_be_visible()
    filters = page.locator("details.filters").bounding_box()
    table = page.locator("table").bounding_box()
    assert filters["y"] + filters["height"] <= table["y"]

    page.set_viewport_size({"width": 600, "height": 900})
    page.reload()
    expect(page.locator("tbody tr").first).to_be_visible()
    expect(page.locator("details.filters")).not_to_have_attribute("open", "")


def test_a_touch_screen_gets_no_keyboard_shortcut_hint(browser: Browser, portal: Portal):
    phone = browser.new_context(
        base_url=portal.base_url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    try:
        tab = phone.new_page()
        tab.set_default_timeout(EVENTUALLY_MS)
        assert tab.evaluate("() => matchMedia('(hover: none) and (pointer: coarse)').matches")
        sign_in(tab, portal, "ann", "ann@acme.test")
        expect(tab.locator("#search-hint")).to_have_text(
            "Results update as you type. Press / to jump here."
        )
        expect(tab.locator("#search-hint .keyboard-only")).to_be_hidden()
        expect(tab.locator(".search-key")).to_be_hidden()
        expect(tab.locator("#search-hint")).to_be_visible()
    finally:
        phone.close()


def test_a_keyboard_screen_keeps_the_hint(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("#search-hint .keyboard-only")).to_be_visible()


def test_the_details_page_says_the_state_once(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test", path=f"/tickets/{portal.scenario.printer}")
    expect(page.locator("#ticket-title")).to_have_text("Printer on fire")
    state = page.locator(".ticket-meta .state-badge").inner_text()
    expect(page.locator("main").get_by_text(state, exact=True)).to_have_count(1)
    expect(page.locator(".details-facts dt", has_text="State")).to_have_count(0)
