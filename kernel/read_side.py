"""portal_query as its callers see it, however many partitions it is split into.

With one partition every call is one RPC to ``portal_query``, as before. With
``PORTAL_PARTITIONS`` > 1 (:mod:`kernel.partitions`) a portal read first asks the user's home
partition which partitions serve the user's companies (``portal_route``, after the user's
last write like every read), then asks those at once, each waiting for the same
``min_position``, and merges their answers into exactly the answer one partition would give:

* a table: each partition returns its first ``page * per_page`` rows with their sort keys and
  its total; the rows are merged by key, then the page is cut (:func:`merge_tables`);
* access: email and company are decided alike everywhere (every partition holds every
  contact, company and membership); "ticket" is missing only when every partition says so;
* a ticket or conversation: the partition holding it answers, the others say not found.

Reads by id that no company routes (a Messenger conversation, the tickets space, the inbox)
ask every partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import eventlet

from kernel.config import partition_count
from kernel.dependencies import TimedRpcProxy, TimedServiceProxy
from kernel.errors import (
    PROJECTION_LOADING,
    NoPortalAccess,
    NotFound,
    PortalError,
    ServiceUnavailable,
)
from kernel.partitions import SERVICE, creator_order, hashed, service_name, type_order

ACCESS_ORDER = ("email", "company", "ticket")
# A read that reached a copy still loading its projection (a start, a restart) is asked
# again after a pause that doubles each time (0.05 s, then 0.1 ... 0.8: 1.55 s in all at
# most, well within RPC_TIMEOUT): with copies, the broker gives the next attempt to whichever
# copy is free, most likely one that serves; with every copy loading, a short load is waited
# for instead of answered 503. Reads change nothing, so asking again is safe.
READ_ATTEMPTS = 6
READ_RETRY_PAUSE = 0.05
DEFAULT_PER_PAGE = 25


def merge_tables(answers: list[dict], query: dict) -> dict[str, Any]:
    """One page out of the partitions' windows (rows sorted by ``key``, and totals)."""
    page, per_page = query.get("page", 1), query.get("per_page", DEFAULT_PER_PAGE)
    rows = sorted(
        (row for answer in answers for row in answer["rows"]),
        key=lambda row: row["key"],
        reverse=any(answer["reverse"] for answer in answers),
    )
    start = (page - 1) * per_page
    return {
        "items": [row["item"] for row in rows[start : start + per_page]],
        "total": sum(answer["total"] for answer in answers),
        "page": page,
        "per_page": per_page,
    }


def merge_facets(answers: list[dict]) -> dict[str, Any]:
    types = {name for answer in answers for name in answer["types"]}
    creators = {c["id"]: c for answer in answers for c in answer["creators"]}
    companies = {c["id"]: c for answer in answers for c in answer["companies"]}
    return {
        "types": sorted(types, key=type_order),
        "creators": sorted(creators.values(), key=creator_order),
        "companies": [companies[c] for c in sorted(companies)],
    }


def merge_tickets_space(answers: list[dict]) -> dict[str, Any]:
    """The tickets of every partition, newest first; the portal switch (a setting every
    partition holds) as they all say it."""
    items = {item["id"]: item for answer in answers for item in answer["items"]}
    return {
        "items": sorted(items.values(), key=lambda i: (i["updated_at"], i["id"]), reverse=True),
        "portal_enabled": all(answer["portal_enabled"] for answer in answers),
    }


def merge_inbox_facets(answers: list[dict]) -> dict[str, Any]:
    return {
        **merge_facets(answers),
        "no_company": any(answer["no_company"] for answer in answers),
    }


def merge_companies(answers: list[dict]) -> dict[str, Any]:
    """Every partition holds every company and its members, in the same order; each counts
    the tickets it holds, so a company's count is their sum."""
    tickets: dict[str, int] = {}
    for answer in answers:
        for company in answer["items"]:
            tickets[company["id"]] = tickets.get(company["id"], 0) + company["tickets"]
    return {"items": [{**c, "tickets": tickets[c["id"]]} for c in answers[0]["items"]]}


def settle(outcomes: list[Any]) -> list[Any]:
    """The answers of the partitions asked, or the error one partition would have given:
    any other error first; an answer wins over "not found" and over a partition without
    tickets of the user; not found wins over no portal access; and access needs a ticket
    only when every partition lacks one."""
    errors = [o for o in outcomes if isinstance(o, PortalError)]
    for error in errors:
        if not isinstance(error, NotFound | NoPortalAccess):
            raise error
    for error in errors:
        if isinstance(error, NoPortalAccess) and error.fields.get("missing") != ["ticket"]:
            raise error
    answers = [o for o in outcomes if not isinstance(o, PortalError)]
    if answers:
        return answers
    for error in errors:
        if isinstance(error, NotFound):
            raise error
    if errors:
        raise errors[0]
    return []


class RetriedReads:
    """A partition's (or the one portal_query's) methods, each asked up to
    ``READ_ATTEMPTS`` times while the copy asked is still loading."""

    def __init__(self, proxy: TimedServiceProxy):
        self._proxy = proxy

    def __getattr__(self, method: str) -> Callable[..., Any]:
        target = getattr(self._proxy, method)

        def call(*args, **kwargs):
            for attempt in range(READ_ATTEMPTS - 1):
                try:
                    return target(*args, **kwargs)
                except ServiceUnavailable as error:
                    if error.fields != PROJECTION_LOADING:
                        raise
                    eventlet.sleep(READ_RETRY_PAUSE * 2**attempt)
            return target(*args, **kwargs)

        return call


class ReadSide:
    """The read side's calls for one worker (see the module's docstring)."""

    def __init__(self, count: int, proxy: Callable[[str], RetriedReads]):
        self.count = count
        self._proxy = proxy
        self.single = proxy(SERVICE) if count == 1 else None

    def _ask(self, partitions: Iterable[int], method: str, *args, **kwargs) -> list[Any]:
        return self._ask_routed({n: {} for n in partitions}, method, *args, **kwargs)

    def _ask_routed(
        self, routes: dict[int, dict[str, Any]], method: str, *args, **kwargs
    ) -> list[Any]:
        """Ask each partition of ``routes`` at once, adding its own keyword arguments."""

        def call(partition: int) -> Any:
            target = getattr(self._proxy(service_name(partition, self.count)), method)
            try:
                return target(*args, **kwargs, **routes[partition])
            except PortalError as error:
                return error

        partitions = sorted(routes)
        return settle(list(eventlet.GreenPool(len(partitions) or 1).imap(call, partitions)))

    def _user_routes(self, user_id: str, min_position: int) -> dict[int, dict[str, Any]]:
        """The partitions serving the user's companies, each told which companies it
        answers for (so two partitions never both answer for a company being moved). A
        user without companies is answered by their home partition."""
        home = hashed(user_id, self.count)
        route = self._proxy(service_name(home, self.count)).portal_route
        routes = route(user_id, min_position=min_position)["routes"]
        if not routes:
            return {home: {"companies": []}}
        return {r["partition"]: {"companies": r["companies"]} for r in routes}

    def _every(self) -> range:
        return range(self.count)

    # portal reads ------------------------------------------------------------------------

    def portal_me(self, user_id: str, min_position: int = 0) -> dict:
        if self.single is not None:
            return self.single.portal_me(user_id, min_position=min_position)
        routes = self._user_routes(user_id, min_position)
        return self._ask_routed(routes, "portal_me", user_id, min_position=min_position)[0]

    def portal_list_tickets(self, user_id: str, query: dict, min_position: int = 0) -> dict:
        if self.single is not None:
            return self.single.portal_list_tickets(user_id, query, min_position=min_position)
        routes = self._user_routes(user_id, min_position)
        limit = query.get("page", 1) * query.get("per_page", DEFAULT_PER_PAGE)
        answers = self._ask_routed(
            routes, "portal_list_window", user_id, query, limit, min_position=min_position
        )
        return merge_tables(answers, query)

    def portal_facets(self, user_id: str, min_position: int = 0) -> dict:
        if self.single is not None:
            return self.single.portal_facets(user_id, min_position=min_position)
        routes = self._user_routes(user_id, min_position)
        return merge_facets(
            self._ask_routed(routes, "portal_facets", user_id, min_position=min_position)
        )

    def portal_get_ticket(self, user_id: str, ticket_id: int, min_position: int = 0) -> dict:
        if self.single is not None:
            return self.single.portal_get_ticket(user_id, ticket_id, min_position=min_position)
        routes = self._user_routes(user_id, min_position)
        return self._ask_routed(
            routes, "portal_get_ticket", user_id, ticket_id, min_position=min_position
        )[0]

    # Messenger reads ---------------------------------------------------------------------

    def portal_conversation(
        self, user_id: str, conversation_id: str, min_position: int = 0
    ) -> dict:
        if self.single is not None:
            return self.single.portal_conversation(
                user_id, conversation_id, min_position=min_position
            )
        return self._ask(
            self._every(),
            "portal_conversation",
            user_id,
            conversation_id,
            min_position=min_position,
        )[0]

    def tickets_space(self, user_id: str, min_position: int = 0) -> dict:
        if self.single is not None:
            return self.single.tickets_space(user_id, min_position=min_position)
        return merge_tickets_space(
            self._ask(self._every(), "tickets_space", user_id, min_position=min_position)
        )

    # teammates ---------------------------------------------------------------------------

    def admin_list_tickets(self, query: dict) -> dict:
        if self.single is not None:
            return self.single.admin_list_tickets(query)
        limit = query.get("page", 1) * query.get("per_page", DEFAULT_PER_PAGE)
        return merge_tables(self._ask(self._every(), "admin_list_window", query, limit), query)

    def company_tickets(self, company_id: str, query: dict) -> dict:
        if self.single is not None:
            return self.single.company_tickets(company_id, query)
        asked = service_name(hashed(company_id, self.count), self.count)
        routes = self._proxy(asked).company_route(company_id)["routes"]
        owner = {route["partition"]: {"routed": True} for route in routes}
        return self._ask_routed(owner, "company_tickets", company_id, query)[0]

    def inbox_facets(self) -> dict:
        if self.single is not None:
            return self.single.inbox_facets()
        return merge_inbox_facets(self._ask(self._every(), "inbox_facets"))

    def companies(self) -> dict:
        if self.single is not None:
            return self.single.companies()
        return merge_companies(self._ask(self._every(), "companies"))

    def company_members(self, company_id: str) -> dict:
        """Members are held by every partition: the company's home partition answers."""
        if self.single is not None:
            return self.single.company_members(company_id)
        return self._ask([hashed(company_id, self.count)], "company_members", company_id)[0]

    def restricted_counts(self, command: dict) -> dict:
        """Contacts and memberships are held by every partition: the first answers."""
        if self.single is not None:
            return self.single.restricted_counts(command)
        return self._ask([0], "restricted_counts", command)[0]

    # operations --------------------------------------------------------------------------

    def health(self) -> dict:
        if self.single is not None:
            return self.single.health()
        self._ask(self._every(), "health")
        return {"service": SERVICE, "status": "ok"}

    def status(self) -> dict:
        """One partition's status as it is; several: each, with the worst lag on top."""
        if self.single is not None:
            return self.single.status()
        statuses = self._ask(self._every(), "status")
        return {
            "generation": min(s["generation"] for s in statuses),
            "checkpoint": min(s["checkpoint"] for s in statuses),
            "head": max(s["head"] for s in statuses),
            "lag_events": max(s["lag_events"] for s in statuses),
            "lag_seconds": max(s["lag_seconds"] for s in statuses),
            "parked": sum(s["parked"] for s in statuses),
            "partitions": statuses,
        }


class PortalReadSide(TimedRpcProxy):
    """The dependency of a service that reads portal_query (the gateway, messenger_bridge):
    a :class:`ReadSide` over ``PORTAL_PARTITIONS`` partitions."""

    def __init__(self, **options):
        super().__init__(SERVICE, **options)

    def setup(self) -> None:
        super().setup()
        self.count = partition_count(self.container.config)

    def get_dependency(self, worker_ctx) -> ReadSide:
        def proxy(name: str) -> RetriedReads:
            return RetriedReads(
                TimedServiceProxy(worker_ctx, name, self.rpc_reply_listener, **self.options)
            )

        return ReadSide(self.count, proxy)
