"""The notifications service's own storage: the outbox of e-mails, the position of the
event store it has decided mail up to, and the sender's lease. One interface, two backends:
SQLite beside the embedded event store (``outbox_sqlite.py``), MongoDB beside the MongoDB
one (``outbox_mongo.py``); :func:`open_outbox` picks as the event store does.

* An e-mail is recorded as *pending* under its key, (event id, contact id), in the same
  transaction that moves the checkpoint past its event; the checkpoint moves by
  compare-and-set, so an event's mail is decided and recorded once, however many copies
  follow the store.
* Only the holder of the lease records and sends; the lease has an expiry that its holder
  renews, and a copy takes it over once it has expired (its holder died or hung). Every
  record is made only while the lease is held (fencing), so a holder that lost it cannot
  move the checkpoint.
* A message is stored as the exact bytes to send, so every attempt sends the same message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUTBOX_FILE = "notifications.sqlite3"


class LeaseLost(RuntimeError):
    """Another copy holds the sender's lease now: this one must stop recording and sending."""


class CheckpointMoved(RuntimeError):
    """The checkpoint is not where this copy read it: someone else recorded meanwhile."""


@dataclass(frozen=True, slots=True)
class Mail:
    """An e-mail to record: its key, the store position of its event, and the bytes."""

    event_id: str
    contact_id: str
    position: int
    message_id: str
    recipient: str
    message: bytes


@dataclass(frozen=True, slots=True)
class PendingMail:
    event_id: str
    contact_id: str
    message_id: str
    recipient: str
    message: bytes
    attempts: int


class Outbox(ABC):
    """What the notifier needs of its storage; both backends pass one test suite
    (``tests/unit/test_notification_outbox.py``)."""

    @abstractmethod
    def hold_lease(self, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the lease for ``ttl`` seconds: true when ``holder`` has it now."""

    @abstractmethod
    def release_lease(self, holder: str) -> None: ...

    @abstractmethod
    def lease_holder(self, now: float) -> str | None: ...

    @abstractmethod
    def checkpoint(self) -> int | None:
        """The store position e-mail is decided up to; ``None`` for a new outbox."""

    @abstractmethod
    def record(
        self, holder: str, now: float, expected: int | None, position: int, mails: list[Mail]
    ) -> None:
        """Record ``mails`` as pending (a key recorded before is left as it is) and move the
        checkpoint from ``expected`` (``None``: there is none yet) to ``position``, in one
        transaction, while ``holder`` holds the lease: :class:`LeaseLost` or
        :class:`CheckpointMoved` otherwise."""

    @abstractmethod
    def due(self, now: float, limit: int = 100) -> list[PendingMail]:
        """Pending mail whose next attempt is due, oldest change first."""

    @abstractmethod
    def mark_sent(self, mail: PendingMail) -> None: ...

    @abstractmethod
    def mark_rejected(self, mail: PendingMail, error: str) -> None:
        """The SMTP server refused the message for good (a 5xx): it is never tried again."""

    @abstractmethod
    def retry_later(self, mail: PendingMail, at: float, error: str) -> None: ...

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """How many e-mails are in each state."""

    @abstractmethod
    def close(self) -> None: ...


def open_outbox(config: dict[str, Any]) -> Outbox:
    """MongoDB when ``MONGO_URI`` is set, else SQLite under ``PORTAL_DATA_DIR``."""
    if config.get("MONGO_URI"):
        import pymongo

        from kernel.eventstore import store_deadline
        from services.notifications.outbox_mongo import MongoOutbox

        deadline = store_deadline(config)
        client = pymongo.MongoClient(
            config["MONGO_URI"],
            tz_aware=True,
            timeoutMS=int(deadline * 1000),
            serverSelectionTimeoutMS=int(deadline * 1000),
        )
        return MongoOutbox(client, config.get("MONGO_DATABASE") or "portal", deadline)

    from services.notifications.outbox_sqlite import SqliteOutbox

    return SqliteOutbox(Path(config.get("PORTAL_DATA_DIR") or "var/data") / OUTBOX_FILE)
