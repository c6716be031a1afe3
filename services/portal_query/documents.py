"""The read model's stored form: one JSON document per piece of state, keyed by
``(kind, key)``.

One table, :data:`DOCUMENT_KINDS`, says for every kind how its body is written from the
model and how a stored body goes back in; saving the changes and restoring a whole model
both go through it, so a new kind is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from services.portal_query.read_model import (
    Contact,
    Conversation,
    DocumentKey,
    Part,
    ReadModel,
    Settings,
    Ticket,
    attribute_pairs,
)

Document = dict[str, Any]  # a stored body


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """How one kind of state is stored: ``body`` writes it (``None`` once it is gone),
    ``decode`` reads a stored body back into an object and ``restore`` puts that object
    into a model."""

    body: Callable[[ReadModel, str], Document | None]
    decode: Callable[[str, Document], Any]
    restore: Callable[[ReadModel, Any], None]


def _ticket_body(model: ReadModel, key: str) -> Document | None:
    ticket = model.tickets.get(int(key))
    if ticket is None:
        return None
    return {
        "id": ticket.id,
        "type": ticket.type,
        "state": ticket.state,
        "title": ticket.title,
        "description": ticket.description,
        "attributes": ticket.attribute_list(),
        "creator_id": ticket.creator_id,
        "participant_ids": list(ticket.participant_ids),
        "company_id": ticket.company_id,
        "conversation_id": ticket.conversation_id,
        "created_at": ticket.created_at,
        "changed_at": ticket.changed_at,
    }


def _part_body(model: ReadModel, key: str) -> Document | None:
    conversation_id, _, part_id = key.partition("/")
    conversation = model.conversations.get(conversation_id)
    part = conversation.part(part_id) if conversation else None
    if part is None:
        return None
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


def _conversation_body(model: ReadModel, key: str) -> Document | None:
    conversation = model.conversations.get(key)
    if conversation is None:
        return None
    return {
        "id": conversation.id,
        "contact_id": conversation.contact_id,
        "participant_ids": list(conversation.participant_ids),
    }


def _contact_body(model: ReadModel, key: str) -> Document | None:
    contact = model.contacts.get(key)
    if contact is None:
        return None
    return {
        "id": contact.id,
        "email": contact.email,
        "name": contact.name,
        "attributes": dict(contact.attributes),
    }


def _company_body(model: ReadModel, key: str) -> Document | None:
    return {"id": key, "name": model.companies[key]} if key in model.companies else None


def _membership_body(model: ReadModel, key: str) -> Document | None:
    """Present or not: the key says who belongs to which company."""
    company_id, _, contact_id = key.partition("/")
    return {} if contact_id in model.members.get(company_id, ()) else None


def _settings_body(model: ReadModel, _key: str) -> Document | None:
    return {
        "portal_enabled": model.settings.portal_enabled,
        "preview_enabled": model.settings.preview_enabled,
        "visibility_conditions": list(model.settings.visibility_conditions),
    }


DOCUMENT_KINDS: dict[str, DocumentKind] = {
    "ticket": DocumentKind(
        _ticket_body,
        lambda _key, body: Ticket(**{**body, "attributes": attribute_pairs(body["attributes"])}),
        ReadModel.add_ticket,
    ),
    "part": DocumentKind(_part_body, lambda _key, body: Part(**body), ReadModel.add_part),
    "conversation": DocumentKind(
        _conversation_body,
        lambda _key, body: Conversation(
            body["id"], body["contact_id"], list(body["participant_ids"])
        ),
        ReadModel.start_conversation,
    ),
    "contact": DocumentKind(
        _contact_body, lambda _key, body: Contact(**body), ReadModel.save_contact
    ),
    "company": DocumentKind(
        _company_body,
        lambda key, body: (key, body["name"]),
        lambda model, named: model.name_company(*named),
    ),
    "membership": DocumentKind(
        _membership_body,
        lambda key, _body: key.split("/", 1),
        lambda model, pair: model.add_member(*pair),
    ),
    "settings": DocumentKind(
        _settings_body, lambda _key, body: Settings(**body), ReadModel.set_settings
    ),
}


def take_changes(model: ReadModel) -> dict[DocumentKey, Document | None]:
    """The documents changed since the last call (``None``: delete), then forget them."""
    return {key: document_of(model, key) for key in model.take_changed_documents()}


def document_of(model: ReadModel, key: DocumentKey) -> Document | None:
    """The stored form of one piece of state; ``None`` when it no longer exists."""
    return DOCUMENT_KINDS[key[0]].body(model, key[1])


def restore_model(
    documents: Iterable[tuple[str, str, Document]], pause: Callable[[], None] = lambda: None
) -> ReadModel:
    """A model from stored ``(kind, key, body)`` documents in any order, calling ``pause``
    after each step. Parts wait until every conversation is in, then go in by position
    (a conversation keeps its parts in that order)."""
    model = ReadModel(track_changes=False)
    parts: list[Part] = []
    for kind, key, body in documents:
        value = DOCUMENT_KINDS[kind].decode(key, body)
        if kind == "part":
            parts.append(value)
        else:
            DOCUMENT_KINDS[kind].restore(model, value)
        pause()
    parts.sort(key=lambda part: part.position)
    for part in parts:
        model.add_part(part)
        pause()
    model.track_changes = True
    return model
