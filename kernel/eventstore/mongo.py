"""Production event store on MongoDB (replica set), through pymongo.

Layout (database ``MONGO_DATABASE``):

* ``events``: one document per event, ``_id`` = global position; unique indexes on
  ``(stream_id, stream_version)`` (optimistic concurrency) and ``event_id`` (idempotent
  retries). Reading by position walks the ``_id`` index.
* ``counters``: ``{_id: "events", position}``, the last allocated position. Created when the
  store opens (never inside an append) and checked against the highest stored position.
* ``checkpoints``: ``{_id: name, position}``, moved by compare-and-set.

Ordering: each append is one multi-document transaction that reads the stream version,
increments the counter and inserts the events. Two concurrent appends both write the counter
document, so the second meets a write conflict and is retried after the first commits:
positions are allocated in commit order and a follower never passes a late commit.

Every call is bounded in time (:class:`Transactions`): an append retries transient errors with
backoff until its deadline, which is shorter than the RPC timeout of the caller, and then
answers :class:`ServiceUnavailable` (nothing was written) or :class:`UpstreamTimeout` (the
commit's outcome is unknown; a retry with the same event ids is safe).

Write concern ``majority`` with journaling and read concern ``majority``: an acknowledged
append survives a failover and a follower never sees an event that is later rolled back.
Reads run in causally consistent sessions advanced past this store's last append, so a read
that follows a write sees it.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pymongo
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from kernel.contracts.envelope import ENVELOPE_FIELDS, NewEvent, RecordedEvent, recorded
from kernel.errors import ConcurrencyConflict, ServiceUnavailable, UpstreamTimeout
from kernel.eventstore.base import CheckpointMismatch, EventStore

READ_CONCERN = ReadConcern("majority")
COUNTER = "events"
VERSION_INDEX = "stream_version_unique"
EVENT_ID_INDEX = "event_id_unique"

T = TypeVar("T")


class StoreMisconfigured(RuntimeError):
    """The server cannot give the store's guarantees; raised when the store opens."""


def _recorded(document: dict[str, Any]) -> RecordedEvent:
    """A stored document as an event: ``_id`` is its position."""
    return RecordedEvent(
        document["_id"],
        *(document.get(name) for name in ENVELOPE_FIELDS[1:-1]),
        document.get("metadata") or {},
    )


def _document(event: RecordedEvent) -> dict[str, Any]:
    document = dict(zip(ENVELOPE_FIELDS, event, strict=True))
    document["_id"] = document.pop("position")
    return document


def is_duplicate_key(error: BaseException) -> bool:
    """A unique index refused a write. ``insert_many`` raises :class:`BulkWriteError`, a
    single write :class:`DuplicateKeyError`; both carry code 11000."""
    if isinstance(error, BulkWriteError):
        return any(e.get("code") == 11000 for e in error.details.get("writeErrors", []))
    return isinstance(error, DuplicateKeyError)


class Transactions:
    """Multi-document transactions and causally consistent reads, each bounded by a deadline.

    ``deadline`` (seconds) bounds everything one call does: server selection, every
    operation, commit retries and the backoff between transaction attempts (pymongo's
    client-side operation timeout covers the operations). pymongo's own
    ``with_transaction`` retries for up to 120 s, longer than any caller waits, so the retry
    loop is here."""

    def __init__(self, client: Any, deadline: float, max_backoff: float = 0.2):
        self.client = client
        self.deadline = deadline
        self.max_backoff = max_backoff
        self.write_concern = WriteConcern("majority", j=True, wtimeout=int(deadline * 1000))
        self._lock = threading.Lock()
        self._cluster_time: dict | None = None
        self._operation_time: Any = None
        self.attempts = 0  # transaction attempts, for tests and logs

    def check_server(self) -> None:
        """Refuse a server that has no transactions: a standalone ``mongod``."""
        with self.bounded():
            hello = self.client.admin.command("hello")
        if not hello.get("setName") and hello.get("msg") != "isdbgrid":
            raise StoreMisconfigured(
                "the MongoDB server at MONGO_URI is a standalone mongod, which has no "
                "transactions; the event store needs a replica set. Start mongod with "
                "--replSet rs0, run rs.initiate() once in mongosh, and add ?replicaSet=rs0 to "
                "MONGO_URI (a single-node replica set is enough)"
            )

    @contextlib.contextmanager
    def bounded(self) -> Iterator[None]:
        """Every operation inside finishes within the deadline or fails with a clear 503."""
        try:
            with pymongo.timeout(self.deadline):
                yield
        except PyMongoError as error:
            if is_duplicate_key(error):
                raise
            raise self._unavailable(error) from error

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A session that sees every append this store made before (causal consistency)."""
        with self.bounded(), self.client.start_session(causal_consistency=True) as session:
            with self._lock:
                cluster_time, operation_time = self._cluster_time, self._operation_time
            if cluster_time is not None:
                session.advance_cluster_time(cluster_time)
            if operation_time is not None:
                session.advance_operation_time(operation_time)
            yield session

    def run(self, work: Callable[[Any], T]) -> T:
        """Run ``work(session)`` in a transaction and commit it, retrying what MongoDB labels
        transient, with backoff, until the deadline. Errors ``work`` raises abort the
        transaction and reach the caller unchanged."""
        started = time.monotonic()
        backoff = 0.005
        with self.bounded(), self.client.start_session(causal_consistency=True) as session:
            while True:
                self.attempts += 1
                session.start_transaction(
                    read_concern=READ_CONCERN, write_concern=self.write_concern
                )
                try:
                    result = work(session)
                    self._commit(session)
                except PyMongoError as error:
                    self._abort(session)
                    left = self.deadline - (time.monotonic() - started)
                    if error.has_error_label("TransientTransactionError") and left > backoff:
                        time.sleep(backoff * random.uniform(0.5, 1.0))
                        backoff = min(backoff * 2, self.max_backoff)
                        continue
                    raise
                except BaseException:
                    self._abort(session)
                    raise
                self._observe(session)
                return result

    def _commit(self, session: Any) -> None:
        """Commit; a commit whose result is unknown is retried (MongoDB makes that safe)."""
        while True:
            try:
                session.commit_transaction()
                return
            except PyMongoError as error:
                if error.has_error_label("UnknownTransactionCommitResult") and not error.timeout:
                    continue
                raise

    @staticmethod
    def _abort(session: Any) -> None:
        if session.in_transaction:
            with contextlib.suppress(PyMongoError):
                session.abort_transaction()

    def _observe(self, session: Any) -> None:
        """Remember how far this store has written, for :meth:`reading`."""
        with self._lock:
            cluster_time, operation_time = session.cluster_time, session.operation_time
            if cluster_time is not None and (
                self._cluster_time is None
                or cluster_time["clusterTime"] > self._cluster_time["clusterTime"]
            ):
                self._cluster_time = cluster_time
            if operation_time is not None and (
                self._operation_time is None or operation_time > self._operation_time
            ):
                self._operation_time = operation_time

    def _unavailable(self, error: PyMongoError) -> Exception:
        if error.has_error_label("UnknownTransactionCommitResult"):
            return UpstreamTimeout(
                f"the event store did not confirm the write within {self.deadline:g} s; it "
                "may or may not be stored: retry with the same Idempotency-Key",
                {"event_store": "commit outcome unknown"},
            )
        return ServiceUnavailable(
            f"the event store did not answer within {self.deadline:g} s; nothing was written",
            {"event_store": type(error).__name__},
        )


class MongoEventStore(EventStore):
    poll_interval = 0.005

    def __init__(
        self,
        client: Any,
        database: str = "portal",
        writer: str | None = None,
        deadline: float = 3.0,
    ):
        super().__init__(writer)
        self._client = client
        self.transactions = Transactions(client, deadline)
        self.transactions.check_server()
        db = client[database]
        concern = {"write_concern": self.transactions.write_concern, "read_concern": READ_CONCERN}
        self._events = db.get_collection("events", **concern)
        self._counters = db.get_collection("counters", **concern)
        self._checkpoints = db.get_collection("checkpoints", **concern)
        with self.transactions.bounded():
            self._events.create_index(
                [("stream_id", ASCENDING), ("stream_version", ASCENDING)],
                unique=True,
                name=VERSION_INDEX,
            )
            self._events.create_index([("event_id", ASCENDING)], unique=True, name=EVENT_ID_INDEX)
        self._refusal: ServiceUnavailable | None = None
        self._open_counter()

    def _open_counter(self) -> None:
        """Create the position counter at the highest stored position if it is missing, then
        check that the two agree: a counter behind the events would hand out positions that
        are taken, one ahead would leave holes. On a disagreement every append is refused."""
        with self.transactions.bounded(), contextlib.suppress(DuplicateKeyError):
            # A duplicate: another process created it first.
            self._counters.update_one(
                {"_id": COUNTER}, {"$setOnInsert": {"position": self._head()}}, upsert=True
            )

        def read_both(session: Any) -> tuple[int, int]:
            """In one transaction: one snapshot, whatever commits meanwhile."""
            counter = self._counters.find_one({"_id": COUNTER}, session=session)
            return counter["position"], self._head(session)

        counter, head = self.transactions.run(read_both)
        if counter != head:
            self._refusal = ServiceUnavailable(
                f"the event store's position counter ({counter}) disagrees with the highest "
                f"stored position ({head}); appends are refused until an operator repairs "
                "the 'counters' document",
                {"event_store": "position counter mismatch"},
            )

    def _head(self, session: Any = None) -> int:
        last = self._events.find_one(
            {}, sort=[("_id", DESCENDING)], projection={"_id": 1}, session=session
        )
        return last["_id"] if last else 0

    def _version(self, stream_id: str, session: Any = None) -> int:
        last = self._events.find_one(
            {"stream_id": stream_id},
            sort=[("stream_version", DESCENDING)],
            projection={"stream_version": 1},
            session=session,
        )
        return last["stream_version"] if last else 0

    def _append(
        self, stream_id: str, events: list[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        if self._refusal is not None:
            raise self._refusal
        ids = [event.event_id for event in events]

        def append_in(session: Any) -> list[RecordedEvent]:
            stored = {
                doc["event_id"]: _recorded(doc)
                for doc in self._events.find({"event_id": {"$in": ids}}, session=session)
            }
            if stored:
                return self._replayed(stream_id, events, stored)
            current = self._version(stream_id, session)
            if current != expected_version:
                raise ConcurrencyConflict(
                    f"stream {stream_id!r} is at version {current}, not {expected_version}",
                    {"expected_version": expected_version, "actual_version": current},
                )
            counter = self._counters.find_one_and_update(
                {"_id": COUNTER},
                {"$inc": {"position": len(events)}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if counter is None:
                raise ServiceUnavailable(
                    "the event store's position counter is missing; appends are refused "
                    "until an operator restores the 'counters' document",
                    {"event_store": "position counter missing"},
                )
            first = counter["position"] - len(events) + 1
            appended = [
                recorded(event, stream_id, expected_version + offset + 1, first + offset)
                for offset, event in enumerate(events)
            ]
            self._events.insert_many(list(map(_document, appended)), ordered=True, session=session)
            return appended

        try:
            return self.transactions.run(append_in)
        except (BulkWriteError, DuplicateKeyError) as error:
            # A racing writer committed first and this transaction wrote nothing. Which unique
            # key it hit is read from the store, not from the error's wording.
            stored = self.get_events(ids)
            if stored:
                return self._replayed(stream_id, events, stored)
            current = self.stream_version(stream_id)
            if current != expected_version:
                raise ConcurrencyConflict(
                    f"stream {stream_id!r} is at version {current}, not {expected_version}",
                    {"expected_version": expected_version, "actual_version": current},
                ) from error
            self._refusal = ServiceUnavailable(
                "the event store's position counter handed out a position that is taken; "
                "appends are refused until an operator repairs the 'counters' document",
                {"event_store": "position counter behind the events"},
            )
            raise self._refusal from error

    def get_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        with self.transactions.reading() as session:
            return {
                doc["event_id"]: _recorded(doc)
                for doc in self._events.find(
                    {"event_id": {"$in": list(event_ids)}}, session=session
                )
            }

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        with self.transactions.reading() as session:
            cursor = self._events.find(
                {"stream_id": stream_id, "stream_version": {"$gt": after_version}},
                session=session,
            ).sort("stream_version", ASCENDING)
            return [_recorded(doc) for doc in cursor]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        with self.transactions.reading() as session:
            cursor = (
                self._events.find({"_id": {"$gt": after_position}}, session=session)
                .sort("_id", ASCENDING)
                .limit(limit)
            )
            return [_recorded(doc) for doc in cursor]

    def stream_version(self, stream_id: str) -> int:
        with self.transactions.reading() as session:
            return self._version(stream_id, session)

    def head_position(self) -> int:
        with self.transactions.reading() as session:
            return self._head(session)

    def get_checkpoint(self, name: str) -> int:
        with self.transactions.reading() as session:
            document = self._checkpoints.find_one({"_id": name}, session=session)
        return document["position"] if document else 0

    def save_checkpoint(self, name: str, expected: int, position: int) -> None:
        with self.transactions.bounded():
            try:
                saved = self._checkpoints.update_one(
                    {"_id": name, "position": expected},
                    {"$set": {"position": position}},
                    upsert=expected == 0,
                )
                if saved.matched_count or saved.upserted_id is not None:
                    return
            except DuplicateKeyError:
                pass  # expected 0, but the checkpoint exists
            actual = self.get_checkpoint(name)
        if actual != position:
            raise CheckpointMismatch(name, expected, actual)

    def close(self) -> None:
        self._client.close()
