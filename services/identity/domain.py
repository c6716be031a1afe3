"""Identity domain core: contacts, portal sessions and portal settings.

Pure functions: state is folded from a stream's events, a command and that state decide the
new events as ``(type, payload)`` pairs. Clocks and secrets come in as arguments.

* A contact (stream ``contact-<id>``) is created by its first save; later saves are partial
  (a key left out keeps its value, ``null`` clears email or name, ``attributes`` replaces
  the whole map) and record the full new state, or nothing when nothing changes.
* A portal session (stream ``session-<sid>``) is live until it expires, is ended (logout),
  or is started before a ``PortalSessionsRevoked`` on its contact's stream. "Before" is
  by global position, which the store assigns in commit order, so no clock is involved.
  The gateway checks requests against the same events (``services/gateway/sessions.py``).
* Portal settings (one stream per workspace) change partially, and only when they differ;
  the portal is on unless a teammate turned it off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from kernel import visibility
from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.errors import Unauthenticated

# The portal is on until a teammate turns it off: workspaces from before the switch (and
# their version 1 events) keep the portal they had.
DEFAULT_SETTINGS = {"portal_enabled": True, "preview_enabled": True, "visibility_conditions": []}


def contact_stream(contact_id: str) -> str:
    return f"contact-{contact_id}"


def session_stream(session_id: str) -> str:
    return f"session-{session_id}"


# contacts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """A help-desk user as identity keeps them; the id is the help desk's user id."""

    contact_id: str
    email: str | None
    name: str | None
    attributes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        contact = asdict(self)  # a copy, attributes included
        return {"id": contact.pop("contact_id"), **contact}


def fold_contact(history: Iterable[RecordedEvent]) -> Contact | None:
    """The contact as of its last event; ``None`` if it was never created."""
    contact = None
    for event in history:
        if event.type in ("ContactCreated", "ContactUpdated"):
            data = event.payload
            contact = Contact(data["contact_id"], data["email"], data["name"], data["attributes"])
    return contact


def save_contact(contact: Contact | None, command: dict[str, Any]) -> list[Decision]:
    if contact is None:
        payload = {
            "contact_id": command["id"],
            "email": command.get("email"),
            "name": command.get("name"),
            "attributes": command.get("attributes", {}),
        }
        return [("ContactCreated", payload)]
    current = {
        "contact_id": contact.contact_id,
        "email": contact.email,
        "name": contact.name,
        "attributes": contact.attributes,
    }
    changed = {**current, **{k: v for k, v in command.items() if k != "id"}}
    return [] if changed == current else [("ContactUpdated", changed)]


def check_hand_off_email(contact: Contact | None, email: str | None) -> None:
    """A hand-off that names an email must name the contact's own, if the contact has one."""
    if contact is None or contact.email is None or email is None:
        return
    if email.casefold() != contact.email.casefold():
        raise Unauthenticated("the email does not match this user", {"email": "does not match"})


# sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    session_id: str
    contact_id: str
    expires_at: str
    started_at_position: int
    ended: bool

    def expired(self, now: datetime) -> bool:
        return datetime.fromisoformat(self.expires_at) <= now


def fold_session(history: Iterable[RecordedEvent]) -> Session | None:
    session = None
    for event in history:
        data = event.payload
        if event.type == "PortalSessionStarted":
            session = Session(
                data["session_id"], data["contact_id"], data["expires_at"], event.position, False
            )
        elif event.type == "PortalSessionRevoked" and session is not None:
            session = replace(session, ended=True)
    return session


def sessions_revoked_before(contact_history: Iterable[RecordedEvent]) -> int:
    """The position before which every session of the contact is revoked (0: none)."""
    positions = [e.position for e in contact_history if e.type == "PortalSessionsRevoked"]
    return max(positions, default=0)


def live_sessions(sessions: Iterable[Session], revoked_before: int, now: datetime) -> list[Session]:
    """The sessions neither ended, nor revoked with their contact's, nor expired."""
    return [
        s
        for s in sessions
        if not s.ended and s.started_at_position > revoked_before and not s.expired(now)
    ]


def start_session(session_id: str, contact_id: str, method: str, expires_at: str) -> list[Decision]:
    payload = {
        "session_id": session_id,
        "contact_id": contact_id,
        "method": method,
        "expires_at": expires_at,
    }
    return [("PortalSessionStarted", payload)]


def end_session(session: Session, now: datetime) -> list[Decision]:
    """Logout: nothing to record for a session already ended or expired."""
    if session.ended or session.expired(now):
        return []
    return [
        (
            "PortalSessionRevoked",
            {"session_id": session.session_id, "contact_id": session.contact_id},
        )
    ]


def revoke_sessions(contact_id: str, live_session_count: int) -> list[Decision]:
    if live_session_count == 0:
        return []
    return [
        ("PortalSessionsRevoked", {"contact_id": contact_id, "session_count": live_session_count})
    ]


# portal settings --------------------------------------------------------------------------


def fold_settings(history: Iterable[RecordedEvent]) -> dict[str, Any]:
    settings = DEFAULT_SETTINGS
    for event in history:
        if event.type == "PortalSettingsChanged":
            settings = {**DEFAULT_SETTINGS, **event.payload}
    return {
        "portal_enabled": settings["portal_enabled"],
        "preview_enabled": settings["preview_enabled"],
        "visibility_conditions": list(settings["visibility_conditions"]),
    }


def change_settings(settings: dict[str, Any], command: dict[str, Any]) -> list[Decision]:
    visibility.check_shapes(command.get("visibility_conditions", []), "portal settings")
    changed = {**settings, **command}
    return [] if changed == settings else [("PortalSettingsChanged", changed)]
