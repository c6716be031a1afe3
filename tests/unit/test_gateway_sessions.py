"""The gateway's own session check: given identity's session events in a store, when a
token comes in, then who it belongs to, or a 401."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest

from kernel.errors import Unauthenticated
from kernel.eventstore.sqlite import SqliteEventStore
from services.gateway.sessions import LiveSessions, SessionCheck
from tests.support.portal_events import History

SECRET = "session-secret-for-unit-tests-".ljust(64, "s")
HOUR = 3600


@pytest.fixture
def store(data_dir):
    store = SqliteEventStore(data_dir / "events.sqlite3")
    yield store
    store.close()


def started(history: History, contact_id: str, expires_in: float = HOUR) -> str:
    """A session started for the contact; its id."""
    session_id = str(uuid.uuid4())
    expires_at = datetime.fromtimestamp(time.time() + expires_in, UTC).isoformat()
    history.add(
        f"session-{session_id}",
        "PortalSessionStarted",
        {
            "session_id": session_id,
            "contact_id": contact_id,
            "method": "user_hash",
            "expires_at": expires_at,
        },
    )
    return session_id


def token(session_id: str, user_id: str, expires_in: float = HOUR, **options) -> str:
    now = int(time.time())
    claims = {"sid": session_id, "sub": user_id, "iat": now, "exp": now + int(expires_in)}
    return jwt.encode(claims, options.get("key", SECRET), options.get("algorithm", "HS256"))


def check(store, history: History) -> SessionCheck:
    history.append_to(store)
    return SessionCheck(SECRET.encode(), LiveSessions(store))


def refusal(check: SessionCheck, presented: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        check.user_of(presented)
    return refused.value.message


def test_a_live_session_is_its_contacts(store):
    history = History()
    session = started(history, "ann")
    assert check(store, history).user_of(token(session, "ann")) == "ann"


def test_a_session_started_after_the_last_catch_up_is_found_in_the_store(store):
    history = History()
    first = started(history, "ann")
    sessions = check(store, history)
    assert sessions.user_of(token(first, "ann")) == "ann"
    later = History()
    later_session = started(later, "bob")
    later.append_to(store)
    assert sessions.user_of(token(later_session, "bob")) == "bob"


def test_a_logged_out_session_is_refused(store):
    history = History()
    session = started(history, "ann")
    history.add(
        f"session-{session}", "PortalSessionRevoked", {"session_id": session, "contact_id": "ann"}
    )
    assert "ended" in refusal(check(store, history), token(session, "ann"))


def test_revoking_every_session_ends_those_started_before_it_only(store):
    history = History()
    before, other = started(history, "ann"), started(history, "bob")
    history.add("contact-ann", "PortalSessionsRevoked", {"contact_id": "ann", "session_count": 1})
    after = started(history, "ann")
    sessions = check(store, history)
    assert "ended" in refusal(sessions, token(before, "ann"))
    assert sessions.user_of(token(after, "ann")) == "ann"
    assert sessions.user_of(token(other, "bob")) == "bob"


def test_the_stream_decides_the_expiry_even_if_the_token_claims_longer(store):
    history = History()
    session = started(history, "ann", expires_in=-1)
    assert refusal(check(store, history), token(session, "ann", expires_in=HOUR))


def test_an_expired_token_is_refused(store):
    history = History()
    session = started(history, "ann")
    assert "expired" in refusal(check(store, history), token(session, "ann", expires_in=-10))


@pytest.mark.parametrize(
    "forge",
    [
        lambda session: token(session, "bob"),
        lambda session: token(str(uuid.uuid4()), "ann"),
        lambda session: token(session, "ann", key="another-secret-".ljust(64, "x")),
        lambda session: token(session, "ann", algorithm="HS512"),
        lambda session: token(session, "ann", key=None, algorithm="none"),
        lambda session: token(session, "ann")[:-2] + "AA",
        lambda session: "not-a-token",
        lambda session: jwt.encode(
            {"sid": session, "sub": "ann", "iat": 0, "exp": str(int(time.time()) + HOUR)}, SECRET
        ),
    ],
)
def test_a_forged_token_is_refused(store, forge):
    history = History()
    session = started(history, "ann")
    assert refusal(check(store, history), forge(session))


def test_a_logged_out_token_is_refused_without_reading_the_store_again(store):
    history = History()
    session = started(history, "ann")
    history.add(
        f"session-{session}", "PortalSessionRevoked", {"session_id": session, "contact_id": "ann"}
    )
    sessions = check(store, history)
    refusal(sessions, token(session, "ann"))
    store.close()  # any further read would fail
    assert "ended" in refusal(sessions, token(session, "ann"))
