"""What one partition of portal_query holds: the edge between the store and the handlers.

Every partition applies what is small and everybody's (contacts, companies, memberships,
the portal settings), so identity, membership and the visibility rules are decided in each
partition exactly as in one. Tickets and conversations are skipped unless held here:

* a ticket is held by the partitions of its company (:class:`kernel.partitions.Assignment`),
  or without a company by its creator's home partition;
* a conversation goes with the ticket linked to it; a conversation no ticket links (yet)
  stays in the home partition of the user who started it;
* the read model is the directory: a later event of a ticket or conversation is applied
  when the model has it.

When something starts being held here (a ticket assigned to a company of this partition, a
conversation linked to a ticket of it, a company copied here) its history is read back from
the store and applied first; when it stops being held, it is removed. The assignment is
folded from the store's ``CompanyPartitionAssigned`` stream, up to the checkpoint on load,
then event by event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kernel.config import own_partition, partition_count
from kernel.contracts.envelope import RecordedEvent
from kernel.contracts.events import conversation_link_event_id
from kernel.eventstore import EventStore
from kernel.partitions import ASSIGNED, ASSIGNMENT_STREAM, Assignment
from services.portal_query.event_handlers import Handler
from services.portal_query.read_model import ReadModel

TICKET_EVENTS = frozenset(
    {"TicketStateChanged", "TicketEdited", "TicketAttributesChanged"}
)  # applied when the ticket is held here
CONVERSATION_EVENTS = frozenset(
    {"ConversationPartAdded", "ConversationParticipantJoined", "ConversationParticipantRemoved"}
)


def ticket_stream(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def conversation_stream(conversation_id: str) -> str:
    return f"conversation-{conversation_id}"


class PartitionFilter:
    """Decides, event by event, what partition ``me`` of ``count`` applies."""

    def __init__(self, store: EventStore, me: int, count: int, handlers: Mapping[str, Handler]):
        self.store = store
        self.me = me
        self.assignment = Assignment(count)
        self.base = dict(handlers)

    @classmethod
    def of(
        cls, config: Mapping[str, Any], store: EventStore, handlers: Mapping[str, Handler]
    ) -> PartitionFilter:
        """The filter of the partition ``config`` names (``PORTAL_PARTITION``)."""
        return cls(store, own_partition(config), partition_count(config), handlers)

    def load(self, checkpoint: int) -> None:
        """The assignment as it was at ``checkpoint`` (the generation's place)."""
        self.assignment = Assignment(self.assignment.count)
        for event in self.store.read_stream(ASSIGNMENT_STREAM):
            if event.position <= checkpoint and event.type == ASSIGNED:
                self.assignment.apply(event.payload)

    def serves(self, company_id: str | None) -> bool:
        """Whether this partition answers for the company's tickets (all partitions
        answer for the tickets without a company they hold)."""
        return company_id is None or self.assignment.owner(company_id) == self.me

    def handlers(self) -> dict[str, Handler]:
        """The handler table of this partition: each base handler behind the filter."""
        table = {name: self._filtered(name) for name in self.base}
        table[ASSIGNED] = self._assigned
        return table

    def _filtered(self, name: str) -> Handler:
        def handler(model: ReadModel, event: RecordedEvent) -> None:
            if self._held(model, event):
                self.base[name](model, event)

        handler.__name__ = f"partition_{name}"
        return handler

    # ownership -------------------------------------------------------------------------

    def _holds_ticket(self, company_id: str | None, creator_id: str) -> bool:
        return self.me in self.assignment.ticket_holders(company_id, creator_id)

    def _held(self, model: ReadModel, event: RecordedEvent) -> bool:
        """Whether ``event`` is applied here; adopts or removes what changes hands."""
        data, kind = event.payload, event.type
        if kind in TICKET_EVENTS:
            return data["ticket_id"] in model.tickets
        if kind in CONVERSATION_EVENTS:
            return data["conversation_id"] in model.conversations
        if kind == "TicketCreated":
            return self._ticket_created(model, event)
        if kind == "TicketCompanyAssigned":
            return self._company_assigned(model, event)
        if kind == "TicketConversationLinked":
            return self._conversation_linked(model, event, data["conversation_id"])
        if kind == "ConversationStarted":
            return self._conversation_started(model, event)
        return True  # contacts, companies, memberships, settings: every partition's

    def _ticket_created(self, model: ReadModel, event: RecordedEvent) -> bool:
        data = event.payload
        if self._holds_ticket(data["company_id"], data["creator_id"]):
            if data["conversation_id"]:
                self._adopt_conversation(model, data["conversation_id"], event.position)
            return True
        if data["conversation_id"] in model.conversations:
            model.remove_conversation(data["conversation_id"])
        return False

    def _company_assigned(self, model: ReadModel, event: RecordedEvent) -> bool:
        data = event.payload
        ticket = model.tickets.get(data["ticket_id"])
        if ticket is not None:
            if self._holds_ticket(data["company_id"], ticket.creator_id):
                return True
            self._remove_ticket(model, ticket.id)
            return False
        if data["company_id"] is not None and not self._holds_ticket(data["company_id"], ""):
            return False
        history = self.store.read_stream(ticket_stream(data["ticket_id"]))
        created = next(e for e in history if e.type == "TicketCreated")
        if not self._holds_ticket(data["company_id"], created.payload["creator_id"]):
            return False
        self._adopt_history(model, history, event.position)
        return True

    def _conversation_linked(self, model: ReadModel, event: RecordedEvent, conversation: str):
        if event.payload["ticket_id"] in model.tickets:
            self._adopt_conversation(model, conversation, event.position)
            return True
        if conversation in model.conversations:
            model.remove_conversation(conversation)
        return False

    def _conversation_started(self, model: ReadModel, event: RecordedEvent) -> bool:
        data = event.payload
        if model.ticket_of_conversation.get(data["conversation_id"]) in model.tickets:
            return True
        if self.assignment.home(data["contact_id"]) != self.me:
            return False
        link_id = conversation_link_event_id(data["conversation_id"])
        link = self.store.get_events([link_id]).get(link_id)
        return link is None or link.position > event.position

    # changing hands --------------------------------------------------------------------

    def _adopt_conversation(self, model: ReadModel, conversation_id: str, before: int) -> None:
        if conversation_id not in model.conversations:
            history = self.store.read_stream(conversation_stream(conversation_id))
            self._apply_history(model, [e for e in history if e.position < before])

    def _adopt_history(
        self, model: ReadModel, ticket_history: list[RecordedEvent], before: int
    ) -> None:
        """A ticket's events before ``before`` and those of the conversations it links."""
        ticket_history = [e for e in ticket_history if e.position < before]
        history = list(ticket_history)
        for event in ticket_history:
            linked = event.payload.get("conversation_id")
            if linked and linked not in model.conversations:
                stream = self.store.read_stream(conversation_stream(linked))
                history.extend(e for e in stream if e.position < before)
        self._apply_history(model, history)

    def _apply_history(self, model: ReadModel, events: Iterable[RecordedEvent]) -> None:
        for event in sorted(events, key=lambda e: e.position):
            handler = self.base.get(event.type)
            if handler is not None:
                handler(model, event)

    def _remove_ticket(self, model: ReadModel, ticket_id: int) -> None:
        conversation = model.tickets[ticket_id].conversation_id
        model.remove_ticket(ticket_id)
        if conversation in model.conversations:
            model.remove_conversation(conversation)

    def _assigned(self, model: ReadModel, event: RecordedEvent) -> None:
        """One step of moving a company (``kernel.partitions``)."""
        company = event.payload["company_id"]
        held_before = self.me in self.assignment.holders(company)
        self.assignment.apply(event.payload)
        held_now = self.me in self.assignment.holders(company)
        if held_now and not held_before:
            self._adopt_company(model, company, event.position)
        elif held_before and not held_now:
            for ticket in [t for t in model.tickets.values() if t.company_id == company]:
                self._remove_ticket(model, ticket.id)

    def _adopt_company(self, model: ReadModel, company_id: str, before: int) -> None:
        """Rebuild one company here from the store: find the tickets that belonged to it
        before ``before`` and the conversations they link, then replay their streams."""
        companies: dict[int, str | None] = {}
        links: dict[int, set[str]] = {}
        for event in self._events_before(before):
            data = event.payload
            if event.type in ("TicketCreated", "TicketCompanyAssigned"):
                companies[data["ticket_id"]] = data["company_id"]
            if event.type in ("TicketCreated", "TicketConversationLinked") and data.get(
                "conversation_id"
            ):
                links.setdefault(data["ticket_id"], set()).add(data["conversation_id"])
        tickets = {ticket for ticket, company in companies.items() if company == company_id}
        streams = {ticket_stream(ticket) for ticket in tickets} | {
            conversation_stream(conversation)
            for ticket in tickets
            for conversation in links.get(ticket, ())
            if conversation not in model.conversations
        }
        self._apply_history(
            model, [e for e in self._events_before(before) if e.stream_id in streams]
        )

    def _events_before(self, before: int) -> Iterable[RecordedEvent]:
        for event in self.store.iter_all(0):
            if event.position >= before:
                return
            yield event
