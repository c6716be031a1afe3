"""The outbox on MongoDB (the production backend), in the event store's database: e-mails in
``notifications_outbox`` keyed ``<event id>:<contact id>``, the checkpoint and the lease as
two documents of ``notifications_state``. The lease is MongoDB's usual one: a conditional
upsert on a document with an expiry, which a second holder's attempt meets as a duplicate
key. A record is one multi-document transaction (the event store's
:class:`~kernel.eventstore.mongo.Transactions`, with its deadline and retries) that checks the
lease and the checkpoint inside it. Lease times are the holders' clocks: copies on several
machines need clocks in step to well within the lease's 5 s."""

from __future__ import annotations

from typing import Any

from bson import Binary
from pymongo import ASCENDING

from kernel.eventstore.mongo import Transactions
from kernel.lease import hold_in_mongo, holder_in_mongo
from services.notifications.outbox import (
    CheckpointMoved,
    LeaseLost,
    Mail,
    Outbox,
    PendingMail,
)

LEASE, CHECKPOINT = "lease", "checkpoint"


class MongoOutbox(Outbox):
    def __init__(self, client: Any, database: str, deadline: float):
        self._client = client
        self._transactions = Transactions(client, deadline)
        self._transactions.check_server()
        db = client[database]
        self._mails = db["notifications_outbox"]
        self._state = db["notifications_state"]
        with self._transactions.bounded():
            self._mails.create_index(
                [("state", ASCENDING), ("next_attempt_at", ASCENDING), ("position", ASCENDING)]
            )

    def close(self) -> None:
        self._client.close()

    # the lease ----------------------------------------------------------------------------

    def hold_lease(self, holder: str, now: float, ttl: float) -> bool:
        with self._transactions.bounded():
            return hold_in_mongo(self._state, LEASE, holder, now, ttl)

    def release_lease(self, holder: str) -> None:
        with self._transactions.bounded():
            self._state.delete_one({"_id": LEASE, "holder": holder})

    def lease_holder(self, now: float) -> str | None:
        with self._transactions.bounded():
            return holder_in_mongo(self._state, LEASE, now)

    # deciding -----------------------------------------------------------------------------

    def checkpoint(self) -> int | None:
        with self._transactions.bounded():
            document = self._state.find_one({"_id": CHECKPOINT})
        return document["position"] if document else None

    def record(
        self, holder: str, now: float, expected: int | None, position: int, mails: list[Mail]
    ) -> None:
        def work(session: Any) -> None:
            if holder_in_mongo(self._state, LEASE, now, session) != holder:
                raise LeaseLost(f"the sender's lease is not {holder}'s")
            current = self._state.find_one({"_id": CHECKPOINT}, session=session)
            if (current["position"] if current else None) != expected:
                raise CheckpointMoved(f"the checkpoint is not at {expected}")
            for mail in mails:
                self._mails.update_one(*_insert(mail), upsert=True, session=session)
            self._state.update_one(
                {"_id": CHECKPOINT}, {"$set": {"position": position}}, upsert=True, session=session
            )

        self._transactions.run(work)

    # sending ------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[PendingMail]:
        with self._transactions.bounded():
            found = (
                self._mails.find({"state": "pending", "next_attempt_at": {"$lte": now}})
                .sort([("position", ASCENDING), ("contact_id", ASCENDING)])
                .limit(limit)
            )
            return [
                PendingMail(
                    d["event_id"],
                    d["contact_id"],
                    d["message_id"],
                    d["recipient"],
                    bytes(d["message"]),
                    d["attempts"],
                )
                for d in found
            ]

    def mark_sent(self, mail: PendingMail) -> None:
        self._update(mail, {"state": "sent", "last_error": None})

    def mark_rejected(self, mail: PendingMail, error: str) -> None:
        self._update(mail, {"state": "rejected", "last_error": error})

    def retry_later(self, mail: PendingMail, at: float, error: str) -> None:
        self._update(mail, {"next_attempt_at": at, "last_error": error}, pending_only=True)

    def _update(self, mail: PendingMail, changes: dict, pending_only: bool = False) -> None:
        query: dict[str, Any] = {"_id": _key(mail.event_id, mail.contact_id)}
        if pending_only:
            query["state"] = "pending"
        with self._transactions.bounded():
            self._mails.update_one(query, {"$set": changes, "$inc": {"attempts": 1}})

    def counts(self) -> dict[str, int]:
        with self._transactions.bounded():
            return {
                state: self._mails.count_documents({"state": state})
                for state in ("pending", "sent", "rejected")
            }


def _key(event_id: str, contact_id: str) -> str:
    return f"{event_id}:{contact_id}"


def _insert(mail: Mail) -> tuple[dict, dict]:
    """The filter and upsert of an e-mail: one recorded before keeps its state."""
    return (
        {"_id": _key(mail.event_id, mail.contact_id)},
        {
            "$setOnInsert": {
                "event_id": mail.event_id,
                "contact_id": mail.contact_id,
                "position": mail.position,
                "message_id": mail.message_id,
                "recipient": mail.recipient,
                "message": Binary(mail.message),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": 0.0,
                "last_error": None,
            }
        },
    )
