"""The search index kept up to date event by event answers like one built in bulk."""

from __future__ import annotations

import random

from services.portal_query import queries
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.queries import View
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import (
    SearchIndex,
    bits_of,
    first_holders,
    masks_of,
    slots_of,
)
from tests.support.portal_events import History, query

NOW = 1_900_000_000.0
WORDS = ["printer", "print", "fire", "café", "login", "paper", "jam", "toner", "reset", "42"]
COMPANIES = ["acme", "beta", "gamma", None]


def random_history(seed: int, steps: int = 120) -> History:
    rng = random.Random(seed)
    h = History()
    h.contact("ann")
    for company in COMPANIES[:-1]:
        h.company(company)
        h.member(company, "ann")
    tickets: list[int] = []
    conversations: dict[int, str] = {}

    def text() -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))

    for _ in range(steps):
        action = rng.random()
        if action < 0.3 or not tickets:
            number = len(tickets) + 1
            h.ticket(number, rng.choice(COMPANIES), title=text(), description=text())
            tickets.append(number)
        elif action < 0.45:
            h.edit(rng.choice(tickets), title=text())
        elif action < 0.6:
            h.assign(rng.choice(tickets), rng.choice(COMPANIES))
        elif action < 0.7:
            h.state(rng.choice(tickets), rng.choice(["in_progress", "resolved"]))
        else:
            number = rng.choice(tickets)
            if number not in conversations:
                conversations[number] = f"c{number}"
                h.conversation(f"c{number}", "ann", text())
                h.link(number, f"c{number}", ["ann"])
            h.part(conversations[number], text(), internal=rng.random() < 0.3)
    return h


def incremental_view(history: History) -> View:
    """Apply one event at a time and refresh the index after each, as the live path does,
    searching in between (so cached prefix expansions must follow every change)."""
    model = ReadModel()
    index = SearchIndex()
    for event in history.events:
        HANDLERS[event.type](model, event)
        for ticket_id in model.take_changed_tickets():
            index.refresh(model, ticket_id)
        for prefix in ("p", "pr", "f", "c", "4"):
            queries.admin_list_tickets(View(model, index), query(q=prefix), NOW)
    return View(model, index)


def answers(view: View) -> list:
    asked = [{"q": word} for word in WORDS] + [{"q": w[:1]} for w in WORDS]
    asked += [{"q": "print fi"}, {"q": "#3"}, {"sort": "type", "order": "asc"}, {}]
    asked += [{"state": "resolved"}, {"company_id": "beta", "sort": "id"}]
    return [queries.admin_list_tickets(view, query(per_page=100, **q), NOW) for q in asked] + [
        queries.portal_list_tickets(view, "ann", query(q="printer"), NOW),
        queries.tickets_space(view, "ann"),
    ]


def test_an_index_kept_up_to_date_answers_like_a_fresh_one():
    for seed in range(5):
        history = random_history(seed)

        assert answers(incremental_view(history)) == answers(history.view()), seed


def test_removed_tickets_free_their_slots_and_tokens():
    history = random_history(11)
    view = incremental_view(history)

    for partition in view.index.partitions.values():
        live = set(slots_of(partition.live).tolist())
        assert live == set(partition.slot_of.values())
        for table in partition.words:
            for bits in table.values():
                assert bits and set(slots_of(bits).tolist()) <= live
        assert set(partition.vocabulary) == set().union(*partition.words)


def test_bitset_helpers_round_trip():
    slots = [0, 3, 9, 64, 65, 200]

    bits = bits_of(slots, 201)

    assert slots_of(bits).tolist() == slots
    assert masks_of([bits], 201)[0].nonzero()[0].tolist() == slots
    assert masks_of([0, bits], 201).sum(axis=1).tolist() == [0, len(slots)]
    assert bits_of(slots[:2], 10) == 0b1001
    assert slots_of(0).tolist() == []


def test_first_holders_gives_each_slot_the_first_bitset_that_holds_it():
    bitsets = [0b0000_0100, 0b0000_0110, 0, 0b1000_0001, 0b0000_0011, 0, 0, 0b0111_1111]

    assert first_holders(bitsets, 9).tolist() == [3, 1, 0, 7, 7, 7, 7, 3, 0]
