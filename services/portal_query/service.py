"""Nameko shell of portal_query: bus messages prompt a catch-up; RPCs validate their
arguments, then answer from the current view of the projection. A portal query may name
``min_position``, the store position of the reader's own last write: it is answered once
the projection has applied it (read-your-writes, whichever copy answers)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from nameko.events import BROADCAST, event_handler

from kernel import partitions, visibility
from kernel.config import own_partition, partition_count
from kernel.contracts import commands
from kernel.contracts.envelope import check_envelope
from kernel.contracts.validation import validate
from kernel.dependencies import RequestContext
from kernel.errors import ValidationFailed
from kernel.logging import get_logger
from kernel.rpc import rpc
from services.portal_query import queries, teammates
from services.portal_query.dependencies import Projection
from services.portal_query.queries import TicketQuery, View

log = get_logger(__name__)
# The most rows a window answers: the last row of the deepest page a ticket query names.
MAX_WINDOW = commands.MAX_PAGE * commands.MAX_PER_PAGE


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


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_WINDOW:
        raise ValidationFailed(
            "limit must be a number of rows", {"limit": f"must be an integer 1..{MAX_WINDOW}"}
        )
    return limit


def _query(query: Any) -> TicketQuery:
    return TicketQuery.parse(validate(commands.TICKET_QUERY, query or {}, "ticket query"))


class PortalQueryService:
    name = "portal_query"

    context = RequestContext()
    projection = Projection()

    @classmethod
    def named_for(cls, config: dict[str, Any]) -> type[PortalQueryService]:
        """The service of the partition ``config`` names: with ``PORTAL_PARTITIONS`` > 1
        each partition is a service of its own (``portal_query_p0``...), so RabbitMQ routes
        its calls to its own queue and every copy of that partition competes on it."""
        count = partition_count(config)
        if count == 1:
            return cls
        name = partitions.service_name(own_partition(config), count)
        return type(cls.__name__, (cls,), {"name": name})

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

    def _view(self, min_position: Any = 0, companies: Any = None) -> View:
        """The projection's view, once it has applied ``min_position``. ``companies``: the
        companies a caller routed here (``portal_route``), the only ones it answers for, so
        partitions asked together never both answer for a company moving between them."""
        self.projection.wait_until_applied(_position(min_position))
        view = self.projection.view()
        if companies is None:
            return view
        if not isinstance(companies, list):
            raise ValidationFailed("companies must be a list", {"companies": "must be a list"})
        routed = frozenset(_company(company) for company in companies)
        return dataclasses.replace(
            view, serves=lambda company: company is None or company in routed
        )

    # the portal ----------------------------------------------------------------------------

    @rpc
    def portal_me(self, user_id: str, min_position: int = 0, companies: list | None = None) -> dict:
        user_id = _user(user_id)
        answer = queries.portal_me(self._view(min_position, companies), user_id)
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
    def portal_route(self, user_id: str, min_position: int = 0) -> dict:
        """The partitions serving the user's companies (``kernel.read_side`` asks them)."""
        user_id = _user(user_id)
        view = self._view(min_position)
        companies = queries.portal_companies(view.model, user_id)
        return {"routes": self.projection.routes(companies)}

    @rpc
    def company_route(self, company_id: str) -> dict:
        """The partition serving the company."""
        return {"routes": self.projection.routes([_company(company_id)])}

    @rpc
    def portal_list_window(
        self,
        user_id: str,
        query: dict | None = None,
        limit: int = 1,
        min_position: int = 0,
        companies: list | None = None,
    ) -> dict:
        """This partition's first ``limit`` rows of the user's table, with sort keys."""
        user_id, ticket_query, limit = _user(user_id), _query(query), _limit(limit)
        answer = queries.portal_window(
            self._view(min_position, companies), user_id, ticket_query, time.time(), limit
        )
        log.info("portal window listed", user_id=user_id, total=answer["total"], limit=limit)
        return answer

    @rpc
    def portal_facets(
        self, user_id: str, min_position: int = 0, companies: list | None = None
    ) -> dict:
        user_id = _user(user_id)
        answer = queries.portal_facets(self._view(min_position, companies), user_id)
        log.info("portal facets read", user_id=user_id, creators=len(answer["creators"]))
        return answer

    @rpc
    def portal_get_ticket(
        self, user_id: str, ticket_id: int, min_position: int = 0, companies: list | None = None
    ) -> dict:
        user_id, ticket_id = _user(user_id), _ticket(ticket_id)
        answer = queries.portal_get_ticket(self._view(min_position, companies), user_id, ticket_id)
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
    def admin_list_window(self, query: dict | None = None, limit: int = 1) -> dict:
        """This partition's first ``limit`` rows of the inbox, with sort keys."""
        ticket_query, limit = _query(query), _limit(limit)
        answer = queries.admin_window(self.projection.view(), ticket_query, time.time(), limit)
        log.info("inbox window listed", total=answer["total"], limit=limit)
        return answer

    @rpc
    def company_tickets(
        self, company_id: str, query: dict | None = None, routed: bool = False
    ) -> dict:
        """``routed``: the caller routed the company here (``company_route``)."""
        company_id, ticket_query = _company(company_id), _query(query)
        view = self._view(0, [company_id]) if routed is True else self.projection.view()
        answer = queries.company_tickets(view, company_id, ticket_query, time.time())
        log.info("company tickets listed", company_id=company_id, total=answer["total"])
        return answer

    @rpc
    def inbox_facets(self) -> dict:
        return teammates.inbox_facets(self.projection.view())

    @rpc
    def companies(self) -> dict:
        return teammates.companies(self.projection.view())

    @rpc
    def company_members(self, company_id: str) -> dict:
        return teammates.company_members(self.projection.view(), _company(company_id))

    @rpc
    def restricted_counts(self, command: dict) -> dict:
        """How many portal users the conditions (not saved yet) would restrict."""
        command = validate(commands.COUNT_RESTRICTED, command, "visibility conditions")
        visibility.check_shapes(command["visibility_conditions"], "visibility conditions")
        return teammates.restricted_counts(self.projection.view(), command["visibility_conditions"])

    # operations ----------------------------------------------------------------------------

    @rpc
    def status(self) -> dict:
        return self.projection.status()

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}
