"""Tickets domain core: pure functions, commands in, events out, state folded from events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from kernel.contracts.envelope import RecordedEvent


def stream_of(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


@dataclass(frozen=True)
class Ticket:
    ticket_id: int
    ticket_type: str
    state: str
    title: str
    description: str
    attributes: tuple
    creator_id: str
    participant_ids: tuple[str, ...]
    company_id: str | None
    conversation_id: str | None
    version: int

    def to_dict(self) -> dict:
        return {
            "id": self.ticket_id,
            "type": self.ticket_type,
            "state": self.state,
            "title": self.title,
            "description": self.description,
            "attributes": list(self.attributes),
            "creator_id": self.creator_id,
            "participant_ids": list(self.participant_ids),
            "company_id": self.company_id,
            "conversation_id": self.conversation_id,
        }


def fold(history: Iterable[RecordedEvent]) -> Ticket | None:
    ticket: Ticket | None = None
    for event in history:
        data = event.payload
        if event.type == "TicketCreated":
            ticket = Ticket(
                ticket_id=data["ticket_id"],
                ticket_type=data["ticket_type"],
                state=data["state"],
                title=data["title"],
                description=data["description"],
                attributes=tuple(data["attributes"]),
                creator_id=data["creator_id"],
                participant_ids=tuple(data["participant_ids"]),
                company_id=data["company_id"],
                conversation_id=data["conversation_id"],
                version=event.stream_version,
            )
        elif ticket is not None:
            ticket = replace(ticket, version=event.stream_version)
    return ticket


def open_ticket(ticket_id: int, command: dict) -> list[tuple[str, dict]]:
    creator = command["creator_id"]
    participants = [creator, *(p for p in command.get("participant_ids", []) if p != creator)]
    return [
        (
            "TicketCreated",
            {
                "ticket_id": ticket_id,
                "ticket_type": command["type"],
                "state": command.get("state", "submitted"),
                "title": command["title"],
                "description": command.get("description", ""),
                "attributes": command.get("attributes", []),
                "creator_id": creator,
                "participant_ids": participants,
                "company_id": command.get("company_id"),
                "conversation_id": command.get("conversation_id"),
            },
        )
    ]


def next_ticket_number(exists: Callable[[int], bool]) -> int:
    """The first unused display id. Ids are handed out without gaps (a create that loses
    the race for a number retries with the next), so "ticket n exists" is monotone and an
    exponential then binary search finds the end in O(log n) lookups."""
    high = 1
    while exists(high):
        high *= 2
    low = high // 2  # exists(low) unless low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if exists(middle):
            low = middle
        else:
            high = middle
    return high if low or exists(1) else 1
