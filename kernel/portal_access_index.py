"""The facts a write-side service decides a portal user's action with (messenger_bridge:
replies and joins; tickets: resolving and reopening), folded from the event store by
position, so no write waits on the read side."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from kernel import portal_access
from kernel.catch_up import CatchUpIndex, CatchUpIndexProvider
from kernel.contracts.envelope import RecordedEvent
from kernel.errors import NotFound, PortalDisabled
from kernel.eventstore import EventStore


@dataclass(slots=True)
class TicketFacts:
    """What the access rule and a join read of a ticket."""

    company_id: str | None
    creator_id: str
    conversation_id: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    email: str | None
    attributes: dict[str, Any]


class PortalAccessIndex(CatchUpIndex):
    """Contacts' email and attributes, company memberships, the visibility conditions, and
    each ticket's company, creator and conversation: what :mod:`kernel.portal_access`
    reads. Every answer catches up to the store's head first, so a change that has returned
    to its caller (a member removed, a new condition) is honoured in the next decision.

    A membership counts as soon as it is added: its event follows the company's creation
    on the company's own stream, as the portal requires.
    """

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.contacts: dict[str, Contact] = {}
        self.companies_of: dict[str, set[str]] = {}
        self.conditions: list[dict[str, Any]] = []
        self.portal_enabled = True
        self.tickets: dict[int, TicketFacts] = {}
        self.ticket_of_conversation: dict[str, int] = {}

    def apply(self, event: RecordedEvent) -> None:
        fold = _FOLDS.get(event.type)
        if fold is not None:
            fold(self, event.payload)

    # answers -----------------------------------------------------------------------------

    def require_portal_on(self) -> None:
        """:class:`PortalDisabled` while the teammates have turned the portal off."""
        self.catch_up()
        if not self.portal_enabled:
            raise PortalDisabled("the customer portal is turned off")

    def visible_ticket(self, user_id: str, ticket_id: int) -> TicketFacts:
        """The ticket if the portal shows it to the user, else :class:`NotFound` worded
        exactly as for a ticket that does not exist (:class:`PortalDisabled` while the
        portal is off)."""
        self.require_portal_on()
        ticket = self.tickets.get(ticket_id)
        if ticket is None or not portal_access.may_see(
            self._user(user_id), self.conditions, ticket
        ):
            raise NotFound(f"ticket {ticket_id} does not exist")
        return ticket

    def may_open(
        self, user_id: str, conversation_id: str, participant_ids: Collection[str]
    ) -> bool:
        """Whether the conversation (with ``participant_ids``, read from its own stream)
        opens in the Messenger for the user."""
        self.catch_up()
        ticket_id = self.ticket_of_conversation.get(conversation_id)
        linked = None if ticket_id is None else self.tickets[ticket_id]
        return portal_access.may_open(self._user(user_id), self.conditions, participant_ids, linked)

    def _user(self, user_id: str) -> portal_access.PortalUser:
        return portal_access.PortalUser.of(
            user_id, self.contacts.get(user_id), self.companies_of.get(user_id, set())
        )

    # folding -----------------------------------------------------------------------------

    def _contact_saved(self, data: dict[str, Any]) -> None:
        self.contacts[data["contact_id"]] = Contact(data["email"], dict(data["attributes"]))

    def _settings_changed(self, data: dict[str, Any]) -> None:
        self.conditions = list(data["visibility_conditions"])
        self.portal_enabled = data.get("portal_enabled", True)  # version 1: the portal is on

    def _member_added(self, data: dict[str, Any]) -> None:
        self.companies_of.setdefault(data["contact_id"], set()).add(data["company_id"])

    def _member_removed(self, data: dict[str, Any]) -> None:
        companies = self.companies_of.get(data["contact_id"], set())
        companies.discard(data["company_id"])
        if not companies:
            self.companies_of.pop(data["contact_id"], None)

    def _ticket_created(self, data: dict[str, Any]) -> None:
        ticket = TicketFacts(data["company_id"], data["creator_id"], data["conversation_id"])
        self.tickets[data["ticket_id"]] = ticket
        if ticket.conversation_id is not None:
            self.ticket_of_conversation[ticket.conversation_id] = data["ticket_id"]

    def _company_assigned(self, data: dict[str, Any]) -> None:
        self.tickets[data["ticket_id"]].company_id = data["company_id"]

    def _conversation_linked(self, data: dict[str, Any]) -> None:
        ticket = self.tickets[data["ticket_id"]]
        if self.ticket_of_conversation.get(ticket.conversation_id or "") == data["ticket_id"]:
            del self.ticket_of_conversation[ticket.conversation_id]
        ticket.conversation_id = data["conversation_id"]
        self.ticket_of_conversation[ticket.conversation_id] = data["ticket_id"]


_FOLDS: dict[str, Callable[[PortalAccessIndex, dict[str, Any]], None]] = {
    "ContactCreated": PortalAccessIndex._contact_saved,
    "ContactUpdated": PortalAccessIndex._contact_saved,
    "PortalSettingsChanged": PortalAccessIndex._settings_changed,
    "CompanyMemberAdded": PortalAccessIndex._member_added,
    "CompanyMemberRemoved": PortalAccessIndex._member_removed,
    "TicketCreated": PortalAccessIndex._ticket_created,
    "TicketCompanyAssigned": PortalAccessIndex._company_assigned,
    "TicketConversationLinked": PortalAccessIndex._conversation_linked,
}


class PortalAccess(CatchUpIndexProvider):
    """The portal access index, one per container of a service that decides portal users'
    writes."""

    index_type = PortalAccessIndex
