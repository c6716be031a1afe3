"""The portal's read model: what customers and teammates may see, and the only ways to
change it.

Pure: no I/O and no clock (every time comes from an event), so two folds of the same events
give identical state. It never holds an internal note or an internal attribute: the event
handlers drop them before calling in here.

Every change goes through a public method, which also records what it changed: the stored
documents (``changed_documents``, for storage), the tickets the search index must refresh
(``changed_tickets``), and who each ticket belongs to in the Messenger tickets space
(``tickets_of_person``, kept in step at the few changes that can move it).
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DocumentKey = tuple[str, str]  # (kind, key) of the stored document a piece of state is in
SETTINGS_KEY: DocumentKey = ("settings", "workspace")
# Fields of a ticket whose values repeat across tickets: one string each in memory.
SHARED_TICKET_FIELDS = frozenset({"type", "state", "creator_id", "company_id", "conversation_id"})


def shared(text: str | None) -> str | None:
    """One string in memory for a value many objects hold (an id, a type, a name)."""
    return None if text is None else sys.intern(text)


Attributes = tuple[tuple[str, Any], ...]  # (name, value) pairs: a fifth of a dict each


def attribute_pairs(attributes: list[dict[str, Any]]) -> Attributes:
    """``[{name, value}]`` as the model holds it."""
    return tuple((shared(attribute["name"]), attribute["value"]) for attribute in attributes)


def field_values(record: Any) -> tuple:
    """A slotted record's fields in order: what its constructor takes."""
    return tuple(getattr(record, name) for name in record.__slots__)


class Pickled:
    """Pickled as its constructor's arguments: a snapshot of the read model then loads
    several times faster than with the slots' default state (a list per record, set field
    by field), and leaves no such lists behind as holes among the records it keeps."""

    __slots__ = ()

    def __reduce__(self) -> tuple:
        return (type(self), field_values(self))


@dataclass(slots=True)
class Contact(Pickled):
    id: str
    email: str | None
    name: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class Ticket(Pickled):
    id: int
    type: str
    state: str
    title: str
    description: str
    attributes: Attributes  # customer-visible only
    creator_id: str
    participant_ids: list[str]
    company_id: str | None
    conversation_id: str | None
    created_at: float
    changed_at: float  # the last customer-visible change of the ticket itself

    def attribute_list(self) -> list[dict[str, Any]]:
        """The attributes as answers and stored documents give them: ``[{name, value}]``."""
        return [{"name": name, "value": value} for name, value in self.attributes]


@dataclass(slots=True)
class Part(Pickled):
    """A customer-visible conversation part (internal notes never become one)."""

    id: str
    conversation_id: str
    author_type: str
    author_id: str
    author_name: str | None
    body: str
    created_at: float
    position: int


_encode_parts = json.JSONEncoder(separators=(",", ":")).encode


def packed(parts: list[tuple]) -> bytes:
    """Parts' fields as one compressed JSON array (ASCII: any text survives the trip)."""
    return zlib.compress(_encode_parts(parts).encode("ascii"), 1) if parts else b""


def unpacked(blob: bytes) -> list[list]:
    """The parts' fields :func:`packed` put in ``blob``, in order."""
    return json.loads(zlib.decompress(blob)) if blob else []


@dataclass(slots=True)
class Conversation:
    """A conversation and its customer-visible parts.

    The parts are kept packed, their fields in one compressed blob: a conversation is read
    whole (its page, a search preview, a re-index) or not at all, and the blob takes about
    a third of the memory of part objects, the bulk of the read model. Parts added since
    the last :meth:`pack` wait beside it as objects, so a bulk load packs each
    conversation once (:meth:`ReadModel.pack_parts`)."""

    id: str
    contact_id: str
    participant_ids: list[str]
    last_part_at: float | None = None
    packed_parts: bytes = b""
    new_parts: tuple[Part, ...] = ()

    @property
    def parts(self) -> dict[str, Part]:
        """Every part by id, in position order: unpacked at each call."""
        parts = {values[0]: Part(*values) for values in unpacked(self.packed_parts)}
        parts.update((part.id, part) for part in self.new_parts)
        return parts

    def part(self, part_id: str) -> Part | None:
        found = next((part for part in self.new_parts if part.id == part_id), None)
        if found is None and self.packed_parts:
            found = self.parts.get(part_id)
        return found

    def add(self, part: Part) -> None:
        self.new_parts += (part,)
        if self.last_part_at is None or part.created_at > self.last_part_at:
            self.last_part_at = part.created_at

    def pack(self) -> None:
        """Move the parts added since the last pack into the blob."""
        if self.new_parts:
            values = unpacked(self.packed_parts)
            values.extend(field_values(part) for part in self.new_parts)
            self.packed_parts, self.new_parts = packed(values), ()

    def __reduce__(self) -> tuple:
        """Pickled as its constructor's arguments, new parts as plain tuples (see Pickled)."""
        return (
            restored_conversation,
            (
                self.id,
                self.contact_id,
                self.participant_ids,
                self.last_part_at,
                self.packed_parts,
                tuple(field_values(part) for part in self.new_parts),
            ),
        )


def restored_conversation(
    id: str,
    contact_id: str,
    participant_ids: list[str],
    last_part_at: float | None,
    packed_parts: bytes,
    new_parts: tuple[tuple, ...],
) -> Conversation:
    """A conversation as :meth:`Conversation.__reduce__` pickled it."""
    parts = tuple(Part(*values) for values in new_parts)
    return Conversation(id, contact_id, participant_ids, last_part_at, packed_parts, parts)


@dataclass(slots=True)
class Settings:
    preview_enabled: bool = True
    visibility_conditions: list[dict[str, Any]] = field(default_factory=list)
    portal_enabled: bool = True  # documents stored before the switch existed hold no value


class ReadModel:
    """Contacts, companies and memberships, tickets, conversations and portal settings.

    ``track_changes=False`` (restoring from storage) records nothing: what was loaded is
    already stored and indexed from scratch."""

    def __init__(self, track_changes: bool = True) -> None:
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, str] = {}  # id -> name
        self.members: dict[str, set[str]] = {}  # company -> contacts
        self.companies_of: dict[str, set[str]] = {}  # contact -> companies
        self.tickets: dict[int, Ticket] = {}
        self.conversations: dict[str, Conversation] = {}
        self.ticket_of_conversation: dict[str, int] = {}
        self.settings = Settings()
        self.tickets_of_person: dict[str, set[int]] = {}
        self._people_of_ticket: dict[int, tuple[str, ...]] = {}  # tuples: a third of a set
        self.unpacked_conversations: set[str] = set()  # with parts added since their pack
        self.track_changes = track_changes
        # Insertion-ordered, so a caller can look at only the keys added since it last looked.
        self.changed_documents: dict[DocumentKey, None] = {}
        self.changed_tickets: set[int] = set()

    # derived values --------------------------------------------------------------------

    def updated_at(self, ticket: Ticket) -> float:
        """The latest customer-visible change: the ticket's own or a visible part's."""
        conversation = self.conversations.get(ticket.conversation_id or "")
        last_part = conversation.last_part_at if conversation else None
        return ticket.changed_at if last_part is None else max(ticket.changed_at, last_part)

    def people_of(self, ticket: Ticket) -> frozenset[str]:
        """Who the ticket belongs to in the Messenger tickets space: its creator and
        participants, and the participants of its conversation (joins included)."""
        people = {ticket.creator_id, *ticket.participant_ids}
        conversation = self.conversations.get(ticket.conversation_id or "")
        if conversation:
            people.update(conversation.participant_ids)
        return frozenset(people)

    def contact_name(self, contact_id: str) -> str | None:
        contact = self.contacts.get(contact_id)
        return contact.name if contact else None

    def linked_ticket(self, conversation_id: str) -> Ticket | None:
        ticket_id = self.ticket_of_conversation.get(conversation_id)
        return None if ticket_id is None else self.tickets.get(ticket_id)

    # contacts, companies, settings -----------------------------------------------------

    def save_contact(self, contact: Contact) -> None:
        contact.id = shared(contact.id)
        self.contacts[contact.id] = contact
        self._document_changed("contact", contact.id)

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings
        self._document_changed(*SETTINGS_KEY)

    def name_company(self, company_id: str, name: str) -> None:
        self.companies[company_id] = name
        self._document_changed("company", company_id)

    def add_member(self, company_id: str, contact_id: str) -> None:
        company_id, contact_id = shared(company_id), shared(contact_id)
        self.members.setdefault(company_id, set()).add(contact_id)
        self.companies_of.setdefault(contact_id, set()).add(company_id)
        self._document_changed("membership", f"{company_id}/{contact_id}")

    def remove_member(self, company_id: str, contact_id: str) -> None:
        self.members.get(company_id, set()).discard(contact_id)
        self.companies_of.get(contact_id, set()).discard(company_id)
        self._document_changed("membership", f"{company_id}/{contact_id}")

    # tickets ---------------------------------------------------------------------------

    def add_ticket(self, ticket: Ticket) -> None:
        """A new ticket (or one restored), linked to its ``conversation_id`` if any."""
        for name in SHARED_TICKET_FIELDS:
            setattr(ticket, name, shared(getattr(ticket, name)))
        ticket.participant_ids = [shared(person) for person in ticket.participant_ids]
        self.tickets[ticket.id] = ticket
        if ticket.conversation_id:
            self.ticket_of_conversation[ticket.conversation_id] = ticket.id
        self._ticket_changed(ticket)
        self._refresh_people(ticket)

    def update_ticket(self, ticket_id: int, at: float, **fields: Any) -> None:
        """Set ``fields`` of a ticket (not its conversation: :meth:`link_conversation`);
        a customer-visible change at ``at``."""
        ticket = self.tickets[ticket_id]
        for name, value in fields.items():
            setattr(ticket, name, shared(value) if name in SHARED_TICKET_FIELDS else value)
        ticket.changed_at = max(ticket.changed_at, at)
        self._ticket_changed(ticket)

    def link_conversation(
        self, ticket_id: int, conversation_id: str, participant_ids: list[str], at: float
    ) -> None:
        """Link the ticket to a conversation; the link carries its participants."""
        ticket = self.tickets[ticket_id]
        if self.ticket_of_conversation.get(ticket.conversation_id or "") == ticket.id:
            del self.ticket_of_conversation[ticket.conversation_id]
        ticket.conversation_id = conversation_id = shared(conversation_id)
        self.ticket_of_conversation[conversation_id] = ticket.id
        ticket.participant_ids = [shared(person) for person in participant_ids]
        ticket.changed_at = max(ticket.changed_at, at)
        self._ticket_changed(ticket)
        self._refresh_people(ticket)

    def remove_ticket(self, ticket_id: int) -> None:
        """Forget a ticket another partition holds from now on (its conversation is
        removed on its own, :meth:`remove_conversation`)."""
        ticket = self.tickets.pop(ticket_id)
        if self.ticket_of_conversation.get(ticket.conversation_id or "") == ticket_id:
            del self.ticket_of_conversation[ticket.conversation_id]
        for person in self._people_of_ticket.pop(ticket_id, frozenset()):
            self.tickets_of_person[person].discard(ticket_id)
        self._ticket_changed(ticket)

    # conversations ---------------------------------------------------------------------

    def start_conversation(self, conversation: Conversation) -> None:
        conversation.id = shared(conversation.id)
        conversation.contact_id = shared(conversation.contact_id)
        conversation.participant_ids = [shared(person) for person in conversation.participant_ids]
        self.conversations[conversation.id] = conversation
        self._document_changed("conversation", conversation.id)
        self._conversation_changed(conversation.id, people_changed=True)

    def add_part(self, part: Part) -> None:
        conversation = self.conversations[part.conversation_id]
        part.conversation_id = conversation.id
        part.author_type = shared(part.author_type)
        part.author_id = shared(part.author_id)
        part.author_name = shared(part.author_name)
        conversation.add(part)
        self.unpacked_conversations.add(conversation.id)
        self._document_changed("part", f"{conversation.id}/{part.id}")
        self._conversation_changed(conversation.id)

    def add_participant(self, conversation_id: str, contact_id: str) -> None:
        """``contact_id`` takes part in the conversation from now on (once)."""
        conversation = self.conversations[conversation_id]
        if contact_id not in conversation.participant_ids:
            conversation.participant_ids.append(shared(contact_id))
            self._document_changed("conversation", conversation_id)
            self._conversation_changed(conversation_id, people_changed=True)

    def remove_conversation(self, conversation_id: str) -> None:
        """Forget a conversation (and its parts) another partition holds from now on."""
        conversation = self.conversations.pop(conversation_id)
        for part_id in conversation.parts:
            self._document_changed("part", f"{conversation_id}/{part_id}")
        self._document_changed("conversation", conversation_id)
        self._conversation_changed(conversation_id, people_changed=True)

    def remove_participant(self, conversation_id: str, contact_id: str) -> None:
        """A teammate took ``contact_id`` out of the conversation: they no longer take part
        in it, nor in its linked ticket (whose participants came from the conversation), so
        the Messenger tickets space lists the ticket for them only if they created it."""
        conversation = self.conversations[conversation_id]
        if contact_id in conversation.participant_ids:
            conversation.participant_ids.remove(contact_id)
            self._document_changed("conversation", conversation_id)
        ticket = self.linked_ticket(conversation_id)
        if ticket is not None and contact_id in ticket.participant_ids:
            ticket.participant_ids = [p for p in ticket.participant_ids if p != contact_id]
            self._ticket_changed(ticket)
        self._conversation_changed(conversation_id, people_changed=True)

    def pack_parts(self, pause: Callable[[], None] = lambda: None) -> None:
        """Pack the parts added since the last call (:class:`Conversation`), calling
        ``pause`` every thousand conversations (a bulk load packs them all)."""
        for count, conversation_id in enumerate(self.unpacked_conversations, start=1):
            conversation = self.conversations.get(conversation_id)
            if conversation is not None:
                conversation.pack()
            if count % 1000 == 0:
                pause()
        self.unpacked_conversations.clear()

    # what changed ----------------------------------------------------------------------

    def take_changed_documents(self) -> list[DocumentKey]:
        """The documents changed since the last call, in key order; then forget them."""
        keys = sorted(self.changed_documents)
        self.changed_documents.clear()
        return keys

    def take_changed_tickets(self) -> set[int]:
        """The tickets changed since the last call; then forget them."""
        tickets, self.changed_tickets = self.changed_tickets, set()
        return tickets

    def _document_changed(self, kind: str, key: str) -> None:
        if self.track_changes:
            self.changed_documents[kind, key] = None

    def _ticket_changed(self, ticket: Ticket) -> None:
        self._document_changed("ticket", str(ticket.id))
        if self.track_changes:
            self.changed_tickets.add(ticket.id)

    def _conversation_changed(self, conversation_id: str, people_changed: bool = False) -> None:
        ticket = self.linked_ticket(conversation_id)
        if ticket is None:
            return
        if self.track_changes:
            self.changed_tickets.add(ticket.id)
        if people_changed:
            self._refresh_people(ticket)

    def _refresh_people(self, ticket: Ticket) -> None:
        people = self.people_of(ticket)
        old = frozenset(self._people_of_ticket.get(ticket.id, ()))
        for person in old - people:
            self.tickets_of_person[person].discard(ticket.id)
        for person in people - old:
            self.tickets_of_person.setdefault(person, set()).add(ticket.id)
        self._people_of_ticket[ticket.id] = tuple(people)
