"""The demo ``make run`` seeds: its shape, the users of each kind its sign-in links show, and
the same data every time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kernel.errors import NoPortalAccess
from kernel.eventstore.sqlite import SqliteEventStore
from portalctl import demo
from services.portal_query import queries
from services.tickets import domain as tickets
from tests.support.portal_events import fold, query

NOW = datetime(2026, 12, 3, 18, 30, tzinfo=UTC)


def seeded(path) -> list:
    """The demo imported into a fresh store at ``path``, read back as stored."""
    store = SqliteEventStore(path / "events.sqlite3")
    demo.Demo("http://127.0.0.1:8000", "token", "secret").seed(store, NOW)
    events = list(store.iter_all())
    store.close()
    return events


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list:
    return seeded(tmp_path_factory.mktemp("demo"))


def of_type(events, event_type: str) -> list:
    return [event for event in events if event.type == event_type]


def age_of(event) -> timedelta:
    return NOW - datetime.fromisoformat(event.occurred_at)


def test_a_hundred_tickets_of_five_companies_opened_over_the_past_weeks(events):
    created = of_type(events, "TicketCreated")
    assert [event.payload["ticket_id"] for event in created] == list(range(1, 101))
    assert len(of_type(events, "CompanyCreated")) == 5
    assert len({event.payload["company_id"] for event in created} - {None}) == 5
    weeks = Counter(age_of(event).days // 7 for event in created)
    assert sorted(weeks) == list(range(demo.WEEKS))  # every one of the past eight weeks
    assert weeks[0] >= 10  # and enough recent ones for "now", "3h", "2d"
    assert all(timedelta(0) < age_of(event) < timedelta(weeks=demo.WEEKS + 1) for event in events)
    # "Last updated" moves after creation: state changes and replies come days later.
    later = [age_of(e) for e in events if e.type in ("TicketStateChanged", "ConversationPartAdded")]
    assert max(later) > timedelta(weeks=demo.WEEKS - 1) and min(later) < timedelta(hours=1)
    streams: dict[str, list[str]] = {}
    for event in events:
        streams.setdefault(event.stream_id, []).append(event.occurred_at)
    assert all(times == sorted(times) for times in streams.values())


def test_tickets_have_conversations_states_types_and_visible_attributes(events):
    created = of_type(events, "TicketCreated")
    final_state = {event.payload["ticket_id"]: event.payload["state"] for event in created}
    for event in of_type(events, "TicketStateChanged"):
        final_state[event.payload["ticket_id"]] = event.payload["state"]
    assert set(final_state.values()) == {
        "submitted",
        "in_progress",
        "waiting_on_customer",
        "resolved",
    }
    assert len({event.payload["ticket_type"] for event in created}) == 5
    assert len({event.payload["title"] for event in created}) == 100
    assert all(
        any(attribute["visible_to_customer"] for attribute in event.payload["attributes"])
        for event in created
    )
    assert len(of_type(events, "TicketConversationLinked")) == 100
    parts = Counter(
        "note" if p.payload["internal"] else p.payload["author_type"]
        for p in of_type(events, "ConversationPartAdded")
    )
    assert parts["user"] > 100 and parts["teammate"] > 50 and 5 <= parts["note"] <= 40
    assert of_type(events, "ConversationParticipantJoined")


def test_every_kind_of_user_the_sign_in_links_name(events):
    view = fold(events)
    now = NOW.timestamp()

    def visible(user_id: str, **fields) -> dict:
        return queries.portal_list_tickets(view, user_id, query(per_page=100, **fields), now)

    acme = queries.company_tickets(view, "acme", query(per_page=100), now)["total"]
    # Ann sees every Acme ticket.
    assert visible("ann")["total"] == acme > 20
    # Bob, a member, is restricted by the visibility condition to the tickets he created.
    bob = visible("bob")
    assert 0 < bob["total"] < acme
    assert {item["creator"]["id"] for item in bob["items"]} == {"bob"}
    # Carol belongs to Acme and Globex, and has tickets of both.
    me = queries.portal_me(view, "carol")
    assert [company["id"] for company in me["companies"]] == ["acme", "globex"]
    assert visible("carol", company_id="globex")["total"] > 0
    # Erin has no e-mail: the no-access explanation.
    with pytest.raises(NoPortalAccess) as denied:
        queries.portal_me(view, "erin")
    assert denied.value.fields["missing"] == ["email"]
    assert [who for who, _ in demo.Demo("http://h", "t", "s").links()] == [
        "Ann (Acme admin: sees every Acme ticket)",
        "Bob (Acme member: sees only tickets he created)",
        "Carol (member of Acme and Globex)",
        "Erin (no email: shows the no-access explanation)",
    ]


def test_a_teammate_picked_the_company_of_tickets_with_several(events):
    picked = of_type(events, "TicketCompanyAssigned")
    assert picked and all(event.payload["company_chosen"] for event in picked)
    created = of_type(events, "TicketCreated")
    assert any(event.payload["company_id"] is None for event in created)


def test_seeding_twice_gives_the_same_data(events, tmp_path):
    again = seeded(tmp_path)
    assert [event.to_dict() for event in again] == [event.to_dict() for event in events]


def test_the_tickets_service_numbers_the_next_ticket_after_the_demo(tmp_path):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    demo.Demo("http://h", "t", "s").seed(store, NOW)
    assert tickets.next_ticket_number(lambda n: store.stream_version(f"ticket-{n}") > 0) == 101
    store.close()
