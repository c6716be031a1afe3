"""Portal sessions checked where requests arrive, without asking identity.

A session token is a JWT identity signs with ``PORTAL_SESSION_SECRET`` (HS256 only, claims
``sid``, ``sub``, ``iat``, ``exp``): the signature and the expiry are checked here, by
identity's own reading of its tokens (``services/identity/verification.py``, a pure module:
one definition of a valid token, not two that drift apart). Whether
the session is still live comes from identity's events, which every gateway process
follows from the store by itself (:class:`LiveSessions`): a session is live from its
``PortalSessionStarted`` until its ``PortalSessionRevoked`` (logout), or until a
``PortalSessionsRevoked`` on its contact's stream at a later position ("revoke every
session"), or until it expires.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import NamedTuple

from kernel.catch_up import CatchUpIndex, CatchUpIndexProvider
from kernel.config import require
from kernel.contracts.envelope import RecordedEvent
from kernel.errors import Unauthenticated
from kernel.eventstore import EventStore
from services.identity.verification import read_session_token

# Expired sessions are forgotten at most this often (seconds).
FORGET_EXPIRED_EVERY = 60.0


class StartedSession(NamedTuple):
    contact_id: str
    started_at_position: int
    expires_at: float  # epoch seconds
    ended: bool = False


class LiveSessions(CatchUpIndex):
    """The sessions by id until they expire (ended ones too, so a logged-out token is
    refused without a look at the store), and per contact the position before which every
    session is revoked. A session missing here started after the last catch-up, or never."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.sessions: dict[str, StartedSession] = {}
        self.revoked_before: dict[str, int] = {}
        self._next_forget = time.monotonic() + FORGET_EXPIRED_EVERY

    def apply(self, event: RecordedEvent) -> None:
        data = event.payload
        if event.type == "PortalSessionStarted":
            expires_at = datetime.fromisoformat(data["expires_at"]).timestamp()
            self.sessions[data["session_id"]] = StartedSession(
                data["contact_id"], event.position, expires_at
            )
        elif event.type == "PortalSessionRevoked":
            session = self.sessions.get(data["session_id"])
            if session is not None:
                self.sessions[data["session_id"]] = session._replace(ended=True)
        elif event.type == "PortalSessionsRevoked":
            self.revoked_before[data["contact_id"]] = event.position

    def catch_up(self) -> None:
        super().catch_up()
        if time.monotonic() >= self._next_forget:
            self._next_forget = time.monotonic() + FORGET_EXPIRED_EVERY
            now = time.time()
            expired = [sid for sid, s in self.sessions.items() if s.expires_at <= now]
            for session_id in expired:
                del self.sessions[session_id]

    def is_live(self, session_id: str, contact_id: str) -> bool:
        session = self.sessions.get(session_id)
        return (
            session is not None
            and not session.ended
            and session.contact_id == contact_id
            and session.started_at_position > self.revoked_before.get(contact_id, 0)
            and session.expires_at > time.time()
        )


class SessionCheck:
    """Who a portal session token belongs to, if the session is live."""

    def __init__(self, secret: bytes, live: LiveSessions):
        self._secret = secret
        self.live = live

    def user_of(self, token: str) -> str:
        """The user id of a live session; :class:`Unauthenticated` otherwise. A session this
        process has not seen yet (signed in through another copy a moment ago) is looked up
        in the store once before it is refused."""
        claims = read_session_token(self._secret, token)
        session_id, user_id = claims["sid"], claims["sub"]
        if not (isinstance(session_id, str) and isinstance(user_id, str)):
            raise Unauthenticated("the session is not valid")
        if not self.live.is_live(session_id, user_id):
            if session_id not in self.live.sessions:
                self.live.catch_up()
            if not self.live.is_live(session_id, user_id):
                raise Unauthenticated("the session was ended")
        return user_id

    def prompt(self) -> None:
        """A session ended somewhere: catch up now rather than at the next interval."""
        self.live.prompt()

    def catch_up(self) -> None:
        self.live.catch_up()


class PortalSessions(CatchUpIndexProvider):
    """Each gateway process follows the sessions from the store by itself, prompted by
    identity's events on a queue of its own and at least every
    ``SESSION_CATCH_UP_INTERVAL`` seconds."""

    index_type = LiveSessions
    follow_interval_key = "SESSION_CATCH_UP_INTERVAL"

    def setup(self) -> None:
        super().setup()
        self.secret = str(require(self.container.config, "PORTAL_SESSION_SECRET")).encode()

    def get_dependency(self, worker_ctx) -> SessionCheck:
        return SessionCheck(self.secret, self.index)
