"""Messenger domain core: conversations folded from their events, and the rules for starting
one, adding a part, a portal user's reply, joining and removing a participant. Pure: the
shell passes in the contacts, the new ids and what the portal lets the user see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NoReturn

from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.errors import AccessDenied, NotFound, ValidationFailed

MESSENGER_URL = "/messenger/conversations/{conversation_id}"
CUSTOMER_PART_FIELDS = ("id", "author_type", "author_name", "body", "created_at")


@dataclass(frozen=True)
class Part:
    part_id: str
    author_type: str
    author_id: str
    author_name: str | None
    body: str
    internal: bool
    created_at: str

    def to_dict(self) -> dict:
        """The part as teammates see it."""
        return {
            "id": self.part_id,
            "author_type": self.author_type,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "body": self.body,
            "internal": self.internal,
            "created_at": self.created_at,
        }

    def customer_view(self) -> dict:
        """A customer-visible part as the Messenger shows it to a portal user: without the
        author's id or the internal flag."""
        part = self.to_dict()
        return {key: part[key] for key in CUSTOMER_PART_FIELDS}


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    contact_id: str
    participant_ids: tuple[str, ...]
    parts: tuple[Part, ...]

    def part(self, part_id: str) -> Part | None:
        return next((part for part in self.parts if part.part_id == part_id), None)

    def to_dict(self, ticket_id: int | None) -> dict:
        """The teammate view: internal notes included."""
        return {
            "id": self.conversation_id,
            "contact_id": self.contact_id,
            "participant_ids": list(self.participant_ids),
            "ticket_id": ticket_id,
            "parts": [part.to_dict() for part in self.parts],
        }


def stream_of(conversation_id: str) -> str:
    return f"conversation-{conversation_id}"


def fold(history: Iterable[RecordedEvent]) -> Conversation | None:
    """The conversation as its events leave it; ``None`` before it is started."""
    conversation: Conversation | None = None
    for event in history:
        data = event.payload
        if event.type == "ConversationStarted":
            conversation = Conversation(
                data["conversation_id"], data["contact_id"], (data["contact_id"],), ()
            )
        elif conversation is None:
            continue
        elif event.type == "ConversationPartAdded":
            part = Part(
                data["part_id"],
                data["author_type"],
                data["author_id"],
                data["author_name"],
                data["body"],
                data["internal"],
                event.occurred_at,
            )
            conversation = replace(conversation, parts=(*conversation.parts, part))
        elif event.type == "ConversationParticipantJoined":
            participants = (*conversation.participant_ids, data["contact_id"])
            conversation = replace(conversation, participant_ids=participants)
        elif event.type == "ConversationParticipantRemoved":
            participants = tuple(p for p in conversation.participant_ids if p != data["contact_id"])
            conversation = replace(conversation, participant_ids=participants)
    return conversation


def no_such_conversation(conversation_id: str) -> NotFound:
    return NotFound(
        f"conversation {conversation_id} does not exist",
        {"conversation_id": "no such conversation"},
    )


def existing_conversation(history: Iterable[RecordedEvent], conversation_id: str) -> Conversation:
    conversation = fold(history)
    if conversation is None:
        raise no_such_conversation(conversation_id)
    return conversation


def _part_added(conversation_id: str, part_id: str, author: dict, body: str, internal: bool):
    return (
        "ConversationPartAdded",
        {
            "conversation_id": conversation_id,
            "part_id": part_id,
            "author_type": author["type"],
            "author_id": author["id"],
            "author_name": author["name"],
            "body": body,
            "internal": internal,
        },
    )


def start_conversation(
    conversation_id: str, part_id: str, command: dict, contact: dict | None
) -> list[Decision]:
    """A conversation opened by a user's message; the author's name comes from the contact.
    It is a new stream, so its id is never used twice."""
    if contact is None:
        raise ValidationFailed(
            f"contact {command['user_id']} does not exist", {"user_id": "no such contact"}
        )
    author = {"type": "user", "id": contact["id"], "name": contact["name"]}
    return [
        ("ConversationStarted", {"conversation_id": conversation_id, "contact_id": contact["id"]}),
        _part_added(conversation_id, part_id, author, command["body"], internal=False),
    ]


def add_part(
    conversation: Conversation, part_id: str, command: dict, contact: dict | None
) -> list[Decision]:
    """A reply, message or internal note. A user must be a contact taking part in the
    conversation, gets the contact's name and cannot write internal notes; a teammate must
    give a name. ``contact`` is the author's contact record when the author is a user."""
    internal = command.get("internal", False)
    if command["author_type"] == "teammate":
        if not command.get("author_name"):
            raise ValidationFailed(
                "a teammate's part needs the author's name", {"author_name": "required"}
            )
        author = {"type": "teammate", "id": command["author_id"], "name": command["author_name"]}
        return [
            _part_added(conversation.conversation_id, part_id, author, command["body"], internal)
        ]
    problems = {}
    if command.get("author_name") is not None:
        problems["author_name"] = "must not be given for a user: the contact's name is used"
    if internal:
        problems["internal"] = "a user cannot write internal notes"
    if contact is None:
        problems["author_id"] = "no such contact"
    elif contact["id"] not in conversation.participant_ids:
        problems["author_id"] = "is not a participant of this conversation"
    if problems:
        raise ValidationFailed("invalid part: " + "; ".join(problems.values()), problems)
    author = {"type": "user", "id": contact["id"], "name": contact["name"]}
    return [_part_added(conversation.conversation_id, part_id, author, command["body"], False)]


def refuse_outsider(conversation_id: str, may_open: bool) -> NoReturn:
    """A portal user who does not take part in the conversation cannot reply: one who may
    open it (through its ticket) is told to join first; to anyone else it does not exist,
    in the same words as a missing conversation."""
    if may_open:
        raise AccessDenied(
            "join the conversation before replying", {"conversation_id": "not joined"}
        )
    raise no_such_conversation(conversation_id)


def user_reply(
    conversation: Conversation, part_id: str, user_id: str, body: str, contact: dict | None
) -> list[Decision]:
    """A portal user's message: a customer-visible part under the contact's name, by the
    rules of :func:`add_part`."""
    return add_part(
        conversation, part_id, {"author_type": "user", "author_id": user_id, "body": body}, contact
    )


def join(conversation: Conversation, user_id: str, ticket_id: int) -> list[Decision]:
    """The user joins through the ticket's "Join conversation"; a participant already in it
    changes nothing."""
    if user_id in conversation.participant_ids:
        return []
    return [
        (
            "ConversationParticipantJoined",
            {
                "conversation_id": conversation.conversation_id,
                "contact_id": user_id,
                "ticket_id": ticket_id,
            },
        )
    ]


def remove_participant(conversation: Conversation, user_id: str) -> list[Decision]:
    """A teammate takes the user out of the conversation: from then on they read and reply
    only if they could without taking part (they see its ticket in the portal), and may
    join again only then. Someone who does not take part changes nothing."""
    if user_id not in conversation.participant_ids:
        return []
    return [
        (
            "ConversationParticipantRemoved",
            {"conversation_id": conversation.conversation_id, "contact_id": user_id},
        )
    ]
