"""Following the store into stored projections: exactly-once effect, idempotency, parking,
rebuilds, and no internal data in storage. The embedded event store in a temp directory;
projections on both storage backends."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid

import bson
import pytest

from kernel.contracts.envelope import NewEvent
from kernel.contracts.events import EVENT_TYPES
from kernel.eventstore.sqlite import COLUMNS, SqliteEventStore
from services.portal_query import queries
from services.portal_query.documents import restore_model
from services.portal_query.event_handlers import HANDLERS, NOT_SHOWN, ticket_state_changed
from services.portal_query.ops import rebuild, retry_parked, status
from services.portal_query.projector import Projector
from services.portal_query.read_model import ReadModel
from services.portal_query.storage import (
    MONGO_COMMIT_LIMITS,
    PROJECTIONS_FILE,
    CommitLimits,
    MongoProjectionStorage,
    SqliteProjectionStorage,
    StaleProjection,
)
from tests.support.mongo import mongo_client
from tests.support.portal_events import History, acme_world, fold, query

NOW = 1_900_000_000.0
SECRET_NOTE = "canary-7f3a internal note text"
SECRET_VALUE = "canary-attribute-91c2"


@pytest.fixture
def store(data_dir):
    return SqliteEventStore(data_dir / "events.sqlite3")


@pytest.fixture(params=["sqlite", "mongo"])
def storage(request, data_dir):
    if request.param == "sqlite":
        yield SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
        return
    database = f"projector_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield MongoProjectionStorage(client, database)
    client.drop_database(database)


def busy_world() -> History:
    h = acme_world()
    h.conversation("c1", "ann", "The printer is on fire")
    h.link(1, "c1", ["ann"])
    h.note("c1", SECRET_NOTE)
    h.attributes(
        1,
        [
            {"name": "Plan", "value": "Gold", "visible_to_customer": True},
            {"name": "Risk", "value": SECRET_VALUE, "visible_to_customer": False},
        ],
    )
    h.part("c1", "We are on it", author_id="tom", author_type="teammate", author_name="Tom")
    h.state(2, "in_progress")
    h.edit(2, description="cannot log in")
    h.join("c1", "bob", 1)
    h.contact("ann", role="member")
    h.settings(conditions=[{"attribute": "role", "operator": "eq", "value": "member"}])
    h.remove_member("acme", "bob")
    h.member("acme", "bob")
    h.assign(3, None, previous="evil")
    return h


def documents(storage, generation=None) -> dict:
    generation = generation or storage.current().generation
    return {(k, key): body for batch in storage.documents(generation) for k, key, body in batch}


def answers(view) -> list:
    """Everything a user or teammate can ask, to compare two views."""
    return [
        queries.portal_list_tickets(view, "ann", query(), NOW),
        queries.portal_list_tickets(view, "bob", query(q="on"), NOW),
        queries.portal_get_ticket(view, "bob", 1),
        queries.tickets_space(view, "bob"),
        queries.admin_list_tickets(view, query(sort="id"), NOW),
    ]


def clean_rebuild(store, storage) -> dict:
    generation = rebuild(store, storage).generation
    return documents(storage, generation)


def test_catching_up_from_the_store_gives_the_folded_view(store, storage):
    history = busy_world()
    history.append_to(store)

    projector = Projector.load(store, storage)
    applied = projector.catch_up()

    assert applied == len(history.events)
    assert projector.checkpoint == store.head_position()
    assert answers(projector.view) == answers(fold(history.events))
    assert storage.current().checkpoint == projector.checkpoint


def test_a_reloaded_generation_answers_like_the_one_that_wrote_it(store, storage):
    busy_world().append_to(store)
    writer = Projector.load(store, storage)
    writer.catch_up()

    reloaded = Projector.load(store, storage)

    assert reloaded.checkpoint == writer.checkpoint
    assert answers(reloaded.view) == answers(writer.view)
    assert reloaded.catch_up() == 0


def test_redelivered_and_shuffled_prompts_change_nothing(store, storage):
    """Prompts in any order, duplicated, or lost: the projector follows the store, in
    small steps interleaved with appends, and ends equal to a clean rebuild."""
    history = busy_world()
    projector = Projector.load(store, storage, batch_size=3)
    events = history.events
    rng = random.Random(7)
    appended = 0
    while appended < len(events):
        step = rng.randint(1, 4)
        History.append_to(_slice(history, appended, appended + step), store)
        appended += step
        for _prompt in rng.sample(range(3), rng.randint(0, 3)):
            projector.catch_up()
    projector.catch_up()
    projector.catch_up()

    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))


def _slice(history: History, start: int, end: int) -> History:
    part = History()
    part.events = history.events[start:end]
    return part


def _other(store):
    return store.path.parent / "other.sqlite3"


def test_a_crash_between_applying_and_committing_loses_and_doubles_nothing(store, storage):
    history = busy_world()
    history.append_to(store)
    projector = Projector.load(store, storage, batch_size=5)
    projector.catch_up(until=10)
    real_commit = storage.commit

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    storage.commit = crash
    with pytest.raises(OSError):
        projector.catch_up()
    storage.commit = real_commit

    restarted = Projector.load(store, storage, batch_size=5)
    assert restarted.checkpoint == 10
    restarted.catch_up()

    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))
    assert answers(restarted.view) == answers(fold(history.events))


def test_two_writers_on_one_generation_never_both_commit(store, storage):
    busy_world().append_to(store)
    first = Projector.load(store, storage)
    second = Projector.load(store, storage)
    first.catch_up()

    with pytest.raises(StaleProjection):
        second.catch_up()
    assert Projector.load(store, storage).checkpoint == first.checkpoint


def test_an_event_that_breaks_its_contract_is_parked_unapplied(store, storage, data_dir):
    """The store checks events when they are appended; one that got in some other way
    (older code, a hand-made repair) is checked again before it is folded."""
    history = acme_world()
    history.append_to(store)
    head = store.head_position()
    with sqlite3.connect(data_dir / "events.sqlite3") as raw:
        raw.execute(
            f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
            (
                head + 1,
                str(uuid.uuid4()),
                "ticket-2",
                9,
                "TicketStateChanged",
                1,
                "2026-01-01T00:00:00+00:00",
                None,
                None,
                json.dumps({"ticket_id": 2, "state": "exploded", "previous_state": "submitted"}),
                "{}",
            ),
        )

    projector = Projector.load(store, storage)
    projector.catch_up()

    (parked,) = storage.parked(projector.generation)
    assert (parked.position, parked.attempts) == (head + 1, 1)
    assert parked.error.startswith("ValidationFailed") and "state" in parked.error
    assert projector.model.tickets[2].state == "submitted"
    assert projector.checkpoint == head + 1


def test_a_failing_handler_parks_its_stream_and_others_keep_flowing(store, storage):
    history = busy_world()
    history.state(2, "resolved", previous="in_progress")
    history.ticket(9, "acme", creator_id="ann", title="Later ticket")
    history.append_to(store)

    def state_changed_except_ticket_2(model, event):
        if event.payload["ticket_id"] == 2:
            raise RuntimeError("bug in the handler")
        ticket_state_changed(model, event)

    broken = {**HANDLERS, "TicketStateChanged": state_changed_except_ticket_2}
    projector = Projector.load(store, storage, handlers=broken)
    projector.catch_up()

    parked = storage.parked(projector.generation)
    assert [(p.type, p.attempts) for p in parked] == [
        ("TicketStateChanged", 3),
        ("TicketEdited", 0),
        ("TicketStateChanged", 0),
    ]
    assert "RuntimeError: bug in the handler" in parked[0].error
    assert "waits behind parked event" in parked[1].error
    assert projector.checkpoint == store.head_position()
    assert status(store, storage)["parked"] == 3
    view = projector.view
    assert view.model.tickets[2].state == "submitted"  # per-stream order kept
    assert view.model.tickets[9].title == "Later ticket"  # other streams flowed

    outcome = retry_parked(store, storage)  # the cause is fixed: HANDLERS are whole again

    assert outcome == {"retried": 3, "parked": 0}
    assert storage.parked(projector.generation) == []
    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))


def test_a_parked_event_that_fails_again_stays_parked(store, storage):
    history = acme_world()
    history.state(2, "in_progress")
    history.append_to(store)
    always_broken = {**HANDLERS, "TicketStateChanged": _explode}
    projector = Projector.load(store, storage, handlers=always_broken)
    projector.catch_up()

    assert projector.retry_parked() == {"retried": 0, "parked": 1}
    (parked,) = storage.parked(projector.generation)
    assert parked.attempts == 6


def _explode(model, event):
    raise ValueError("still broken")


def test_rebuilding_twice_gives_identical_projections_and_keeps_the_previous(store, storage):
    busy_world().append_to(store)
    live = Projector.load(store, storage)
    live.catch_up()
    first_generation = live.generation

    first = rebuild(store, storage)

    assert first.events == store.head_position()
    assert storage.current().generation == first.generation
    assert documents(storage, first.generation) == documents(storage, first_generation)
    rename = NewEvent("CompanyRenamed", {"company_id": "acme", "name": "Acme Corp"})
    store.append("company-acme", [rename], store.stream_version("company-acme"))
    with pytest.raises(StaleProjection):
        live.catch_up()  # the old generation is no longer current: it may not write

    second = rebuild(store, storage)

    assert second.events == store.head_position()
    assert documents(storage, first.generation) != documents(storage, second.generation)
    assert rebuild(store, storage).events == second.events
    third = storage.current().generation
    assert documents(storage, second.generation) == documents(storage, third)
    assert storage.generations() == [second.generation, third]


def test_the_projection_storage_never_holds_internal_notes_or_attributes(store, data_dir):
    busy_world().append_to(store)
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    Projector.load(store, storage).catch_up()
    rebuild(store, storage)
    storage.close()

    raw = b"".join(path.read_bytes() for path in data_dir.glob(f"{PROJECTIONS_FILE}*"))
    assert b"The printer is on fire" in raw  # the canary would see text if it were there
    assert SECRET_NOTE.encode() not in raw
    assert SECRET_VALUE.encode() not in raw
    assert SECRET_NOTE.encode() in (data_dir / "events.sqlite3").read_bytes() + b"".join(
        path.read_bytes() for path in data_dir.glob("events.sqlite3-wal")
    )


def test_status_reports_generation_checkpoint_head_and_lag(store, storage):
    history = acme_world()
    history.append_to(store)
    projector = Projector.load(store, storage)
    projector.catch_up(until=4)

    report = projector.status(now=NOW)

    assert report["generation"] == projector.generation
    assert (report["checkpoint"], report["head"], report["lag_events"]) == (4, 11, 7)
    assert report["lag_seconds"] > 0
    assert report["parked"] == 0
    projector.catch_up()
    assert projector.status()["lag_events"] == 0
    assert projector.status()["lag_seconds"] == 0
    assert status(store, storage)["relay_checkpoint"] == 0


def test_an_event_type_the_portal_does_not_show_is_skipped(store, storage):
    history = acme_world()
    history.add(
        "session-0",
        "PortalSessionStarted",
        {
            "session_id": "0b8f8a5e-0c1f-4f3e-9d7c-3a5c4a7e9f10",
            "contact_id": "ann",
            "method": "jwt",
            "expires_at": "2026-01-02T00:00:00+00:00",
        },
    )
    history.append_to(store)
    projector = Projector.load(store, storage)

    projector.catch_up()

    assert projector.checkpoint == len(history.events)
    assert projector.parked == {}
    assert isinstance(restore_model([]), ReadModel)


def test_every_event_of_the_platform_is_either_projected_or_known_not_to_matter():
    """A new event type must be decided on here, not silently skipped."""
    assert {name for name, _version in EVENT_TYPES} == set(HANDLERS) | NOT_SHOWN
    assert not set(HANDLERS) & NOT_SHOWN


# Bounded commits ------------------------------------------------------------------------------


@pytest.fixture
def mongo_storage():
    """MongoDB projection storage (a real server at MONGO_URI, else mongomock)."""
    database = f"bounded_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield lambda limits=MONGO_COMMIT_LIMITS: MongoProjectionStorage(
        client, database, commit_limits=limits
    )
    client.drop_database(database)


def many_tickets(count: int, description: str = "") -> History:
    h = acme_world()
    for ticket_id in range(4, count + 4):
        h.ticket(ticket_id, "acme", title=f"Printer {ticket_id}", description=description)
    return h


def record_commits(storage, fail_at: int | None = None) -> list[dict]:
    """Wrap ``storage.commit``: what each commit carried (documents, BSON bytes, checkpoint)
    and which generation was current meanwhile; the ``fail_at``-th commit raises."""
    commits: list[dict] = []
    real_commit = storage.commit

    def commit(generation, expected_revision, checkpoint, changes, **options):
        if len(commits) + 1 == fail_at:
            raise OSError("connection lost")
        carried = [{"_id": f"{k}:{key}", "body": body} for (k, key), body in changes.items()]
        commits.append(
            {
                "documents": len(changes),
                "bytes": len(bson.encode({"documents": carried})),
                "checkpoint": checkpoint,
                "current": storage.current().generation if storage.current() else None,
                "generation": generation,
            }
        )
        return real_commit(generation, expected_revision, checkpoint, changes, **options)

    storage.commit = commit
    return commits


def crowded_company(store, members: int) -> None:
    """A company of ``members`` members (a document each), appended in one go."""
    h = History()
    h.company("acme")
    h.member("acme", *(f"member-{n}" for n in range(members)))
    new_events = [NewEvent(e.type, e.payload, occurred_at=e.occurred_at) for e in h.events]
    store.append("company-acme", new_events, 0)


def test_a_large_rebuild_on_mongodb_commits_in_bounded_batches(store, mongo_storage):
    """2,500 documents in one rebuild step (up to 50,000 events): several transactions of
    at most 1,000 documents (plus one event's), each with its checkpoint, into a
    generation that becomes current only when caught up."""
    crowded_company(store, 2_500)
    storage = mongo_storage()
    commits = record_commits(storage)

    summary = rebuild(store, storage)

    assert len(commits) >= 3
    assert all(c["documents"] <= MONGO_COMMIT_LIMITS.documents + 2 for c in commits)
    assert all(c["bytes"] < 16 * 1024 * 1024 for c in commits)
    checkpoints = [c["checkpoint"] for c in commits]
    assert checkpoints == sorted(set(checkpoints)) and checkpoints[-1] == store.head_position()
    assert {c["generation"] for c in commits} == {summary.generation}
    assert all(c["current"] != summary.generation for c in commits)
    assert storage.current().generation == summary.generation
    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))


def test_a_commit_stops_growing_at_the_byte_limit_and_a_failed_rebuild_never_turns_current(
    store, mongo_storage
):
    many_tickets(300, description="paper jam " * 200).append_to(store)  # 2 KB per ticket
    limits = CommitLimits(documents=1_000, bytes=100_000)
    live = Projector.load(store, mongo_storage(limits))
    live.catch_up()
    failing = mongo_storage(limits)
    record_commits(failing, fail_at=3)

    with pytest.raises(OSError):
        rebuild(store, failing)

    assert failing.current().generation == live.generation  # not the half-built one
    storage = mongo_storage(limits)
    commits = record_commits(storage)
    summary = rebuild(store, storage)
    assert len(commits) >= 5
    assert all(c["bytes"] <= limits.bytes for c in commits)
    assert storage.current().generation == summary.generation
    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))


def test_retrying_parked_events_commits_within_the_limits_too(store, mongo_storage):
    history = many_tickets(30)
    for ticket_id in range(4, 34):
        history.state(ticket_id, "resolved")
    history.append_to(store)
    storage = mongo_storage(CommitLimits(documents=10))
    broken = {**HANDLERS, "TicketStateChanged": _explode}
    Projector.load(store, storage, handlers=broken).catch_up()
    commits = record_commits(storage)

    assert retry_parked(store, storage) == {"retried": 30, "parked": 0}

    assert len(commits) >= 3
    assert all(c["documents"] <= 10 for c in commits)
    assert documents(storage) == clean_rebuild(store, SqliteProjectionStorage(_other(store)))
