"""The outbox on SQLite in ``PORTAL_DATA_DIR`` (the embedded backend): WAL,
``synchronous=FULL``, ``BEGIN IMMEDIATE`` for every change, so the copies of the service on
one machine share it. The lease is a row with a holder and an expiry."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kernel.lease import SQLITE_LEASE_TABLE, hold_in_sqlite, holder_in_sqlite
from services.notifications.outbox import (
    CheckpointMoved,
    LeaseLost,
    Mail,
    Outbox,
    PendingMail,
)

LEASE = "sender"  # the lease of the copy that decides and sends

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (event_id, contact_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, next_attempt_at, position);
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER);
"""
    + SQLITE_LEASE_TABLE
)


class SqliteOutbox(Outbox):
    def __init__(self, path: Path, busy_timeout: float = 5.0):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _write(self):
        return _Transaction(self._db, self._lock)

    # the lease ----------------------------------------------------------------------------

    def hold_lease(self, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the lease for ``ttl`` seconds: true when ``holder`` has it now."""
        with self._write() as db:
            return hold_in_sqlite(db, LEASE, holder, now, ttl)

    def release_lease(self, holder: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM lease WHERE name = ? AND holder = ?", (LEASE, holder))

    def lease_holder(self, now: float) -> str | None:
        return holder_in_sqlite(self._db, LEASE, now)

    # deciding -----------------------------------------------------------------------------

    def checkpoint(self) -> int | None:
        row = self._db.execute("SELECT position FROM checkpoint WHERE id = 1").fetchone()
        return row[0] if row else None

    def record(
        self, holder: str, now: float, expected: int | None, position: int, mails: list[Mail]
    ) -> None:
        """Record ``mails`` as pending and move the checkpoint from ``expected`` to
        ``position``, in one transaction, while ``holder`` holds the lease."""
        with self._write() as db:
            if holder_in_sqlite(db, LEASE, now) != holder:
                raise LeaseLost(f"the sender's lease is not {holder}'s")
            current = db.execute("SELECT position FROM checkpoint WHERE id = 1").fetchone()
            if (current[0] if current else None) != expected:
                raise CheckpointMoved(f"the checkpoint is not at {expected}")
            db.executemany(
                "INSERT OR IGNORE INTO outbox "
                "(event_id, contact_id, position, message_id, recipient, message) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (m.event_id, m.contact_id, m.position, m.message_id, m.recipient, m.message)
                    for m in mails
                ],
            )
            db.execute(
                "INSERT INTO checkpoint (id, position) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                (position,),
            )

    # sending ------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[PendingMail]:
        """Pending mail whose next attempt is due, oldest change first."""
        rows = self._db.execute(
            "SELECT event_id, contact_id, message_id, recipient, message, attempts FROM outbox "
            "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY position, contact_id "
            "LIMIT ?",
            (now, limit),
        ).fetchall()
        return [PendingMail(*row) for row in rows]

    def mark_sent(self, mail: PendingMail) -> None:
        self._finish(mail, "sent", None)

    def mark_rejected(self, mail: PendingMail, error: str) -> None:
        """The SMTP server refused the message for good (a 5xx): it is never tried again."""
        self._finish(mail, "rejected", error)

    def _finish(self, mail: PendingMail, state: str, error: str | None) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ? "
                "WHERE event_id = ? AND contact_id = ?",
                (state, error, mail.event_id, mail.contact_id),
            )

    def retry_later(self, mail: PendingMail, at: float, error: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE event_id = ? AND contact_id = ? AND state = 'pending'",
                (at, error, mail.event_id, mail.contact_id),
            )

    def counts(self) -> dict[str, int]:
        """How many e-mails are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        return {"pending": 0, "sent": 0, "rejected": 0, **dict(rows)}


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an error), one at a time."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self._db, self._lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, kind, _value, _traceback) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()
