"""The ticket table in a real browser: columns, search with preview, filters, sort, pages,
the URL as the view's state, attribute columns, CSV export, markup safety, narrow screens
and the live refresh."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import EVENTUALLY_MS, Portal, sign_in
from tests.browser.scenario import FORMULA_TITLE, MARKUP_TITLE

pytestmark = pytest.mark.browser

FIXED_HEADERS = ["ID", "Title", "Type", "State", "Created on", "Last updated"]


def settled(page: Page) -> None:
    """Wait until the table shows the answer to the last request (the page marks the table
    region busy as soon as a change starts a request)."""
    expect(page.locator(".table-region")).to_have_attribute("aria-busy", "false")


def shown_ids(page: Page) -> list[int]:
    return [int(text.lstrip("#")) for text in page.locator("tbody td.col-id").all_inner_texts()]


def header_labels(page: Page) -> list[str]:
    return [text.strip(" ↕▲▼\n") for text in page.locator("thead th").all_inner_texts()]


def search(page: Page, words: str) -> None:
    """Type like a person (one key at a time), then wait for the debounced search to land."""
    box = page.locator("#ticket-search")
    box.fill("")
    box.press_sequentially(words, delay=25)
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(words.replace(" ", "+")) + "(&|$)"))
    settled(page)


def test_the_table_lists_every_ticket_of_the_users_company(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")

    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))
    assert sorted(shown_ids(page)) == portal.scenario.acme_ids()
    assert header_labels(page) == FIXED_HEADERS
    expect(page.locator("thead th[scope=col]")).to_have_count(len(FIXED_HEADERS))
    expect(page.locator("tbody th[scope=row]")).to_have_count(len(portal.scenario.acme))
    expect(page.locator("caption")).to_have_text(
        "Your company\u2019s tickets, sorted by Last updated, descending"
    )
    expect(page.locator("th.col-updated-at")).to_have_attribute("aria-sort", "descending")
    expect(page.locator(".result-count")).to_have_text(f"{len(portal.scenario.acme)} tickets")
    expect(page.get_by_text("Globex badge reader offline")).to_have_count(0)
    expect(page.locator("#filter-company")).to_be_hidden()


def test_search_as_you_type_shows_where_each_ticket_matched(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")

    search(page, "toner")
    expect(page.locator("tbody tr")).to_have_count(1)
    row = page.locator("tbody tr").first
    expect(row.locator("th")).to_have_text("Printer on fire")
    expect(row.locator(".preview-snippet mark")).to_have_text("toner")
    expect(row.locator(".preview-snippet")).to_contain_text("We replaced the toner cartridge")
    expect(row.locator(".preview-meta")).to_contain_text("In conversation · Tess from Support")
    assert header_labels(page)[:3] == ["ID", "Title", "Preview"]
    expect(page.locator(".result-count")).to_have_text("1 result for “toner”")

    search(page, "invoices")
    expect(page.locator("tbody th a")).to_have_text(["Exporting invoices", "Printer on fire"])
    previews = page.locator("tbody .match-location")
    expect(previews).to_have_text(["In title", "In description"])
    expect(page.locator("tbody mark").first).to_have_text(re.compile("invoices", re.I))


@pytest.mark.parametrize("hidden_word", ["grumpy", "likely"])
def test_internal_notes_and_attributes_never_match(page: Page, portal: Portal, hidden_word):
    """ "grumpy" is only in an internal note, "likely" only in an internal attribute."""
    sign_in(page, portal, "ann", "ann@acme.test")

    search(page, hidden_word)

    expect(page.locator(".empty-state")).to_contain_text("No tickets match your search")
    expect(page.locator("table")).to_be_hidden()
    page.get_by_role("button", name="Clear search and filters").click()
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))
    expect(page.locator("#ticket-search")).to_have_value("")


def test_the_preview_column_follows_the_teammates_setting(page: Page, portal: Portal):
    ann = portal.session_for("ann", "ann@acme.test")

    def preview_enabled() -> bool:
        me = ann.get(f"{portal.base_url}/api/portal/me", timeout=10).json()
        return me["settings"]["preview_enabled"]

    portal.admin.preview_enabled(False)
    try:
        portal.wait_for(lambda: not preview_enabled())
        sign_in(page, portal, "ann", "ann@acme.test")

        search(page, "toner")

        expect(page.locator("tbody tr")).to_have_count(1)
        assert header_labels(page) == FIXED_HEADERS
        expect(page.locator(".preview")).to_have_count(0)
    finally:
        portal.admin.preview_enabled(True)
        portal.wait_for(preview_enabled)


def test_filters_combine_and_can_be_cleared(page: Page, portal: Portal):
    scenario = portal.scenario
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("details.filters")).to_have_attribute("open", "")

    page.select_option("#filter-type", "Question")
    settled(page)
    assert sorted(shown_ids(page)) == scenario.acme_ids(type="Question")
    expect(page).to_have_url(re.compile(r"\?type=Question$"))

    page.select_option("#filter-creator", "bob")
    settled(page)
    assert sorted(shown_ids(page)) == scenario.acme_ids(type="Question", creator_id="bob")

    page.select_option("#filter-state", "submitted")
    settled(page)
    expected = scenario.acme_ids(type="Question", creator_id="bob", state="submitted")
    assert sorted(shown_ids(page)) == expected
    expect(page.locator(".filter-count")).to_have_text("(3 active)")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    page.fill("#filter-created-from", tomorrow)
    settled(page)
    expect(page.locator(".empty-state")).to_contain_text("No tickets match")

    page.get_by_role("button", name="Clear filters").click()
    settled(page)
    expect(page.locator("tbody tr")).to_have_count(len(scenario.acme))
    expect(page.locator("#filter-type")).to_have_value("")
    expect(page.locator("details.filters")).to_have_attribute("open", "")


def test_date_ranges_are_whole_days(page: Page, portal: Portal):
    today = datetime.now(UTC).date()
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("details.filters")).to_have_attribute("open", "")

    page.fill("#filter-updated-from", today.isoformat())
    page.fill("#filter-updated-to", today.isoformat())
    settled(page)
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))

    page.fill("#filter-updated-to", (today - timedelta(days=1)).isoformat())
    settled(page)
    expect(page.locator(".empty-state")).to_be_visible()


def test_a_member_of_several_companies_can_filter_by_company(page: Page, portal: Portal):
    sign_in(page, portal, "cara", "cara@globex.test")

    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme) + 1)
    expect(page.locator(".subtitle")).to_have_text("All tickets of Acme Inc and Globex")
    assert header_labels(page)[-1] == "Company"
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    page.select_option("#filter-company", "globex")
    settled(page)

    assert shown_ids(page) == [portal.scenario.globex]
    expect(page.locator("tbody td.col-company")).to_have_text(["Globex"])


def test_sorting_by_a_column_header_shows_the_order_and_reverses(page: Page, portal: Portal):
    all_ids = portal.scenario.acme_ids()
    sign_in(page, portal, "ann", "ann@acme.test")

    page.get_by_role("button", name="ID", exact=True).click()
    settled(page)
    expect(page.locator("th.col-id")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("th.col-updated-at")).not_to_have_attribute("aria-sort", re.compile(".*"))
    expect(page.locator("th.col-id .sort-indicator")).to_have_text("▲")
    assert shown_ids(page) == all_ids

    page.get_by_role("button", name="ID", exact=True).click()
    settled(page)
    expect(page.locator("th.col-id")).to_have_attribute("aria-sort", "descending")
    expect(page.locator("th.col-id .sort-indicator")).to_have_text("▼")
    assert shown_ids(page) == all_ids[::-1]
    expect(page).to_have_url(re.compile(r"\?sort=id&order=desc$"))

    page.get_by_role("button", name="Type", exact=True).click()
    settled(page)
    types = page.locator("tbody td.col-type").all_inner_texts()
    assert types == sorted(types, key=str.casefold)
    assert len(set(types)) == 3


def test_the_keyboard_reaches_search_and_sorting_with_a_visible_focus(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))

    page.keyboard.press("/")
    expect(page.locator("#ticket-search")).to_be_focused()
    id_sort = page.locator('button[data-sort="id"]')
    for _ in range(25):  # past the filters, unfolded on a wide screen
        page.keyboard.press("Tab")
        if id_sort.evaluate("button => button === document.activeElement"):
            break
    expect(id_sort).to_be_focused()
    assert id_sort.evaluate("button => getComputedStyle(button).outlineStyle") == "solid"

    page.keyboard.press("Enter")
    settled(page)

    expect(page.locator("th.col-id")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator('button[data-sort="id"]')).to_be_focused()


def test_pages(page: Page, portal: Portal):
    all_ids = portal.scenario.acme_ids()
    sign_in(page, portal, "ann", "ann@acme.test", path="/?sort=id&order=asc")

    page.select_option("#per-page", "10")
    settled(page)
    assert shown_ids(page) == all_ids[:10]
    expect(page.locator(".page-of")).to_have_text("Page 1 of 2")
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    expect(page.locator(".result-count")).to_have_text(
        f"{len(all_ids)} tickets · showing 1\u201310"
    )

    page.get_by_role("button", name="Next page").click()
    settled(page)

    assert shown_ids(page) == all_ids[10:]
    expect(page.locator(".page-of")).to_have_text("Page 2 of 2")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))


def test_the_url_holds_the_view_and_the_back_button_walks_through_it(page: Page, portal: Portal):
    all_ids = portal.scenario.acme_ids()
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr")).to_have_count(len(all_ids))

    page.get_by_role("button", name="ID", exact=True).click()
    settled(page)
    page.select_option("#per-page", "10")
    settled(page)
    page.get_by_role("button", name="Next page").click()
    settled(page)
    assert shown_ids(page) == all_ids[10:]
    shared = page.url
    assert shared.endswith("/?sort=id&order=asc&page=2&per_page=10")

    page.go_back()
    settled(page)
    assert shown_ids(page) == all_ids[:10]
    page.go_back()
    settled(page)
    assert shown_ids(page) == all_ids
    expect(page.locator("#per-page")).to_have_value("25")
    page.go_back()
    settled(page)
    expect(page.locator("th.col-updated-at")).to_have_attribute("aria-sort", "descending")
    assert page.url == f"{portal.base_url}/"

    page.go_forward()
    page.go_forward()
    page.go_forward()
    settled(page)
    assert shown_ids(page) == all_ids[10:]

    other_tab = page.context.new_page()
    other_tab.goto(shared)
    expect(other_tab.locator(".page-of")).to_have_text("Page 2 of 2")
    assert shown_ids(other_tab) == all_ids[10:]
    expect(other_tab.locator("th.col-id")).to_have_attribute("aria-sort", "ascending")


def test_a_shared_link_restores_search_and_filters(page: Page, portal: Portal):
    routine_bugs = [
        ticket_id
        for ticket_id in portal.scenario.acme_ids(type="Bug")
        if portal.scenario.acme[ticket_id]["title"].startswith("Routine")
    ]
    sign_in(page, portal, "ann", "ann@acme.test", path="/?q=routine&type=Bug&sort=id&order=asc")

    settled(page)
    expect(page.locator("#ticket-search")).to_have_value("routine")
    expect(page.locator("#filter-type")).to_have_value("Bug")
    expect(page.locator(".filter-count")).to_have_text("(1 active)")
    assert shown_ids(page) == routine_bugs


def test_customer_visible_attributes_can_be_added_as_columns(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test", path="/?sort=id&order=asc")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))

    page.locator("summary", has_text="Columns").click()
    expect(page.locator(".column-chooser label")).to_have_text(["Priority"])
    page.get_by_label("Priority").check()

    assert header_labels(page)[-1] == "Priority"
    expect(page.locator("tbody tr").first.locator("td.col-attribute")).to_have_text("High")
    page.reload()
    settled(page)
    assert header_labels(page)[-1] == "Priority"


def test_csv_export_holds_every_page_of_the_view_and_defuses_formulas(page: Page, portal: Portal):
    all_ids = portal.scenario.acme_ids()
    sign_in(page, portal, "ann", "ann@acme.test", path="/?sort=id&order=asc&per_page=10")
    expect(page.locator("tbody tr")).to_have_count(10)

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))

    assert rows[0] == FIXED_HEADERS
    assert [row[0] for row in rows[1:]] == [f"#{ticket_id}" for ticket_id in all_ids]
    titles = {int(row[0].lstrip("#")): row[1] for row in rows[1:]}
    assert titles[portal.scenario.formula] == f"'{FORMULA_TITLE}"
    assert titles[portal.scenario.markup] == MARKUP_TITLE
    assert download.value.suggested_filename.endswith(".csv")


def test_markup_in_ticket_text_is_shown_as_text(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")

    title = page.locator(f'tbody tr[data-ticket-id="{portal.scenario.markup}"] th a')
    expect(title).to_have_text(MARKUP_TITLE)
    search(page, "soup")
    expect(page.locator("tbody .preview-snippet")).to_contain_text("Tag soup & <b>bold</b>")
    expect(page.locator("tbody mark")).to_have_text(["soup"])
    page.locator("tbody th a").click()
    expect(page.locator("h1#ticket-title")).to_have_text(MARKUP_TITLE)
    expect(page.locator(".description")).to_contain_text("<script>window.__injected=2</script>")

    expect(page.locator("main img, main script, main b")).to_have_count(0)
    assert page.evaluate("window.__injected") is None


def test_the_table_never_overflows_a_narrow_screen(page: Page, portal: Portal):
    page.set_viewport_size({"width": 360, "height": 780})
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))

    def overflow() -> int:
        return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    assert overflow() <= 0
    page.locator("summary", has_text="Columns").click()
    page.get_by_label("Priority").check()
    page.locator("summary", has_text="Columns").click()
    search(page, "invoices")
    assert overflow() <= 0
    page.locator("tbody th a").first.click()
    expect(page.locator("h1#ticket-title")).to_have_text("Exporting invoices")
    assert overflow() <= 0


def test_the_table_refreshes_itself_without_losing_the_users_place(page: Page, portal: Portal):
    admin = portal.admin
    admin.contact("una", "Una Umber", "una@umbrella.test")
    admin.company("umbrella", "Umbrella Corp", "una")
    for n in range(8):
        admin.ticket(
            type="Bug", title=f"Umbrella leak {n + 1}", creator_id="una", company_id="umbrella"
        )
    portal.wait_for_access("una", "una@umbrella.test", tickets=8)
    page.set_viewport_size({"width": 1280, "height": 500})
    sign_in(page, portal, "una", "una@umbrella.test", path="/?sort=id&order=asc")
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    search(page, "umbrella leak")
    expect(page.locator("tbody tr")).to_have_count(8)
    focused = page.locator("tbody tr").nth(5).locator("th a")
    focused.focus()
    page.evaluate("window.scrollTo(0, 300)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0

    new_ticket = admin.ticket(
        type="Bug", title="Umbrella leak 9", creator_id="una", company_id="umbrella"
    )["id"]

    expect(page.locator("tbody tr")).to_have_count(9, timeout=EVENTUALLY_MS)
    expect(page.locator(f'tbody tr[data-ticket-id="{new_ticket}"]')).to_be_visible()
    expect(page.locator("#ticket-search")).to_have_value("umbrella leak")
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    expect(page.locator("tbody tr").nth(5).locator("th a")).to_be_focused()
    assert page.evaluate("window.scrollY") == scrolled


# Delays the answer to a search for "toner" and delivers it even after the page aborted
# the request, so only the page's own bookkeeping can keep it off the screen.
LATE_TONER_ANSWER = """
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  if (!String(input).includes("q=toner")) return realFetch(input, init);
  const { signal, ...unabortable } = init;
  const answer = await realFetch(input, unabortable);
  const body = await answer.text();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  setTimeout(() => { window.lateAnswerHandled = true; }, 100);
  return new Response(body, { status: answer.status, headers: answer.headers });
};
"""


def test_a_late_answer_to_an_earlier_search_is_ignored(page: Page, portal: Portal):
    page.add_init_script(LATE_TONER_ANSWER)
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))

    page.locator("#ticket-search").fill("toner")
    expect(page).to_have_url(re.compile(r"q=toner"))
    search(page, "invoices")
    expect(page.locator("tbody th a")).to_have_text(["Exporting invoices", "Printer on fire"])
    page.wait_for_function("() => window.lateAnswerHandled === true")

    # Read once, without retrying: the next live refresh would repair a wrong table.
    assert page.locator("tbody th a").all_inner_texts() == ["Exporting invoices", "Printer on fire"]
    assert page.locator(".result-count").inner_text() == "2 results for \u201cinvoices\u201d"
