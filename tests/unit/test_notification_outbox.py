"""The notifications outbox (services/notifications/outbox.py), one suite for both backends
(SQLite on a real file; MongoDB as tests/support/mongo.py provides it): one lease holder at a
time, taken over once expired; e-mail recorded with the checkpoint by compare-and-set, only
by the holder, each key once."""

from __future__ import annotations

import uuid

import pytest

from services.notifications.outbox import CheckpointMoved, LeaseLost, Mail
from services.notifications.outbox_mongo import MongoOutbox
from services.notifications.outbox_sqlite import SqliteOutbox
from tests.support.mongo import mongo_client


def mail(event: str, contact: str, position: int) -> Mail:
    return Mail(event, contact, position, f"<{event}.{contact}@x>", f"{contact}@x.test", b"hi")


@pytest.fixture(params=["sqlite", "mongo"])
def opener(request, tmp_path):
    """Opens the outbox of one backend, as often as asked (each a copy of the service)."""
    if request.param == "sqlite":
        opened = []

        def open_sqlite() -> SqliteOutbox:
            opened.append(SqliteOutbox(tmp_path / "notifications.sqlite3"))
            return opened[-1]

        yield open_sqlite
        for outbox in opened:
            outbox.close()
        return
    database = f"outbox_test_{uuid.uuid4().hex[:12]}"
    client = mongo_client(database)
    yield lambda: MongoOutbox(client, database, deadline=5)
    client.drop_database(database)
    client.close()


@pytest.fixture
def outbox(opener):
    return opener()


def test_one_holder_at_a_time_and_a_takeover_once_the_lease_expired(outbox, opener):
    other = opener()  # a second copy on the same storage
    assert outbox.hold_lease("a", now=100, ttl=5)
    assert not other.hold_lease("b", now=104, ttl=5)
    assert outbox.hold_lease("a", now=104, ttl=5)  # renewed until 109
    assert not other.hold_lease("b", now=108, ttl=5)
    assert other.hold_lease("b", now=109.5, ttl=5)
    assert other.lease_holder(now=110) == "b"
    with pytest.raises(LeaseLost):
        outbox.record("a", now=110, expected=None, position=3, mails=[mail("e1", "ann", 3)])


def test_mail_is_recorded_with_the_checkpoint_once(outbox):
    assert outbox.hold_lease("a", now=0, ttl=5)
    assert outbox.checkpoint() is None
    outbox.record("a", now=1, expected=None, position=3, mails=[mail("e1", "ann", 3)])
    with pytest.raises(CheckpointMoved):
        outbox.record("a", now=1, expected=None, position=3, mails=[mail("e1", "bob", 3)])
    outbox.record("a", now=1, expected=3, position=5, mails=[mail("e1", "ann", 3)])
    assert outbox.checkpoint() == 5
    assert [(m.event_id, m.contact_id) for m in outbox.due(now=1)] == [("e1", "ann")]


def test_pending_mail_waits_for_its_next_attempt_and_leaves_once_sent(outbox):
    assert outbox.hold_lease("a", now=0, ttl=5)
    outbox.record(
        "a", now=1, expected=None, position=4, mails=[mail("e2", "bob", 4), mail("e1", "ann", 3)]
    )
    first, second = outbox.due(now=1)
    assert (first.event_id, second.event_id) == ("e1", "e2")  # oldest change first
    outbox.retry_later(first, at=10, error="connection refused")
    assert [m.event_id for m in outbox.due(now=5)] == ["e2"]
    outbox.mark_sent(second)
    outbox.mark_rejected(outbox.due(now=10)[0], "550 no such user")
    assert outbox.due(now=99) == []
    assert outbox.counts() == {"pending": 0, "sent": 1, "rejected": 1}
