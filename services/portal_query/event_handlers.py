"""What each event does to the read model: one handler per event type, in one table.

A handler reads the event and calls the read model's public methods. It is where internal
data is dropped on arrival: an internal note never becomes a part, an internal attribute
never reaches a ticket, so no later query, index, preview or storage can leak them. An
internal note does not even move "last updated". Every time comes from the event's
``occurred_at``, never from a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kernel.contracts.envelope import RecordedEvent
from services.portal_query.read_model import (
    Attributes,
    Contact,
    Conversation,
    Part,
    ReadModel,
    Settings,
    Ticket,
    attribute_pairs,
)

Handler = Callable[[ReadModel, RecordedEvent], None]


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def visible_attributes(attributes: list[dict[str, Any]]) -> Attributes:
    """Only what the customer may see, without the flag."""
    return attribute_pairs(
        [attribute for attribute in attributes if attribute["visible_to_customer"]]
    )


def contact_saved(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.save_contact(
        Contact(data["contact_id"], data["email"], data["name"], dict(data["attributes"]))
    )


def settings_changed(model: ReadModel, event: RecordedEvent) -> None:
    """A version 1 event (before the portal switch) leaves the portal on."""
    data = event.payload
    model.set_settings(
        Settings(
            data["preview_enabled"],
            list(data["visibility_conditions"]),
            data.get("portal_enabled", True),
        )
    )


def company_named(model: ReadModel, event: RecordedEvent) -> None:
    model.name_company(event.payload["company_id"], event.payload["name"])


def member_added(model: ReadModel, event: RecordedEvent) -> None:
    model.add_member(event.payload["company_id"], event.payload["contact_id"])


def member_removed(model: ReadModel, event: RecordedEvent) -> None:
    model.remove_member(event.payload["company_id"], event.payload["contact_id"])


def ticket_created(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    at = epoch(event.occurred_at)
    model.add_ticket(
        Ticket(
            id=data["ticket_id"],
            type=data["ticket_type"],
            state=data["state"],
            title=data["title"],
            description=data["description"],
            attributes=visible_attributes(data["attributes"]),
            creator_id=data["creator_id"],
            participant_ids=list(dict.fromkeys([data["creator_id"], *data["participant_ids"]])),
            company_id=data["company_id"],
            conversation_id=data["conversation_id"],
            created_at=at,
            changed_at=at,
        )
    )


def ticket_state_changed(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.update_ticket(data["ticket_id"], epoch(event.occurred_at), state=data["state"])


def ticket_edited(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    ticket = model.tickets[data["ticket_id"]]
    title = data.get("title", ticket.title)
    description = data.get("description", ticket.description)
    if (title, description) != (ticket.title, ticket.description):
        model.update_ticket(
            ticket.id, epoch(event.occurred_at), title=title, description=description
        )


def ticket_attributes_changed(model: ReadModel, event: RecordedEvent) -> None:
    """Only a change the customer can see moves "last updated"."""
    data = event.payload
    visible = visible_attributes(data["attributes"])
    if visible != model.tickets[data["ticket_id"]].attributes:
        model.update_ticket(data["ticket_id"], epoch(event.occurred_at), attributes=visible)


def ticket_company_assigned(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.update_ticket(data["ticket_id"], epoch(event.occurred_at), company_id=data["company_id"])


def ticket_conversation_linked(model: ReadModel, event: RecordedEvent) -> None:
    """The link carries the ticket's participants from then on (as the tickets service
    folds it)."""
    data = event.payload
    model.link_conversation(
        data["ticket_id"],
        data["conversation_id"],
        list(dict.fromkeys(data["participant_ids"])),
        epoch(event.occurred_at),
    )


def conversation_started(model: ReadModel, event: RecordedEvent) -> None:
    data = event.payload
    model.start_conversation(
        Conversation(data["conversation_id"], data["contact_id"], [data["contact_id"]])
    )


def conversation_part_added(model: ReadModel, event: RecordedEvent) -> None:
    """An internal note is dropped here, before it can reach any state. A user who writes
    takes part in the conversation from then on."""
    data = event.payload
    if data["internal"]:
        return
    model.add_part(
        Part(
            id=data["part_id"],
            conversation_id=data["conversation_id"],
            author_type=data["author_type"],
            author_id=data["author_id"],
            author_name=data["author_name"],
            body=data["body"],
            created_at=epoch(event.occurred_at),
            position=event.position,
        )
    )
    if data["author_type"] == "user":
        model.add_participant(data["conversation_id"], data["author_id"])


def conversation_participant_joined(model: ReadModel, event: RecordedEvent) -> None:
    model.add_participant(event.payload["conversation_id"], event.payload["contact_id"])


def conversation_participant_removed(model: ReadModel, event: RecordedEvent) -> None:
    model.remove_participant(event.payload["conversation_id"], event.payload["contact_id"])


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
    "ConversationParticipantRemoved": conversation_participant_removed,
}
"""What the portal projects."""

# Events that change nothing the portal shows (sessions live in identity alone; ticket types
# and their forms are answered by tickets, which owns them; e-mail preferences by the
# notifications service). A company's move between partitions is applied by the partition
# filter (partition.py).
NOT_SHOWN = frozenset(
    {
        "PortalSessionStarted",
        "PortalSessionRevoked",
        "PortalSessionsRevoked",
        "TicketTypeCreated",
        "TicketTypeChanged",
        "NotificationPreferencesChanged",
        "CompanyPartitionAssigned",
    }
)
