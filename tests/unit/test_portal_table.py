"""The ticket table: columns, last updated, sorting, filters, pagination and facets."""

from __future__ import annotations

import pytest

from kernel.contracts.commands import SORT_COLUMNS
from services.portal_query import queries
from services.portal_query.event_handlers import epoch
from services.portal_query.search_index import SORTABLE, NumberColumn, TextColumn
from tests.support.portal_events import History, ids, query

NOW = 1_900_000_000.0
VISIBLE = {"name": "Plan", "value": "Gold", "visible_to_customer": True}
INTERNAL = {"name": "Churn risk", "value": "high", "visible_to_customer": False}


def portal(view, **fields):
    return queries.portal_list_tickets(view, "ann", query(**fields), NOW)


def at(event) -> float:
    return epoch(event.occurred_at)


def table_world() -> tuple[History, dict[int, float]]:
    """Four Acme tickets with distinct ids, types, states, creators and times."""
    h = History()
    h.contact("ann")
    h.contact("bob", name="Bob Builder")
    h.company("acme")
    h.member("acme", "ann", "bob")
    created = {}
    for ticket_id, ticket_type, state, creator in (
        (3, "question", "resolved", "ann"),
        (1, "Bug", "in_progress", "bob"),
        (4, "Feature", "submitted", "ann"),
        (2, "Bug", "waiting_on_customer", "bob"),
    ):
        h.tick(days=1)
        h.ticket(ticket_id, "acme", creator_id=creator, ticket_type=ticket_type, state=state)
        created[ticket_id] = at(h.events[-1])
    return h, created


def test_an_item_has_every_column_and_only_visible_attributes():
    h = History()
    h.contact("ann", name="Ann Smith")
    h.company("acme")
    h.member("acme", "ann")
    h.ticket(7, "acme", title="Printer", attributes=[VISIBLE, INTERNAL])
    created_at = h.events[-1].occurred_at

    (item,) = portal(h.view())["items"]

    assert item == {
        "id": 7,
        "type": "Bug",
        "state": "submitted",
        "title": "Printer",
        "created_at": created_at,
        "updated_at": created_at,
        "company": {"id": "acme", "name": "Acme Inc."},
        "creator": {"id": "ann", "name": "Ann Smith"},
        "attributes": [{"name": "Plan", "value": "Gold"}],
    }


def test_last_updated_follows_visible_changes_only():
    h = History()
    h.contact("ann")
    h.company("acme")
    h.member("acme", "ann")
    h.conversation("c1", "ann")
    h.ticket(1, "acme", conversation_id="c1", attributes=[INTERNAL])
    h.tick(hours=1)
    h.part("c1", "a customer-visible reply", author_id="tom", author_type="teammate")
    reply_at = h.events[-1].occurred_at
    h.tick(hours=1)
    h.note("c1", "internal note: customer is grumpy")
    h.attributes(1, [{**INTERNAL, "value": "low"}])  # an internal attribute only
    h.edit(1, title="Ticket 1")  # the same title: nothing visible changed

    (item,) = portal(h.view())["items"]
    assert item["updated_at"] == reply_at

    h.tick(hours=1)
    h.state(1, "resolved")
    (item,) = portal(h.view())["items"]
    assert item["updated_at"] == h.events[-1].occurred_at


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [
        ("id", [1, 2, 3, 4]),
        ("type", [1, 2, 4, 3]),  # Bug, Bug, Feature, question: case-insensitive names
        ("state", [4, 1, 2, 3]),  # the workflow order: submitted ... resolved
        ("created_at", [3, 1, 4, 2]),
        ("updated_at", [3, 1, 4, 2]),
    ],
)
def test_every_column_sorts_both_ways(sort, ascending):
    h, _ = table_world()
    view = h.view()

    assert ids(portal(view, sort=sort, order="asc")) == ascending
    expected_descending = list(reversed(ascending))
    if sort == "type":  # ties (the two Bugs) break by id in the same direction
        expected_descending = [3, 4, 2, 1]
    assert ids(portal(view, sort=sort, order="desc")) == expected_descending


def test_the_index_sorts_by_exactly_the_columns_a_query_may_name():
    assert set(SORTABLE) == set(SORT_COLUMNS)


def test_a_new_sortable_column_is_one_declaration(monkeypatch):
    monkeypatch.setitem(SORTABLE, "title", TextColumn("title", lambda ticket: ticket.title))
    monkeypatch.setitem(
        SORTABLE, "title_length", NumberColumn("title_length", int, lambda t, _: len(t.title))
    )
    h = History()
    h.company("acme")
    h.company("evil")
    for ticket_id, company, title in ((1, "acme", "b"), (2, "evil", "A"), (3, "acme", "ccc")):
        h.ticket(ticket_id, company, title=title)
    view = h.view()

    def admin(**fields):
        return ids(queries.admin_list_tickets(view, query(**fields), NOW))

    assert admin(sort="title", order="asc") == [2, 1, 3]  # across partitions, any case
    assert admin(sort="title", order="desc") == [3, 1, 2]
    assert admin(sort="title_length", order="desc") == [3, 2, 1]


def test_the_default_order_is_last_updated_newest_first():
    h, _ = table_world()
    h.tick(days=1)
    h.state(3, "in_progress", previous="resolved")

    assert ids(portal(h.view())) == [3, 2, 4, 1]


def test_filters_by_type_state_and_creator():
    view = table_world()[0].view()

    assert ids(portal(view, type="Bug", sort="id", order="asc")) == [1, 2]
    assert ids(portal(view, type="bug")) == []
    assert ids(portal(view, state="resolved")) == [3]
    assert ids(portal(view, creator_id="bob", sort="id", order="asc")) == [1, 2]
    assert ids(portal(view, type="Bug", state="in_progress", creator_id="bob")) == [1]
    assert ids(portal(view, creator_id="nobody")) == []


def test_date_range_filters_are_inclusive():
    h, created = table_world()
    h.tick(days=1)
    h.state(3, "in_progress", previous="resolved")
    updated_3 = at(h.events[-1])
    view = h.view()

    between = portal(view, created_from=created[1], created_to=created[4], sort="id", order="asc")
    assert ids(between) == [1, 4]
    assert ids(portal(view, created_to=created[3])) == [3]
    assert ids(portal(view, updated_from=updated_3)) == [3]
    assert ids(portal(view, updated_to=created[1], sort="id", order="asc")) == [1]
    assert ids(portal(view, created_from=created[2] + 1)) == []


def test_pagination_with_total():
    h = History()
    h.contact("ann")
    h.company("acme")
    h.member("acme", "ann")
    for ticket_id in range(1, 8):
        h.ticket(ticket_id, "acme")
    view = h.view()

    pages = [portal(view, sort="id", order="asc", per_page=3, page=n) for n in (1, 2, 3, 4)]

    assert [ids(page) for page in pages] == [[1, 2, 3], [4, 5, 6], [7], []]
    assert {page["total"] for page in pages} == {7}
    assert (pages[1]["page"], pages[1]["per_page"]) == (2, 3)


def test_filters_search_sort_and_pages_combine():
    h = History()
    h.contact("ann")
    h.contact("bob")
    h.company("acme")
    h.member("acme", "ann", "bob")
    for ticket_id in range(1, 11):
        creator = "ann" if ticket_id % 2 else "bob"
        title = "printer jam" if ticket_id <= 6 else "login"
        h.ticket(ticket_id, "acme", creator_id=creator, title=title)
    answer = portal(
        h.view(), q="print", creator_id="ann", sort="id", order="desc", per_page=2, page=2
    )

    assert answer["total"] == 3  # 1, 3, 5
    assert ids(answer) == [1]


def test_no_list_answer_carries_the_facets():
    h, _ = table_world()
    view = h.view()

    for answer in (
        portal(view, per_page=1),
        portal(view, q="bug"),
        queries.admin_list_tickets(view, query(), NOW),
        queries.company_tickets(view, "acme", query(), NOW),
    ):
        assert set(answer) == {"items", "total", "page", "per_page"}


def test_facets_cover_the_visible_tickets():
    h, _ = table_world()
    h.company("beta", name="Beta Ltd")
    h.member("beta", "ann")
    h.ticket(9, "beta", creator_id="zoe", ticket_type="Incident")
    h.company("gamma")
    h.member("gamma", "ann")  # no tickets: not offered as a filter

    facets = queries.portal_facets(h.view(), "ann")

    assert facets == {
        "types": ["Bug", "Feature", "Incident", "question"],
        "creators": [
            {"id": "ann", "name": "Ann"},
            {"id": "bob", "name": "Bob Builder"},
            {"id": "zoe", "name": None},
        ],
        "companies": [{"id": "acme", "name": "Acme Inc."}, {"id": "beta", "name": "Beta Ltd"}],
    }


def test_ticket_details_show_the_customer_visible_conversation_only():
    h = History()
    h.contact("ann")
    h.contact("bob")
    h.company("acme")
    h.member("acme", "ann", "bob")
    h.conversation("c1", "ann", "My printer is on fire")
    h.ticket(1, "acme", description="Smoke everywhere", conversation_id="c1", attributes=[VISIBLE])
    h.note("c1", "TOP SECRET: replace with a cheaper model")
    h.part("c1", "We are on it", author_id="tom", author_type="teammate", author_name="Tom")
    h.attributes(1, [VISIBLE, INTERNAL])
    view = h.view()

    details = queries.portal_get_ticket(view, "bob", 1)

    assert details["description"] == "Smoke everywhere"
    assert details["attributes"] == [{"name": "Plan", "value": "Gold"}]
    assert [(p["author_name"], p["author_type"], p["body"]) for p in details["conversation"]] == [
        ("Ann", "user", "My printer is on fire"),
        ("Tom", "teammate", "We are on it"),
    ]
    assert details["messenger_url"] == "/messenger/conversations/c1"
    assert details["participant"] is False
    assert queries.portal_get_ticket(view, "ann", 1)["participant"] is True
    assert "SECRET" not in repr(details)
    assert "Churn" not in repr(details)


def test_a_join_makes_the_user_a_participant_and_puts_the_ticket_in_their_space():
    h = History()
    h.contact("ann")
    h.contact("bob")
    h.company("acme")
    h.member("acme", "ann", "bob")
    h.conversation("c1", "ann", "hello")
    h.ticket(1, "acme", conversation_id="c1")
    assert queries.tickets_space(h.view(), "bob")["items"] == []
    assert queries.ticket_for_user(h.view(), "bob", 1) == {
        "ticket_id": 1,
        "conversation_id": "c1",
        "participant": False,
    }

    h.join("c1", "bob", 1)
    view = h.view()

    assert queries.ticket_for_user(view, "bob", 1)["participant"] is True
    assert [item["id"] for item in queries.tickets_space(view, "bob")["items"]] == [1]


def test_the_tickets_space_holds_created_and_participating_tickets_of_any_company():
    h = History()
    h.contact("ann")
    h.company("acme")
    h.company("beta")
    h.member("acme", "ann")
    h.ticket(1, "acme", creator_id="ann")
    h.ticket(2, "beta", creator_id="zed", participant_ids=["zed", "ann"])
    h.ticket(3, None, creator_id="ann")
    h.ticket(4, "acme", creator_id="zed")  # ann's company, but not hers
    h.conversation("c5", "zed")
    h.ticket(5, None, creator_id="zed")
    h.link(5, "c5", ["zed"])
    h.join("c5", "ann", 5)

    space = queries.tickets_space(h.view(), "ann")

    assert [item["id"] for item in space["items"]] == [5, 3, 2, 1]
    assert space["items"][1]["company"] is None


def test_a_ticket_without_a_conversation_has_no_messenger_link():
    h = History()
    h.contact("ann")
    h.company("acme")
    h.member("acme", "ann")
    h.ticket(1, "acme")

    details = queries.portal_get_ticket(h.view(), "ann", 1)

    assert (details["conversation"], details["messenger_url"], details["participant"]) == (
        [],
        None,
        False,
    )
