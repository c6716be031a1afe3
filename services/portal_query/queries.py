"""Answers of portal_query, computed from the read model and its search index.

Pure functions of ``(model, index, arguments, now)``. A portal user needs an email, a
company and a ticket of one of their companies. Which tickets they see and which
conversations open for them is :mod:`kernel.portal_access` (the rule messenger_bridge
decides replies and joins with), applied here to the read model; a ticket or conversation
they may not see is :class:`NotFound`, exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kernel import portal_access
from kernel.contracts.commands import MAX_PER_PAGE
from kernel.errors import NoPortalAccess, NotFound, PortalDisabled
from kernel.partitions import creator_order, type_order
from services.portal_query.read_model import Contact, Conversation, Part, ReadModel, Ticket
from services.portal_query.search_index import (
    RANK_LOCATION,
    SORTABLE,
    Filters,
    Hits,
    Partition,
    SearchIndex,
    TextColumn,
)
from services.portal_query.text import (
    SearchQuery,
    escaped_excerpt,
    highlight,
    parse_query,
    relative_time,
    token_set,
)

DEFAULT_PER_PAGE = 25
MESSENGER_URL = "/messenger/conversations/{}"
Scope = tuple[Partition, int]  # a partition and the slots the caller may see in it


def every_company(_company_id: str | None) -> bool:
    """One read side (no partitions) answers for every company."""
    return True


@dataclass(frozen=True)
class View:
    """One consistent read model and its index; swapped whole after a reload. ``serves``
    says which companies this partition answers for (``kernel.partitions``)."""

    model: ReadModel
    index: SearchIndex
    serves: Callable[[str | None], bool] = every_company


@dataclass(frozen=True)
class TicketQuery:
    search: SearchQuery | None
    filters: Filters
    company_id: str | None
    no_company: bool
    sort: str | None
    descending: bool
    page: int
    per_page: int

    @classmethod
    def parse(cls, query: dict[str, Any]) -> TicketQuery:
        """From a validated ``TICKET_QUERY``."""
        return cls(
            search=parse_query(query.get("q")),
            filters=Filters(
                type=query.get("type"),
                state=query.get("state"),
                creator_id=query.get("creator_id"),
                created_from=query.get("created_from"),
                created_to=query.get("created_to"),
                updated_from=query.get("updated_from"),
                updated_to=query.get("updated_to"),
            ),
            company_id=query.get("company_id"),
            no_company=query.get("no_company") == "true",
            sort=query.get("sort"),
            descending=query.get("order", "desc") == "desc",
            page=query.get("page", 1),
            per_page=min(query.get("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE),
        )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


# access ------------------------------------------------------------------------------------


def portal_companies(model: ReadModel, user_id: str) -> list[str]:
    return sorted(c for c in model.companies_of.get(user_id, ()) if c in model.companies)


def portal_user(model: ReadModel, user_id: str) -> portal_access.PortalUser:
    """The user as the access rule reads them."""
    return portal_access.PortalUser.of(
        user_id, model.contacts.get(user_id), portal_companies(model, user_id)
    )


def require_access(view: View, user_id: str) -> Contact:
    """The user's contact; :class:`PortalDisabled` while the teammates have turned the
    portal off, else :class:`NoPortalAccess` naming every missing requirement and the
    signed-in user (the page names them)."""
    if not view.model.settings.portal_enabled:
        raise PortalDisabled("the customer portal is turned off")
    contact = view.model.contacts.get(user_id)
    companies = portal_companies(view.model, user_id)
    missing = []
    if contact is None or not contact.email:
        missing.append("email")
    if not companies:
        missing.append("company")
    if not any(len(view.index.partitions.get(c) or ()) for c in companies if view.serves(c)):
        missing.append("ticket")
    if missing:
        signed_in = {
            "id": user_id,
            **({"email": contact.email, "name": contact.name} if contact else {}),
        }
        raise NoPortalAccess(
            f"the customer portal needs {', '.join(missing)}",
            {"missing": missing, "user": signed_in},
        )
    return contact


def user_scopes(
    view: View, contact: Contact, company_id: str | None = None, no_company: bool = False
) -> list[Scope]:
    """What a portal user may see, per company partition (no ticket without a company)."""
    user = portal_user(view.model, contact.id)
    companies = [] if no_company else list(user.companies)
    if company_id is not None:
        companies = [company_id] if company_id in companies else []
    restricted = portal_access.restricted(user, view.model.settings.visibility_conditions)
    creator = user.id if restricted else None
    scopes = []
    for company in companies:
        partition = view.index.partition(company)
        if partition is not None and view.serves(company):
            scopes.append((partition, partition.visible_to(creator)))
    return scopes


def may_see(model: ReadModel, user_id: str, ticket: Ticket) -> bool:
    """Whether the portal shows ``ticket`` to the user."""
    conditions = model.settings.visibility_conditions
    return portal_access.may_see(portal_user(model, user_id), conditions, ticket)


def visible_ticket(view: View, user_id: str, ticket_id: int) -> Ticket:
    """The ticket if the user may see it in the portal, else :class:`NotFound`."""
    ticket = view.model.tickets.get(ticket_id)
    if ticket is None or not may_see(view.model, user_id, ticket):
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def may_open(model: ReadModel, user_id: str, conversation: Conversation) -> bool:
    """Whether the conversation opens in the Messenger for the user."""
    return portal_access.may_open(
        portal_user(model, user_id),
        model.settings.visibility_conditions,
        conversation.participant_ids,
        model.linked_ticket(conversation.id),
    )


def visible_conversation(view: View, user_id: str, conversation_id: str) -> Conversation:
    """The conversation if the user may open it, else :class:`NotFound` worded exactly
    like the Messenger's own answer for a conversation that does not exist."""
    conversation = view.model.conversations.get(conversation_id)
    if conversation is None or not may_open(view.model, user_id, conversation):
        raise NotFound(
            f"conversation {conversation_id} does not exist",
            {"conversation_id": "no such conversation"},
        )
    return conversation


# answers -----------------------------------------------------------------------------------


def portal_me(view: View, user_id: str) -> dict[str, Any]:
    """The user, their companies, the settings the page follows, and whether the visibility
    conditions restrict them to the tickets they created (the rule their list is filtered
    by, so the page says what it shows instead of guessing)."""
    contact = require_access(view, user_id)
    model = view.model
    return {
        "user": {"id": contact.id, "email": contact.email, "name": contact.name},
        "companies": [
            {"id": c, "name": model.companies[c]} for c in portal_companies(model, user_id)
        ],
        "restricted_to_own_tickets": portal_access.restricted(
            portal_user(model, user_id), model.settings.visibility_conditions
        ),
        "settings": {"preview_enabled": model.settings.preview_enabled},
    }


def portal_list_tickets(view: View, user_id: str, query: TicketQuery, now: float) -> dict[str, Any]:
    contact = require_access(view, user_id)
    preview = view.model.settings.preview_enabled
    scopes = user_scopes(view, contact, query.company_id, query.no_company)
    return table(view, scopes, query, now, preview)


def portal_window(
    view: View, user_id: str, query: TicketQuery, now: float, limit: int
) -> dict[str, Any]:
    """The portal table's first ``limit`` rows with their sort keys (:func:`window`)."""
    contact = require_access(view, user_id)
    preview = view.model.settings.preview_enabled
    scopes = user_scopes(view, contact, query.company_id, query.no_company)
    return window(view, scopes, query, now, preview, limit)


def portal_facets(view: View, user_id: str) -> dict[str, Any]:
    """The table's filter choices over every ticket the user may see."""
    contact = require_access(view, user_id)
    return facets(view.model, user_scopes(view, contact))


def portal_get_ticket(view: View, user_id: str, ticket_id: int) -> dict[str, Any]:
    require_access(view, user_id)
    ticket = visible_ticket(view, user_id, ticket_id)
    model = view.model
    conversation = model.conversations.get(ticket.conversation_id or "")
    details = item(model, ticket)
    details["description"] = ticket.description
    details["conversation_id"] = conversation.id if conversation else None
    details["messenger_url"] = MESSENGER_URL.format(conversation.id) if conversation else None
    details["participant"] = bool(conversation and user_id in conversation.participant_ids)
    details["conversation"] = customer_parts(model, conversation) if conversation else []
    return details


def portal_conversation(view: View, user_id: str, conversation_id: str) -> dict[str, Any]:
    """A conversation as the customer sees it in the Messenger, with its linked ticket when
    the portal is on and shows that ticket to the user."""
    model = view.model
    conversation = visible_conversation(view, user_id, conversation_id)
    ticket = model.linked_ticket(conversation.id)
    portal_enabled = model.settings.portal_enabled
    shown = portal_enabled and ticket is not None and may_see(model, user_id, ticket)
    return {
        "id": conversation.id,
        "portal_enabled": portal_enabled,
        "participant": user_id in conversation.participant_ids,
        "ticket": (
            {"id": ticket.id, "title": ticket.title, "state": ticket.state} if shown else None
        ),
        "parts": customer_parts(model, conversation),
    }


def customer_parts(model: ReadModel, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's parts, oldest first (the read model holds no internal note)."""
    return [
        {
            "id": part.id,
            "author_type": part.author_type,
            "author_name": part_author(model, part),
            "body": part.body,
            "created_at": iso(part.created_at),
        }
        for part in conversation.parts.values()
    ]


def ticket_for_user(view: View, user_id: str, ticket_id: int) -> dict[str, Any]:
    ticket = visible_ticket(view, user_id, ticket_id)
    conversation = view.model.conversations.get(ticket.conversation_id or "")
    return {
        "ticket_id": ticket.id,
        "conversation_id": conversation.id if conversation else None,
        "participant": bool(conversation and user_id in conversation.participant_ids),
    }


def tickets_space(view: View, user_id: str) -> dict[str, Any]:
    """Tickets the user created or participates in, of any company or none, each with the
    conversation it links into when the user may open that conversation. The Messenger
    works while the portal is off; ``portal_enabled`` tells it to hide its banner."""
    model = view.model
    tickets = [model.tickets[t] for t in model.tickets_of_person.get(user_id, ())]
    tickets = [ticket for ticket in tickets if view.serves(ticket.company_id)]
    tickets.sort(key=lambda t: (model.updated_at(t), t.id), reverse=True)
    items = []
    for ticket in tickets:
        conversation = model.conversations.get(ticket.conversation_id or "")
        opens = conversation is not None and may_open(model, user_id, conversation)
        items.append({**item(model, ticket), "conversation_id": conversation.id if opens else None})
    return {"items": items, "portal_enabled": model.settings.portal_enabled}


def admin_list_tickets(view: View, query: TicketQuery, now: float) -> dict[str, Any]:
    """The teammates' inbox search: every ticket, no visibility conditions."""
    return table(view, admin_scopes(view, query), query, now, False)


def admin_window(view: View, query: TicketQuery, now: float, limit: int) -> dict[str, Any]:
    """The inbox's first ``limit`` rows with their sort keys (:func:`window`)."""
    return window(view, admin_scopes(view, query), query, now, False, limit)


def admin_scopes(view: View, query: TicketQuery) -> list[Scope]:
    partitions = view.index.partitions
    if query.no_company:
        keys = [None] if None in partitions and query.company_id is None else []
    elif query.company_id is not None:
        keys = [query.company_id] if query.company_id in partitions else []
    else:
        keys = list(partitions)
    keys = [key for key in keys if view.serves(key)]
    return [(partitions[k], partitions[k].live) for k in keys]


def company_tickets(view: View, company_id: str, query: TicketQuery, now: float) -> dict:
    """A company profile's tickets tab."""
    if company_id not in view.model.companies:
        raise NotFound(f"company {company_id} does not exist")
    partition = None if query.no_company else view.index.partition(company_id)
    served = partition is not None and view.serves(company_id)
    scopes = [(partition, partition.live)] if served else []
    return table(view, scopes, query, now, False)


# the table ---------------------------------------------------------------------------------


def table(
    view: View, scopes: list[Scope], query: TicketQuery, now: float, preview: bool
) -> dict[str, Any]:
    """Filter, search, sort and page the tickets of ``scopes``."""
    hits = [partition.search(bits, query.search, query.filters) for partition, bits in scopes]
    ids, ranks = ordered(hits, query)
    start = (query.page - 1) * query.per_page
    end = start + query.per_page
    rows = zip(ids[start:end].tolist(), ranks[start:end].tolist(), strict=True)
    return {
        "items": [row(view.model, ticket, rank, query, now, preview) for ticket, rank in rows],
        "total": len(ids),
        "page": query.page,
        "per_page": query.per_page,
    }


def window(
    view: View, scopes: list[Scope], query: TicketQuery, now: float, preview: bool, limit: int
) -> dict[str, Any]:
    """The first ``limit`` rows of the table in answer order, each with its sort key
    (:func:`sort_key`), and the total: what a caller needs to merge the answers of several
    partitions into the one answer a single read side would give (``kernel.read_side``)."""
    hits = [partition.search(bits, query.search, query.filters) for partition, bits in scopes]
    ids, ranks = ordered(hits, query)
    rows = zip(ids[:limit].tolist(), ranks[:limit].tolist(), strict=True)
    model = view.model
    return {
        "rows": [
            {
                "key": sort_key(model, model.tickets[ticket_id], rank, query),
                "item": row(model, ticket_id, rank, query, now, preview),
            }
            for ticket_id, rank in rows
        ],
        "total": len(ids),
        "reverse": reverse_order(query),
    }


def reverse_order(query: TicketQuery) -> bool:
    """Whether rows go in the reverse order of their :func:`sort_key`."""
    searching_by_relevance = query.sort is None and query.search is not None
    return query.descending and not searching_by_relevance


def sort_key(model: ReadModel, ticket: Ticket, rank: int, query: TicketQuery) -> list[Any]:
    """A row's place in :func:`ordered`'s order as a list that sorts the same way across
    partitions: ascending for relevance, and for a column ascending or, when
    ``query.descending``, reversed."""
    sort = query.sort or ("relevance" if query.search is not None else "updated_at")
    if sort == "relevance":
        return [rank, -model.updated_at(ticket), -ticket.id]
    column = SORTABLE[sort]
    if isinstance(column, TextColumn):
        text = column.text(ticket)
        return [text.casefold(), text, ticket.id]
    return [float(column.key(ticket, model.updated_at(ticket))), ticket.id]


def row(
    model: ReadModel, ticket_id: int, rank: int, query: TicketQuery, now: float, preview: bool
) -> dict[str, Any]:
    """One row of the table, with its preview while searching when previews are on."""
    ticket = model.tickets[ticket_id]
    entry = item(model, ticket)
    if preview and query.search is not None:
        entry["preview"] = preview_of(model, ticket, query.search, rank, now)
    return entry


def ordered(hits: list[Hits], query: TicketQuery) -> tuple[np.ndarray, np.ndarray]:
    """Ticket ids (and their search ranks) in answer order. Relevance while searching
    without an explicit sort (ties: last updated, newest first); otherwise the column,
    ties broken by id in the same direction."""
    if not hits:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
    ids = np.concatenate([h.ids for h in hits])
    ranks = np.concatenate([h.ranks for h in hits])
    sort = query.sort or ("relevance" if query.search is not None else "updated_at")
    if sort == "relevance":
        order = np.lexsort((-ids, -SORTABLE["updated_at"].merged(hits), ranks))
        return ids[order], ranks[order]
    column = SORTABLE[sort].merged(hits)
    sign = -1 if query.descending else 1
    order = np.lexsort((sign * ids, sign * column))
    return ids[order], ranks[order]


def item(model: ReadModel, ticket: Ticket) -> dict[str, Any]:
    """One row of a ticket table (portal, tickets space, inbox, company tab)."""
    company = (
        {"id": ticket.company_id, "name": model.companies.get(ticket.company_id)}
        if ticket.company_id
        else None
    )
    return {
        "id": ticket.id,
        "type": ticket.type,
        "state": ticket.state,
        "title": ticket.title,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(model.updated_at(ticket)),
        "company": company,
        "creator": {"id": ticket.creator_id, "name": model.contact_name(ticket.creator_id)},
        "attributes": ticket.attribute_list(),
    }


def facets(model: ReadModel, scopes: list[Scope]) -> dict[str, Any]:
    """The filter choices: types in use, creators and companies of the visible tickets."""
    types: set[str] = set()
    creators: set[str] = set()
    companies: set[str] = set()
    for partition, bits in scopes:
        if not bits:
            continue
        types.update(name for name, found in partition.types.items() if found & bits)
        creators.update(who for who, found in partition.creators.items() if found & bits)
        if partition.company_id is not None:
            companies.add(partition.company_id)
    return {
        "types": sorted(types, key=type_order),
        "creators": sorted(
            ({"id": who, "name": model.contact_name(who)} for who in creators),
            key=creator_order,
        ),
        "companies": [{"id": c, "name": model.companies.get(c)} for c in sorted(companies)],
    }


# preview -----------------------------------------------------------------------------------


def part_author(model: ReadModel, part: Part) -> str | None:
    """A teammate's name as written on the part; a user's from their contact."""
    if part.author_type == "user":
        return model.contact_name(part.author_id) or part.author_name
    return part.author_name


def preview_of(
    model: ReadModel, ticket: Ticket, query: SearchQuery, rank: int, now: float
) -> dict[str, Any]:
    """The best-matching snippet: from the location the hit ranked by, else the first
    location (title, description, conversation) holding a matched word."""
    creator = model.contact_name(ticket.creator_id)
    location = RANK_LOCATION.get(rank)
    snippets = {
        "title": lambda: highlight(ticket.title, query),
        "description": lambda: highlight(ticket.description, query),
        "conversation": lambda: conversation_snippet(model, ticket, query),
    }
    order = [location] if location else ["title", "description", "conversation"]
    for place in order:
        found = snippets[place]()
        if found is None:
            continue
        if place == "conversation":
            html, part = found
            return _preview(place, html, part_author(model, part), part.created_at, now)
        return _preview(place, found, creator, ticket.created_at, now)
    return _preview("title", escaped_excerpt(ticket.title), creator, ticket.created_at, now)


def conversation_snippet(
    model: ReadModel, ticket: Ticket, query: SearchQuery
) -> tuple[str, Part] | None:
    """The part with the most matched words (ties: the latest) and its highlight. Only
    parts that mention a query word are tokenized: a hit's conversation is mostly parts
    that do not, and tokenizing every part cost most of a search's answer."""
    conversation = model.conversations.get(ticket.conversation_id or "")
    if conversation is None:
        return None
    best, best_count = None, 0
    for part in conversation.parts.values():
        if not query.mentioned_in(part.body):
            continue
        count = query.matched_words(token_set(part.body))
        if count and count >= best_count:
            best, best_count = part, count
    if best is None:
        return None
    return highlight(best.body, query) or escaped_excerpt(best.body), best


def _preview(location: str, html: str, author: str | None, at: float, now: float) -> dict:
    return {
        "location": location,
        "html": html,
        "author_name": author,
        "timestamp": iso(at),
        "relative_time": relative_time(at, now),
    }
