"""Who hears about which change: the pure rule of the notifications service.

:class:`Audience` folds the facts the rule reads from the event store (contacts, company
memberships, visibility conditions, tickets, conversation participants, preferences) and,
for each event, answers the notices it calls for. Only two kinds of change are told:

* a teammate's customer-visible reply in a ticket's conversation (never an internal note,
  never a user's own message);
* a change of a ticket's state, by a teammate or by a customer (any schema version of
  ``TicketStateChanged``; a customer who resolved or reopened it, version 2's user author,
  is not told of their own change).

Recipients: the ticket's creator and the users taking part (the ticket's participants and its
conversation's) who keep ``my_tickets`` on (the default), and every member of the ticket's
company who turned ``company_tickets`` on and may see the ticket in the portal (the
visibility conditions apply: a restricted user hears only of tickets they created). A
contact without an e-mail address hears nothing. The answer depends only on the events up to
and including the one asked about, so replaying the store decides the same notices again.

No internal attribute is read at all, and the text of a notice is only what the portal
shows the same customer: the ticket's title, its state, a customer-visible reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel import portal_access
from kernel.contracts.envelope import RecordedEvent

MY_TICKETS, COMPANY_TICKETS = "my_tickets", "company_tickets"


@dataclass(frozen=True, slots=True)
class Preferences:
    my_tickets: bool = True
    company_tickets: bool = False

    def to_dict(self) -> dict[str, bool]:
        return {MY_TICKETS: self.my_tickets, COMPANY_TICKETS: self.company_tickets}


@dataclass(slots=True)
class Contact:
    email: str | None
    name: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class Ticket:
    company_id: str | None
    creator_id: str
    title: str
    participant_ids: set[str]
    conversation_id: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to decide: ``event_id`` and ``contact_id`` name it for good. ``reason``
    is the list it belongs to (what its unsubscribe link turns off)."""

    event_id: str
    position: int
    occurred_at: str
    contact_id: str
    email: str
    name: str | None
    reason: str
    ticket_id: int
    title: str
    kind: str  # "reply" or "state"
    state: str | None = None
    body: str | None = None
    author_name: str | None = None


@dataclass
class Audience:
    """The facts the rule reads, folded by position; :meth:`apply` folds one event and
    answers its notices."""

    position: int = 0
    contacts: dict[str, Contact] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # company -> contacts
    companies_of: dict[str, set[str]] = field(default_factory=dict)  # contact -> companies
    conditions: list[dict[str, Any]] = field(default_factory=list)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    conversations: dict[str, set[str]] = field(default_factory=dict)  # -> participants
    ticket_of_conversation: dict[str, int] = field(default_factory=dict)
    preferences: dict[str, Preferences] = field(default_factory=dict)

    def apply(self, event: RecordedEvent) -> list[Notice]:
        fold = _FOLDS.get(event.type)
        if fold is not None:
            fold(self, event.payload)
        self.position = event.position
        decide = _DECISIONS.get(event.type)
        return decide(self, event) if decide is not None else []

    # decisions ---------------------------------------------------------------------------

    def _reply(self, event: RecordedEvent) -> list[Notice]:
        data = event.payload
        ticket_id = self.ticket_of_conversation.get(data["conversation_id"])
        if data["internal"] or data["author_type"] != "teammate" or ticket_id is None:
            return []
        return self._notices(
            event, ticket_id, None, kind="reply", body=data["body"], author_name=data["author_name"]
        )

    def _state_changed(self, event: RecordedEvent) -> list[Notice]:
        data = event.payload
        if data.get("previous_state") == data["state"] or data["ticket_id"] not in self.tickets:
            return []
        author = data.get("author_id") if data.get("author_type") == "user" else None
        return self._notices(event, data["ticket_id"], author, kind="state", state=data["state"])

    def _notices(
        self, event: RecordedEvent, ticket_id: int, author_id: str | None, **what: Any
    ) -> list[Notice]:
        ticket = self.tickets[ticket_id]
        return [
            Notice(
                event.event_id,
                event.position,
                event.occurred_at,
                contact_id,
                self.contacts[contact_id].email,
                self.contacts[contact_id].name,
                reason,
                ticket_id,
                ticket.title,
                **what,
            )
            for contact_id, reason in sorted(self.recipients(ticket).items())
            if contact_id != author_id
        ]

    def recipients(self, ticket: Ticket) -> dict[str, str]:
        """Everyone told of a change of ``ticket``, with the list each is told on."""
        own = {ticket.creator_id, *ticket.participant_ids}
        own |= self.conversations.get(ticket.conversation_id or "", set())
        told = {
            contact_id: MY_TICKETS
            for contact_id in own
            if self._has_email(contact_id) and self._prefers(contact_id).my_tickets
        }
        for contact_id in self.members.get(ticket.company_id or "", set()):
            if (
                contact_id not in told
                and self._prefers(contact_id).company_tickets
                and portal_access.may_see(self._portal_user(contact_id), self.conditions, ticket)
            ):
                told[contact_id] = COMPANY_TICKETS
        return told

    def _has_email(self, contact_id: str) -> bool:
        contact = self.contacts.get(contact_id)
        return contact is not None and bool(contact.email)

    def _prefers(self, contact_id: str) -> Preferences:
        return self.preferences.get(contact_id, Preferences())

    def _portal_user(self, contact_id: str) -> portal_access.PortalUser:
        return portal_access.PortalUser.of(
            contact_id, self.contacts.get(contact_id), self.companies_of.get(contact_id, set())
        )

    # folding -----------------------------------------------------------------------------

    def _contact_saved(self, data: dict[str, Any]) -> None:
        self.contacts[data["contact_id"]] = Contact(
            data["email"], data["name"], dict(data["attributes"])
        )

    def _settings_changed(self, data: dict[str, Any]) -> None:
        self.conditions = list(data["visibility_conditions"])

    def _member_added(self, data: dict[str, Any]) -> None:
        self.members.setdefault(data["company_id"], set()).add(data["contact_id"])
        self.companies_of.setdefault(data["contact_id"], set()).add(data["company_id"])

    def _member_removed(self, data: dict[str, Any]) -> None:
        self.members.get(data["company_id"], set()).discard(data["contact_id"])
        self.companies_of.get(data["contact_id"], set()).discard(data["company_id"])

    def _ticket_created(self, data: dict[str, Any]) -> None:
        self.tickets[data["ticket_id"]] = Ticket(
            data["company_id"],
            data["creator_id"],
            data["title"],
            set(data["participant_ids"]),
            data["conversation_id"],
        )
        if data["conversation_id"] is not None:
            self.ticket_of_conversation[data["conversation_id"]] = data["ticket_id"]

    def _ticket_edited(self, data: dict[str, Any]) -> None:
        ticket = self.tickets.get(data["ticket_id"])
        if ticket is not None and "title" in data:
            ticket.title = data["title"]

    def _company_assigned(self, data: dict[str, Any]) -> None:
        self.tickets[data["ticket_id"]].company_id = data["company_id"]

    def _conversation_linked(self, data: dict[str, Any]) -> None:
        ticket = self.tickets[data["ticket_id"]]
        if self.ticket_of_conversation.get(ticket.conversation_id or "") == data["ticket_id"]:
            del self.ticket_of_conversation[ticket.conversation_id]
        ticket.conversation_id = data["conversation_id"]
        ticket.participant_ids = set(data["participant_ids"])
        self.ticket_of_conversation[data["conversation_id"]] = data["ticket_id"]

    def _conversation_started(self, data: dict[str, Any]) -> None:
        self.conversations[data["conversation_id"]] = {data["contact_id"]}

    def _participant_joined(self, data: dict[str, Any]) -> None:
        self.conversations.setdefault(data["conversation_id"], set()).add(data["contact_id"])

    def _participant_removed(self, data: dict[str, Any]) -> None:
        """A teammate took the user out of the conversation (docs/conversations.md): they
        are no longer told as a participant of it or of its linked ticket."""
        self.conversations.get(data["conversation_id"], set()).discard(data["contact_id"])
        ticket_id = self.ticket_of_conversation.get(data["conversation_id"])
        if ticket_id is not None:
            self.tickets[ticket_id].participant_ids.discard(data["contact_id"])

    def _preferences_changed(self, data: dict[str, Any]) -> None:
        self.preferences[data["contact_id"]] = Preferences(data[MY_TICKETS], data[COMPANY_TICKETS])


_FOLDS: dict[str, Callable[[Audience, dict[str, Any]], None]] = {
    "ContactCreated": Audience._contact_saved,
    "ContactUpdated": Audience._contact_saved,
    "PortalSettingsChanged": Audience._settings_changed,
    "CompanyMemberAdded": Audience._member_added,
    "CompanyMemberRemoved": Audience._member_removed,
    "TicketCreated": Audience._ticket_created,
    "TicketEdited": Audience._ticket_edited,
    "TicketCompanyAssigned": Audience._company_assigned,
    "TicketConversationLinked": Audience._conversation_linked,
    "ConversationStarted": Audience._conversation_started,
    "ConversationParticipantJoined": Audience._participant_joined,
    "ConversationParticipantRemoved": Audience._participant_removed,
    "NotificationPreferencesChanged": Audience._preferences_changed,
}

_DECISIONS: dict[str, Callable[[Audience, RecordedEvent], list[Notice]]] = {
    "ConversationPartAdded": Audience._reply,
    "TicketStateChanged": Audience._state_changed,
}
