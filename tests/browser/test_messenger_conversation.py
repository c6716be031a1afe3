"""The Messenger conversation in a real browser: opened by its id (from the join answer's
URL, from the ticket's "Send us a message", from the tickets space), sending a message and
seeing it appear, and the table's filters filled from their own endpoint.

Each test works on its own tickets of Hooli (Hana and Hugo), so the shared Acme scenario the
other browser tests count on stays as seeded."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in

pytestmark = pytest.mark.browser

HANA = ("hana", "hana@hooli.test")
HUGO = ("hugo", "hugo@hooli.test")
NOTE = "CANARY internal: Hana's contract ends soon"
FACETS = "/api/portal/tickets/facets"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def hooli(portal: Portal) -> Portal:
    portal.admin.contact("hana", "Hana Hill", HANA[1])
    portal.admin.contact("hugo", "Hugo Hart", HUGO[1])
    portal.admin.company("hooli", "Hooli", "hana", "hugo")
    return portal


def hana_ticket(portal: Portal, title: str) -> dict:
    """A Hooli ticket from Hana's conversation, with a teammate's reply and an internal
    note, once both Hooli users see it in the portal."""
    conversation = portal.admin.conversation("hana", f"{title}: please help")
    portal.admin.reply(conversation, "Looking into it now.")
    portal.admin.reply(conversation, NOTE, internal=True)
    ticket = portal.admin.ticket(
        type="Question",
        title=title,
        creator_id="hana",
        company_id="hooli",
        conversation_id=conversation,
    )
    hugo = portal.session_for(*HUGO)
    url = f"{portal.base_url}/api/portal/tickets/{ticket['id']}"
    portal.wait_for(lambda: hugo.get(url, timeout=10).status_code == 200)
    return ticket


def unique(word: str) -> str:
    return f"{word}{next(_numbers)}"


def expect_parts(page: Page, *bodies: str) -> None:
    expect(page.locator(".messenger .part-body")).to_have_text(list(bodies))


def test_the_join_answers_url_opens_the_conversation(page: Page, hooli: Portal):
    ticket = hana_ticket(hooli, "Badge printer jams")
    joined = hooli.session_for(*HUGO).post(
        f"{hooli.base_url}/api/portal/tickets/{ticket['id']}/join", timeout=10
    )
    assert joined.status_code == 200
    messenger_url = joined.json()["messenger_url"]

    sign_in(page, hooli, *HUGO, path=messenger_url)

    expect(page).to_have_url(f"{hooli.base_url}{messenger_url}")
    expect(page.locator(".messenger h1")).to_have_text("Badge printer jams")
    expect_parts(page, "Badge printer jams: please help", "Looking into it now.")
    expect(page.locator(".messenger .part-author")).to_have_text(["Hana Hill", "Tess from Support"])
    expect(page.locator(".messenger")).not_to_contain_text("CANARY")
    expect(page.get_by_label("Your message")).to_be_visible()
    expect(page.get_by_role("link", name="Ticket details")).to_have_attribute(
        "href", f"/tickets/{ticket['id']}"
    )


def test_a_participant_sends_a_message_and_sees_it_appear(page: Page, hooli: Portal):
    ticket = hana_ticket(hooli, "Coffee machine leaks")
    message = f"The {unique('puddle')} is getting bigger"
    sign_in(page, hooli, *HANA, path=f"/messenger/conversations/{ticket['conversation_id']}")
    expect_parts(page, "Coffee machine leaks: please help", "Looking into it now.")

    page.get_by_label("Your message").fill(message)
    page.get_by_role("button", name="Send").click()

    expect(page.locator(".action-status")).to_have_text("Message sent.")
    expect(page.get_by_label("Your message")).to_have_value("")
    expect_parts(page, "Coffee machine leaks: please help", "Looking into it now.", message)
    expect(page.locator(".messenger .part-author").last).to_have_text("Hana Hill")

    page.reload()  # now as the server has it
    expect_parts(page, "Coffee machine leaks: please help", "Looking into it now.", message)
    sent = hooli.session_for(*HANA).get(
        f"{hooli.base_url}/api/messenger/conversations/{ticket['conversation_id']}", timeout=10
    )
    assert sent.json()["parts"][-1]["body"] == message


def test_send_us_a_message_joins_and_replies_as_in_the_article(page: Page, hooli: Portal):
    ticket = hana_ticket(hooli, "Parking gate stuck")
    word = unique("gatekeeper")
    sign_in(page, hooli, *HUGO, path=f"/tickets/{ticket['id']}")

    page.get_by_role("link", name="Send us a message").click()

    expect(page).to_have_url(
        f"{hooli.base_url}/messenger/conversations/{ticket['conversation_id']}"
    )
    expect(page.locator(".messenger h1")).to_have_text("Parking gate stuck")
    expect(page.get_by_label("Your message")).to_have_count(0)
    page.get_by_role("button", name="Join conversation").click()
    expect(page.locator(".action-status")).to_contain_text("You joined the conversation")
    page.get_by_label("Your message").fill(f"Hugo here: the {word} is gone too")
    page.get_by_label("Your message").press("Control+Enter")
    expect(page.locator(".messenger .part-body").last).to_have_text(
        f"Hugo here: the {word} is gone too"
    )

    # The reply reaches the portal: search finds it, with the preview naming its author.
    page.goto(f"/?q={word}")
    expect(page.locator("tbody th a")).to_have_text(["Parking gate stuck"])
    expect(page.locator(".preview")).to_contain_text("Hugo Hart")
    expect(page.locator(".preview mark")).to_have_text(word)


def test_the_tickets_space_links_into_the_conversation(page: Page, hooli: Portal):
    ticket = hana_ticket(hooli, "Window will not open")
    sign_in(page, hooli, *HANA, path="/messenger")

    page.locator(".space-list").get_by_role("link", name="Window will not open").click()

    expect(page).to_have_url(
        f"{hooli.base_url}/messenger/conversations/{ticket['conversation_id']}"
    )
    expect(page.locator(".messenger h1")).to_have_text("Window will not open")
    expect_parts(page, "Window will not open: please help", "Looking into it now.")


def test_a_conversation_of_another_company_is_not_available(page: Page, hooli: Portal):
    ticket = hana_ticket(hooli, "Roof antenna bent")
    sign_in(
        page, hooli, "ann", "ann@acme.test", f"/messenger/conversations/{ticket['conversation_id']}"
    )

    expect(page.locator(".messenger [role=status]").first).to_have_text(
        "This conversation is not available to you."
    )
    expect(page.locator(".messenger")).not_to_contain_text("Roof antenna")
    expect(page.get_by_label("Your message")).to_have_count(0)


def test_the_filters_are_filled_from_their_own_endpoint_and_follow_new_tickets(
    page: Page, hooli: Portal
):
    hana_ticket(hooli, "Desk lamp flickers")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if FACETS in request.url else None)
    sign_in(page, hooli, *HANA)
    expect(page.locator("details.filters")).to_have_attribute("open", "")

    expect(page.locator("#filter-type option")).to_contain_text(["Any type", "Question"])
    expect(page.locator("#filter-creator option")).to_contain_text(["Anyone", "Hana Hill"])
    assert len(asked) == 1

    hooli.admin.ticket(
        type="Incident", title="Server room flooded", creator_id="hugo", company_id="hooli"
    )

    # The live refresh sees the list change and asks for the choices again.
    expect(page.locator("#filter-type option", has_text="Incident")).to_have_count(1)
    expect(page.locator("#filter-creator option", has_text="Hugo Hart")).to_have_count(1)
    assert len(asked) >= 2
    page.select_option("#filter-type", "Incident")
    expect(page.locator("tbody th a")).to_have_text(["Server room flooded"])
