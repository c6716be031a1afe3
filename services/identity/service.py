"""Nameko shell of identity: validate, verify, run the domain, append. See docs/rpc.md."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from kernel.aggregate import create, execute
from kernel.contracts import commands
from kernel.contracts.events import PORTAL_SETTINGS_STREAM
from kernel.contracts.validation import validate
from kernel.errors import NotFound, Unauthenticated, ValidationFailed
from kernel.logging import get_logger
from kernel.rpc import rpc
from kernel.service import WriteService
from services.identity import domain, verification
from services.identity.dependencies import PortalKeys, Sessions

log = get_logger(__name__)


def readable_credentials(schema: dict, credentials: Any) -> dict:
    """Credentials that cannot even be read (missing, malformed, oversized) are refused like
    wrong ones: 401, with the fields that are wrong named."""
    try:
        return validate(schema, credentials, "credentials")
    except ValidationFailed as unreadable:
        raise Unauthenticated(unreadable.message, unreadable.fields) from unreadable


class IdentityService(WriteService):
    name = "identity"

    keys = PortalKeys()
    sessions = Sessions()

    # contacts -----------------------------------------------------------------------------

    @rpc
    def save_contact(self, command: dict) -> dict:
        command = validate(commands.SAVE_CONTACT, command, "contact")
        history, _ = execute(
            self.event_log,
            domain.contact_stream(command["id"]),
            lambda h: domain.save_contact(domain.fold_contact(h), command),
        )
        log.info("contact saved", contact_id=command["id"], version=history[-1].stream_version)
        return domain.fold_contact(history).to_dict()

    @rpc
    def get_contact(self, contact_id: str) -> dict:
        validate(commands.CONTACT_ID, {"contact_id": contact_id}, "contact id")
        contact = self._contact(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist", {"contact_id": "not found"})
        return contact.to_dict()

    @rpc
    def get_contacts(self, contact_ids: list) -> dict:
        validate(commands.CONTACT_IDS, {"contact_ids": contact_ids}, "contact ids")
        found = {contact_id: self._contact(contact_id) for contact_id in contact_ids}
        return {cid: contact.to_dict() for cid, contact in found.items() if contact is not None}

    def _contact(self, contact_id: str) -> domain.Contact | None:
        return domain.fold_contact(self.event_log.read_stream(domain.contact_stream(contact_id)))

    # sessions -----------------------------------------------------------------------------

    @rpc
    def start_session(self, credentials: Any) -> dict:
        """Verify the help desk's hand-off and open a portal session for that user."""
        if isinstance(credentials, dict) and "token" in credentials:
            method = "jwt"
            command = readable_credentials(commands.START_SESSION_WITH_TOKEN, credentials)
        else:
            method = "user_hash"
            command = readable_credentials(commands.START_SESSION_WITH_HASH, credentials)
        try:
            identity = self._verified_identity(method, command)
            domain.check_hand_off_email(self._contact(identity["user_id"]), identity["email"])
        except Unauthenticated as refused:
            log.info(
                "session refused",
                method=method,
                user_id=command.get("user_id"),
                reason=str(refused),
            )
            raise
        session = self._open_session(identity["user_id"], method)
        expires_at = datetime.fromisoformat(session.expires_at)
        token = verification.issue_session_token(
            self.keys.session_secret,
            session.session_id,
            session.contact_id,
            int(datetime.now(UTC).timestamp()),
            int(expires_at.timestamp()),
        )
        log.info(
            "session started",
            method=method,
            user_id=session.contact_id,
            session_id=session.session_id,
        )
        return {"token": token, "user_id": session.contact_id, "expires_at": session.expires_at}

    def _verified_identity(self, method: str, command: dict) -> dict:
        if method == "jwt":
            return verification.verify_identity_token(self.keys.identity_secret, command["token"])
        verification.verify_user_hash(
            self.keys.identity_secret, command["user_id"], command["user_hash"]
        )
        return {"user_id": command["user_id"], "email": command.get("email")}

    def _open_session(self, user_id: str, method: str) -> domain.Session:
        """A new session; a retried request (same idempotency key) gets the one it opened."""
        expires_at = datetime.fromtimestamp(
            int(datetime.now(UTC).timestamp()) + self.keys.session_ttl_seconds, UTC
        ).isoformat()
        history = create(
            self.event_log,
            [str(uuid.uuid4())],
            domain.session_stream,
            lambda session_id: domain.start_session(session_id, user_id, method, expires_at),
        )
        return domain.fold_session(history)

    @rpc
    def end_session(self, token: str) -> None:
        """Logout. An expired session needs no logout, but its token must still be ours."""
        validate(commands.SESSION_TOKEN, {"token": token}, "session token")
        claims = verification.read_session_token(self.keys.session_secret, token, verify_exp=False)
        stream = domain.session_stream(claims["sid"])
        session = domain.fold_session(self.event_log.read_stream(stream))
        if session is None or session.contact_id != claims["sub"]:
            raise Unauthenticated("the session is not valid")
        now = datetime.now(UTC)
        execute(
            self.event_log,
            stream,
            lambda h: domain.end_session(domain.fold_session(h), now),
        )
        log.info("session ended", user_id=session.contact_id, session_id=session.session_id)

    @rpc
    def revoke_sessions(self, contact_id: str) -> dict:
        """End every live session of a contact with one event on the contact's stream."""
        validate(commands.CONTACT_ID, {"contact_id": contact_id}, "contact id")
        now = datetime.now(UTC)

        def decide(history: list) -> list:
            revoked_before = domain.sessions_revoked_before(history)
            live = self.sessions.live_sessions(contact_id, revoked_before, now)
            return domain.revoke_sessions(contact_id, len(live))

        _, written = execute(self.event_log, domain.contact_stream(contact_id), decide)
        revoked = written[0].payload["session_count"] if written else 0
        log.info("sessions revoked", contact_id=contact_id, revoked=revoked)
        return {"revoked": revoked}

    # portal settings ----------------------------------------------------------------------

    @rpc
    def get_portal_settings(self) -> dict:
        return domain.fold_settings(self.event_log.read_stream(PORTAL_SETTINGS_STREAM))

    @rpc
    def change_portal_settings(self, command: dict) -> dict:
        command = validate(commands.CHANGE_PORTAL_SETTINGS, command, "portal settings")
        history, _ = execute(
            self.event_log,
            PORTAL_SETTINGS_STREAM,
            lambda h: domain.change_settings(domain.fold_settings(h), command),
        )
        settings = domain.fold_settings(history)
        log.info(
            "portal settings saved",
            portal_enabled=settings["portal_enabled"],
            preview_enabled=settings["preview_enabled"],
            visibility_conditions=len(settings["visibility_conditions"]),
        )
        return settings
