"""portal_query split into partitions answers exactly like one read side.

The same history is folded once whole and once into four partitions (each through its own
filter, as a running partition does); the callers' merge (``kernel.read_side``) of the
partitions' answers must equal the single answer for every sort column, both orders, pages,
searches and previews, and stay equal while a company moves between partitions.
"""

from __future__ import annotations

import itertools

import pytest

from kernel.config import ConfigurationError, own_partition, partition_count
from kernel.contracts.envelope import NewEvent
from kernel.errors import PortalError
from kernel.eventstore import open_event_store
from kernel.partitions import ASSIGNED, ASSIGNMENT_STREAM, hashed, service_name
from kernel.read_side import (
    merge_companies,
    merge_facets,
    merge_inbox_facets,
    merge_tables,
    merge_tickets_space,
    settle,
)
from portalctl.__main__ import main
from services.portal_query import queries, teammates
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.partition import PartitionFilter
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex
from services.portal_query.storage import open_projection_storage
from tests.support.portal_events import History, fold

COUNT = 4
NOW = 1_800_000_000.0
COMPANIES = [f"co{n}" for n in range(8)]
TYPES = ["Bug", "bug", "Question", "Feature request"]
WORDS = ["printer", "invoice", "password", "export", "print", "webhook"]


def world() -> History:
    """Eight companies over four partitions; ann belongs to all of them, rita (restricted
    by the visibility condition) to three; tickets of every type, state and age, some with
    conversations, one created without a company and assigned later, one moved between
    companies, one conversation started before the ticket that links it."""
    h = History()
    h.contact("ann")
    h.contact("rita", role="guest")
    h.contact("tom")
    h.settings(conditions=[{"attribute": "role", "operator": "eq", "value": "guest"}])
    for company in COMPANIES:
        h.company(company)
        h.member(company, "ann")
    h.member("co1", "rita")
    h.member("co2", "rita")
    h.member("co5", "rita")
    h.conversation("early", "ann", "a printer question before any ticket")
    states = ["submitted", "in_progress", "waiting_on_customer", "resolved"]
    for number in range(1, 41):
        company = COMPANIES[number % len(COMPANIES)]
        creator = "rita" if number % 5 == 0 else "ann"
        words = f"{WORDS[number % 6]} {WORDS[(number * 7) % 6]}"
        conversation = f"c{number}" if number % 3 == 0 else None
        if conversation:
            h.conversation(conversation, creator, f"about the {WORDS[number % 4]}")
        h.ticket(
            number,
            None if number == 7 else company,
            creator_id=creator,
            title=f"{words.title()} {number}",
            description=f"the {WORDS[(number + 2) % 6]} again",
            ticket_type=TYPES[number % 4],
            state=states[number % 4],
            conversation_id=conversation,
        )
        if conversation:
            h.part(conversation, f"teammate on {WORDS[number % 5]}", "tom", "teammate", "Tom")
        h.tick(minutes=number % 4)  # some tickets share a timestamp with the next
    h.assign(7, "co3")
    h.assign(12, "co6", previous=COMPANIES[12 % len(COMPANIES)])
    h.ticket(41, "co2", creator_id="ann", title="Linked later")
    h.link(41, "early", ["ann"])
    h.state(3, "resolved", previous="in_progress")
    h.part("c9", "printer reply from the customer", "ann")
    return h


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = open_event_store({"PORTAL_DATA_DIR": str(tmp_path_factory.mktemp("partitions"))})
    world().append_to(store)
    yield store
    store.close()


class Partitioned:
    """The four partitions of the read side, following ``store`` like running ones."""

    def __init__(self, store):
        self.store = store
        self.filters = [PartitionFilter(store, n, COUNT, HANDLERS) for n in range(COUNT)]
        self.models = [ReadModel() for _ in range(COUNT)]
        self.tables = [f.handlers() for f in self.filters]
        self.checkpoint = 0
        self.catch_up()

    def catch_up(self) -> None:
        events = self.store.read_all(self.checkpoint, 100_000)
        for event in events:
            for model, table in zip(self.models, self.tables, strict=True):
                handler = table.get(event.type)
                if handler:
                    handler(model, event)
            self.checkpoint = event.position

    def views(self) -> list[queries.View]:
        return [
            queries.View(model, SearchIndex.build(model), f.serves)
            for model, f in zip(self.models, self.filters, strict=True)
        ]

    def serving(self, user_id: str, views: list[queries.View]) -> list[int]:
        companies = queries.portal_companies(views[0].model, user_id)
        return self.filters[0].assignment.serving(companies) or [hashed(user_id, COUNT)]


def ask(views, partitions, answer):
    outcomes = []
    for n in partitions:
        try:
            outcomes.append(answer(views[n]))
        except PortalError as error:
            outcomes.append(error)
    return settle(outcomes)


def merged_list(parts: Partitioned, views, user_id: str, fields: dict) -> dict:
    query = queries.TicketQuery.parse(fields)
    limit = query.page * query.per_page
    answers = ask(
        views,
        parts.serving(user_id, views),
        lambda view: queries.portal_window(view, user_id, query, NOW, limit),
    )
    return merge_tables(answers, fields)


def single_list(view, user_id: str, fields: dict) -> dict:
    return queries.portal_list_tickets(view, user_id, queries.TicketQuery.parse(fields), NOW)


QUERIES = [
    {"sort": sort, "order": order, "page": page, "per_page": per_page, **search}
    for sort, order, (page, per_page), search in itertools.product(
        [None, "id", "type", "state", "created_at", "updated_at"],
        ["asc", "desc"],
        [(1, 25), (1, 3), (2, 3), (4, 5), (3, 7), (9, 5)],
        [{}, {"q": "printer"}, {"q": "pri"}, {"q": "invoice export"}, {"q": "12"}],
    )
]


def test_the_tickets_are_spread_over_every_partition(store):
    parts = Partitioned(store)
    held = [len(model.tickets) for model in parts.models]
    assert all(held) and sum(held) == 41


@pytest.mark.parametrize("user_id", ["ann", "rita"])
def test_the_merged_table_is_the_single_answer_for_every_sort_page_and_search(store, user_id):
    single = fold(store.read_all(0, 100_000))
    parts = Partitioned(store)
    views = parts.views()
    for fields in QUERIES:
        assert merged_list(parts, views, user_id, fields) == single_list(single, user_id, fields), (
            fields
        )


def test_filters_and_a_company_of_another_partition_merge_like_one(store):
    single = fold(store.read_all(0, 100_000))
    parts = Partitioned(store)
    views = parts.views()
    for fields in [
        {"company_id": "co5"},
        {"company_id": "co5", "q": "printer"},
        {"type": "bug", "sort": "type", "order": "asc"},
        {"state": "resolved", "per_page": 2, "page": 2},
        {"creator_id": "rita", "sort": "created_at"},
    ]:
        assert merged_list(parts, views, "ann", fields) == single_list(single, "ann", fields)


def test_facets_details_and_the_tickets_space_merge_like_one(store):
    single = fold(store.read_all(0, 100_000))
    parts = Partitioned(store)
    views = parts.views()
    for user_id in ("ann", "rita"):
        serving = parts.serving(user_id, views)
        facets = ask(
            views, serving, lambda view, user_id=user_id: queries.portal_facets(view, user_id)
        )
        assert merge_facets(facets) == queries.portal_facets(single, user_id)
        me = ask(views, serving, lambda view, user_id=user_id: queries.portal_me(view, user_id))
        assert me[0] == queries.portal_me(single, user_id)
        space = ask(
            views, range(COUNT), lambda view, user_id=user_id: queries.tickets_space(view, user_id)
        )
        assert merge_tickets_space(space) == queries.tickets_space(single, user_id)
    for ticket_id in (3, 7, 9, 12, 41):
        answer = ask(
            views,
            parts.serving("ann", views),
            lambda v, ticket_id=ticket_id: queries.portal_get_ticket(v, "ann", ticket_id),
        )
        assert answer[0] == queries.portal_get_ticket(single, "ann", ticket_id)


def test_the_consoles_inbox_facets_and_company_list_merge_like_one(store):
    single = fold(store.read_all(0, 100_000))
    views = Partitioned(store).views()
    every = range(COUNT)
    facets = ask(views, every, teammates.inbox_facets)
    assert merge_inbox_facets(facets) == teammates.inbox_facets(single)
    assert merge_companies(ask(views, every, teammates.companies)) == teammates.companies(single)


def test_each_partition_holds_only_its_companies_and_the_conversations_of_their_tickets(store):
    parts = Partitioned(store)
    for number, model in enumerate(parts.models):
        for ticket in model.tickets.values():
            assert parts.filters[number].assignment.owner(ticket.company_id) == number
        linked = {t.conversation_id for t in model.tickets.values() if t.conversation_id}
        assert set(model.conversations) <= linked | {"early"}
    holders = [n for n, model in enumerate(parts.models) if "early" in model.conversations]
    assert holders == [parts.filters[0].assignment.owner("co2")]


def move(store, company: str, partition: int, step: str) -> None:
    version = store.stream_version(ASSIGNMENT_STREAM)
    payload = {"company_id": company, "partition": partition, "step": step}
    store.append(ASSIGNMENT_STREAM, [NewEvent(ASSIGNED, payload)], version)


def test_a_company_moves_between_partitions_answering_like_one_at_every_step(tmp_path):
    store = open_event_store({"PORTAL_DATA_DIR": str(tmp_path)})
    world().append_to(store)
    parts = Partitioned(store)
    source = parts.filters[0].assignment.owner("co2")
    target = (source + 1) % COUNT
    moved = {t.id for t in parts.models[source].tickets.values() if t.company_id == "co2"}
    assert moved
    for step in ("copy", "switch", "drop"):
        move(store, "co2", target, step)
        parts.catch_up()
        single = fold(store.read_all(0, 100_000))
        views = parts.views()
        for fields in QUERIES[::7]:
            assert merged_list(parts, views, "ann", fields) == single_list(single, "ann", fields)
        held = {n for n, model in enumerate(parts.models) if 41 in model.tickets}
        assert (
            held == {"copy": {source, target}, "switch": {source, target}, "drop": {target}}[step]
        )
    assert "early" in parts.models[target].conversations
    assert "early" not in parts.models[source].conversations
    store.close()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, (1, 0)), ({"PORTAL_PARTITIONS": "4", "PORTAL_PARTITION": "3"}, (4, 3))],
)
def test_the_partitions_come_from_the_configuration(settings, expected):
    assert (partition_count(settings), own_partition(settings)) == expected


@pytest.mark.parametrize(
    "settings",
    [
        {"PORTAL_PARTITIONS": "0"},
        {"PORTAL_PARTITIONS": "two"},
        {"PORTAL_PARTITIONS": 4, "PORTAL_PARTITION": 4},
        {"PORTAL_PARTITIONS": 4, "PORTAL_PARTITION": "-1"},
    ],
)
def test_a_wrong_partition_setting_refuses_to_start(settings):
    with pytest.raises(ConfigurationError):
        own_partition(settings)


def test_each_partition_is_a_service_of_its_own():
    assert service_name(0, 1) == "portal_query"
    assert [service_name(n, 3) for n in range(3)] == [
        "portal_query_p0",
        "portal_query_p1",
        "portal_query_p2",
    ]


def test_portalctl_rebuilds_each_partition_with_only_its_companies(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MONGO_URI", "")
    monkeypatch.setenv("PORTAL_PARTITIONS", str(COUNT))
    store = open_event_store({"PORTAL_DATA_DIR": str(tmp_path)})
    world().append_to(store)
    expected = Partitioned(store)
    store.close()
    main(["rebuild"])
    output = capsys.readouterr().out
    for number in range(COUNT):
        assert f"partition {number}: rebuilt generation 1:" in output
        storage = open_projection_storage(
            {
                "PORTAL_DATA_DIR": str(tmp_path),
                "PORTAL_PARTITIONS": COUNT,
                "PORTAL_PARTITION": number,
            }
        )
        tickets = {
            body["id"]
            for batch in storage.documents(storage.current().generation)
            for kind, _key, body in batch
            if kind == "ticket"
        }
        storage.close()
        assert tickets == set(expected.models[number].tickets)


@pytest.mark.parametrize("first, second", [(["bug"], ["Bug"]), (["Bug"], ["bug"])])
def test_merged_filter_choices_are_in_one_order_whatever_the_partitions_answer_first(first, second):
    """Types that differ only in case, and creators with one name, come in one order (the
    exact text breaks the tie): else the merge followed the order the names were gathered
    in, which a set leaves to the hash of each run."""
    answers = [
        {"types": first, "creators": [{"id": "b", "name": "Sam"}], "companies": []},
        {"types": second, "creators": [{"id": "a", "name": "sam"}], "companies": []},
    ]
    merged = merge_facets(answers)
    assert merged["types"] == ["Bug", "bug"]
    assert [c["id"] for c in merged["creators"]] == ["a", "b"]
