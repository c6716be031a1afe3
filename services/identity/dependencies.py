"""Identity's own dependency providers: its secrets, and an index of sessions by contact."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from nameko.extensions import DependencyProvider

from kernel.catch_up import CatchUpIndex, CatchUpIndexProvider
from kernel.config import ConfigurationError, require
from kernel.contracts.envelope import RecordedEvent
from kernel.eventstore import EventStore
from services.identity import domain


@dataclass(frozen=True)
class Keys:
    """The secrets identity signs and verifies with (kept out of ``repr``)."""

    identity_secret: bytes = field(repr=False)
    session_secret: bytes = field(repr=False)
    session_ttl_seconds: int


class PortalKeys(DependencyProvider):
    """Reads the secrets once; the container refuses to start without both, or with one
    secret used for both jobs (a hand-off token must never pass for a session)."""

    def setup(self) -> None:
        config = self.container.config
        identity_secret = str(require(config, "PORTAL_IDENTITY_SECRET")).encode()
        session_secret = str(require(config, "PORTAL_SESSION_SECRET")).encode()
        if hmac.compare_digest(identity_secret, session_secret):
            raise ConfigurationError(
                "PORTAL_SESSION_SECRET must differ from PORTAL_IDENTITY_SECRET"
            )
        ttl = config.get("PORTAL_SESSION_TTL_SECONDS", 28800)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ConfigurationError("PORTAL_SESSION_TTL_SECONDS must be a positive integer")
        self.keys = Keys(identity_secret, session_secret, ttl)

    def get_dependency(self, worker_ctx) -> Keys:
        return self.keys


class SessionIndex(CatchUpIndex):
    """Every session by contact, folded from the store (session events only live in
    ``session-*`` streams); answers which of a contact's sessions are live."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.sessions: dict[str, dict[str, domain.Session]] = {}

    def apply(self, event: RecordedEvent) -> None:
        if event.type == "PortalSessionStarted":
            session = domain.fold_session([event])
            self.sessions.setdefault(session.contact_id, {})[session.session_id] = session
        elif event.type == "PortalSessionRevoked":
            data = event.payload
            self.sessions.get(data["contact_id"], {}).pop(data["session_id"], None)

    def live_sessions(
        self, contact_id: str, revoked_before: int, now: datetime
    ) -> list[domain.Session]:
        """The contact's live sessions, as of the store's head."""
        self.catch_up()
        sessions = self.sessions.get(contact_id, {})
        live = domain.live_sessions(sessions.values(), revoked_before, now)
        # Forget what can never be live again, so the index stays as small as the live set.
        if live:
            self.sessions[contact_id] = {s.session_id: s for s in live}
        else:
            self.sessions.pop(contact_id, None)
        return live


class Sessions(CatchUpIndexProvider):
    """The session index, one per container."""

    index_type = SessionIndex
