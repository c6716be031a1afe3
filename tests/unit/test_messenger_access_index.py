"""messenger_bridge's portal access index, following the real embedded store by position:
given these events, when this user asks about a ticket or a conversation, then this answer."""

from __future__ import annotations

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.errors import NotFound
from kernel.eventstore.sqlite import SqliteEventStore
from kernel.portal_access_index import PortalAccessIndex
from tests.support.portal_events import History, acme_world

MEMBERS_ONLY = [{"attribute": "role", "operator": "eq", "value": "member"}]


@pytest.fixture
def store(tmp_path):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    yield store
    store.close()


def append(store, history: History, since: int = 0) -> None:
    """The history's events from the ``since``-th on, written into the store."""
    for event in history.events[since:]:
        new = NewEvent(event.type, event.payload, event_id=event.event_id)
        store.append(event.stream_id, [new], event.stream_version - 1)


def index_of(store, history: History) -> PortalAccessIndex:
    append(store, history)
    return PortalAccessIndex(store)


def sees(index: PortalAccessIndex, user_id: str, ticket_id: int) -> bool:
    try:
        index.visible_ticket(user_id, ticket_id)
    except NotFound:
        return False
    return True


def test_members_with_an_email_see_their_companies_tickets(store):
    index = index_of(store, acme_world())

    assert [sees(index, "ann", t) for t in (1, 2, 3)] == [True, True, False]
    assert [sees(index, "eve", t) for t in (1, 2, 3)] == [False, False, True]
    assert not sees(index, "nobody", 1)


def test_a_hidden_ticket_is_refused_exactly_like_a_missing_one(store):
    index = index_of(store, acme_world())

    with pytest.raises(NotFound) as hidden:
        index.visible_ticket("ann", 3)
    with pytest.raises(NotFound) as absent:
        index.visible_ticket("ann", 999)

    assert (str(hidden.value), hidden.value.fields) == ("ticket 3 does not exist", {})
    assert (str(absent.value), absent.value.fields) == ("ticket 999 does not exist", {})


def test_a_contact_without_an_email_sees_nothing(store):
    h = acme_world()
    h.contact("ann", email=None)
    index = index_of(store, h)

    assert not sees(index, "ann", 1)


def test_visibility_conditions_restrict_matching_users_to_the_tickets_they_created(store):
    h = acme_world()
    h.contact("ann", role="member")
    h.contact("bob", role="admin")
    h.settings(conditions=MEMBERS_ONLY)
    index = index_of(store, h)

    assert [sees(index, "ann", t) for t in (1, 2)] == [True, False]
    assert [sees(index, "bob", t) for t in (1, 2)] == [True, True]


def test_removed_members_and_moved_or_uncompanied_tickets_leave_the_view(store):
    h = acme_world()
    h.remove_member("acme", "bob")
    h.assign(1, "evil", previous="acme")
    h.ticket(4, None, creator_id="ann")
    index = index_of(store, h)

    assert not sees(index, "bob", 2)  # his own ticket, but no longer his company
    assert (sees(index, "ann", 1), sees(index, "eve", 1)) == (False, True)
    assert not sees(index, "ann", 4)


def test_each_ticket_carries_the_conversation_it_was_created_or_last_linked_with(store):
    h = acme_world()
    h.conversation("c1", "ann", "Fire")
    h.link(1, "c1")
    h.conversation("c4", "bob", "Smoke")
    h.ticket(4, "acme", creator_id="bob", conversation_id="c4")
    index = index_of(store, h)

    assert [index.visible_ticket("ann", t).conversation_id for t in (1, 2, 4)] == ["c1", None, "c4"]


def test_a_conversation_opens_for_its_participants_and_whoever_sees_its_ticket(store):
    h = acme_world()
    h.conversation("c1", "ann", "Fire")
    h.link(1, "c1")
    h.conversation("c9", "ann", "Not a ticket")
    index = index_of(store, h)

    assert index.may_open("bob", "c1", ["ann"])  # a colleague, through ticket 1
    assert not index.may_open("eve", "c1", ["ann"])
    assert index.may_open("eve", "c1", ["ann", "eve"])  # a participant, whatever her company
    assert not index.may_open("bob", "c9", ["ann"])  # no ticket to see it through


def test_a_relinked_ticket_no_longer_opens_its_former_conversation(store):
    h = acme_world()
    h.conversation("c1", "ann", "Fire")
    h.conversation("c2", "ann", "Fire again")
    h.ticket(4, "acme", creator_id="ann", conversation_id="c1")
    h.link(4, "c2")
    index = index_of(store, h)

    assert (index.may_open("bob", "c1", ["ann"]), index.may_open("bob", "c2", ["ann"])) == (
        False,
        True,
    )


def test_every_answer_first_catches_up_with_what_was_appended_since(store):
    h = acme_world()
    index = index_of(store, h)
    assert sees(index, "bob", 1)

    seen = len(h.events)
    h.contact("bob", role="member")
    h.settings(conditions=MEMBERS_ONLY)
    append(store, h, since=seen)

    assert not sees(index, "bob", 1)
    assert index.position == store.head_position()
