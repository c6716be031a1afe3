"""Projection storage: generations of documents with their checkpoint, on the store's
backends (embedded SQLite beside the event store, or MongoDB).

* A *generation* is one complete projection: its documents (``(kind, key)`` -> body), its
  parked events, its checkpoint and a revision.
  A pointer in a meta table/collection names the current one; a rebuild fills a fresh
  generation and switches the pointer in one transaction.
* Exactly-once effect (eventsourcing's tracking records): :meth:`commit` writes document
  changes, parked events and the new checkpoint in one transaction, and only if the
  generation's revision is still the one the writer loaded (compare-and-set). A writer
  that lost the race gets :class:`StaleProjection` and reloads; it never half-applies or
  double-applies anything.
* A document is its ``(kind, key)`` and body, nothing else. Generations written when
  documents also carried their company (a SQLite column, a MongoDB field and index, never
  read) load and take commits as they are: reads never named it and writes leave it empty,
  so no format change and no rebuild is needed.
* One writer among copies: every portal_query copy follows the store into its own memory,
  but only the holder of the *writer lease* (a record with an expiry, taken or renewed by
  compare-and-set: the MongoDB way of one-at-a-time work) commits. Copies that all committed
  would each see the others' revisions as a move under them and reload again and again.
* A backend whose transactions have limits says so (:class:`CommitLimits`); the projector
  then commits as soon as the changes pending reach one, each batch still with its
  checkpoint, instead of letting one commit grow with the number of events it covers.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernel.config import own_partition, partition_count
from kernel.lease import SQLITE_LEASE_TABLE, hold_in_mongo, hold_in_sqlite
from services.portal_query.documents import Document
from services.portal_query.read_model import DocumentKey

PROJECTIONS_FILE = "projections.sqlite3"
StoredDocument = tuple[str, str, dict[str, Any]]  # (kind, key, body)


class StaleProjection(Exception):
    """The generation changed under this writer (another writer committed, or a rebuild
    switched generations): reload before writing again."""


@dataclass(frozen=True, slots=True)
class GenerationState:
    generation: int
    checkpoint: int
    revision: int


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """An event whose handler kept failing, or that waits behind one of its stream."""

    position: int
    event_id: str
    stream_id: str
    type: str
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class CommitLimits:
    """What one commit should carry at most: documents written or deleted, and their bytes
    (``None``: no limit). A commit is made once the pending changes reach a limit, so it
    may pass it by the changes of one event (at most a part and its conversation)."""

    documents: int | None = None
    bytes: int | None = None


# MongoDB: a transaction must finish within 60 s (transactionLifetimeLimitSeconds) and fit in
# the server's cache; 1,000 documents and 4 MiB stay far inside both, and inside the 16 MB
# that a single oplog entry may hold.
MONGO_COMMIT_LIMITS = CommitLimits(documents=1_000, bytes=4 * 1024 * 1024)

# One encoder for every document: ``json.dumps`` with options builds a new one per call.
encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class ProjectionStorage(ABC):
    """Generations of projection documents; one implementation per backend."""

    commit_limits = CommitLimits()

    @abstractmethod
    def current(self) -> GenerationState | None:
        """The generation the pointer names, or ``None`` before the first one."""

    @abstractmethod
    def state(self, generation: int) -> GenerationState: ...

    @abstractmethod
    def generations(self) -> list[int]: ...

    @abstractmethod
    def create_generation(self) -> int:
        """A new, empty generation (not current until :meth:`switch`)."""

    @abstractmethod
    def switch(self, generation: int) -> None:
        """Point at ``generation``; drop every other generation but the previous one."""

    @abstractmethod
    def documents(self, generation: int, batch_size: int = 2000) -> Iterator[list[StoredDocument]]:
        """Every document of ``generation``, in batches, ordered by kind and key."""

    @abstractmethod
    def parked(self, generation: int) -> list[ParkedEvent]:
        """The generation's parked events, by position."""

    def snapshot(
        self, generation: int, batch_size: int = 2000
    ) -> tuple[GenerationState, list[ParkedEvent], Iterator[list[StoredDocument]]] | None:
        """The generation's state, parked events and documents as of one moment (a copy
        loading while another one commits would otherwise read them at different ones);
        ``None`` when the backend cannot, and the reader checks the state afterwards."""
        return None

    @abstractmethod
    def commit(
        self,
        generation: int,
        expected_revision: int,
        checkpoint: int,
        changes: Mapping[DocumentKey, Document | None],
        parked: Sequence[ParkedEvent] = (),
        unparked: Sequence[int] = (),
        must_be_current: bool = True,
    ) -> int:
        """Write ``changes`` (``None``: delete), parked and unparked events and the
        checkpoint atomically; return the new revision. :class:`StaleProjection` when
        the revision moved on (or the generation is no longer current)."""

    @abstractmethod
    def hold_lease(self, holder: str, seconds: float, now: float | None = None) -> bool:
        """Take the writer lease for ``holder`` or renew it, for ``seconds`` from ``now``
        (wall clock); False while another holder's lease runs."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""


# SQLite -------------------------------------------------------------------------------------

SQLITE_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS projection_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS projection_generations (
    generation INTEGER PRIMARY KEY,
    checkpoint INTEGER NOT NULL,
    revision INTEGER NOT NULL
);
"""
    + SQLITE_LEASE_TABLE
)


def _tables(generation: int) -> tuple[str, str]:
    """Table names of one generation (built from an int, never from input)."""
    return f"documents_{int(generation)}", f"parked_{int(generation)}"


class SqliteProjectionStorage(ProjectionStorage):
    """Projections in their own SQLite file beside ``events.sqlite3``. WAL with
    ``synchronous=NORMAL``: a projection can always be rebuilt from the store, and the
    document/checkpoint pair stays consistent either way."""

    def __init__(self, path: str | Path, busy_timeout: float = 10.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.executescript(SQLITE_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _state(self, db: sqlite3.Connection, generation: int) -> GenerationState | None:
        row = db.execute(
            "SELECT generation, checkpoint, revision FROM projection_generations "
            "WHERE generation = ?",
            (generation,),
        ).fetchone()
        return GenerationState(*row) if row else None

    def _pointer(self, db: sqlite3.Connection) -> int | None:
        row = db.execute("SELECT value FROM projection_meta WHERE name = 'current'").fetchone()
        return row[0] if row else None

    def current(self) -> GenerationState | None:
        with self._lock:
            pointer = self._pointer(self._db)
            return None if pointer is None else self._state(self._db, pointer)

    def state(self, generation: int) -> GenerationState:
        with self._lock:
            state = self._state(self._db, generation)
        if state is None:
            raise StaleProjection(f"generation {generation} does not exist")
        return state

    def generations(self) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT generation FROM projection_generations ORDER BY generation"
            ).fetchall()
        return [row[0] for row in rows]

    def create_generation(self) -> int:
        with self._transaction() as db:
            generation = db.execute(
                "SELECT COALESCE(MAX(generation), 0) + 1 FROM projection_generations"
            ).fetchone()[0]
            documents, parked = _tables(generation)
            db.execute(
                f"CREATE TABLE {documents} (kind TEXT NOT NULL, key TEXT NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (kind, key))"
            )
            db.execute(
                f"CREATE TABLE {parked} (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, "
                "stream_id TEXT NOT NULL, type TEXT NOT NULL, error TEXT NOT NULL, "
                "attempts INTEGER NOT NULL)"
            )
            db.execute(
                "INSERT INTO projection_generations (generation, checkpoint, revision) "
                "VALUES (?, 0, 0)",
                (generation,),
            )
        return generation

    def switch(self, generation: int) -> None:
        with self._transaction() as db:
            if self._state(db, generation) is None:
                raise StaleProjection(f"generation {generation} does not exist")
            previous = self._pointer(db)
            db.execute(
                "INSERT INTO projection_meta (name, value) VALUES ('current', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (generation,),
            )
            for (old,) in db.execute(
                "SELECT generation FROM projection_generations WHERE generation NOT IN (?, ?)",
                (generation, previous if previous is not None else generation),
            ).fetchall():
                for table in _tables(old):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute("DELETE FROM projection_generations WHERE generation = ?", (old,))

    def hold_lease(self, holder: str, seconds: float, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._transaction() as db:
            return hold_in_sqlite(db, "writer", holder, now, seconds)

    def documents(self, generation: int, batch_size: int = 2000) -> Iterator[list[StoredDocument]]:
        # A connection of its own: the caller may yield to other greenthreads between
        # batches, and they may commit on the main connection meanwhile.
        db = self._connect()
        try:
            db.execute("BEGIN")
            cursor = db.execute(
                f"SELECT kind, key, body FROM {_tables(generation)[0]} ORDER BY kind, key"  # noqa: S608
            )
            while rows := cursor.fetchmany(batch_size):
                yield [(kind, key, json.loads(body)) for kind, key, body in rows]
            db.execute("COMMIT")
        finally:
            db.close()

    def parked(self, generation: int) -> list[ParkedEvent]:
        with self._lock:
            return self._parked(self._db, generation)

    @staticmethod
    def _parked(db: sqlite3.Connection, generation: int) -> list[ParkedEvent]:
        table = _tables(generation)[1]
        rows = db.execute(
            f"SELECT position, event_id, stream_id, type, error, attempts FROM {table} "  # noqa: S608
            "ORDER BY position"
        ).fetchall()
        return [ParkedEvent(*row) for row in rows]

    def snapshot(
        self, generation: int, batch_size: int = 2000
    ) -> tuple[GenerationState, list[ParkedEvent], Iterator[list[StoredDocument]]]:
        # One read transaction on a connection of its own: WAL keeps its snapshot while
        # writers commit, however long the caller takes between batches.
        db = self._connect()
        db.execute("BEGIN")
        state = self._state(db, generation)
        if state is None:
            db.close()
            raise StaleProjection(f"generation {generation} does not exist")

        def batches() -> Iterator[list[StoredDocument]]:
            try:
                cursor = db.execute(
                    f"SELECT kind, key, body FROM {_tables(generation)[0]} ORDER BY kind, key"  # noqa: S608
                )
                while rows := cursor.fetchmany(batch_size):
                    yield [(kind, key, json.loads(body)) for kind, key, body in rows]
                db.execute("COMMIT")
            finally:
                db.close()

        return state, self._parked(db, generation), batches()

    def commit(
        self,
        generation: int,
        expected_revision: int,
        checkpoint: int,
        changes: Mapping[DocumentKey, Document | None],
        parked: Sequence[ParkedEvent] = (),
        unparked: Sequence[int] = (),
        must_be_current: bool = True,
    ) -> int:
        documents, parked_table = _tables(generation)
        with self._transaction() as db:
            state = self._state(db, generation)
            if state is None or state.revision != expected_revision:
                raise StaleProjection(f"generation {generation} moved past {expected_revision}")
            if must_be_current and self._pointer(db) != generation:
                raise StaleProjection(f"generation {generation} is no longer current")
            upserts = [
                (kind, key, encode(document))
                for (kind, key), document in changes.items()
                if document is not None
            ]
            deletes = [key for key, document in changes.items() if document is None]
            db.executemany(
                f"INSERT INTO {documents} (kind, key, body) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                upserts,
            )
            db.executemany(f"DELETE FROM {documents} WHERE kind = ? AND key = ?", deletes)  # noqa: S608
            db.executemany(
                f"INSERT OR REPLACE INTO {parked_table} "  # noqa: S608
                "(position, event_id, stream_id, type, error, attempts) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (p.position, p.event_id, p.stream_id, p.type, p.error, p.attempts)
                    for p in parked
                ],
            )
            db.executemany(
                f"DELETE FROM {parked_table} WHERE position = ?",  # noqa: S608
                [(position,) for position in unparked],
            )
            db.execute(
                "UPDATE projection_generations SET checkpoint = ?, revision = revision + 1 "
                "WHERE generation = ?",
                (max(checkpoint, state.checkpoint), generation),
            )
        return expected_revision + 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


# MongoDB ------------------------------------------------------------------------------------


class MongoProjectionStorage(ProjectionStorage):
    """Projections in MongoDB: ``projection_meta`` (the pointer), ``projection_generations``
    (checkpoint and revision) and per generation ``projection_<n>_documents`` and
    ``projection_<n>_parked``. A commit is one multi-document transaction, kept within
    ``commit_limits`` and run like the event store's (:class:`Transactions`: a replica set
    is required, transient errors are retried with backoff, and each commit is bounded by
    ``deadline``)."""

    def __init__(
        self,
        client: Any,
        database: str = "portal",
        commit_limits: CommitLimits = MONGO_COMMIT_LIMITS,
        deadline: float = 3.0,
    ):
        from kernel.eventstore.mongo import READ_CONCERN, Transactions

        self._client = client
        self._transactions = Transactions(client, deadline)
        self._transactions.check_server()
        self.commit_limits = commit_limits
        self._concern = {
            "write_concern": self._transactions.write_concern,
            "read_concern": READ_CONCERN,
        }
        self._db = client[database]
        self._meta = self._db.get_collection("projection_meta", **self._concern)
        self._generations = self._db.get_collection("projection_generations", **self._concern)

    def _collections(self, generation: int) -> tuple[Any, Any]:
        prefix = f"projection_{int(generation)}"
        return (
            self._db.get_collection(f"{prefix}_documents", **self._concern),
            self._db.get_collection(f"{prefix}_parked", **self._concern),
        )

    def _in_transaction(self, work: Callable[[Any], Any]) -> Any:
        return self._transactions.run(work)

    @staticmethod
    def _as_state(document: dict | None) -> GenerationState | None:
        if document is None:
            return None
        return GenerationState(document["_id"], document["checkpoint"], document["revision"])

    def current(self) -> GenerationState | None:
        pointer = self._meta.find_one({"_id": "current"})
        if pointer is None:
            return None
        return self._as_state(self._generations.find_one({"_id": pointer["generation"]}))

    def state(self, generation: int) -> GenerationState:
        state = self._as_state(self._generations.find_one({"_id": generation}))
        if state is None:
            raise StaleProjection(f"generation {generation} does not exist")
        return state

    def generations(self) -> list[int]:
        return [doc["_id"] for doc in self._generations.find({}, {"_id": 1}).sort("_id", 1)]

    def create_generation(self) -> int:
        from pymongo.errors import DuplicateKeyError

        while True:
            last = self._generations.find_one({}, sort=[("_id", -1)])
            generation = (last["_id"] if last else 0) + 1
            try:
                self._generations.insert_one({"_id": generation, "checkpoint": 0, "revision": 0})
            except DuplicateKeyError:
                continue
            # Made here, outside any transaction (older servers cannot create one inside).
            self._collections(generation)[1].create_index("stream_id")
            return generation

    def switch(self, generation: int) -> None:
        def work(session: Any) -> int | None:
            if self._generations.find_one({"_id": generation}, session=session) is None:
                raise StaleProjection(f"generation {generation} does not exist")
            pointer = self._meta.find_one_and_update(
                {"_id": "current"},
                {"$set": {"generation": generation}},
                upsert=True,
                session=session,
            )
            return pointer["generation"] if pointer else None

        previous = self._in_transaction(work)
        keep = {generation, previous}
        for old in self.generations():
            if old not in keep:
                for collection in self._collections(old):
                    collection.drop()
                self._generations.delete_one({"_id": old})

    def documents(self, generation: int, batch_size: int = 2000) -> Iterator[list[StoredDocument]]:
        # ``_id`` is "kind:key": its own index gives the (kind, key) order without a sort.
        cursor = self._collections(generation)[0].find({}).sort("_id", 1)
        batch: list[StoredDocument] = []
        for document in cursor.batch_size(batch_size):
            batch.append((document["kind"], document["key"], document["body"]))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def parked(self, generation: int) -> list[ParkedEvent]:
        cursor = self._collections(generation)[1].find({}).sort("_id", 1)
        return [
            ParkedEvent(**{k: v for k, v in doc.items() if k != "_id"}, position=doc["_id"])
            for doc in cursor
        ]

    def commit(
        self,
        generation: int,
        expected_revision: int,
        checkpoint: int,
        changes: Mapping[DocumentKey, Document | None],
        parked: Sequence[ParkedEvent] = (),
        unparked: Sequence[int] = (),
        must_be_current: bool = True,
    ) -> int:
        documents, parked_collection = self._collections(generation)
        # Replace = delete then insert, as two bulk statements inside the transaction.
        changed_ids = [f"{kind}:{key}" for kind, key in changes]
        inserts = [
            {"_id": f"{kind}:{key}", "kind": kind, "key": key, "body": document}
            for (kind, key), document in changes.items()
            if document is not None
        ]
        parked_positions = [event.position for event in parked] + list(unparked)
        parked_inserts = [
            {"_id": event.position, **{k: v for k, v in asdict(event).items() if k != "position"}}
            for event in parked
        ]

        def work(session: Any) -> int:
            state = self._as_state(self._generations.find_one({"_id": generation}, session=session))
            if state is None or state.revision != expected_revision:
                raise StaleProjection(f"generation {generation} moved past {expected_revision}")
            if must_be_current:
                pointer = self._meta.find_one({"_id": "current"}, session=session)
                if pointer is None or pointer["generation"] != generation:
                    raise StaleProjection(f"generation {generation} is no longer current")
            if changed_ids:
                documents.delete_many({"_id": {"$in": changed_ids}}, session=session)
            if inserts:
                documents.insert_many(inserts, ordered=False, session=session)
            if parked_positions:
                parked_collection.delete_many({"_id": {"$in": parked_positions}}, session=session)
            if parked_inserts:
                parked_collection.insert_many(parked_inserts, ordered=False, session=session)
            moved = self._generations.update_one(
                {"_id": generation, "revision": expected_revision},
                {
                    "$set": {"checkpoint": max(checkpoint, state.checkpoint)},
                    "$inc": {"revision": 1},
                },
                session=session,
            )
            if moved.modified_count != 1:
                raise StaleProjection(f"generation {generation} moved past {expected_revision}")
            return expected_revision + 1

        return self._in_transaction(work)

    def hold_lease(self, holder: str, seconds: float, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return hold_in_mongo(self._meta, "writer_lease", holder, now, seconds)

    def close(self) -> None:
        self._client.close()


def open_projection_storage(config: Mapping[str, Any]) -> ProjectionStorage:
    """MongoDB when ``MONGO_URI`` is set, else SQLite under ``PORTAL_DATA_DIR``. Each
    partition of the read side (``PORTAL_PARTITION``, when ``PORTAL_PARTITIONS`` > 1) has
    storage of its own: ``projections_p1.sqlite3``, or the database ``<name>_p1``."""
    suffix = ""
    if partition_count(config) > 1:
        suffix = f"_p{own_partition(config)}"
    mongo_uri = config.get("MONGO_URI")
    if mongo_uri:
        import pymongo

        from kernel.eventstore import store_deadline

        deadline = store_deadline(config)
        # No client-wide timeoutMS: loading a generation's documents is one long cursor.
        client = pymongo.MongoClient(
            mongo_uri, tz_aware=True, serverSelectionTimeoutMS=int(deadline * 1000)
        )
        database = config.get("MONGO_DATABASE") or "portal"
        return MongoProjectionStorage(client, database + suffix, deadline=deadline)
    data_dir = Path(config.get("PORTAL_DATA_DIR") or "var/data")
    return SqliteProjectionStorage(data_dir / PROJECTIONS_FILE.replace(".", suffix + ".", 1))
