"""Nameko shell of the tickets service: validate, gather what the rules need, run the
domain, append. See docs/rpc.md.

A conversation is linked to at most one ticket. The event that links it
(TicketConversationLinked, also appended with a ticket converted from a conversation) has
the id :func:`conversation_link_event_id` derives from the conversation, so the store's
unique event ids refuse a second link, from any process, atomically with the ticket's own
events; and tickets finds the link again by that id (others ask :meth:`linked_ticket`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import count

from kernel.aggregate import create, execute
from kernel.contracts import commands
from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.contracts.events import conversation_link_event_id
from kernel.contracts.validation import validate
from kernel.dependencies import TimedRpcProxy
from kernel.errors import ConcurrencyConflict, Conflict, NotFound, ValidationFailed
from kernel.logging import get_logger
from kernel.portal_access_index import PortalAccess
from kernel.rpc import rpc
from kernel.service import WriteService
from services.tickets import domain, ticket_types
from services.tickets.dependencies import TicketTypes

log = get_logger(__name__)


class TicketsService(WriteService):
    name = "tickets"

    identity = TimedRpcProxy("identity")
    companies = TimedRpcProxy("companies")
    messenger_bridge = TimedRpcProxy("messenger_bridge")
    access = PortalAccess()
    types = TicketTypes()

    # RPC -----------------------------------------------------------------------------------

    @rpc
    def create_ticket(self, command: dict) -> dict:
        command = validate(commands.CREATE_TICKET, command, "ticket")
        conversation_id = command.get("conversation_id")
        ticket, _ = self._open(command, conversation_id, self._conversation_to_link)
        return ticket.to_dict()

    @rpc
    def submit_ticket(self, user_id: str, command: dict) -> dict:
        """A portal user's new ticket through a ticket type's form: they are its creator, its
        company follows the automatic rule over their own companies unless they pick one of
        them, and it keeps the form as it is now. Answers the ticket as the customer sees it
        and the store ``position`` their next reads must show."""
        validate(commands.USER_ID, {"user_id": user_id}, "user id")
        command = validate(commands.SUBMIT_TICKET, command, "ticket")
        self.access.require_portal_on()
        type_id = command["type"]
        ticket_type = ticket_types.creatable_type(
            ticket_types.fold(self.event_log.read_stream(ticket_types.stream_of(type_id))),
            type_id,
        )
        attributes = ticket_types.answered_attributes(ticket_type, command.get("attributes", {}))
        ticket_command = {
            **{
                key: command[key]
                for key in ("title", "description", "company_id")
                if key in command
            },
            "type": ticket_type.name,
            "creator_id": user_id,
            "attributes": attributes,
        }
        form = ticket_types.form_snapshot(ticket_type)
        ticket, position = self._open(ticket_command, None, self._conversation_to_link, form)
        return {**ticket.customer_view(), "position": position}

    @rpc
    def customer_state_change(self, ticket_id: int, user_id: str, action: str) -> dict:
        """A portal user resolves (``action`` "resolve") or reopens ("reopen") a ticket they
        may see by the portal's rule; any other ticket is :class:`NotFound`, worded as a
        missing one. Answers the ticket as the customer sees it and the store ``position``."""
        change = {"ticket_id": ticket_id, "user_id": user_id, "action": action}
        validate(commands.CUSTOMER_STATE_CHANGE, change, "state change")
        self.access.visible_ticket(user_id, ticket_id)

        def decide(history: list[RecordedEvent]) -> list[Decision]:
            ticket = domain.existing_ticket(history, ticket_id)
            return domain.customer_state_change(ticket, user_id, action)

        history, written = execute(self.event_log, domain.stream_of(ticket_id), decide)
        ticket = domain.fold(history)
        log.info("ticket state changed by its customer", ticket_id=ticket_id, action=action)
        return {**ticket.customer_view(), "position": (written or history)[-1].position}

    # ticket types ------------------------------------------------------------------------------

    @rpc
    def create_ticket_type(self, command: dict) -> dict:
        command = validate(commands.CREATE_TICKET_TYPE, command, "ticket type")
        stream = ticket_types.stream_of(command["id"])
        history, _ = execute(
            self.event_log,
            stream,
            lambda history: ticket_types.define_type(command, ticket_types.fold(history)),
        )
        log.info("ticket type created", ticket_type_id=command["id"])
        return ticket_types.fold(history).to_dict()

    @rpc
    def update_ticket_type(self, ticket_type_id: str, command: dict) -> dict:
        validate(commands.TICKET_TYPE_ID, {"ticket_type_id": ticket_type_id}, "ticket type id")
        command = validate(commands.UPDATE_TICKET_TYPE, command, "ticket type")

        def decide(history: list[RecordedEvent]) -> list[Decision]:
            ticket_type = ticket_types.existing_type(history, ticket_type_id)
            return ticket_types.change_type(ticket_type, command)

        history, _ = execute(self.event_log, ticket_types.stream_of(ticket_type_id), decide)
        ticket_type = ticket_types.fold(history)
        log.info("ticket type changed", ticket_type_id=ticket_type_id, version=ticket_type.version)
        return ticket_type.to_dict()

    @rpc
    def list_ticket_types(self) -> dict:
        """Every ticket type, for teammates."""
        return {"items": [ticket_type.to_dict() for ticket_type in self.types.all()]}

    @rpc
    def customer_ticket_types(self) -> dict:
        """The types a customer may create, each with only its customer-visible fields
        (:class:`PortalDisabled` while the portal is off)."""
        self.access.require_portal_on()
        creatable = [t for t in self.types.all() if t.customer_creatable]
        return {"items": [ticket_type.customer_view() for ticket_type in creatable]}

    @rpc
    def convert_conversation(self, conversation_id: str, command: dict) -> dict:
        """A ticket from a conversation: its participants join the ticket's, and its contact
        is the creator unless the command names one."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        command = validate(commands.CONVERT_CONVERSATION, command, "ticket")
        conversation_of = self.messenger_bridge.conversation_participants
        ticket, _ = self._open(command, conversation_id, conversation_of)
        return ticket.to_dict()

    @rpc
    def update_ticket(self, ticket_id: int, command: dict) -> dict:
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        command = validate(commands.UPDATE_TICKET, command, "ticket update")

        def decide(history: list[RecordedEvent]) -> list[Decision]:
            ticket = domain.existing_ticket(history, ticket_id)
            choices = []
            if domain.needs_company_choices(ticket, command):
                choices = self._company_choices(ticket.participant_ids)
            return domain.update_ticket(ticket, command, choices)

        history, _ = execute(self.event_log, domain.stream_of(ticket_id), decide)
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

        def decide(history: list[RecordedEvent]) -> list[Decision]:
            ticket = domain.existing_ticket(history, ticket_id)
            companies_of = {}
            if domain.link_needs_companies(ticket):
                participants = domain.linked_participants(ticket, conversation["participant_ids"])
                companies_of = self.companies.companies_of_contacts(participants)
            return domain.link_conversation(
                ticket, conversation_id, conversation["participant_ids"], companies_of
            )

        try:
            history, _ = execute(self.event_log, stream, decide)
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
        """The options of the teammates' company dropdown, the current company, and whether a
        teammate chose it (``False``: the automatic rule did)."""
        validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")
        ticket = self._ticket(ticket_id)
        return {
            "choices": self._company_choices(ticket.participant_ids),
            "company_id": ticket.company_id,
            "company_chosen": ticket.company_chosen,
        }

    @rpc
    def linked_ticket(self, conversation_id: str) -> int | None:
        """The id of the ticket the conversation is linked to, if any."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        link = self.event_log.own_event(conversation_link_event_id(conversation_id))
        return link.payload["ticket_id"] if link else None

    # helpers -------------------------------------------------------------------------------

    def _ticket(self, ticket_id: int) -> domain.Ticket:
        history = self.event_log.read_stream(domain.stream_of(ticket_id))
        return domain.existing_ticket(history, ticket_id)

    def _company_choices(self, participant_ids) -> list[str]:
        companies_of = self.companies.companies_of_contacts(list(participant_ids))
        return domain.company_choices(participant_ids, companies_of)

    def _conversation_to_link(self, conversation_id: str) -> dict:
        """The conversation a command's ``conversation_id`` names; unknown is bad input."""
        try:
            return self.messenger_bridge.conversation_participants(conversation_id)
        except NotFound as error:
            raise ValidationFailed(
                f"conversation {conversation_id} does not exist",
                {"conversation_id": "no such conversation"},
            ) from error

    def _refuse_if_linked(self, conversation_id: str, unless_to: int | None = None) -> None:
        linked = self.linked_ticket(conversation_id)
        if linked is not None and linked != unless_to:
            raise Conflict(
                f"conversation {conversation_id} is already linked to ticket {linked}",
                {"conversation_id": f"already linked to ticket {linked}"},
            )

    def _open(
        self,
        command: dict,
        conversation_id: str | None,
        conversation_of: Callable[[str], dict],
        form: dict | None = None,
    ) -> tuple[domain.Ticket, int]:
        """Create a ticket under the next free display id, from the conversation
        ``conversation_of`` answers if there is one; a create that loses the race for a
        number retries with the next, so ids have no gaps. A retried request answers the
        ticket its first attempt created, before anything is looked up again. Answers the
        ticket and the store position of its last event."""
        domain.check_no_duplicates(command.get("participant_ids", []))

        @cache
        def facts() -> tuple[list[str], dict, dict]:
            conversation = None
            if conversation_id is not None:
                conversation = conversation_of(conversation_id)
                self._refuse_if_linked(conversation_id)
            participants = domain.participants_of(
                command.get("creator_id") or conversation["contact_id"],
                command.get("participant_ids", []),
                conversation["participant_ids"] if conversation else [],
            )
            known_contacts = self.identity.get_contacts(participants)
            return participants, known_contacts, self.companies.companies_of_contacts(participants)

        def decide(number: int) -> list[Decision]:
            participants, known_contacts, companies_of = facts()
            return domain.open_ticket(
                number, command, participants, known_contacts, companies_of, conversation_id, form
            )

        try:
            history = create(self.event_log, self._free_numbers(), domain.stream_of, decide)
        except ConcurrencyConflict:
            raise
        except Conflict:
            # The link event is stored already: another ticket has this conversation.
            if conversation_id is not None:
                self._refuse_if_linked(conversation_id)
            raise
        ticket = domain.fold(history)
        log.info(
            "ticket created",
            ticket_id=ticket.ticket_id,
            company_id=ticket.company_id,
            conversation_id=conversation_id,
        )
        return ticket, history[-1].position

    def _free_numbers(self) -> Iterator[int]:
        """The next free display id, then the ones after it (another writer may take one)."""
        event_log = self.event_log
        yield from count(
            domain.next_ticket_number(lambda n: event_log.stream_version(domain.stream_of(n)) > 0)
        )
