"""Retried appends on every backend, down each path the SQLite store takes: it inserts
first and looks stored ids up only when the version is stale or a stored id refuses a row."""

from __future__ import annotations

import uuid

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.errors import ConcurrencyConflict, Conflict
from kernel.eventstore.base import EventStore
from kernel.eventstore.mongo import MongoEventStore
from kernel.eventstore.sqlite import SqliteEventStore
from tests.support.mongo import mongo_client


def member_added(contact_id: str) -> NewEvent:
    return NewEvent("CompanyMemberAdded", {"company_id": "acme", "contact_id": contact_id})


@pytest.fixture(params=["sqlite", "mongo"])
def store(request, tmp_path) -> EventStore:
    if request.param == "sqlite":
        yield SqliteEventStore(tmp_path / "events.sqlite3")
        return
    database = f"retries_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield MongoEventStore(client, database)
    client.drop_database(database)


def test_a_retry_at_the_current_version_returns_the_stored_events(store):
    ann = member_added("ann")
    first = store.append("company-acme", [ann], 0)

    retried = store.append("company-acme", [ann], 1)

    assert retried == first
    assert store.head_position() == 1


def test_a_retry_with_a_new_event_before_a_stored_one_writes_nothing(store):
    """The new event's row goes in before the stored id refuses the next one: it must be
    rolled back, and must not count as stored."""
    bob = member_added("bob")
    store.append("company-acme", [bob], 0)

    with pytest.raises(Conflict) as refused:
        store.append("company-acme", [member_added("ann"), bob], 1)

    assert refused.value.fields == {"event_id": "partially appended before"}
    assert store.head_position() == 1
    assert [e.event_id for e in store.read_all()] == [bob.event_id]


def test_a_partial_retry_at_a_stale_version_is_refused_as_partial(store):
    bob = member_added("bob")
    store.append("company-acme", [bob, member_added("cat")], 0)

    with pytest.raises(Conflict) as refused:
        store.append("company-acme", [bob, member_added("ann")], 0)

    assert not isinstance(refused.value, ConcurrencyConflict)
    assert store.head_position() == 2


def test_new_events_at_a_stale_version_conflict_on_the_version(store):
    store.append("company-acme", [member_added("bob")], 0)

    with pytest.raises(ConcurrencyConflict) as conflict:
        store.append("company-acme", [member_added("ann")], 0)

    assert conflict.value.fields == {"expected_version": 0, "actual_version": 1}
    assert store.head_position() == 1
