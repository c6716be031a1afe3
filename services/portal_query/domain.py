"""The portal's read model: what customers and teammates may see, folded from events.

Pure: events in, state out, no I/O and no clock (every time comes from an event's
``occurred_at``), so two folds of the same events give identical documents. Customer-side
data never holds an internal note or an internal attribute: they are dropped on arrival, so
no later query, index, preview or storage can leak them. An internal note does not even
move "last updated".

Each handler changes the state in place and records which documents changed (``dirty``,
for storage) and which tickets the search index must refresh (``changed_tickets``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kernel.contracts.envelope import RecordedEvent
from services.portal_query.text import token_set

DocumentKey = tuple[str, str]  # (kind, key)
Document = dict[str, Any]  # a stored body

SETTINGS_KEY = ("settings", "workspace")


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass(slots=True)
class Contact:
    id: str
    email: str | None
    name: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class Ticket:
    id: int
    type: str
    state: str
    title: str
    description: str
    attributes: list[dict[str, Any]]  # customer-visible only: [{name, value}]
    creator_id: str
    participant_ids: list[str]
    company_id: str | None
    conversation_id: str | None
    created_at: float
    changed_at: float  # the last customer-visible change of the ticket itself


@dataclass(slots=True)
class Part:
    """A customer-visible conversation part (internal notes never become one)."""

    id: str
    conversation_id: str
    author_type: str
    author_id: str
    author_name: str | None
    body: str
    created_at: float
    position: int
    words: frozenset[str] | None = None  # search tokens, computed when a preview needs them


@dataclass(slots=True)
class Conversation:
    id: str
    contact_id: str
    participant_ids: list[str]
    parts: dict[str, Part] = field(default_factory=dict)  # by id, in position order
    last_part_at: float | None = None
    # The union of the parts' tokens, computed on first use; immutable, so the search
    # index can share it instead of copying it.
    words: frozenset[str] | None = None

    def add(self, part: Part) -> None:
        self.parts[part.id] = part
        if self.last_part_at is None or part.created_at > self.last_part_at:
            self.last_part_at = part.created_at
        if self.words is not None:
            self.words = self.words | token_set(part.body)


@dataclass(slots=True)
class Settings:
    preview_enabled: bool = True
    visibility_conditions: list[dict[str, Any]] = field(default_factory=list)


class ReadModel:
    """Contacts, companies and memberships, tickets, conversations and portal settings."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, str] = {}  # id -> name
        self.members: dict[str, set[str]] = {}  # company -> contacts
        self.companies_of: dict[str, set[str]] = {}  # contact -> companies
        self.tickets: dict[int, Ticket] = {}
        self.conversations: dict[str, Conversation] = {}
        self.ticket_of_conversation: dict[str, int] = {}
        self.settings = Settings()
        self.dirty: set[DocumentKey] = set()
        self.changed_tickets: set[int] = set()

    # derived values --------------------------------------------------------------------

    def updated_at(self, ticket: Ticket) -> float:
        """The latest customer-visible change: the ticket's own or a visible part's."""
        conversation = self.conversations.get(ticket.conversation_id or "")
        last_part = conversation.last_part_at if conversation else None
        return ticket.changed_at if last_part is None else max(ticket.changed_at, last_part)

    def people_of(self, ticket: Ticket) -> set[str]:
        """Who the ticket belongs to in the Messenger tickets space: its creator and
        participants, and the participants of its conversation (joins included)."""
        people = {ticket.creator_id, *ticket.participant_ids}
        conversation = self.conversations.get(ticket.conversation_id or "")
        if conversation:
            people.update(conversation.participant_ids)
        return people

    def contact_name(self, contact_id: str) -> str | None:
        contact = self.contacts.get(contact_id)
        return contact.name if contact else None

    # documents -------------------------------------------------------------------------

    def document(self, key: DocumentKey) -> Document | None:
        """The stored form of one piece of state; ``None`` when it no longer exists."""
        kind, name = key
        if kind == "ticket":
            ticket = self.tickets.get(int(name))
            return None if ticket is None else _ticket_body(ticket)
        if kind == "part":
            conversation_id, _, part_id = name.partition("/")
            conversation = self.conversations.get(conversation_id)
            part = conversation.parts.get(part_id) if conversation else None
            return None if part is None else _part_body(part)
        if kind == "conversation":
            conversation = self.conversations.get(name)
            if conversation is None:
                return None
            return {
                "id": conversation.id,
                "contact_id": conversation.contact_id,
                "participant_ids": list(conversation.participant_ids),
            }
        if kind == "contact":
            contact = self.contacts.get(name)
            if contact is None:
                return None
            return {
                "id": contact.id,
                "email": contact.email,
                "name": contact.name,
                "attributes": dict(contact.attributes),
            }
        if kind == "company":
            if name not in self.companies:
                return None
            return {"id": name, "name": self.companies[name]}
        if kind == "membership":
            company_id, _, contact_id = name.partition("/")
            present = contact_id in self.members.get(company_id, ())
            return {} if present else None
        if kind == "settings":
            return {
                "preview_enabled": self.settings.preview_enabled,
                "visibility_conditions": list(self.settings.visibility_conditions),
            }
        raise ValueError(f"unknown document kind {kind!r}")

    def take_dirty(self) -> dict[DocumentKey, Document | None]:
        """The changed documents since the last call (``None``: delete), then forget them."""
        changes = {key: self.document(key) for key in sorted(self.dirty)}
        self.dirty.clear()
        return changes

    def all_documents(self) -> Iterator[tuple[DocumentKey, Document]]:
        keys: list[DocumentKey] = [SETTINGS_KEY]
        keys += [("contact", contact_id) for contact_id in self.contacts]
        keys += [("company", company_id) for company_id in self.companies]
        keys += [
            ("membership", f"{company_id}/{contact_id}")
            for company_id, contacts in self.members.items()
            for contact_id in contacts
        ]
        keys += [("ticket", str(ticket_id)) for ticket_id in self.tickets]
        for conversation in self.conversations.values():
            keys.append(("conversation", conversation.id))
            keys += [("part", f"{conversation.id}/{part_id}") for part_id in conversation.parts]
        for key in keys:
            yield key, self.document(key)

    @classmethod
    def from_documents(
        cls,
        documents: Iterable[tuple[str, str, dict[str, Any]]],
        pause: Callable[[], None] = lambda: None,
    ) -> ReadModel:
        """Restore a model from stored ``(kind, key, body)`` documents (any order),
        calling ``pause`` after each step."""
        model = cls()
        parts: dict[str, list[Part]] = {}
        for kind, key, body in documents:
            if kind == "ticket":
                model.tickets[body["id"]] = Ticket(**body)
            elif kind == "part":
                parts.setdefault(body["conversation_id"], []).append(Part(**body))
            elif kind == "conversation":
                model.conversations[key] = Conversation(
                    body["id"], body["contact_id"], list(body["participant_ids"])
                )
            elif kind == "contact":
                model.contacts[key] = Contact(**body)
            elif kind == "company":
                model.companies[key] = body["name"]
            elif kind == "membership":
                company_id, _, contact_id = key.partition("/")
                model._add_member(company_id, contact_id)
            elif kind == "settings":
                model.settings = Settings(**body)
            pause()
        for conversation_id, conversation_parts in parts.items():
            conversation = model.conversations[conversation_id]
            for part in sorted(conversation_parts, key=lambda p: p.position):
                conversation.add(part)
            pause()
        for ticket in model.tickets.values():
            if ticket.conversation_id:
                model.ticket_of_conversation[ticket.conversation_id] = ticket.id
        return model

    # changes ---------------------------------------------------------------------------

    def _add_member(self, company_id: str, contact_id: str) -> None:
        self.members.setdefault(company_id, set()).add(contact_id)
        self.companies_of.setdefault(contact_id, set()).add(company_id)

    def _remove_member(self, company_id: str, contact_id: str) -> None:
        self.members.get(company_id, set()).discard(contact_id)
        self.companies_of.get(contact_id, set()).discard(company_id)

    def _ticket_changed(self, ticket: Ticket, at: float | None = None) -> None:
        if at is not None:
            ticket.changed_at = max(ticket.changed_at, at)
        self.dirty.add(("ticket", str(ticket.id)))
        self.changed_tickets.add(ticket.id)

    def _conversation_changed(self, conversation_id: str) -> None:
        ticket_id = self.ticket_of_conversation.get(conversation_id)
        if ticket_id is not None:
            self.changed_tickets.add(ticket_id)

    def _link(self, ticket: Ticket, conversation_id: str | None) -> None:
        if ticket.conversation_id and self.ticket_of_conversation.get(ticket.conversation_id) == (
            ticket.id
        ):
            del self.ticket_of_conversation[ticket.conversation_id]
        ticket.conversation_id = conversation_id
        if conversation_id:
            self.ticket_of_conversation[conversation_id] = ticket.id


def _ticket_body(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "type": ticket.type,
        "state": ticket.state,
        "title": ticket.title,
        "description": ticket.description,
        "attributes": [dict(attribute) for attribute in ticket.attributes],
        "creator_id": ticket.creator_id,
        "participant_ids": list(ticket.participant_ids),
        "company_id": ticket.company_id,
        "conversation_id": ticket.conversation_id,
        "created_at": ticket.created_at,
        "changed_at": ticket.changed_at,
    }


def _part_body(part: Part) -> dict[str, Any]:
    return {
        "id": part.id,
        "conversation_id": part.conversation_id,
        "author_type": part.author_type,
        "author_id": part.author_id,
        "author_name": part.author_name,
        "body": part.body,
        "created_at": part.created_at,
        "position": part.position,
    }


def visible_attributes(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only what the customer may see, without the flag: ``[{name, value}]``."""
    return [
        {"name": attribute["name"], "value": attribute["value"]}
        for attribute in attributes
        if attribute["visible_to_customer"]
    ]


# handlers ----------------------------------------------------------------------------------

Handler = Callable[[ReadModel, RecordedEvent], None]


def contact_saved(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.contacts[data["contact_id"]] = Contact(
        data["contact_id"], data["email"], data["name"], dict(data["attributes"])
    )
    model.dirty.add(("contact", data["contact_id"]))


def settings_changed(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.settings = Settings(data["preview_enabled"], list(data["visibility_conditions"]))
    model.dirty.add(SETTINGS_KEY)


def company_named(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.companies[data["company_id"]] = data["name"]
    model.dirty.add(("company", data["company_id"]))


def member_added(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model._add_member(data["company_id"], data["contact_id"])
    model.dirty.add(("membership", f"{data['company_id']}/{data['contact_id']}"))


def member_removed(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model._remove_member(data["company_id"], data["contact_id"])
    model.dirty.add(("membership", f"{data['company_id']}/{data['contact_id']}"))


def ticket_created(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    at = epoch(event.occurred_at)
    ticket = Ticket(
        id=data["ticket_id"],
        type=data["ticket_type"],
        state=data["state"],
        title=data["title"],
        description=data["description"],
        attributes=visible_attributes(data["attributes"]),
        creator_id=data["creator_id"],
        participant_ids=list(dict.fromkeys([data["creator_id"], *data["participant_ids"]])),
        company_id=data["company_id"],
        conversation_id=None,
        created_at=at,
        changed_at=at,
    )
    model.tickets[ticket.id] = ticket
    model._link(ticket, data["conversation_id"])
    model._ticket_changed(ticket)


def ticket_state_changed(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    ticket.state = data["state"]
    model._ticket_changed(ticket, epoch(event.occurred_at))


def ticket_edited(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    title = data.get("title", ticket.title)
    description = data.get("description", ticket.description)
    if (title, description) != (ticket.title, ticket.description):
        ticket.title, ticket.description = title, description
        model._ticket_changed(ticket, epoch(event.occurred_at))


def ticket_attributes_changed(model: ReadModel, event: RecordedEvent) -> None:
    """Only a change the customer can see moves "last updated"."""
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    visible = visible_attributes(data["attributes"])
    if visible != ticket.attributes:
        ticket.attributes = visible
        model._ticket_changed(ticket, epoch(event.occurred_at))


def ticket_company_assigned(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    ticket.company_id = data["company_id"]
    model._ticket_changed(ticket, epoch(event.occurred_at))


def ticket_conversation_linked(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    model._link(ticket, data["conversation_id"])
    # The link carries the ticket's participants from then on (as the tickets service folds it).
    ticket.participant_ids = list(dict.fromkeys(data["participant_ids"]))
    model._ticket_changed(ticket, epoch(event.occurred_at))


def conversation_started(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    conversation_id = data["conversation_id"]
    model.conversations[conversation_id] = Conversation(
        conversation_id, data["contact_id"], [data["contact_id"]]
    )
    model.dirty.add(("conversation", conversation_id))
    model._conversation_changed(conversation_id)


def conversation_part_added(model: ReadModel, event: RecordedEvent) -> None:
    """An internal note is dropped here, before it can reach any state."""
    data = event.payload
    if data["internal"]:
        return
    conversation = model.conversations[data["conversation_id"]]
    part = Part(
        id=data["part_id"],
        conversation_id=conversation.id,
        author_type=data["author_type"],
        author_id=data["author_id"],
        author_name=data["author_name"],
        body=data["body"],
        created_at=epoch(event.occurred_at),
        position=event.position,
    )
    conversation.add(part)
    model.dirty.add(("part", f"{conversation.id}/{part.id}"))
    if part.author_type == "user" and part.author_id not in conversation.participant_ids:
        conversation.participant_ids.append(part.author_id)
        model.dirty.add(("conversation", conversation.id))
    model._conversation_changed(conversation.id)


def conversation_participant_joined(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    conversation = model.conversations[data["conversation_id"]]
    if data["contact_id"] not in conversation.participant_ids:
        conversation.participant_ids.append(data["contact_id"])
        model.dirty.add(("conversation", conversation.id))
        model._conversation_changed(conversation.id)


def part_words(part: Part) -> frozenset[str]:
    """The part's tokens, kept once computed (previews look at the same hits again)."""
    if part.words is None:
        part.words = token_set(part.body)
    return part.words


def conversation_words(conversation: Conversation) -> frozenset[str]:
    if conversation.words is None:
        # Not through part_words: keeping every part's tokens would cost more memory
        # than the whole text.
        conversation.words = frozenset().union(
            *(token_set(part.body) for part in conversation.parts.values())
        )
    return conversation.words


HANDLERS: dict[str, Handler] = {
    "ContactCreated": contact_saved,
    "ContactUpdated": contact_saved,
    "PortalSettingsChanged": settings_changed,
    "CompanyCreated": company_named,
    "CompanyRenamed": company_named,
    "CompanyMemberAdded": member_added,
    "CompanyMemberRemoved": member_removed,
    "TicketCreated": ticket_created,
    "TicketStateChanged": ticket_state_changed,
    "TicketEdited": ticket_edited,
    "TicketAttributesChanged": ticket_attributes_changed,
    "TicketCompanyAssigned": ticket_company_assigned,
    "TicketConversationLinked": ticket_conversation_linked,
    "ConversationStarted": conversation_started,
    "ConversationPartAdded": conversation_part_added,
    "ConversationParticipantJoined": conversation_participant_joined,
}
"""What the portal projects."""

# Events that change nothing the portal shows (sessions live in identity alone).
NOT_SHOWN = frozenset({"PortalSessionStarted", "PortalSessionRevoked", "PortalSessionsRevoked"})
