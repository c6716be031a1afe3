"""The append-only event store: one interface (:class:`EventStore`), two backends.

:func:`open_event_store` picks the backend from configuration: MongoDB when ``MONGO_URI`` is
set, the embedded SQLite store under ``PORTAL_DATA_DIR`` otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.eventstore.base import EventStore

EVENTS_FILE = "events.sqlite3"


def open_event_store(config: dict[str, Any], writer: str | None = None) -> EventStore:
    mongo_uri = config.get("MONGO_URI")
    if mongo_uri:
        import pymongo

        from kernel.eventstore.mongo import MongoEventStore

        client = pymongo.MongoClient(mongo_uri, tz_aware=True)
        return MongoEventStore(client, config.get("MONGO_DATABASE") or "portal", writer=writer)

    from kernel.eventstore.sqlite import SqliteEventStore

    return SqliteEventStore(Path(config.get("PORTAL_DATA_DIR") or "var/data") / EVENTS_FILE, writer)


__all__ = ["EVENTS_FILE", "EventStore", "open_event_store"]
