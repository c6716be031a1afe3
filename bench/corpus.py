"""The tickets of a data set as the portal should see them, folded from its event store.

The search peers index exactly these documents (customer-visible text only: internal notes
and internal attributes are left out, as the portal must), and the portal benchmarks pick
their users and query terms from them, so every engine answers over the same tickets.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bench.vocabulary import RARE_WORDS
from kernel.eventstore.base import EventStore

WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without accents: what both peers' analyzers do to text and queries."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(text: str) -> list[str]:
    return WORD.findall(fold(text))


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass
class TicketDoc:
    ticket_id: int
    company_id: str | None
    ticket_type: str
    state: str
    title: str
    description: str
    creator_id: str
    created_at: float
    updated_at: float
    conversation_id: str | None
    conversation: list[str] = field(default_factory=list)


@dataclass
class Corpus:
    tickets: dict[int, TicketDoc]
    members: dict[str, list[str]]  # company -> contact ids
    emails: dict[str, str | None]  # contact -> email
    companies_of: dict[str, list[str]]  # contact -> companies

    def portal_tickets(self) -> list[TicketDoc]:
        return [t for t in self.tickets.values() if t.company_id]

    def tickets_per_company(self) -> Counter:
        return Counter(t.company_id for t in self.portal_tickets())

    def portal_user(self, company_id: str) -> str:
        """A member of only this company, with an email (so the portal lets them in)."""
        return next(
            contact
            for contact in self.members[company_id]
            if self.emails.get(contact) and self.companies_of[contact] == [company_id]
        )

    def largest_and_small_company(self) -> tuple[str, str]:
        counts = self.tickets_per_company().most_common()
        small = next(company for company, n in reversed(counts) if n >= 20)
        return counts[0][0], small

    def rare_word_of(self, company_id: str) -> str:
        """The rarest of the generator's rare words that occurs in this company's tickets."""
        seen: Counter = Counter()
        mine: set[str] = set()
        rare = {fold(word) for word in RARE_WORDS}
        for ticket in self.portal_tickets():
            found = rare.intersection(terms(self.text_of(ticket)))
            seen.update(found)
            if ticket.company_id == company_id:
                mine.update(found)
        candidates = sorted(mine or seen, key=lambda word: (seen[word], word))
        return candidates[0]

    @staticmethod
    def text_of(ticket: TicketDoc) -> str:
        return " ".join([ticket.title, ticket.description, *ticket.conversation])


def load_corpus(store: EventStore) -> Corpus:
    tickets: dict[int, TicketDoc] = {}
    parts: dict[str, list[tuple[str, str]]] = {}  # conversation -> (time, customer-visible body)
    members: dict[str, list[str]] = {}
    emails: dict[str, str | None] = {}
    for event in store.iter_all():
        data = event.payload
        kind = event.type
        if kind == "ConversationPartAdded":
            if not data["internal"]:
                parts.setdefault(data["conversation_id"], []).append(
                    (event.occurred_at, data["body"])
                )
            continue
        if kind == "TicketCreated":
            at = epoch(event.occurred_at)
            tickets[data["ticket_id"]] = TicketDoc(
                data["ticket_id"],
                data["company_id"],
                data["ticket_type"],
                data["state"],
                data["title"],
                data["description"],
                data["creator_id"],
                at,
                at,
                data["conversation_id"],
            )
            continue
        ticket = tickets.get(data.get("ticket_id")) if kind.startswith("Ticket") else None
        if ticket is not None:
            ticket.updated_at = epoch(event.occurred_at)
            if kind == "TicketStateChanged":
                ticket.state = data["state"]
            elif kind == "TicketEdited":
                ticket.title = data.get("title", ticket.title)
                ticket.description = data.get("description", ticket.description)
            elif kind == "TicketCompanyAssigned":
                ticket.company_id = data["company_id"]
        elif kind == "CompanyMemberAdded":
            members.setdefault(data["company_id"], []).append(data["contact_id"])
        elif kind in ("ContactCreated", "ContactUpdated"):
            emails[data["contact_id"]] = data["email"]
    for ticket in tickets.values():
        visible = parts.get(ticket.conversation_id or "", [])
        ticket.conversation = [body for _at, body in visible]
        if visible:
            ticket.updated_at = max(ticket.updated_at, epoch(visible[-1][0]))
    companies_of: dict[str, list[str]] = {}
    for company, contacts in members.items():
        for contact in contacts:
            companies_of.setdefault(contact, []).append(company)
    return Corpus(tickets, members, emails, companies_of)
