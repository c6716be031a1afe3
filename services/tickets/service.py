"""Nameko shell of the tickets service: validate, gather what the rules need, run the
domain, append. See docs/rpc.md.

A conversation is linked to at most one ticket. The event that links it
(TicketConversationLinked, also appended with a ticket converted from a conversation) has
the id :func:`conversation_link_event_id` derives from the conversation, so the store's
unique event ids refuse a second link, from any process, atomically with the ticket's own
events; and the link is found again by that id.
"""

from __future__ import annotations

from dataclasses import replace

from kernel.aggregate import execute
from kernel.contracts import commands
from kernel.contracts.envelope import NewEvent, RecordedEvent
from kernel.contracts.events import conversation_link_event_id
from kernel.contracts.validation import validate
from kernel.dependencies import EventLog, RequestContext, TimedRpcProxy
from kernel.errors import ConcurrencyConflict, Conflict, NotFound, ValidationFailed
from kernel.logging import get_logger
from kernel.rpc import rpc
from services.tickets import domain

log = get_logger(__name__)


class TicketsService:
    name = "tickets"

    context = RequestContext()
    event_log = EventLog()
    identity = TimedRpcProxy("identity")
    companies = TimedRpcProxy("companies")
    messenger_bridge = TimedRpcProxy("messenger_bridge")

    # RPC -----------------------------------------------------------------------------------

    @rpc
    def create_ticket(self, command: dict) -> dict:
        command = validate(commands.CREATE_TICKET, command, "ticket")
        earlier = self.event_log.earlier_attempt()
        if earlier is not None:
            return self._ticket(earlier.payload["ticket_id"]).to_dict()
        conversation = None
        if command.get("conversation_id") is not None:
            conversation = self._conversation_to_link(command["conversation_id"])
            self._refuse_if_linked(conversation["id"])
        return self._open(command, command["creator_id"], conversation).to_dict()

    @rpc
    def convert_conversation(self, conversation_id: str, command: dict) -> dict:
        """A ticket from a conversation: its participants join the ticket's, and its contact
        is the creator unless the command names one."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        command = validate(commands.CONVERT_CONVERSATION, command, "ticket")
        earlier = self.event_log.earlier_attempt()
        if earlier is not None:
            return self._ticket(earlier.payload["ticket_id"]).to_dict()
        conversation = self.messenger_bridge.get_conversation(conversation_id)
        self._refuse_if_linked(conversation_id)
        creator_id = command.get("creator_id", conversation["contact_id"])
        return self._open(command, creator_id, conversation).to_dict()

    @rpc
    def update_ticket(self, ticket_id: int, command: dict) -> dict:
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        command = validate(commands.UPDATE_TICKET, command, "ticket update")

        def decide(history: list[RecordedEvent]) -> list[NewEvent]:
            ticket = domain.existing_ticket(history, ticket_id)
            choices = []
            if domain.needs_company_choices(ticket, command):
                choices = self._company_choices(ticket.participant_ids)
            return self._new_events(domain.update_ticket(ticket, command, choices))

        history = execute(self.event_log, domain.stream_of(ticket_id), decide)
        ticket = domain.fold(history)
        log.info(
            "ticket updated", ticket_id=ticket_id, fields=sorted(command), version=ticket.version
        )
        return ticket.to_dict()

    @rpc
    def link_conversation(self, ticket_id: int, command: dict) -> dict:
        """Link a ticket to a conversation; see :func:`domain.link_conversation` for what
        happens to the company."""
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        command = validate(commands.LINK_CONVERSATION, command, "conversation link")
        conversation_id = command["conversation_id"]
        stream = domain.stream_of(ticket_id)
        domain.existing_ticket(self.event_log.read_stream(stream), ticket_id)
        conversation = self._conversation_to_link(conversation_id)
        self._refuse_if_linked(conversation_id, unless_to=ticket_id)

        def decide(history: list[RecordedEvent]) -> list[NewEvent]:
            ticket = domain.existing_ticket(history, ticket_id)
            companies_of = {}
            if ticket.company_id is None and ticket.conversation_id is None:
                participants = domain.linked_participants(ticket, conversation["participant_ids"])
                companies_of = self.companies.companies_of_contacts(participants)
            decisions = domain.link_conversation(
                ticket, conversation_id, conversation["participant_ids"], companies_of
            )
            return self._new_events(decisions)

        try:
            history = execute(self.event_log, stream, decide)
        except ConcurrencyConflict:
            raise
        except Conflict:
            self._refuse_if_linked(conversation_id, unless_to=ticket_id)
            raise
        # A link stored meanwhile for another ticket makes the store answer with that event.
        self._refuse_if_linked(conversation_id, unless_to=ticket_id)
        ticket = domain.fold(history)
        log.info("ticket linked", ticket_id=ticket_id, conversation_id=conversation_id)
        return ticket.to_dict()

    @rpc
    def get_ticket(self, ticket_id: int) -> dict:
        """The teammate view: internal attributes included."""
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        return self._ticket(ticket_id).to_dict()

    @rpc
    def company_choices(self, ticket_id: int) -> dict:
        """The options of the teammates' company dropdown, and the current company."""
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        ticket = self._ticket(ticket_id)
        return {
            "choices": self._company_choices(ticket.participant_ids),
            "company_id": ticket.company_id,
        }

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}

    # helpers -------------------------------------------------------------------------------

    def _ticket(self, ticket_id: int) -> domain.Ticket:
        history = self.event_log.read_stream(domain.stream_of(ticket_id))
        return domain.existing_ticket(history, ticket_id)

    def _new_events(self, decisions: list[domain.Decision]) -> list[NewEvent]:
        events = []
        for event_type, payload in decisions:
            event = self.event_log.new_event(event_type, payload)
            if event_type == "TicketConversationLinked":
                link_id = conversation_link_event_id(payload["conversation_id"])
                event = replace(event, event_id=link_id)
            events.append(event)
        return events

    def _company_choices(self, participant_ids) -> list[str]:
        companies_of = self.companies.companies_of_contacts(list(participant_ids))
        return domain.company_choices(participant_ids, companies_of)

    def _conversation_to_link(self, conversation_id: str) -> dict:
        """The conversation a command's ``conversation_id`` names; unknown is bad input."""
        try:
            return self.messenger_bridge.get_conversation(conversation_id)
        except NotFound as error:
            raise ValidationFailed(
                f"conversation {conversation_id} does not exist",
                {"conversation_id": "no such conversation"},
            ) from error

    def _linked_ticket(self, conversation_id: str) -> int | None:
        link_id = conversation_link_event_id(conversation_id)
        link = self.event_log.store.get_events([link_id]).get(link_id)
        return link.payload["ticket_id"] if link else None

    def _refuse_if_linked(self, conversation_id: str, unless_to: int | None = None) -> None:
        linked = self._linked_ticket(conversation_id)
        if linked is not None and linked != unless_to:
            raise Conflict(
                f"conversation {conversation_id} is already linked to ticket {linked}",
                {"conversation_id": f"already linked to ticket {linked}"},
            )

    def _open(self, command: dict, creator_id: str, conversation: dict | None) -> domain.Ticket:
        """Create a ticket under the next free display id; a create that loses the race for
        a number retries with the next, so ids have no gaps."""
        command_participants = command.get("participant_ids", [])
        domain.check_no_duplicates(command_participants)
        conversation_id = conversation["id"] if conversation else None
        participants = domain.participants_of(
            creator_id,
            command_participants,
            conversation["participant_ids"] if conversation else [],
        )
        known_contacts = self.identity.get_contacts(participants)
        companies_of = self.companies.companies_of_contacts(participants)
        event_log = self.event_log
        number = domain.next_ticket_number(
            lambda n: event_log.stream_version(domain.stream_of(n)) > 0
        )
        while True:
            decisions = domain.open_ticket(
                number, command, participants, known_contacts, companies_of, conversation_id
            )
            event_log.restart()
            events = self._new_events(decisions)
            try:
                recorded = event_log.append(domain.stream_of(number), events, 0)
            except ConcurrencyConflict:
                number += 1  # another writer took this number first
                continue
            except Conflict:
                # The link event is stored already: another ticket has this conversation.
                if conversation_id is not None:
                    self._refuse_if_linked(conversation_id)
                raise
            break
        # The new stream is exactly what was appended (or, for a racing retry, stored first).
        ticket = domain.fold(recorded)
        log.info(
            "ticket created",
            ticket_id=ticket.ticket_id,
            company_id=ticket.company_id,
            conversation_id=conversation_id,
        )
        return ticket
