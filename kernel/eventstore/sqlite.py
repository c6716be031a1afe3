"""Embedded event store on SQLite: no server, durable on disk, safe for many processes.

Why it is safe for concurrent writers in several processes: every append runs in a
``BEGIN IMMEDIATE`` transaction, which takes SQLite's single write lock before it reads the
stream version and the last position. Positions are therefore handed out in commit order,
and a reader following positions can never pass an event that commits later.

Durability: WAL journal with ``synchronous=FULL`` (an acknowledged append survives power
loss). Triggers keep the log append-only even for hand-written SQL from any connection with
default settings: ``UPDATE`` and ``DELETE`` are refused, and so is an insert that would
displace a stored event (``REPLACE``, ``INSERT OR REPLACE``, an upsert), whose implicit delete
fires no delete trigger.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from kernel.contracts.envelope import ENVELOPE_FIELDS, NewEvent, RecordedEvent, recorded
from kernel.errors import ConcurrencyConflict, ServiceUnavailable
from kernel.eventstore.base import CheckpointMismatch, EventStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    correlation_id TEXT,
    causation_id TEXT,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE TRIGGER IF NOT EXISTS events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_never_replaced BEFORE INSERT ON events
WHEN EXISTS (
    SELECT 1 FROM events WHERE position = NEW.position OR event_id = NEW.event_id
    OR (stream_id = NEW.stream_id AND stream_version = NEW.stream_version)
)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""

COLUMNS = ", ".join(ENVELOPE_FIELDS)


INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"  # noqa: S608

# The stream's version and the store's last position, in one statement.
HEADS = (
    "SELECT (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?), "
    "(SELECT COALESCE(MAX(position), 0) FROM events)"
)

# One encoder for every append: json.dumps with non-default arguments builds one per call.
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _encode(value: dict) -> str:
    return _compact_json(value) if value else "{}"


def _with_retry(operation, attempts: int = 50) -> None:
    """Run a schema statement that may meet another process creating the same file."""
    for attempt in range(attempts):
        try:
            operation()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class SqliteEventStore(EventStore):
    def __init__(self, path: str | Path, writer: str | None = None, busy_timeout: float = 10.0):
        """``busy_timeout``: how long an append waits for another process's write lock."""
        super().__init__(writer)
        self.busy_timeout = busy_timeout
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        _with_retry(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
        self._db.execute("PRAGMA synchronous=FULL")
        _with_retry(lambda: self._db.executescript(SCHEMA))

    def _append(
        self, stream_id: str, events: list[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        """Insert first; the stored ids are looked up only when the version is stale or the
        unique event id refuses a row, which is when an append may be a retry."""
        db = self._db
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                # Another process held the write lock for the whole busy timeout.
                raise ServiceUnavailable(
                    f"the event store stayed locked for {self.busy_timeout:g} s; nothing was "
                    "written",
                    {"event_store": "locked"},
                ) from error
            try:
                current, last = db.execute(HEADS, (stream_id,)).fetchone()
                if current != expected_version:
                    db.execute("ROLLBACK")
                    replayed = self._retried(stream_id, events)
                    if replayed is None:
                        raise ConcurrencyConflict(
                            f"stream {stream_id!r} is at version {current}, not {expected_version}",
                            {"expected_version": expected_version, "actual_version": current},
                        )
                    return replayed
                rows = [
                    recorded(event, stream_id, expected_version + offset, last + offset)._replace(
                        raw_payload=_encode(event.payload), raw_metadata=_encode(event.metadata)
                    )
                    for offset, event in enumerate(events, start=1)
                ]
                try:
                    db.executemany(INSERT, rows)
                except sqlite3.IntegrityError:
                    # Rolled back first: the lookup would also find the rows this append
                    # inserted before the refused one.
                    db.execute("ROLLBACK")
                    replayed = self._retried(stream_id, events)
                    if replayed is None:
                        raise
                    return replayed
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return rows

    def _retried(self, stream_id: str, events: list[NewEvent]) -> list[RecordedEvent] | None:
        """Outside a transaction: the stored events if some of these ids are stored (a
        retry; a partial one raises), else None."""
        stored = self._get_events([event.event_id for event in events])
        return self._replayed(stream_id, events, stored) if stored else None

    def _get_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        marks = ",".join("?" * len(event_ids))
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM events WHERE event_id IN ({marks})",  # noqa: S608 - constants
            list(event_ids),
        ).fetchall()
        return {row[1]: RecordedEvent._make(row) for row in rows}

    def get_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        if not event_ids:
            return {}
        with self._lock:
            return self._get_events(event_ids)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? "  # noqa: S608
                "ORDER BY stream_version",
                (stream_id, after_version),
            ).fetchall()
        return list(map(RecordedEvent._make, rows))

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",  # noqa: S608
                (after_position, limit),
            ).fetchall()
        return list(map(RecordedEvent._make, rows))

    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?",
                (stream_id,),
            ).fetchone()[0]

    def head_position(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]

    def get_checkpoint(self, name: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM checkpoints WHERE name = ?", (name,)
            ).fetchone()
        return row[0] if row else 0

    def save_checkpoint(self, name: str, expected: int, position: int) -> None:
        with self._lock:
            if expected == 0:
                saved = self._db.execute(
                    "INSERT INTO checkpoints (name, position) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET position = excluded.position "
                    "WHERE checkpoints.position = 0",
                    (name, position),
                )
            else:
                saved = self._db.execute(
                    "UPDATE checkpoints SET position = ? WHERE name = ? AND position = ?",
                    (position, name, expected),
                )
            if saved.rowcount == 1:
                return
            row = self._db.execute(
                "SELECT position FROM checkpoints WHERE name = ?", (name,)
            ).fetchone()
        actual = row[0] if row else 0
        if actual != position:
            raise CheckpointMismatch(name, expected, actual)

    def close(self) -> None:
        with self._lock:
            self._db.close()
