"""Nameko shell of the tickets service: validate, run the domain, append."""

from __future__ import annotations

from nameko.rpc import rpc

from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.dependencies import EventLog, RequestContext
from kernel.errors import ConcurrencyConflict, NotFound
from kernel.logging import get_logger
from services.tickets import domain

log = get_logger(__name__)


class TicketsService:
    name = "tickets"

    context = RequestContext()
    event_log = EventLog()

    @rpc
    def create_ticket(self, command: dict) -> dict:
        command = validate(commands.CREATE_TICKET, command, "ticket")
        history = self.event_log
        earlier = history.earlier_attempt()
        if earlier is not None:
            return domain.fold(history.read_stream(earlier.stream_id)).to_dict()
        number = domain.next_ticket_number(
            lambda n: history.stream_version(domain.stream_of(n)) > 0
        )
        while True:
            history.restart()
            events = [history.new_event(t, p) for t, p in domain.open_ticket(number, command)]
            try:
                recorded = history.append(domain.stream_of(number), events, 0)
            except ConcurrencyConflict:
                number += 1  # another writer took this number first
                continue
            log.info("ticket created", ticket_id=number)
            return domain.fold(recorded).to_dict()

    @rpc
    def get_ticket(self, ticket_id: int) -> dict:
        ticket = domain.fold(self.event_log.read_stream(domain.stream_of(int(ticket_id))))
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} does not exist")
        return ticket.to_dict()

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}
