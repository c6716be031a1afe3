"""What the MongoDB backend adds to the shared contract: a server it refuses, a position
counter checked when it opens, transient errors retried under a deadline, clear 503/504
answers when the deadline passes, and duplicate key errors mapped to what they mean.

The faults are injected into the mongomock stand-in (``tests/support/mongo.py``), so these
run against mongomock only; against a real server the shared contract covers the rest."""

from __future__ import annotations

import uuid

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from kernel.contracts.envelope import NewEvent
from kernel.errors import ConcurrencyConflict, ServiceUnavailable, UpstreamTimeout
from kernel.eventstore.mongo import (
    EVENT_ID_INDEX,
    VERSION_INDEX,
    MongoEventStore,
    StoreMisconfigured,
    is_duplicate_key,
)
from tests.support.mongo import MongomockReplicaSet


def member_added(contact_id: str) -> NewEvent:
    return NewEvent("CompanyMemberAdded", {"company_id": "acme", "contact_id": contact_id})


def labelled(label: str, code: int = 112) -> OperationFailure:
    return OperationFailure(label, code, {"errmsg": label, "errorLabels": [label]})


TRANSIENT = "TransientTransactionError"
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"
MAX_TIME_EXPIRED = 50  # the server's code for an operation past its time limit


@pytest.fixture
def database() -> str:
    return f"mongo_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def server() -> MongomockReplicaSet:
    return MongomockReplicaSet()


def open_store(server, database, deadline: float = 3.0) -> MongoEventStore:
    return MongoEventStore(server, database, deadline=deadline)


def test_a_standalone_server_is_refused_with_the_fix_named(database):
    with pytest.raises(StoreMisconfigured, match=r"--replSet rs0.*rs\.initiate\(\)"):
        open_store(MongomockReplicaSet(set_name=None), database)


def test_the_position_counter_is_created_when_the_store_opens(server, database):
    open_store(server, database)

    assert server.raw(database)["counters"].find_one({"_id": "events"}) == {
        "_id": "events",
        "position": 0,
    }


def test_a_counter_missing_beside_stored_events_starts_at_the_highest_position(server, database):
    open_store(server, database).append("company-acme", [member_added("ann")], 0)
    server.raw(database)["counters"].delete_many({})

    reopened = open_store(server, database)
    reopened.append("company-acme", [member_added("bob")], 1)

    assert [e.position for e in reopened.read_all()] == [1, 2]


@pytest.mark.parametrize("counter", [0, 5])
def test_a_counter_that_disagrees_with_the_events_refuses_every_append(server, database, counter):
    open_store(server, database).append("company-acme", [member_added("ann")], 0)
    server.raw(database)["counters"].update_one({"_id": "events"}, {"$set": {"position": counter}})

    reopened = open_store(server, database)
    with pytest.raises(ServiceUnavailable, match=rf"counter \({counter}\) disagrees.*\(1\)"):
        reopened.append("company-acme", [member_added("bob")], 1)

    assert reopened.head_position() == 1
    assert reopened.read_all()[0].payload["contact_id"] == "ann"


def test_a_transient_error_is_retried_and_the_events_are_appended_once(server, database):
    store = open_store(server, database)
    server.faults.extend([("operation", labelled(TRANSIENT)), ("operation", labelled(TRANSIENT))])

    store.append("company-acme", [member_added("ann")], 0)

    assert store.transactions.attempts == 1 + 1 + 2  # opening's check, then three tries
    assert [e.stream_version for e in store.read_stream("company-acme")] == [1]


def test_a_commit_with_an_unknown_result_is_committed_again(server, database):
    store = open_store(server, database)
    server.faults.append(("commit", labelled(UNKNOWN_COMMIT, code=91)))

    recorded = store.append("company-acme", [member_added("ann")], 0)

    assert store.read_all() == recorded
    assert not server.faults


def test_transient_errors_past_the_deadline_answer_503_and_write_nothing(server, database):
    store = open_store(server, database, deadline=0.3)
    server.faults.extend(("operation", labelled(TRANSIENT)) for _ in range(10_000))

    with pytest.raises(ServiceUnavailable, match=r"did not answer within 0.3 s"):
        store.append("company-acme", [member_added("ann")], 0)

    server.faults.clear()
    assert store.head_position() == 0
    assert store.transactions.attempts > 3  # retried, with backoff, until the deadline


def test_a_commit_timing_out_with_an_unknown_result_answers_504(server, database):
    """The commit may or may not have happened: the caller is told to retry with its key,
    which the store answers with the stored events if the commit did happen."""
    store = open_store(server, database)
    event = member_added("ann")
    server.faults.append(("commit", labelled(UNKNOWN_COMMIT, code=MAX_TIME_EXPIRED)))

    with pytest.raises(UpstreamTimeout, match="retry with the same Idempotency-Key"):
        store.append("company-acme", [event], 0)

    retried = store.append("company-acme", [event], 0)
    assert [e.event_id for e in retried] == [event.event_id]
    assert store.head_position() == 1


def test_an_event_id_stored_by_a_racing_writer_answers_the_stored_events(server, database):
    """The racer commits between this append's id check and its insert: the insert's
    BulkWriteError is recognised as a retry, not a raw server error."""
    store, racer = open_store(server, database), open_store(server, database)
    event = member_added("ann")
    server.faults.append(("insert_many", lambda: racer.append("company-acme", [event], 0)))

    answered = store.append("company-acme", [event], 0)

    assert answered == racer.read_all()
    assert [e.event_id for e in store.read_stream("company-acme")] == [event.event_id]


def test_a_version_taken_by_a_racing_writer_is_a_concurrency_conflict(server, database):
    store, racer = open_store(server, database), open_store(server, database)
    server.faults.append(
        ("insert_many", lambda: racer.append("company-acme", [member_added("bob")], 0))
    )

    with pytest.raises(ConcurrencyConflict) as conflict:
        store.append("company-acme", [member_added("ann")], 0)

    assert conflict.value.fields == {"expected_version": 0, "actual_version": 1}


def server_duplicate(index: str, key: dict) -> BulkWriteError:
    """What a real server answers to ``insert_many`` over a unique index."""
    return BulkWriteError(
        {
            "writeErrors": [
                {
                    "index": 0,
                    "code": 11000,
                    "keyPattern": dict.fromkeys(key, 1),
                    "keyValue": key,
                    "errmsg": f"E11000 duplicate key error collection: portal.events "
                    f"index: {index} dup key: {key}",
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("error", "duplicate"),
    [
        (server_duplicate(EVENT_ID_INDEX, {"event_id": "e"}), True),
        (server_duplicate(VERSION_INDEX, {"stream_id": "s", "stream_version": 1}), True),
        (DuplicateKeyError("E11000", 11000, {"keyPattern": {"event_id": 1}}), True),
        (BulkWriteError({"writeErrors": [{"index": 0, "code": 121}]}), False),
        (labelled(TRANSIENT), False),
    ],
)
def test_duplicate_key_errors_as_a_real_server_reports_them_are_recognised(error, duplicate):
    assert is_duplicate_key(error) is duplicate


def test_a_position_taken_behind_the_counters_back_refuses_appends(server, database):
    store = open_store(server, database)
    server.faults.append(
        (
            "insert_many",
            lambda: server.raw(database)["events"].insert_one(
                {"_id": 1, "event_id": "planted", "stream_id": "company-x", "stream_version": 1}
            ),
        )
    )

    with pytest.raises(ServiceUnavailable, match="position that is taken"):
        store.append("company-acme", [member_added("ann")], 0)
    with pytest.raises(ServiceUnavailable, match="position that is taken"):
        store.append("company-acme", [member_added("bob")], 0)
