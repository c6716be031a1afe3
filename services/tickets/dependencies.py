"""The tickets service's own dependency provider: every ticket type, folded from the event
store by position, for the lists teammates and customers read (a type's own command reads
its stream instead)."""

from __future__ import annotations

from kernel.catch_up import CatchUpIndex, CatchUpIndexProvider
from kernel.contracts.envelope import RecordedEvent
from services.tickets import ticket_types


class TicketTypesIndex(CatchUpIndex):
    """Each ticket type as its last event leaves it. Every answer catches up to the store's
    head first, so a type a teammate has just saved is in the next list."""

    def __init__(self, store):
        super().__init__(store)
        self.types: dict[str, ticket_types.TicketType] = {}

    def apply(self, event: RecordedEvent) -> None:
        if event.type in ("TicketTypeCreated", "TicketTypeChanged"):
            ticket_type = ticket_types.fold([event])
            self.types[ticket_type.ticket_type_id] = ticket_type

    def all(self) -> list[ticket_types.TicketType]:
        self.catch_up()
        return [self.types[key] for key in sorted(self.types)]


class TicketTypes(CatchUpIndexProvider):
    index_type = TicketTypesIndex
