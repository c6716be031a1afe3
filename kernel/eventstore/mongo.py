"""Production event store on MongoDB (replica set), through pymongo.

Layout (database ``MONGO_DATABASE``):

* ``events``: one document per event, ``_id`` = global position; unique indexes on
  ``(stream_id, stream_version)`` (optimistic concurrency) and ``event_id`` (idempotent
  retries). Reading by position walks the ``_id`` index.
* ``counters``: ``{_id: "events", position}``, the last allocated position.
* ``checkpoints``: ``{_id: name, position}``, moved forward only.

Ordering: each append runs in a multi-document transaction that reads the stream version,
increments the counter and inserts the events. Two concurrent appends both write the
counter document, so the second gets a write conflict and is retried by
``with_transaction`` after the first commits: positions are allocated in commit order and a
follower never passes a late commit. Transactions need a replica set (the compose stack
runs a single-node one).

Write concern: ``majority`` with journaling; reads use ``majority`` read concern, so an
acknowledged append survives a failover and a follower never sees an event that is later
rolled back.

``transactions=False`` exists only for ``mongomock`` (which has no sessions): the same code
runs under a process-wide lock instead of a transaction.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from kernel.contracts.envelope import NewEvent, RecordedEvent
from kernel.errors import ConcurrencyConflict
from kernel.eventstore.base import EventStore

WRITE_CONCERN = WriteConcern("majority", j=True)
READ_CONCERN = ReadConcern("majority")


def _recorded(document: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        document["_id"],
        document["event_id"],
        document["stream_id"],
        document["stream_version"],
        document["type"],
        document["schema_version"],
        document["occurred_at"],
        document.get("correlation_id"),
        document.get("causation_id"),
        document["payload"],
        document.get("metadata") or {},
    )


class MongoEventStore(EventStore):
    poll_interval = 0.005

    def __init__(
        self,
        client: Any,
        database: str = "portal",
        writer: str | None = None,
        transactions: bool = True,
    ):
        super().__init__(writer)
        self._client = client
        self._transactions = transactions
        self._lock = threading.Lock()
        db = client[database]
        concern = {"write_concern": WRITE_CONCERN, "read_concern": READ_CONCERN}
        self._events = db.get_collection("events", **concern)
        self._counters = db.get_collection("counters", **concern)
        self._checkpoints = db.get_collection("checkpoints", **concern)
        self._events.create_index(
            [("stream_id", ASCENDING), ("stream_version", ASCENDING)], unique=True
        )
        self._events.create_index([("event_id", ASCENDING)], unique=True)

    def _in_transaction(self, work: Callable[[Any], list[RecordedEvent]]) -> list[RecordedEvent]:
        if not self._transactions:
            with self._lock:
                try:
                    return work(None)
                except DuplicateKeyError as error:
                    raise ConcurrencyConflict(str(error), {}) from error
        with self._client.start_session() as session:
            return session.with_transaction(
                work, read_concern=READ_CONCERN, write_concern=WRITE_CONCERN
            )

    def _append(
        self, stream_id: str, events: list[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        ids = [event.event_id for event in events]

        def append_in(session: Any) -> list[RecordedEvent]:
            stored = {
                doc["event_id"]: _recorded(doc)
                for doc in self._events.find({"event_id": {"$in": ids}}, session=session)
            }
            if stored:
                return self._replayed(events, stored)
            last = self._events.find_one(
                {"stream_id": stream_id},
                sort=[("stream_version", DESCENDING)],
                projection={"stream_version": 1},
                session=session,
            )
            current = last["stream_version"] if last else 0
            if current != expected_version:
                raise ConcurrencyConflict(
                    f"stream {stream_id!r} is at version {current}, not {expected_version}",
                    {"expected_version": expected_version, "actual_version": current},
                )
            counter = self._counters.find_one_and_update(
                {"_id": "events"},
                {"$inc": {"position": len(events)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            first = counter["position"] - len(events) + 1
            documents = [
                {
                    "_id": first + offset,
                    "event_id": event.event_id,
                    "stream_id": stream_id,
                    "stream_version": expected_version + offset + 1,
                    "type": event.type,
                    "schema_version": event.schema_version,
                    "occurred_at": event.occurred_at,
                    "correlation_id": event.correlation_id,
                    "causation_id": event.causation_id,
                    "payload": event.payload,
                    "metadata": event.metadata,
                }
                for offset, event in enumerate(events)
            ]
            self._events.insert_many(documents, ordered=True, session=session)
            return [_recorded(document) for document in documents]

        return self._in_transaction(append_in)

    def get_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        return {
            doc["event_id"]: _recorded(doc)
            for doc in self._events.find({"event_id": {"$in": list(event_ids)}})
        }

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        cursor = self._events.find(
            {"stream_id": stream_id, "stream_version": {"$gt": after_version}}
        ).sort("stream_version", ASCENDING)
        return [_recorded(doc) for doc in cursor]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        cursor = (
            self._events.find({"_id": {"$gt": after_position}}).sort("_id", ASCENDING).limit(limit)
        )
        return [_recorded(doc) for doc in cursor]

    def stream_version(self, stream_id: str) -> int:
        last = self._events.find_one(
            {"stream_id": stream_id},
            sort=[("stream_version", DESCENDING)],
            projection={"stream_version": 1},
        )
        return last["stream_version"] if last else 0

    def head_position(self) -> int:
        last = self._events.find_one({}, sort=[("_id", DESCENDING)], projection={"_id": 1})
        return last["_id"] if last else 0

    def get_checkpoint(self, name: str) -> int:
        document = self._checkpoints.find_one({"_id": name})
        return document["position"] if document else 0

    def save_checkpoint(self, name: str, position: int) -> None:
        # A duplicate key means the stored checkpoint is already at or past ``position``.
        with contextlib.suppress(DuplicateKeyError):
            self._checkpoints.update_one(
                {"_id": name, "position": {"$lt": position}},
                {"$set": {"position": position}},
                upsert=True,
            )

    def close(self) -> None:
        self._client.close()
