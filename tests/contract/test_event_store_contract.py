"""One contract for every event store backend (embedded SQLite, MongoDB)."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.errors import (
    AccessDenied,
    ConcurrencyConflict,
    Conflict,
    ServiceUnavailable,
    ValidationFailed,
)
from kernel.eventstore.base import CheckpointMismatch, EventStore
from kernel.eventstore.mongo import MongoEventStore
from kernel.eventstore.sqlite import SqliteEventStore
from tests.support.mongo import mongo_client


def company_created(company_id: str, **kwargs) -> NewEvent:
    return NewEvent(
        "CompanyCreated", {"company_id": company_id, "name": f"{company_id} Inc."}, **kwargs
    )


def member_added(company_id: str, contact_id: str, **kwargs) -> NewEvent:
    return NewEvent(
        "CompanyMemberAdded", {"company_id": company_id, "contact_id": contact_id}, **kwargs
    )


@pytest.fixture(params=["sqlite", "mongo"])
def backend(request, tmp_path):
    """A factory of stores over the same storage (a second one behaves like a reopen)."""
    if request.param == "sqlite":
        path = tmp_path / "events.sqlite3"
        yield lambda writer=None: SqliteEventStore(path, writer)
        return
    database = f"contract_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield lambda writer=None: MongoEventStore(client, database, writer)
    client.drop_database(database)


@pytest.fixture
def store(backend) -> EventStore:
    return backend()


def test_append_then_read_the_stream(store):
    recorded = store.append(
        "company-acme", [company_created("acme"), member_added("acme", "ann")], 0
    )

    assert [e.stream_version for e in recorded] == [1, 2]
    assert [e.type for e in store.read_stream("company-acme")] == [
        "CompanyCreated",
        "CompanyMemberAdded",
    ]
    assert store.read_stream("company-acme")[1].payload == {
        "company_id": "acme",
        "contact_id": "ann",
    }
    assert [e.type for e in store.read_stream("company-acme", after_version=1)] == [
        "CompanyMemberAdded"
    ]
    assert store.stream_version("company-acme") == 2
    assert store.stream_version("company-nobody") == 0
    assert store.read_stream("company-nobody") == []


def test_envelope_is_kept_whole(store):
    event = company_created(
        "acme", correlation_id="req-1", causation_id="cmd-1", metadata={"k": "v"}
    )
    store.append("company-acme", [event], 0)

    stored = store.read_all()[0]
    assert (stored.event_id, stored.stream_id, stored.type, stored.schema_version) == (
        event.event_id,
        "company-acme",
        "CompanyCreated",
        1,
    )
    assert (stored.occurred_at, stored.correlation_id, stored.causation_id) == (
        event.occurred_at,
        "req-1",
        "cmd-1",
    )
    assert stored.metadata == {"k": "v"}


def test_read_all_follows_a_global_order_across_streams(store):
    store.append("company-a", [company_created("a")], 0)
    store.append("company-b", [company_created("b")], 0)
    store.append("company-a", [member_added("a", "ann")], 1)

    everything = store.read_all()
    assert [e.position for e in everything] == [1, 2, 3]
    assert [e.stream_id for e in everything] == ["company-a", "company-b", "company-a"]
    assert [e.position for e in store.read_all(after_position=1)] == [2, 3]
    assert [e.position for e in store.read_all(after_position=1, limit=1)] == [2]
    assert store.read_all(after_position=3) == []
    assert store.head_position() == 3
    assert [e.position for e in store.iter_all(0, batch_size=2)] == [1, 2, 3]


def test_a_stale_expected_version_conflicts_and_writes_nothing(store):
    store.append("company-acme", [company_created("acme")], 0)

    with pytest.raises(ConcurrencyConflict) as conflict:
        store.append("company-acme", [member_added("acme", "ann"), member_added("acme", "bob")], 0)

    assert conflict.value.fields == {"expected_version": 0, "actual_version": 1}
    assert store.stream_version("company-acme") == 1
    assert store.head_position() == 1
    with pytest.raises(ConcurrencyConflict):
        store.append("company-new", [company_created("new")], 3)
    assert store.head_position() == 1


def test_a_retried_append_with_the_same_event_ids_is_idempotent(store):
    events = [company_created("acme"), member_added("acme", "ann")]
    first = store.append("company-acme", events, 0)

    retried = store.append("company-acme", events, 0)

    assert retried == first
    assert store.head_position() == 2
    assert store.get_events([events[0].event_id]) == {events[0].event_id: first[0]}


def test_a_retry_that_only_partly_matches_stored_events_is_refused(store):
    stored = company_created("acme")
    store.append("company-acme", [stored], 0)

    with pytest.raises(Conflict):
        store.append("company-acme", [stored, member_added("acme", "ann")], 1)
    assert store.head_position() == 1


@pytest.mark.parametrize(
    ("stream_id", "event"),
    [
        ("company-acme", NewEvent("CompanyCreated", {"company_id": {"$gt": ""}, "name": "x"})),
        ("company-acme", NewEvent("CompanyCreated", {"company_id": "acme"})),
        (
            "company-acme",
            NewEvent("CompanyCreated", {"company_id": "acme", "name": "x", "$where": "1"}),
        ),
        ("company-acme", NewEvent("NoSuchEvent", {"company_id": "acme"})),
        ("ticket-1", NewEvent("CompanyCreated", {"company_id": "acme", "name": "x"})),
        (
            "company-acme",
            NewEvent("CompanyCreated", {"company_id": "acme", "name": "x"}, event_id="nope"),
        ),
        ("Company acme", NewEvent("CompanyCreated", {"company_id": "acme", "name": "x"})),
    ],
)
def test_an_invalid_event_is_rejected_and_nothing_is_appended(store, stream_id, event):
    with pytest.raises(ValidationFailed) as error:
        store.append(stream_id, [company_created("acme"), event], 0)

    assert error.value.fields
    assert store.head_position() == 0


def test_a_service_appends_only_to_its_own_streams(backend):
    companies = backend("companies")
    companies.append("company-acme", [company_created("acme")], 0)

    with pytest.raises(AccessDenied):
        backend("tickets").append("company-acme", [member_added("acme", "ann")], 1)
    assert companies.head_position() == 1


def test_there_is_no_api_to_change_or_remove_events(store):
    verbs = ("update", "delete", "remove", "replace", "truncate", "drop", "edit", "set_event")
    public = [name for name in dir(store) if not name.startswith("_")]
    assert not [name for name in public if any(verb in name for verb in verbs)]


def test_events_survive_reopening_the_store(backend):
    backend().append("company-acme", [company_created("acme")], 0)

    reopened = backend()

    assert [e.type for e in reopened.read_stream("company-acme")] == ["CompanyCreated"]
    reopened.append("company-acme", [member_added("acme", "ann")], 1)
    assert reopened.head_position() == 2


def test_checkpoints_move_by_compare_and_set(store):
    assert store.get_checkpoint("relay") == 0
    store.save_checkpoint("relay", 0, 5)
    store.save_checkpoint("relay", 0, 5)  # a retried save changes nothing
    assert store.get_checkpoint("relay") == 5
    store.save_checkpoint("relay", 5, 8)
    assert store.get_checkpoint("relay") == 8
    assert store.get_checkpoint("another") == 0


@pytest.mark.parametrize(("expected", "position"), [(0, 9), (5, 9), (5, 7), (9, 12)])
def test_a_checkpoint_moved_by_another_follower_is_a_mismatch(store, expected, position):
    """Two relays that both advance one checkpoint are noticed, whichever saves second."""
    store.save_checkpoint("relay", 0, 5)
    store.save_checkpoint("relay", 5, 8)  # the other relay

    with pytest.raises(CheckpointMismatch) as mismatch:
        store.save_checkpoint("relay", expected, position)

    assert mismatch.value.fields == {"checkpoint": "relay", "expected": expected, "actual": 8}
    assert store.get_checkpoint("relay") == 8


def test_a_retry_with_ids_stored_in_another_stream_is_refused(store):
    """An event id names one event: reusing it for another stream is no retry."""
    event = company_created("acme")
    store.append("company-acme", [event], 0)

    with pytest.raises(Conflict) as refused:
        store.append("company-other", [event], 0)

    assert not isinstance(refused.value, ConcurrencyConflict)
    assert refused.value.fields == {"event_id": "stored in another stream or order"}
    assert store.stream_version("company-other") == 0
    assert store.head_position() == 1


def test_a_retry_with_stored_ids_in_another_order_is_refused(store):
    first, second = company_created("acme"), member_added("acme", "ann")
    store.append("company-acme", [first, second], 0)

    with pytest.raises(Conflict):
        store.append("company-acme", [second, first], 0)
    assert store.head_position() == 2


def test_wait_for_events_returns_once_an_event_exists(store):
    assert store.wait_for_events(0, timeout=0.05) is False
    store.append("company-acme", [company_created("acme")], 0)
    assert store.wait_for_events(0, timeout=1) is True


# Every SQL route that could change or remove a stored event, each aimed at the stored row
# through each of its unique keys (position, event id, stream and version).
_COPY = (
    "SELECT {position}, {event_id}, stream_id, {version}, type, schema_version, occurred_at, "
    "correlation_id, causation_id, '{{}}', metadata FROM events"
)
_SAME_POSITION = _COPY.format(position="position", event_id="'other-id'", version="99")
_SAME_EVENT_ID = _COPY.format(position="99", event_id="event_id", version="99")
_SAME_VERSION = _COPY.format(position="99", event_id="'other-id'", version="stream_version")
HAND_WRITTEN_CHANGES = {
    "update": "UPDATE events SET payload = '{}'",
    "update or replace": "UPDATE OR REPLACE events SET payload = '{}'",
    "delete": "DELETE FROM events",
    "replace by position": f"REPLACE INTO events {_SAME_POSITION}",
    "replace by event id": f"REPLACE INTO events {_SAME_EVENT_ID}",
    "replace by stream version": f"REPLACE INTO events {_SAME_VERSION}",
    "insert or replace by position": f"INSERT OR REPLACE INTO events {_SAME_POSITION}",
    "insert or replace by event id": f"INSERT OR REPLACE INTO events {_SAME_EVENT_ID}",
    "insert or replace by stream version": f"INSERT OR REPLACE INTO events {_SAME_VERSION}",
    "upsert": f"INSERT INTO events {_SAME_POSITION} WHERE true "
    "ON CONFLICT DO UPDATE SET payload = excluded.payload",
    "upsert by event id": f"INSERT INTO events {_SAME_EVENT_ID} WHERE true "
    "ON CONFLICT (event_id) DO UPDATE SET payload = excluded.payload",
}


@pytest.mark.parametrize("statement", HAND_WRITTEN_CHANGES.values(), ids=HAND_WRITTEN_CHANGES)
def test_sqlite_refuses_every_hand_written_change_to_a_stored_event(tmp_path, statement):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    stored = store.append("company-acme", [company_created("acme")], 0)
    store.close()

    raw = sqlite3.connect(tmp_path / "events.sqlite3")  # a connection with default settings
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute(statement)
    raw.commit()
    raw.close()
    assert SqliteEventStore(tmp_path / "events.sqlite3").read_all() == stored


def test_sqlite_answers_503_when_another_process_holds_the_write_lock_too_long(tmp_path):
    path = tmp_path / "events.sqlite3"
    store = SqliteEventStore(path, busy_timeout=0.1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ServiceUnavailable, match=r"locked for 0\.1 s; nothing was written"):
            store.append("company-acme", [company_created("acme")], 0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.head_position() == 0
    store.append("company-acme", [company_created("acme")], 0)
    assert store.head_position() == 1
