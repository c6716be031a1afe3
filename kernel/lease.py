"""A lease: one record naming its holder and when it expires, taken or renewed by a
conditional write in the store the work itself writes to. It is how copies of a service
agree which one does the one-at-a-time work (sending e-mail, committing a projection)
with what SQLite and MongoDB already give, and no coordinator. Times are the holders' wall
clocks, so copies on several machines need their clocks in step.

Each function runs on what the caller passes: an SQLite connection inside its write
transaction, a MongoDB collection (with the caller's session when inside a transaction).
"""

from __future__ import annotations

import sqlite3
from typing import Any

SQLITE_LEASE_TABLE = (
    "CREATE TABLE IF NOT EXISTS lease "
    "(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);"
)


def hold_in_sqlite(db: sqlite3.Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take the lease ``name`` for ``holder`` or renew it, for ``ttl`` seconds from ``now``;
    False while another holder's lease runs. ``db`` is inside a write transaction."""
    current = holder_in_sqlite(db, name, now)
    if current is not None and current != holder:
        return False
    db.execute(
        "INSERT INTO lease (name, holder, expires) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires",
        (name, holder, now + ttl),
    )
    return True


def holder_in_sqlite(db: sqlite3.Connection, name: str, now: float) -> str | None:
    """Who holds the lease ``name`` at ``now``, if anyone."""
    row = db.execute("SELECT holder, expires FROM lease WHERE name = ?", (name,)).fetchone()
    return row[0] if row is not None and row[1] > now else None


def hold_in_mongo(collection: Any, lease_id: str, holder: str, now: float, ttl: float) -> bool:
    """As :func:`hold_in_sqlite`: one conditional upsert, which a lease held by another and
    not expired turns into a duplicate key."""
    from pymongo.errors import DuplicateKeyError  # only where MongoDB is used

    try:
        collection.update_one(
            {"_id": lease_id, "$or": [{"holder": holder}, {"expires": {"$lte": now}}]},
            {"$set": {"holder": holder, "expires": now + ttl}},
            upsert=True,
        )
    except DuplicateKeyError:
        return False
    return True


def holder_in_mongo(collection: Any, lease_id: str, now: float, session: Any = None) -> str | None:
    lease = collection.find_one({"_id": lease_id}, session=session)
    return lease["holder"] if lease is not None and lease["expires"] > now else None
