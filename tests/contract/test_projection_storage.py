"""One contract for every projection storage backend (embedded SQLite, MongoDB)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid

import pytest

from kernel.eventstore.sqlite import SqliteEventStore
from services.portal_query.projector import Projector
from services.portal_query.storage import (
    PROJECTIONS_FILE,
    MongoProjectionStorage,
    ParkedEvent,
    SqliteProjectionStorage,
    StaleProjection,
)
from tests.support.mongo import mongo_client
from tests.support.portal_events import acme_world


@pytest.fixture(params=["sqlite", "mongo"])
def backend(request, tmp_path):
    """A factory of storages over the same data (a second one behaves like a reopen)."""
    if request.param == "sqlite":
        yield lambda: SqliteProjectionStorage(tmp_path / PROJECTIONS_FILE)
        return
    database = f"projections_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield lambda: MongoProjectionStorage(client, database)
    client.drop_database(database)


@pytest.fixture
def storage(backend):
    return backend()


def current_generation(storage) -> int:
    generation = storage.create_generation()
    storage.switch(generation)
    return generation


def documents(storage, generation) -> list:
    return [doc for batch in storage.documents(generation, batch_size=2) for doc in batch]


def parked(position: int, stream: str = "ticket-1", attempts: int = 3) -> ParkedEvent:
    return ParkedEvent(position, str(uuid.uuid4()), stream, "TicketEdited", "boom", attempts)


def test_nothing_is_current_until_a_generation_is_switched_to(storage):
    assert storage.current() is None

    generation = storage.create_generation()

    assert storage.current() is None
    assert storage.state(generation).checkpoint == 0
    storage.switch(generation)
    assert storage.current().generation == generation


def test_a_commit_writes_documents_parked_events_and_checkpoint_together(storage):
    generation = current_generation(storage)

    revision = storage.commit(
        generation,
        0,
        7,
        {
            ("ticket", "1"): {"id": 1, "title": "Printer"},
            ("contact", "ann"): {"id": "ann", "attributes": {"role": "member"}},
            ("company", "acme"): {"id": "acme", "name": "Acme"},
        },
        parked=[parked(5), parked(3)],
    )

    assert revision == 1
    assert storage.current().checkpoint == 7
    assert storage.current().revision == 1
    assert documents(storage, generation) == [
        ("company", "acme", {"id": "acme", "name": "Acme"}),
        ("contact", "ann", {"id": "ann", "attributes": {"role": "member"}}),
        ("ticket", "1", {"id": 1, "title": "Printer"}),
    ]
    assert [event.position for event in storage.parked(generation)] == [3, 5]

    storage.commit(
        generation,
        revision,
        9,
        {("ticket", "1"): {"id": 1, "title": "Fax"}, ("contact", "ann"): None},
        unparked=[3],
    )

    assert documents(storage, generation) == [
        ("company", "acme", {"id": "acme", "name": "Acme"}),
        ("ticket", "1", {"id": 1, "title": "Fax"}),
    ]
    assert [event.position for event in storage.parked(generation)] == [5]
    assert storage.parked(generation)[0].error == "boom"


def test_a_stale_revision_writes_nothing(storage):
    generation = current_generation(storage)
    storage.commit(generation, 0, 3, {("ticket", "1"): {"id": 1}})

    with pytest.raises(StaleProjection):
        storage.commit(generation, 0, 5, {("ticket", "2"): {"id": 2}})

    assert [key for _, key, _ in documents(storage, generation)] == ["1"]
    assert (storage.current().checkpoint, storage.current().revision) == (3, 1)


def test_only_the_current_generation_takes_live_commits(storage):
    old = current_generation(storage)
    building = storage.create_generation()

    storage.commit(building, 0, 4, {("ticket", "1"): {}}, must_be_current=False)
    with pytest.raises(StaleProjection):
        storage.commit(building, 1, 5, {})
    storage.switch(building)
    with pytest.raises(StaleProjection):
        storage.commit(old, 0, 5, {})


def test_the_checkpoint_never_moves_back(storage):
    generation = current_generation(storage)
    storage.commit(generation, 0, 10, {})
    storage.commit(generation, 1, 4, {})

    assert storage.current().checkpoint == 10


def test_a_switch_keeps_the_previous_generation_and_drops_older_ones(storage):
    first = current_generation(storage)
    storage.commit(first, 0, 1, {("ticket", "1"): {"id": 1}})
    second = current_generation(storage)
    abandoned = storage.create_generation()
    third = storage.create_generation()

    storage.switch(third)

    assert storage.generations() == [second, third]
    assert abandoned not in storage.generations()
    assert storage.current().generation == third
    fourth = storage.create_generation()
    assert fourth > third
    with pytest.raises(StaleProjection):
        storage.state(first)


def test_generations_survive_reopening(backend):
    storage = backend()
    generation = current_generation(storage)
    storage.commit(generation, 0, 2, {("ticket", "1"): {"id": 1, "é": "ü"}})

    reopened = backend()

    assert reopened.current() == storage.current()
    assert documents(reopened, generation) == [("ticket", "1", {"id": 1, "é": "ü"})]


def test_a_sqlite_generation_with_the_old_company_column_loads_and_takes_commits(tmp_path):
    path = tmp_path / PROJECTIONS_FILE
    storage = SqliteProjectionStorage(path)
    generation = current_generation(storage)
    table = f"documents_{generation}"
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # as it was made before
        db.execute(f"DROP TABLE {table}")
        db.execute(
            f"CREATE TABLE {table} (kind TEXT NOT NULL, key TEXT NOT NULL, company_id TEXT, "
            "body TEXT NOT NULL, PRIMARY KEY (kind, key))"
        )
        db.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?)",  # noqa: S608
            [("ticket", "1", "acme", json.dumps({"id": 1})), ("ticket", "2", "acme", "{}")],
        )

    storage.commit(
        generation, 0, 2, {("ticket", "1"): {"id": 1, "title": "Fax"}, ("ticket", "3"): {}}
    )

    assert documents(SqliteProjectionStorage(path), generation) == [
        ("ticket", "1", {"id": 1, "title": "Fax"}),
        ("ticket", "2", {}),
        ("ticket", "3", {}),
    ]


def test_a_mongo_generation_with_the_old_company_field_loads_and_takes_commits():
    database = f"projections_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    storage = MongoProjectionStorage(client, database)
    generation = current_generation(storage)
    client[database][f"projection_{generation}_documents"].insert_many(
        [
            {"_id": "ticket:1", "kind": "ticket", "key": "1", "company_id": "acme", "body": {}},
            {"_id": "ticket:2", "kind": "ticket", "key": "2", "company_id": "acme", "body": {}},
        ]
    )

    storage.commit(generation, 0, 2, {("ticket", "1"): {"id": 1}})

    assert documents(storage, generation) == [("ticket", "1", {"id": 1}), ("ticket", "2", {})]
    client.drop_database(database)


def test_a_projector_on_either_backend_stores_the_same_documents(backend, tmp_path):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    acme_world().append_to(store)
    storage = backend()

    projector = Projector.load(store, storage, batch_size=4)
    projector.catch_up()
    reloaded = Projector.load(store, storage)

    assert reloaded.checkpoint == store.head_position()
    assert sorted(reloaded.model.tickets) == [1, 2, 3]
    assert documents(storage, projector.generation)[0] == (
        "company",
        "acme",
        {"id": "acme", "name": "Acme Inc."},
    )


def test_the_writer_lease_is_one_holders_until_it_expires(storage):
    assert storage.hold_lease("first", 5, now=100.0)
    assert not storage.hold_lease("second", 5, now=102.0), "held by another, not expired"
    assert storage.hold_lease("first", 5, now=103.0), "its holder renews it"
    assert not storage.hold_lease("second", 5, now=107.9)
    assert storage.hold_lease("second", 5, now=108.0), "expired: another takes it over"
    assert not storage.hold_lease("first", 5, now=109.0)


def test_a_sqlite_snapshot_holds_one_moment_while_the_writer_commits(tmp_path):
    """A copy loading the projection while the writer copy commits reads one moment's
    state, parked events and documents, however long it takes between batches."""
    storage = SqliteProjectionStorage(tmp_path / PROJECTIONS_FILE)
    generation = current_generation(storage)
    revision = storage.commit(
        generation,
        0,
        1,
        {("ticket", "1"): {"id": 1}, ("ticket", "2"): {"id": 2}},
        parked=[parked(1)],
    )

    state, parked_then, batches = storage.snapshot(generation, batch_size=1)
    first = next(batches)
    storage.commit(generation, revision, 2, {("ticket", "3"): {"id": 3}}, parked=[parked(2)])
    read = first + [document for batch in batches for document in batch]

    assert (state.checkpoint, state.revision) == (1, revision)
    assert [position.position for position in parked_then] == [1]
    assert [key for _kind, key, _body in read] == ["1", "2"]
