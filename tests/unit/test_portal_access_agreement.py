"""portal_query (reads) and messenger_bridge (replies and joins) apply one access rule
(``kernel.portal_access``), each to facts it folds itself. The same histories go through
both, and for every user they must agree on every ticket and every conversation."""

from __future__ import annotations

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.errors import NoPortalAccess, NotFound
from kernel.eventstore.sqlite import SqliteEventStore
from kernel.portal_access_index import PortalAccessIndex
from services.messenger_bridge import domain
from services.portal_query import queries
from tests.support.portal_events import History, ids, query

NOW = 1_900_000_000.0
USERS = ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "nobody")
TICKETS = (1, 2, 3, 4, 5, 6, 7, 8, 99)
CONVERSATIONS = ("c1", "c3", "c6", "c8")
CONDITIONS = {
    "none": [],
    "eq": [{"attribute": "role", "operator": "eq", "value": "member"}],
    "neq (a missing attribute matches)": [
        {"attribute": "role", "operator": "neq", "value": "admin"}
    ],
    "in": [{"attribute": "role", "operator": "in", "value": ["member", "guest"]}],
    "every condition": [
        {"attribute": "role", "operator": "eq", "value": "member"},
        {"attribute": "seats", "operator": "eq", "value": 1},
    ],
    "a boolean is no number": [{"attribute": "seats", "operator": "eq", "value": True}],
}


def world(conditions: list) -> History:
    """Every kind of fact the rule reads: contacts with and without an email or attributes,
    one who is no contact, memberships added and removed, tickets with, without and moved
    between companies, conversations linked when the ticket was made or later, joins."""
    h = History()
    h.contact("ann", role="member", seats=1)
    h.contact("bob", role="admin")
    h.contact("cat", email=None, role="member")
    h.contact("dan")
    h.contact("eve", role="guest", seats=True)
    h.contact("fay", role="member", seats=2)
    h.company("acme")
    h.company("beta")
    h.company("evil")
    h.member("acme", "ann", "bob", "cat", "dan", "gus")  # gus is no contact
    h.member("beta", "ann", "fay", "dan")
    h.member("evil", "eve")
    h.remove_member("beta", "dan")
    h.conversation("c1", "ann", "Printer on fire")
    h.ticket(1, "acme", creator_id="ann", conversation_id="c1")
    h.ticket(2, "acme", creator_id="bob")
    h.conversation("c3", "fay", "Invoices")
    h.ticket(3, "beta", creator_id="fay")
    h.link(3, "c3", ["fay"])
    h.join("c3", "eve", 3)
    h.ticket(4, "evil", creator_id="eve")
    h.ticket(5, None, creator_id="ann")
    h.conversation("c6", "dan", "Moved")
    h.ticket(6, "acme", creator_id="dan", conversation_id="c6")
    h.assign(6, "beta", previous="acme")
    h.ticket(7, "beta", creator_id="ann")
    h.assign(7, None, previous="beta")
    h.ticket(8, "acme", creator_id="gus")
    h.conversation("c8", "bob", "No ticket")
    h.join("c8", "dan")
    h.settings(conditions=conditions)
    return h


@pytest.fixture(params=CONDITIONS.values(), ids=CONDITIONS.keys())
def both(request, tmp_path):
    """The portal's view and messenger_bridge's index of the same history, and the
    conversations as messenger_bridge folds them from their own streams."""
    h = world(request.param)
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    for event in h.events:
        new = NewEvent(event.type, event.payload, event_id=event.event_id)
        store.append(event.stream_id, [new], event.stream_version - 1)
    conversations = {
        c: domain.fold(e for e in h.events if e.stream_id == domain.stream_of(c))
        for c in CONVERSATIONS
    }
    yield h.view(), PortalAccessIndex(store), conversations
    store.close()


def portal_shows(view, user_id: str, ticket_id: int) -> bool:
    """The ticket opens in the portal, and its list agrees."""
    try:
        listed = ticket_id in ids(
            queries.portal_list_tickets(view, user_id, query(per_page=100), NOW)
        )
    except NoPortalAccess:
        listed = False
    try:
        queries.ticket_for_user(view, user_id, ticket_id)
    except NotFound:
        assert not listed, (user_id, ticket_id)
        return False
    assert listed, (user_id, ticket_id)
    return True


def messenger_shows(index, user_id: str, ticket_id: int) -> bool:
    try:
        index.visible_ticket(user_id, ticket_id)
    except NotFound:
        return False
    return True


def portal_opens(view, user_id: str, conversation_id: str) -> bool:
    try:
        queries.portal_conversation(view, user_id, conversation_id)
    except NotFound:
        return False
    return True


def test_both_sides_show_the_same_tickets_to_every_user(both):
    view, index, _ = both
    portal = {(u, t): portal_shows(view, u, t) for u in USERS for t in TICKETS}
    messenger = {(u, t): messenger_shows(index, u, t) for u in USERS for t in TICKETS}

    assert messenger == portal
    assert any(portal.values()) and not all(portal.values())


def test_both_sides_open_the_same_conversations_to_every_user(both):
    view, index, conversations = both
    portal = {(u, c): portal_opens(view, u, c) for u in USERS for c in CONVERSATIONS}
    messenger = {
        (u, c): index.may_open(u, c, conversations[c].participant_ids)
        for u in USERS
        for c in CONVERSATIONS
    }

    assert messenger == portal
    assert any(portal.values()) and not all(portal.values())
