"""Seeded, deterministic help-desk data, written as the platform's own events.

The same ``(size, seed, end)`` always gives the same events, ids and timestamps. The data
has the shape the portal meets in real life: many small companies and a few very large ones
(one holds a fixed share of all tickets), contacts in one or two companies, tickets of
several types moving through their states, and conversations with customer replies,
teammate replies and internal notes, spread over the two years before ``end``.

Every stream is appended in one batch (``expected_version=0``), streams in the order their
first event happened: a company and its contacts before their first ticket, a conversation
just before the ticket it becomes. Events go through :meth:`SqliteEventStore.append`, so
each one is validated against its schema in ``kernel/contracts/events.py`` on the way in.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from bench import vocabulary as words
from kernel.contracts.envelope import NewEvent
from kernel.contracts.events import conversation_link_event_id
from kernel.eventstore.base import EventStore

TWO_YEARS = timedelta(days=730)


@dataclass(frozen=True)
class DatasetSize:
    name: str
    companies: int
    tickets: int
    parts: int  # conversation parts in all, opening messages included
    largest_company: int  # tickets of the one very large company


SIZES = {
    size.name: size
    for size in (
        DatasetSize("small", companies=20, tickets=1_000, parts=5_000, largest_company=200),
        DatasetSize("medium", companies=200, tickets=50_000, parts=250_000, largest_company=10_000),
        # About 1,000,000 events: the medium set's proportions, scaled up.
        DatasetSize("large", companies=380, tickets=95_400, parts=477_000, largest_company=19_080),
    )
}


def default_end() -> datetime:
    """The first day of this month, midnight UTC: recent data that stays the same (and so
    stays cached) for a month."""
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def apportion(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split ``total`` in proportion to ``weights`` into integers that add up exactly, each
    at least ``minimum`` (largest remainders get the leftover units)."""
    spare = total - minimum * len(weights)
    scale = spare / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [count + minimum for count in counts]


def company_sizes(size: DatasetSize) -> list[int]:
    """Tickets per company: the largest fixed by ``size``, the rest a power-law tail (a few
    thousand for the next ones, a few dozen for most)."""
    others = [(rank + 3) ** -1.5 for rank in range(1, size.companies)]
    return [size.largest_company, *apportion(size.tickets - size.largest_company, others, 1)]


@dataclass
class Contact:
    contact_id: str
    name: str
    email: str | None
    role: str
    company_ids: list[str] = field(default_factory=list)


@dataclass
class Company:
    company_id: str
    name: str
    tickets: int
    members: list[Contact] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass(frozen=True)
class TicketPlan:
    number: int
    created_at: datetime
    company: Company
    creator: Contact
    colleague: Contact | None
    parts: int
    no_company: bool


class Text:
    """Help-desk prose from phrase templates: titles ~8 words, descriptions ~60, replies
    ~40. Now and then a rare word, an accent or shouting capitals."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def _slots(self) -> dict[str, str]:
        choice = self.rng.choice
        return {
            "product": choice(words.PRODUCTS),
            "product2": choice(words.PRODUCTS),
            "problem": choice(words.PROBLEMS),
            "context": choice(words.CONTEXTS),
            "verb": choice(words.VERBS),
            "verb2": choice(words.VERBS),
            "adjective": choice(words.ADJECTIVES),
            "Adjective": choice(words.ADJECTIVES).capitalize(),
            "company_word": choice(words.COMPANY_WORDS),
            "first_name": choice(words.FIRST_NAMES),
            "plan": choice(words.PLANS),
            "error_code": choice(words.ERROR_CODES),
        }

    def _sentences(self, templates: tuple[str, ...], count: int) -> str:
        rng = self.rng
        sentences = [rng.choice(templates).format(**self._slots()) for _ in range(count)]
        if rng.random() < 0.05:
            sentences.insert(
                rng.randrange(len(sentences) + 1),
                f"The {rng.choice(words.RARE_WORDS)} workspace is affected too.",
            )
        if rng.random() < 0.03:
            index = rng.randrange(len(sentences))
            sentences[index] = sentences[index].upper()
        return " ".join(sentences)

    def title(self) -> str:
        rng = self.rng
        title = rng.choice(words.TITLE_TEMPLATES).format(**self._slots())
        if rng.random() < 0.01:
            title += f" ({rng.choice(words.RARE_WORDS)})"
        if rng.random() < 0.05:
            title = title.lower()
        return title[0].upper() + title[1:]

    def description(self) -> str:
        return self._sentences(words.SENTENCE_TEMPLATES, self.rng.randint(3, 6))

    def reply(self) -> str:
        return self._sentences(words.REPLY_TEMPLATES + words.SENTENCE_TEMPLATES, 3)

    def note(self) -> str:
        return self._sentences(words.NOTE_TEMPLATES, 2)


class Generator:
    """Plans the whole data set up front (cheap), then writes each ticket's events lazily."""

    def __init__(self, size: DatasetSize, seed: int = 42, end: datetime | None = None):
        self.size = size
        self.end = end or default_end()
        self.rng = random.Random(f"{seed}:{size.name}")
        self.text = Text(self.rng)
        self.teammates = [
            (f"tm-{n}", f"{self.rng.choice(words.FIRST_NAMES)} (Support)") for n in range(1, 31)
        ]
        self.companies = self._plan_companies()
        self.tickets = self._plan_tickets()

    # planning ---------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _person(self) -> str:
        return f"{self.rng.choice(words.FIRST_NAMES)} {self.rng.choice(words.LAST_NAMES)}"

    def _plan_companies(self) -> list[Company]:
        rng = self.rng
        companies = []
        contacts = 0
        for index, tickets in enumerate(company_sizes(self.size), start=1):
            name = f"{rng.choice(words.COMPANY_WORDS)} {rng.choice(words.COMPANY_SUFFIXES)}"
            company = Company(f"co-{index}", name, tickets)
            for _ in range(min(500, max(2, tickets // 20))):
                contacts += 1
                contact = Contact(
                    f"user-{contacts}",
                    self._person(),
                    None if rng.random() < 0.03 else f"user{contacts}@{company.company_id}.test",
                    "admin" if rng.random() < 0.2 else "member",
                )
                company.members.append(contact)
            companies.append(company)
        # Some people belong to a second company (a consultant, a parent organization).
        everyone = [member for company in companies for member in company.members]
        for contact in rng.sample(everyone, len(everyone) // 20):
            rng.choice(companies).members.append(contact)
        for company in companies:
            for contact in company.members:
                if company.company_id not in contact.company_ids:
                    contact.company_ids.append(company.company_id)
        return companies

    def _plan_tickets(self) -> list[TicketPlan]:
        rng = self.rng
        owners = [company for company in self.companies for _ in range(company.tickets)]
        rng.shuffle(owners)
        # Busier lately: creation times lean towards the end of the two years.
        offsets = sorted(TWO_YEARS * (rng.random() ** 1.4) for _ in owners)
        extra_parts = apportion(
            self.size.parts - self.size.tickets, [rng.expovariate(1.0) for _ in owners]
        )
        plans = []
        for number, (company, offset, extra) in enumerate(
            zip(owners, reversed(offsets), extra_parts, strict=True), start=1
        ):
            creator = rng.choice(company.members)
            colleague = rng.choice(company.members) if rng.random() < 0.3 else None
            plans.append(
                TicketPlan(
                    number=number,
                    created_at=self.end - offset,
                    company=company,
                    creator=creator,
                    colleague=None if colleague is creator else colleague,
                    parts=1 + extra,
                    no_company=rng.random() < 0.01,
                )
            )
        for plan in plans:
            first = plan.company.created_at
            if first is None or plan.created_at < first:
                plan.company.created_at = plan.created_at
        return plans

    # events -----------------------------------------------------------------------------

    def _event(self, event_type: str, at: datetime, payload: dict) -> NewEvent:
        return NewEvent(
            event_type,
            payload,
            event_id=self._uuid(),
            occurred_at=at.isoformat(timespec="microseconds"),
            correlation_id=self._uuid(),
        )

    def _company_streams(self) -> list[tuple[datetime, str, list[NewEvent]]]:
        """Companies, founded some days before their first ticket, and their members, each
        added before that ticket; a contact is created just before its first membership."""
        rng = self.rng
        streams = []
        joined: dict[str, datetime] = {}
        for company in self.companies:
            founded = company.created_at - timedelta(days=rng.uniform(1, 30))
            events = [
                self._event(
                    "CompanyCreated",
                    founded,
                    {"company_id": company.company_id, "name": company.name},
                )
            ]
            window = (company.created_at - founded) * 0.9
            moments = sorted(founded + window * rng.random() for _ in company.members)
            for contact, at in zip(company.members, moments, strict=True):
                joined[contact.contact_id] = min(at, joined.get(contact.contact_id, at))
                member = {"company_id": company.company_id, "contact_id": contact.contact_id}
                events.append(self._event("CompanyMemberAdded", at, member))
            streams.append((founded, f"company-{company.company_id}", events))
        contacts = {c.contact_id: c for company in self.companies for c in company.members}
        for contact_id, first in joined.items():
            created = first - timedelta(seconds=rng.uniform(1, 3600))
            event = self._contact_created(contacts[contact_id], created)
            streams.append((created, f"contact-{contact_id}", [event]))
        return streams

    def _contact_created(self, contact: Contact, at: datetime) -> NewEvent:
        return self._event(
            "ContactCreated",
            at,
            {
                "contact_id": contact.contact_id,
                "email": contact.email,
                "name": contact.name,
                "attributes": {"role": contact.role, "plan": self.rng.choice(words.PLANS)},
            },
        )

    def _timeline(self, plan: TicketPlan, steps: int) -> list[datetime]:
        """When each later event of a ticket happens: hours to days apart, squeezed so
        that the youngest tickets still end before ``end``."""
        gaps = [timedelta(hours=self.rng.expovariate(1 / 8)) for _ in range(steps)]
        offsets = list(accumulate(gaps))
        room = (self.end - plan.created_at) * 0.95
        if offsets and offsets[-1] > room:
            offsets = [offset * (room / offsets[-1]) for offset in offsets]
        return [plan.created_at + offset for offset in offsets]

    def _ticket_streams(self, plan: TicketPlan) -> list[tuple[datetime, str, list[NewEvent]]]:
        rng = self.rng
        text = self.text
        conversation_id = f"conv-{plan.number}"
        opened = plan.created_at - timedelta(minutes=rng.uniform(1, 30))
        participants = [plan.creator] + ([plan.colleague] if plan.colleague else [])
        conversation = [
            self._event(
                "ConversationStarted",
                opened,
                {"conversation_id": conversation_id, "contact_id": plan.creator.contact_id},
            ),
            self._part(conversation_id, f"{plan.number}-1", opened, plan.creator, text.reply()),
        ]
        title = text.title()
        ticket_type = rng.choices(*zip(*words.TICKET_TYPES, strict=True))[0]
        ticket = [
            self._event(
                "TicketCreated",
                plan.created_at,
                {
                    "ticket_id": plan.number,
                    "ticket_type": ticket_type,
                    "state": "submitted",
                    "title": title,
                    "description": text.description(),
                    "attributes": [
                        {
                            "name": "Priority",
                            "value": rng.choice(("Low", "Normal", "High")),
                            "visible_to_customer": True,
                        },
                        {"name": "Root cause", "value": text.title(), "visible_to_customer": False},
                    ],
                    "creator_id": plan.creator.contact_id,
                    "participant_ids": [p.contact_id for p in participants],
                    "company_id": None if plan.no_company else plan.company.company_id,
                    "company_chosen": True,
                    "conversation_id": conversation_id,
                    "form": None,
                },
            ),
            # As the tickets service writes it: the link's id is derived from the
            # conversation, which keeps a conversation linked to one ticket at most.
            NewEvent(
                "TicketConversationLinked",
                {
                    "ticket_id": plan.number,
                    "conversation_id": conversation_id,
                    "participant_ids": [p.contact_id for p in participants],
                },
                event_id=conversation_link_event_id(conversation_id),
                occurred_at=plan.created_at.isoformat(timespec="microseconds"),
                correlation_id=self._uuid(),
            ),
        ]
        state = "submitted"
        joined = False
        moments = self._timeline(plan, plan.parts - 1 + 3)
        for index, at in enumerate(moments[: plan.parts - 1], start=2):
            roll = rng.random()
            part_id = f"{plan.number}-{index}"
            if roll < 0.15:
                author = rng.choice(self.teammates)
                conversation.append(self._note(conversation_id, part_id, at, author))
            elif roll < 0.55:
                author = rng.choice(self.teammates)
                conversation.append(self._teammate_reply(conversation_id, part_id, at, author))
                if state == "submitted":
                    state = self._move(ticket, plan, at, state, "in_progress")
            else:
                customer = rng.choice(participants)
                if customer is plan.colleague and not joined:
                    joined = True
                    conversation.append(
                        self._event(
                            "ConversationParticipantJoined",
                            at,
                            {
                                "conversation_id": conversation_id,
                                "contact_id": customer.contact_id,
                                "ticket_id": plan.number,
                            },
                        )
                    )
                conversation.append(self._part(conversation_id, part_id, at, customer, None))
                if state == "waiting_on_customer":
                    state = self._move(ticket, plan, at, state, "in_progress")
            if state == "in_progress" and rng.random() < 0.2:
                state = self._move(ticket, plan, at, state, "waiting_on_customer")
        closing = moments[plan.parts - 1 :]
        if rng.random() < 0.05:
            ticket.append(
                self._event(
                    "TicketEdited",
                    closing[0],
                    {"ticket_id": plan.number, "title": f"{title} [{rng.choice(words.PLANS)}]"},
                )
            )
        if rng.random() < 0.1:
            ticket.append(
                self._event(
                    "TicketAttributesChanged",
                    closing[1],
                    {
                        "ticket_id": plan.number,
                        "attributes": [
                            {"name": "Priority", "value": "Urgent", "visible_to_customer": True}
                        ],
                    },
                )
            )
        age = (self.end - plan.created_at) / TWO_YEARS
        if rng.random() < 0.3 + 0.7 * age:
            state = self._move(ticket, plan, closing[2], state, "resolved")
        return [
            (opened, f"conversation-{conversation_id}", conversation),
            (plan.created_at, f"ticket-{plan.number}", ticket),
        ]

    def _move(self, ticket: list, plan: TicketPlan, at: datetime, state: str, to: str) -> str:
        payload = {
            "ticket_id": plan.number,
            "state": to,
            "previous_state": state,
            "author_type": "teammate",
            "author_id": None,
        }
        ticket.append(self._event("TicketStateChanged", at, payload))
        return to

    def _part(
        self, conversation_id: str, part_id: str, at: datetime, author: Contact, body: str | None
    ) -> NewEvent:
        return self._event(
            "ConversationPartAdded",
            at,
            {
                "conversation_id": conversation_id,
                "part_id": part_id,
                "author_type": "user",
                "author_id": author.contact_id,
                "author_name": author.name,
                "body": body or self.text.reply(),
                "internal": False,
            },
        )

    def _teammate_reply(self, conversation_id, part_id, at, author) -> NewEvent:
        return self._teammate_part(conversation_id, part_id, at, author, self.text.reply(), False)

    def _note(self, conversation_id, part_id, at, author) -> NewEvent:
        return self._teammate_part(conversation_id, part_id, at, author, self.text.note(), True)

    def _teammate_part(self, conversation_id, part_id, at, author, body, internal) -> NewEvent:
        teammate_id, teammate_name = author
        return self._event(
            "ConversationPartAdded",
            at,
            {
                "conversation_id": conversation_id,
                "part_id": part_id,
                "author_type": "teammate",
                "author_id": teammate_id,
                "author_name": teammate_name,
                "body": body,
                "internal": internal,
            },
        )

    def streams(self) -> Iterator[tuple[str, list[NewEvent]]]:
        """``(stream_id, events)`` in append order: by the time of each stream's first event."""
        setup = sorted(self._company_streams(), key=lambda item: (item[0], item[1]))
        tickets = (item for plan in self.tickets for item in self._ticket_streams(plan))
        ordered = heapq.merge(setup, tickets, key=lambda item: item[0])
        for _at, stream_id, events in ordered:
            yield stream_id, events


@dataclass(frozen=True)
class LoadSummary:
    size: str
    seed: int
    events: int
    streams: int
    seconds: float


def load(
    store: EventStore, size: DatasetSize, seed: int = 42, end: datetime | None = None
) -> LoadSummary:
    """Append the whole data set to ``store``, one batch per stream."""
    started = time.perf_counter()
    events = streams = 0
    for stream_id, batch in Generator(size, seed, end).streams():
        store.append(stream_id, batch, 0)
        events += len(batch)
        streams += 1
    return LoadSummary(size.name, seed, events, streams, time.perf_counter() - started)
