"""Who may open a conversation in the Messenger, and what they see there: its participants,
and whoever may see its linked ticket in the portal; anyone else gets the answer a missing
conversation gets. The tickets space links into a conversation only for those who may open
it."""

from __future__ import annotations

import pytest

from kernel.errors import NotFound, PortalDisabled
from services.portal_query import queries
from tests.support.portal_events import History, acme_world

MEMBERS_ONLY = [{"attribute": "role", "operator": "eq", "value": "member"}]
NOTE = "CANARY internal note"


def printer_world() -> History:
    """acme_world, and ann's conversation c1 on ticket 1 with a teammate's reply and an
    internal note."""
    h = acme_world()
    h.conversation("c1", "ann", "The printer is on fire")
    h.link(1, "c1", ["ann"])
    h.part("c1", "We are on our way", author_id="tom", author_type="teammate", author_name="Tom")
    h.note("c1", NOTE)
    return h


def not_found(view, user_id: str, conversation_id: str) -> NotFound:
    with pytest.raises(NotFound) as refused:
        queries.portal_conversation(view, user_id, conversation_id)
    return refused.value


def test_a_participant_sees_the_customer_visible_parts_and_the_ticket():
    h = printer_world()
    opening_at = h.events[-4].occurred_at  # the opening part, before the link
    reply_at = h.events[-2].occurred_at

    answer = queries.portal_conversation(h.view(), "ann", "c1")

    assert answer == {
        "id": "c1",
        "portal_enabled": True,
        "participant": True,
        "ticket": {"id": 1, "title": "Printer on fire", "state": "submitted"},
        "parts": [
            {
                "id": "p1",
                "author_type": "user",
                "author_name": "Ann",
                "body": "The printer is on fire",
                "created_at": opening_at,
            },
            {
                "id": "p2",
                "author_type": "teammate",
                "author_name": "Tom",
                "body": "We are on our way",
                "created_at": reply_at,
            },
        ],
    }
    assert NOTE not in repr(answer)


def test_a_colleague_who_may_see_the_ticket_opens_it_without_taking_part():
    answer = queries.portal_conversation(printer_world().view(), "bob", "c1")

    assert (answer["participant"], answer["ticket"]["id"]) == (False, 1)
    assert [part["id"] for part in answer["parts"]] == ["p1", "p2"]


def test_to_anyone_else_it_answers_exactly_like_a_missing_conversation():
    h = printer_world()
    h.contact("bob", role="member")
    h.settings(conditions=MEMBERS_ONLY)  # bob now sees only his own tickets
    h.contact("ghost", email=None)
    view = h.view()

    missing = not_found(view, "ann", "c-missing")
    for user_id in ("eve", "bob", "ghost", "nobody"):
        refused = not_found(view, user_id, "c1")
        assert (refused.message, refused.fields) == (
            "conversation c1 does not exist",
            {"conversation_id": "no such conversation"},
        )
    assert missing.fields == refused.fields


def test_a_participant_opens_it_without_portal_access_but_does_not_see_the_ticket():
    """The Messenger is a participant's whatever their companies; the ticket stays the
    portal's to show."""
    h = printer_world()
    h.join("c1", "eve", 1)
    h.contact("cid", email=None)
    h.conversation("c2", "cid", "Hello?")
    view = h.view()

    joined = queries.portal_conversation(view, "eve", "c1")
    assert (joined["participant"], joined["ticket"]) == (True, None)
    own = queries.portal_conversation(view, "cid", "c2")
    assert (own["participant"], own["ticket"], len(own["parts"])) == (True, None, 1)
    not_found(view, "ann", "c2")  # no ticket: only its participants


def test_a_user_who_replied_takes_part():
    h = printer_world()
    h.join("c1", "bob", 1)
    h.part("c1", "Bob here, it is still smoking", author_id="bob")

    answer = queries.portal_conversation(h.view(), "bob", "c1")

    assert answer["participant"] is True
    assert answer["parts"][-1]["author_name"] == "Bob"


def test_losing_the_ticket_loses_the_conversation_unless_taking_part():
    h = printer_world()
    h.assign(1, "evil", previous="acme")
    view = h.view()

    not_found(view, "bob", "c1")
    assert queries.portal_conversation(view, "ann", "c1")["ticket"] is None
    assert queries.portal_conversation(view, "eve", "c1")["participant"] is False


def test_the_tickets_space_links_into_the_conversations_the_user_may_open():
    h = printer_world()
    h.conversation("c5", "bob", "Where is my parcel?")
    h.ticket(5, None, creator_id="ann", title="Lost parcel")  # no company: not in the portal
    h.link(5, "c5", ["ann", "bob"])
    view = h.view()

    def links(user_id: str) -> dict[int, str | None]:
        items = queries.tickets_space(view, user_id)["items"]
        return {item["id"]: item["conversation_id"] for item in items}

    assert links("ann") == {1: "c1", 5: None}  # ann is not in c5, and 5 is in no portal
    assert links("bob") == {2: None, 5: "c5"}


def test_a_removed_participant_who_does_not_see_the_ticket_finds_no_conversation():
    h = printer_world()
    h.join("c1", "eve", 1)
    assert queries.portal_conversation(h.view(), "eve", "c1")["participant"] is True
    assert [item["id"] for item in queries.tickets_space(h.view(), "eve")["items"]] == [1, 3]

    h.remove_participant("c1", "eve")

    assert not_found(h.view(), "eve", "c1").fields == {"conversation_id": "no such conversation"}
    assert [item["id"] for item in queries.tickets_space(h.view(), "eve")["items"]] == [3]


def test_a_removed_participant_who_sees_the_ticket_reads_but_no_longer_takes_part():
    h = printer_world()
    h.join("c1", "bob", 1)
    h.remove_participant("c1", "bob")

    answer = queries.portal_conversation(h.view(), "bob", "c1")

    assert answer["participant"] is False
    assert [part["body"] for part in answer["parts"]] == [
        "The printer is on fire",
        "We are on our way",
    ]


def test_the_creator_keeps_the_ticket_in_the_tickets_space_after_being_removed():
    h = printer_world()
    h.remove_participant("c1", "ann")
    h.remove_member("acme", "ann")

    items = queries.tickets_space(h.view(), "ann")["items"]

    assert [(item["id"], item["conversation_id"]) for item in items] == [(1, None)]


def test_while_the_portal_is_off_the_messenger_answers_without_the_portal():
    h = printer_world()
    h.settings(portal_enabled=False)
    view = h.view()

    with pytest.raises(PortalDisabled):
        queries.portal_me(view, "ann")
    answer = queries.portal_conversation(view, "ann", "c1")
    assert (answer["portal_enabled"], answer["ticket"]) == (False, None)
    assert queries.tickets_space(view, "ann")["portal_enabled"] is False
