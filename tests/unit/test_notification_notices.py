"""Who hears about which change (services/notifications/notices.py), given/when/then: given
these events, when this one arrives, then these contacts are told, on this list."""

from __future__ import annotations

import pytest

from kernel.contracts.envelope import RecordedEvent
from services.notifications.notices import Audience
from tests.support.portal_events import History

CANARY = "canary-5e1d internal"


def preferences(history: History, contact_id: str, my: bool, company: bool) -> None:
    history.add(
        f"notification_preferences-{contact_id}",
        "NotificationPreferencesChanged",
        {
            "contact_id": contact_id,
            "my_tickets": my,
            "company_tickets": company,
            "source": "portal",
        },
    )


@pytest.fixture
def history() -> History:
    """Acme: Carol opened ticket 1 from her conversation c1; Ann and Bob follow Acme's
    tickets, Bob as a member restricted to his own; Dan is a member who follows nothing;
    Gus follows Globex's; Nia has no e-mail address."""
    h = History()
    for contact in ("ann", "carol", "dan", "gus"):
        h.contact(contact, role="admin")
    h.contact("bob", role="member")
    h.contact("nia", email=None)
    h.settings(conditions=[{"attribute": "role", "operator": "eq", "value": "member"}])
    h.company("acme")
    h.company("globex")
    h.member("acme", "ann", "bob", "carol", "dan", "nia")
    h.member("globex", "gus")
    for follower in ("ann", "bob", "gus", "nia"):
        preferences(h, follower, True, True)
    h.conversation("c1", "carol", opening="The printer is on fire")
    h.ticket(1, "acme", creator_id="carol", title="Printer", conversation_id="c1")
    return h


def told(history: History, event: RecordedEvent) -> dict[str, str]:
    audience = Audience()
    for earlier in history.events:
        notices = audience.apply(earlier)
        if earlier is event:
            return {notice.contact_id: notice.reason for notice in notices}
    raise AssertionError("the event is not in the history")


def test_a_teammate_reply_tells_the_creator_and_the_followers_who_may_see_the_ticket(history):
    reply = history.part("c1", "We replaced the toner", "tess", "teammate", "Tess")
    # Bob is restricted to tickets he created; Dan follows nothing; Gus is Globex's; Nia has
    # no address
    assert told(history, reply) == {"carol": "my_tickets", "ann": "company_tickets"}


def test_the_notice_carries_only_what_the_customer_sees(history):
    history.attributes(1, [{"name": "Margin", "value": CANARY, "visible_to_customer": False}])
    history.note("c1", f"{CANARY} do not tell")
    history.part("c1", "We replaced the toner", "tess", "teammate", "Tess")
    audience = Audience()
    notices = [notice for event in history.events for notice in audience.apply(event)]
    assert notices and all(CANARY not in repr(notice) for notice in notices)
    assert {(n.kind, n.body, n.author_name, n.title) for n in notices} == {
        ("reply", "We replaced the toner", "Tess", "Printer")
    }


def test_replaying_the_store_decides_the_same_notices(history):
    history.part("c1", "We replaced the toner", "tess", "teammate", "Tess")
    history.state(1, "resolved")

    def decided() -> list:
        audience = Audience()
        return [notice for event in history.events for notice in audience.apply(event)]

    assert decided() == decided()


def test_an_internal_note_or_a_customer_message_tells_nobody(history):
    note = history.note("c1", f"{CANARY} do not tell")
    own = history.part("c1", "Any news?", "carol")
    assert told(history, note) == {}
    assert told(history, own) == {}


def test_a_conversation_without_a_ticket_tells_nobody(history):
    history.conversation("c2", "dan", opening="Hello")
    reply = history.part("c2", "Hi Dan", "tess", "teammate", "Tess")
    assert told(history, reply) == {}


def test_a_state_change_tells_everyone_but_its_author(history):
    change = history.state(1, "resolved")
    assert told(history, change) == {"carol": "my_tickets", "ann": "company_tickets"}

    # version 2 names who changed it: a customer resolving is not told of their own change
    by_carol = history.add(
        "ticket-1",
        "TicketStateChanged",
        {
            "ticket_id": 1,
            "state": "submitted",
            "previous_state": "resolved",
            "author_type": "user",
            "author_id": "carol",
        },
    )
    by_teammate = history.add(
        "ticket-1",
        "TicketStateChanged",
        {
            "ticket_id": 1,
            "state": "resolved",
            "previous_state": "submitted",
            "author_type": "teammate",
            "author_id": None,
        },
    )
    assert told(history, by_teammate) == {"carol": "my_tickets", "ann": "company_tickets"}
    assert told(history, by_carol) == {"ann": "company_tickets"}


def test_participants_and_joiners_are_told_and_a_restricted_user_hears_of_their_own(history):
    history.join("c1", "dan", 1)
    history.ticket(2, "acme", creator_id="bob", participant_ids=["bob", "gus"], title="Bob's")
    reply = history.part("c1", "Update", "tess", "teammate", "Tess")
    change = history.state(2, "in_progress")
    assert told(history, reply) == {
        "carol": "my_tickets",
        "dan": "my_tickets",
        "ann": "company_tickets",
    }
    assert told(history, change) == {
        "bob": "my_tickets",
        "gus": "my_tickets",
        "ann": "company_tickets",
    }


def test_a_participant_a_teammate_removed_is_no_longer_told(history):
    history.join("c1", "dan", 1)
    history.remove_participant("c1", "dan")
    reply = history.part("c1", "Update", "tess", "teammate", "Tess")
    assert "dan" not in told(history, reply)


def test_preferences_and_membership_decide_who_is_told(history):
    preferences(history, "carol", False, False)
    preferences(history, "ann", True, False)
    history.remove_member("acme", "bob")
    history.contact("bob", role="admin")
    change = history.state(1, "in_progress")
    assert told(history, change) == {}


def test_no_state_change_tells_nobody(history):
    same = history.state(1, "submitted", previous="submitted")
    assert told(history, same) == {}


def test_a_ticket_linked_to_another_conversation_is_told_of_that_one(history):
    history.conversation("c2", "dan", opening="Also broken")
    history.link(1, "c2", participant_ids=["carol"])
    old = history.part("c1", "On the old thread", "tess", "teammate", "Tess")
    new = history.part("c2", "On the new thread", "tess", "teammate", "Tess")
    assert told(history, old) == {}
    assert told(history, new) == {
        "carol": "my_tickets",
        "dan": "my_tickets",
        "ann": "company_tickets",
    }
