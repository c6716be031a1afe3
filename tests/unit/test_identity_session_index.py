"""The session index follows the real embedded store and knows a contact's live sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.eventstore.sqlite import SqliteEventStore
from services.identity.dependencies import SessionIndex

NOW = datetime.now(UTC)


@pytest.fixture
def store(tmp_path):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    yield store
    store.close()


def start(store, contact_id: str, expires_in: timedelta = timedelta(hours=1)) -> str:
    session_id = str(uuid.uuid4())
    payload = {
        "session_id": session_id,
        "contact_id": contact_id,
        "method": "user_hash",
        "expires_at": (NOW + expires_in).isoformat(),
    }
    store.append(f"session-{session_id}", [NewEvent("PortalSessionStarted", payload)], 0)
    return session_id


def end(store, contact_id: str, session_id: str) -> None:
    payload = {"session_id": session_id, "contact_id": contact_id}
    store.append(f"session-{session_id}", [NewEvent("PortalSessionRevoked", payload)], 1)


def live_ids(index: SessionIndex, contact_id: str, revoked_before: int = 0) -> set[str]:
    return {s.session_id for s in index.live_sessions(contact_id, revoked_before, NOW)}


def test_live_sessions_are_the_contacts_unended_unexpired_ones(store):
    index = SessionIndex(store)
    first, second = start(store, "ann"), start(store, "ann")
    start(store, "bob")
    start(store, "ann", expires_in=timedelta(seconds=-1))

    assert live_ids(index, "ann") == {first, second}

    end(store, "ann", first)
    assert live_ids(index, "ann") == {second}
    assert index.position == store.head_position()


def test_sessions_started_before_the_contacts_revocation_are_not_live(store):
    index = SessionIndex(store)
    before = start(store, "ann")
    marker = NewEvent("PortalSessionsRevoked", {"contact_id": "ann", "session_count": 1})
    [revocation] = store.append("contact-ann", [marker], 0)
    after = start(store, "ann")
    revoked_at = revocation.position

    assert live_ids(index, "ann", revoked_before=revoked_at) == {after}
    assert before not in live_ids(index, "ann")  # forgotten: it can never be live again
