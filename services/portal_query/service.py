"""Nameko shell of portal_query: bus messages prompt a catch-up; RPCs validate their
arguments, then answer from the current view of the projection. A portal query may name
``min_position``, the store position of the reader's own last write: it is answered once
the projection has applied it (read-your-writes, whichever copy answers)."""

from __future__ import annotations

import time
from typing import Any

from nameko.events import BROADCAST, event_handler

from kernel.contracts import commands
from kernel.contracts.envelope import check_envelope
from kernel.contracts.validation import validate
from kernel.dependencies import RequestContext
from kernel.errors import ValidationFailed
from kernel.logging import get_logger
from kernel.rpc import rpc
from services.portal_query import queries
from services.portal_query.dependencies import Projection
from services.portal_query.queries import TicketQuery, View

log = get_logger(__name__)


def _user(user_id: Any) -> str:
    return validate(commands.USER_ID, {"user_id": user_id}, "user id")["user_id"]


def _ticket(ticket_id: Any) -> int:
    """A ticket id: an integer (a string of ASCII digits from a URL is accepted too)."""
    if isinstance(ticket_id, str) and ticket_id.isascii() and ticket_id.isdigit():
        ticket_id = int(ticket_id)
    return validate(commands.TICKET_ID, {"ticket_id": ticket_id}, "ticket id")["ticket_id"]


def _company(company_id: Any) -> str:
    return validate(commands.COMPANY_ID, {"company_id": company_id}, "company id")["company_id"]


def _conversation(conversation_id: Any) -> str:
    return validate(
        commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id"
    )["conversation_id"]


def _position(min_position: Any) -> int:
    if isinstance(min_position, bool) or not isinstance(min_position, int) or min_position < 0:
        raise ValidationFailed(
            "min_position must be a store position", {"min_position": "must be an integer >= 0"}
        )
    return min_position


def _query(query: Any) -> TicketQuery:
    return TicketQuery.parse(validate(commands.TICKET_QUERY, query or {}, "ticket query"))


class PortalQueryService:
    name = "portal_query"

    context = RequestContext()
    projection = Projection()

    # prompts -----------------------------------------------------------------------------
    # Every copy is prompted, on a queue of its own that goes with it (a shared queue would
    # wake one copy per event). A prompt lost in a restart costs nothing: each copy also
    # re-reads the store every CATCH_UP_INTERVAL and catches up from its own position.

    def _prompted(self, envelope: Any) -> None:
        try:
            event = check_envelope(envelope)
        except ValidationFailed as error:
            log.warning("invalid envelope from the bus ignored", problems=error.fields)
            return
        self.projection.prompt(event.position)
        log.info("event received", position=event.position, type=event.type)

    @event_handler("identity", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_identity_event(self, envelope: Any) -> None:
        self._prompted(envelope)

    @event_handler("companies", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_companies_event(self, envelope: Any) -> None:
        self._prompted(envelope)

    @event_handler("tickets", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_tickets_event(self, envelope: Any) -> None:
        self._prompted(envelope)

    @event_handler("messenger_bridge", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_messenger_bridge_event(self, envelope: Any) -> None:
        self._prompted(envelope)

    def _view(self, min_position: Any = 0) -> View:
        """The projection's view, once it has applied ``min_position``."""
        self.projection.wait_until_applied(_position(min_position))
        return self.projection.view()

    # the portal ----------------------------------------------------------------------------

    @rpc
    def portal_me(self, user_id: str, min_position: int = 0) -> dict:
        user_id = _user(user_id)
        answer = queries.portal_me(self._view(min_position), user_id)
        log.info("portal me", user_id=user_id)
        return answer

    @rpc
    def portal_list_tickets(
        self, user_id: str, query: dict | None = None, min_position: int = 0
    ) -> dict:
        user_id, ticket_query = _user(user_id), _query(query)
        started = time.perf_counter()
        answer = queries.portal_list_tickets(
            self._view(min_position), user_id, ticket_query, time.time()
        )
        log.info(
            "portal tickets listed",
            user_id=user_id,
            total=answer["total"],
            searching=ticket_query.search is not None,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return answer

    @rpc
    def portal_facets(self, user_id: str, min_position: int = 0) -> dict:
        user_id = _user(user_id)
        answer = queries.portal_facets(self._view(min_position), user_id)
        log.info("portal facets read", user_id=user_id, creators=len(answer["creators"]))
        return answer

    @rpc
    def portal_get_ticket(self, user_id: str, ticket_id: int, min_position: int = 0) -> dict:
        user_id, ticket_id = _user(user_id), _ticket(ticket_id)
        answer = queries.portal_get_ticket(self._view(min_position), user_id, ticket_id)
        log.info("portal ticket read", user_id=user_id, ticket_id=ticket_id)
        return answer

    @rpc
    def ticket_for_user(self, user_id: str, ticket_id: int) -> dict:
        user_id, ticket_id = _user(user_id), _ticket(ticket_id)
        return queries.ticket_for_user(self.projection.view(), user_id, ticket_id)

    @rpc
    def portal_conversation(
        self, user_id: str, conversation_id: str, min_position: int = 0
    ) -> dict:
        user_id, conversation_id = _user(user_id), _conversation(conversation_id)
        answer = queries.portal_conversation(self._view(min_position), user_id, conversation_id)
        log.info("conversation read", user_id=user_id, conversation_id=conversation_id)
        return answer

    @rpc
    def tickets_space(self, user_id: str, min_position: int = 0) -> dict:
        user_id = _user(user_id)
        answer = queries.tickets_space(self._view(min_position), user_id)
        log.info("tickets space read", user_id=user_id, total=len(answer["items"]))
        return answer

    # teammates -----------------------------------------------------------------------------

    @rpc
    def admin_list_tickets(self, query: dict | None = None) -> dict:
        ticket_query = _query(query)
        answer = queries.admin_list_tickets(self.projection.view(), ticket_query, time.time())
        log.info("inbox tickets listed", total=answer["total"])
        return answer

    @rpc
    def company_tickets(self, company_id: str, query: dict | None = None) -> dict:
        company_id, ticket_query = _company(company_id), _query(query)
        answer = queries.company_tickets(
            self.projection.view(), company_id, ticket_query, time.time()
        )
        log.info("company tickets listed", company_id=company_id, total=answer["total"])
        return answer

    # operations ----------------------------------------------------------------------------

    @rpc
    def status(self) -> dict:
        return self.projection.status()

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}
