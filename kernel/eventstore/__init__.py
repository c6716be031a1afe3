"""The append-only event store: one interface (:class:`EventStore`), two backends.

:func:`open_event_store` picks the backend from configuration: MongoDB when ``MONGO_URI`` is
set, the embedded SQLite store under ``PORTAL_DATA_DIR`` otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.eventstore.base import EventStore

EVENTS_FILE = "events.sqlite3"


def store_deadline(config: dict[str, Any]) -> float:
    """How long one store call may take: well inside the RPC timeout of the caller, so a
    slow store answers a clear 503 before the caller gives up on the whole request."""
    return 0.6 * float(config.get("RPC_TIMEOUT") or 5)


def open_event_store(config: dict[str, Any], writer: str | None = None) -> EventStore:
    mongo_uri = config.get("MONGO_URI")
    if mongo_uri:
        import pymongo

        from kernel.eventstore.mongo import MongoEventStore

        deadline = store_deadline(config)
        client = pymongo.MongoClient(
            mongo_uri,
            tz_aware=True,
            timeoutMS=int(deadline * 1000),
            serverSelectionTimeoutMS=int(deadline * 1000),
        )
        return MongoEventStore(
            client, config.get("MONGO_DATABASE") or "portal", writer=writer, deadline=deadline
        )

    from kernel.eventstore.sqlite import SqliteEventStore

    return SqliteEventStore(
        Path(config.get("PORTAL_DATA_DIR") or "var/data") / EVENTS_FILE,
        writer,
        busy_timeout=store_deadline(config),
    )


__all__ = ["EVENTS_FILE", "EventStore", "open_event_store", "store_deadline"]
