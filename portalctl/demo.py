"""Demo data for ``make run``: five companies, their people, and a hundred tickets with their
conversations over the past eight weeks, plus sign-in links for a user of each kind.

The demo is imported, not typed in: every event is decided by the owning service's domain
core (the company rule, participants, conversation parts, state changes), stamped with the
time it happened in the story, and appended to the event store, each stream in one batch,
streams in the order of their first event. The store validates every event against its
contract on the way in; the relay and the projections then pick the events up as they do
any others. The HTTP API cannot say "this happened three weeks ago" (and should not), so
seeding through it would date everything at the seeding minute. One ``random.Random`` with a
fixed seed drives the story: for the same ``now`` the demo is the same, event ids included.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests

from kernel.contracts.envelope import Decision, NewEvent, RecordedEvent, recorded
from kernel.contracts.events import PORTAL_SETTINGS_STREAM, unique_event_id
from kernel.eventstore.base import EventStore
from services.companies import domain as companies
from services.identity import domain as identity
from services.messenger_bridge import domain as messenger
from services.tickets import domain as tickets
from services.tickets import ticket_types

SEED = 14
TICKET_COUNT = 100
WEEKS = 8
DEMO_NAMESPACE = uuid.UUID("5d0c6f1e-93a4-4b8e-9c27-1f6a0e4b7d21")

COMPANIES = [
    ("acme", "Acme Corp"),
    ("globex", "Globex"),
    ("initech", "Initech"),
    ("northwind", "Northwind Traders"),
    ("umbrella", "Umbrella Health"),
]
# The share of the tickets each company raises, in COMPANIES order.
COMPANY_WEIGHTS = [34, 24, 14, 16, 12]

MEMBERS_ONLY = [{"attribute": "role", "operator": "eq", "value": "member"}]

# id, email, name, attributes, companies. The visibility condition restricts every "member"
# to the tickets they created; ann, bob, carol and erin are the users the sign-in links show.
CONTACTS = [
    ("ann", "ann@acme.example", "Ann Archer", {"role": "admin"}, ["acme"]),
    ("bob", "bob@acme.example", "Bob Baker", {"role": "member"}, ["acme"]),
    ("carol", "carol@globex.example", "Carol Chen", {"role": "admin"}, ["acme", "globex"]),
    ("fiona", "fiona@acme.example", "Fiona Fischer", {"role": "admin"}, ["acme"]),
    ("gus", "gus@acme.example", "Gus Gómez", {"role": "member"}, ["acme"]),
    ("dave", "dave@globex.example", "Dave Díaz", {"role": "admin"}, ["globex"]),
    ("hana", "hana@globex.example", "Hana Hoshino", {"role": "admin"}, ["globex"]),
    ("ivan", "ivan@globex.example", "Ivan Ivanov", {"role": "member"}, ["globex"]),
    ("erin", None, "Erin Evans", {"role": "admin"}, ["initech"]),
    ("jon", "jon@initech.example", "Jon Jansen", {"role": "admin"}, ["initech"]),
    ("kim", "kim@initech.example", "Kim Kowalski", {"role": "admin"}, ["initech"]),
    ("lea", "lea@northwind.example", "Léa Laurent", {"role": "admin"}, ["northwind"]),
    ("marco", "marco@northwind.example", "Marco Moretti", {"role": "admin"}, ["northwind"]),
    ("nora", "nora@northwind.example", "Nora Nilsen", {"role": "member"}, ["northwind"]),
    ("omar", "omar@umbrella.example", "Omar Okafor", {"role": "admin"}, ["umbrella"]),
    ("priya", "priya@umbrella.example", "Priya Patel", {"role": "admin"}, ["umbrella"]),
]

TEAMMATES = [("sam", "Sam from Support"), ("lee", "Lee from Engineering")]

AREAS = [
    "Invoices",
    "Reports",
    "Mobile app",
    "Public API",
    "Dashboard",
    "Single sign-on",
    "Webhooks",
    "CSV export",
    "Calendar sync",
    "Billing portal",
]

# type, title, description, the customer's follow-ups, the teammates' replies, an internal
# note. "{area}" is one of AREAS; a topic without it is used once.
TOPICS = [
    (
        "Bug",
        "{area}: PDF export stops at 80%",
        "Exporting as PDF stops at 80% with a timeout error, for every user on our team.",
        ["Still failing after today's update.", "Attached the browser console output."],
        ["Thanks, we can reproduce it and are working on a fix.", "A fix is rolling out now."],
        "Likely the renderer memory limit; see the incident notes.",
    ),
    (
        "Bug",
        "{area} shows yesterday's numbers",
        "The figures lag a day behind what we entered this morning.",
        ["Refreshing the page does not help."],
        ["The nightly sync was delayed; it has caught up now."],
        "Sync worker was stuck on a lock for six hours.",
    ),
    (
        "Bug",
        "Error 500 when saving in {area}",
        "Saving any change gives an error 500 and the change is lost.",
        ["It works in a private window, oddly."],
        ["Could you clear the cookies for our domain and try again?"],
        None,
    ),
    (
        "Bug",
        "{area} is very slow since Monday",
        "Pages take twenty seconds or more to load since Monday morning.",
        ["It is slow for colleagues in Zürich too."],
        ["We found a slow database query and deployed an index."],
        "Missing index on the accounts table after the migration.",
    ),
    (
        "Bug",
        "Accents garbled in {area}",
        "Names like Crème brûlée and Łódź show up garbled.",
        [],
        ["Confirmed: the encoding header is wrong. A fix is planned."],
        "Customer is on the enterprise plan: prioritise.",
    ),
    (
        "Question",
        "How do I add a second billing contact?",
        "Our accountant needs copies of the invoices.",
        ["Our accountant is accounts@acme.example."],
        ["Could you confirm the accountant's e-mail address?", "Done: they are on the list."],
        None,
    ),
    (
        "Question",
        "Can we get {area} data in our own warehouse?",
        "We would like a daily copy of the data in our own data warehouse.",
        ["We use BigQuery, if that matters."],
        ["Yes: the export API can run on a schedule. Here is the guide."],
        None,
    ),
    (
        "Question",
        "Who can see {area} in our workspace?",
        "We want to limit who sees this to the finance team.",
        [],
        ["Roles control this; the admin guide has a section on it."],
        None,
    ),
    (
        "Question",
        "Bulk import of 40,000 contacts",
        "What is the fastest way to import our CRM export?",
        ["The CSV is attached to my previous message.", "Any update on the import limits?"],
        ["The importer takes files of up to 50,000 rows; yours fits in one."],
        "Import limit is 50k rows per file.",
    ),
    (
        "Question",
        "Is there a sandbox for {area}?",
        "We would like to try changes without touching live data.",
        [],
        ["Every workspace can create one sandbox under Settings."],
        None,
    ),
    (
        "Feature request",
        "Dark mode for {area}",
        "Several of us work late and would love a dark theme.",
        ["+1 from the whole support team."],
        ["Thanks! I have passed this to the product team."],
        None,
    ),
    (
        "Feature request",
        "Schedule {area} e-mails",
        "We want the weekly summary to go out on Monday at 8:00.",
        [],
        ["Good idea, it is on our roadmap for next quarter."],
        "Already three requests for this this month.",
    ),
    (
        "Feature request",
        "Custom fields in {area}",
        "We need a cost centre field on every record.",
        ["A free text field would already help."],
        ["Noted. Would a list of fixed values work for you too?"],
        None,
    ),
    (
        "Billing",
        "Invoice charged twice in {area}",
        "Our card was charged twice for the same invoice this month.",
        ["The second charge is still on our statement."],
        ["Sorry about that: the duplicate charge is refunded."],
        "Payment provider retried after a timeout.",
    ),
    (
        "Billing",
        "Change our plan to yearly billing",
        "We would like to move from monthly to yearly billing.",
        [],
        ["Done: your next invoice is the yearly one, with the discount."],
        None,
    ),
    (
        "Billing",
        "VAT number missing on {area} invoices",
        "Our VAT number does not appear on the invoices.",
        ["It is in our company profile since March."],
        ["Fixed: new invoices carry it, and we reissued the last three."],
        None,
    ),
    (
        "Incident",
        "{area} unavailable",
        "We cannot reach it at all; the page shows a gateway timeout.",
        ["Back for us now, thanks."],
        ["We are investigating.", "Resolved: a load balancer failed over late."],
        "Post-mortem scheduled for Thursday.",
    ),
    (
        "Incident",
        "Webhook retries flood our endpoint",
        "After an outage the webhooks retried thousands of times per minute.",
        [],
        ["Retries now back off exponentially, capped at one per minute."],
        None,
    ),
]

PRIORITIES = [("Low", 3), ("Normal", 6), ("High", 3), ("Urgent", 1)]


def _field(key: str, label: str, kind: str, **rules) -> dict:
    return {"key": key, "label": label, "type": kind, "required": False,
            "visible_to_customer": True, **rules}  # fmt: skip


# The ticket types teammates defined: customers create Bugs and Questions through their
# forms; Incidents are the teammates' own.
TICKET_TYPES = [
    {
        "id": "bug",
        "name": "Bug",
        "description": "Something does not work as it should",
        "customer_creatable": True,
        "attributes": [
            _field("Priority", "Priority", "select", required=True,
                   options=[name for name, _ in PRIORITIES]),
            _field("Product area", "Product area", "select", options=AREAS),
            _field("Users affected", "How many users are affected?", "number"),
            _field("Since", "Since when?", "date"),
            _field("Blocking", "It blocks our work", "boolean"),
            _field("Root cause", "Root cause", "text", visible_to_customer=False),
        ],
    },
    {
        "id": "question",
        "name": "Question",
        "description": "How do I ...?",
        "customer_creatable": True,
        "attributes": [_field("Product area", "Product area", "select", options=AREAS)],
    },
    {"id": "incident", "name": "Incident", "description": "An outage, raised by the team"},
]  # fmt: skip
STATES = ["submitted", "in_progress", "waiting_on_customer", "resolved"]
ROOT_CAUSES = ["Configuration", "Defect", "Third party", "User error"]


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


@dataclass
class DemoImport:
    """The demo's streams as their services' domain cores decide them, in memory."""

    streams: dict[str, list[NewEvent]] = field(default_factory=dict)

    def record(self, stream_id: str, decisions: Iterable[Decision], at: datetime) -> None:
        events = self.streams.setdefault(stream_id, [])
        for event_type, payload in decisions:
            event_id = unique_event_id(event_type, payload) or str(
                uuid.uuid5(DEMO_NAMESPACE, f"{stream_id}:{len(events)}")
            )
            events.append(NewEvent(event_type, payload, event_id=event_id, occurred_at=_iso(at)))

    def history(self, stream_id: str) -> list[RecordedEvent]:
        events = self.streams.get(stream_id, [])
        return [recorded(event, stream_id, n, n) for n, event in enumerate(events, start=1)]

    def ordered(self) -> list[tuple[str, list[NewEvent]]]:
        """Every stream in the order of its first event (a conversation before its ticket)."""
        return sorted(self.streams.items(), key=lambda stream: stream[1][0].occurred_at)


def demo_streams(now: datetime, first_ticket: int = 1) -> list[tuple[str, list[NewEvent]]]:
    """The demo as ``(stream id, events)``, streams in the order of their first event.
    Tickets are numbered from ``first_ticket``; every time is before ``now``."""
    return _Story(now, first_ticket).tell()


# One thing that happens to a ticket after it is opened: ("reply", author, body),
# ("note", teammate, body), ("join", contact), ("state", state).
Step = tuple[str, ...]


class _Story:
    """The demo's history, decided by the services' domain cores at the story's times."""

    def __init__(self, now: datetime, first_ticket: int):
        self.rng = random.Random(SEED)
        self.now = now
        self.first_ticket = first_ticket
        self.out = DemoImport()
        self.companies_of = {contact[0]: contact[4] for contact in CONTACTS}
        self.names = {contact[0]: contact[2] for contact in CONTACTS}
        self.members = {
            company_id: [
                c for c, companies_of in self.companies_of.items() if company_id in companies_of
            ]
            for company_id, _ in COMPANIES
        }

    def tell(self) -> list[tuple[str, list[NewEvent]]]:
        self._people(self.now - timedelta(weeks=WEEKS, days=3))
        titles = self._titles()
        # The oldest ticket gets the first number, as when they are created one by one.
        ages = sorted((self._age() for _ in titles), reverse=True)
        for offset, ((title, topic, area), age) in enumerate(zip(titles, ages, strict=True)):
            self._ticket(self.first_ticket + offset, title, topic, area, age)
        return self.out.ordered()

    def _people(self, at: datetime) -> None:
        record = self.out.record
        for contact_id, email, name, attributes, _ in CONTACTS:
            command = {"id": contact_id, "email": email, "name": name, "attributes": attributes}
            record(identity.contact_stream(contact_id), identity.save_contact(None, command), at)
        for company_id, name in COMPANIES:
            stream = companies.stream_of(company_id)
            record(stream, companies.create_company(None, {"id": company_id, "name": name}), at)
            for contact_id in self.members[company_id]:
                company = companies.fold(self.out.history(stream))
                record(stream, companies.add_member(company, company_id, contact_id), at)
        settings = identity.change_settings(
            identity.fold_settings([]),
            {"preview_enabled": True, "visibility_conditions": MEMBERS_ONLY},
        )
        record(PORTAL_SETTINGS_STREAM, settings, at)
        for command in TICKET_TYPES:
            record(
                ticket_types.stream_of(command["id"]), ticket_types.define_type(command, None), at
            )

    def _titles(self) -> list[tuple[str, tuple, str]]:
        """``TICKET_COUNT`` different ``(title, topic, product area)``."""
        pairs = [
            (topic[1].format(area=area), topic, area)
            for topic in TOPICS
            for area in (AREAS if "{area}" in topic[1] else [""])
        ]
        return [
            (title, topic, area or self.rng.choice(AREAS))
            for title, topic, area in self.rng.sample(pairs, TICKET_COUNT)
        ]

    def _age(self) -> timedelta:
        """How long ago a ticket was opened: over the past weeks, denser towards today."""
        return timedelta(days=WEEKS * 7 * self.rng.random() ** 1.6, minutes=self.rng.uniform(1, 60))

    def _ticket(self, number: int, title: str, topic: tuple, area: str, age: timedelta) -> None:
        rng = self.rng
        kind, _, description, _, _, _ = topic
        created = self.now - age
        company_id = rng.choices([company for company, _ in COMPANIES], COMPANY_WEIGHTS)[0]
        creator = rng.choice(self.members[company_id])
        colleagues = [p for p in self.members[company_id] if p != creator]
        others = [rng.choice(colleagues)] if colleagues and rng.random() < 0.25 else []

        conversation_id = f"conv-{self._uuid(f'conversation:{number}')}"
        conversation_stream = messenger.stream_of(conversation_id)
        self.out.record(
            conversation_stream,
            messenger.start_conversation(
                conversation_id,
                self._part_id(conversation_id, 0),
                {"user_id": creator, "body": description},
                self._contact(creator),
            ),
            created - timedelta(minutes=rng.uniform(2, 30)),
        )

        attributes = [
            {"name": "Priority", "value": self._priority(), "visible_to_customer": True},
            {"name": "Product area", "value": area, "visible_to_customer": True},
        ]
        if rng.random() < 0.4:
            cause = rng.choice(ROOT_CAUSES)
            attributes.append({"name": "Root cause", "value": cause, "visible_to_customer": False})
        command = {
            "type": kind,
            "title": title,
            "description": description,
            "attributes": attributes,
        }
        ticket_stream = tickets.stream_of(number)
        self.out.record(
            ticket_stream,
            tickets.open_ticket(
                number,
                command,
                tickets.participants_of(creator, others),
                self.companies_of.keys(),
                self.companies_of,
                conversation_id,
            ),
            created,
        )
        start = created
        ticket = tickets.fold(self.out.history(ticket_stream))
        if ticket.company_id is None and rng.random() < 0.8:
            # Several companies: a teammate picks one a few minutes later (the rest wait).
            start += min(timedelta(minutes=rng.uniform(1, 4)), age / 2)
            choices = tickets.company_choices(ticket.participant_ids, self.companies_of)
            pick = tickets.update_ticket(ticket, {"company_id": company_id}, choices)
            self.out.record(ticket_stream, pick, start)

        steps = self._steps(topic, creator, others, age)
        span = min((self.now - start) * 0.95, timedelta(days=rng.uniform(0.2, 10)))
        times = sorted(start + span * rng.uniform(0.05, 1) for _ in steps)
        for step, at in zip(steps, times, strict=True):
            if step[0] == "state":
                ticket = tickets.fold(self.out.history(ticket_stream))
                self.out.record(
                    ticket_stream, tickets.update_ticket(ticket, {"state": step[1]}, []), at
                )
                continue
            conversation = messenger.fold(self.out.history(conversation_stream))
            if step[0] == "join":
                self.out.record(
                    conversation_stream, messenger.join(conversation, step[1], number), at
                )
                continue
            author, body = step[1], step[2]
            if author in self.names:
                part = {"author_type": "user", "author_id": author, "body": body}
            else:
                name = dict(TEAMMATES)[author]
                part = {
                    "author_type": "teammate",
                    "author_id": author,
                    "author_name": name,
                    "body": body,
                    "internal": step[0] == "note",
                }
            part_id = self._part_id(conversation_id, len(conversation.parts))
            decisions = messenger.add_part(conversation, part_id, part, self._contact(author))
            self.out.record(conversation_stream, decisions, at)

    def _steps(self, topic: tuple, creator: str, others: list[str], age: timedelta) -> list[Step]:
        """What happens after the ticket is opened, in order, up to its final state."""
        rng = self.rng
        _, _, _, follow_ups, replies, note = topic
        final = self._final_state(age)
        teammate = rng.choice(TEAMMATES)[0]
        customers = [creator]
        if others and rng.random() < 0.5:
            customers.append(others[0])
        steps: list[Step] = [("join", joiner) for joiner in customers[1:]]
        if final == "submitted":
            steps += [("reply", creator, body) for body in follow_ups[:1]]
            return steps
        steps += [("reply", teammate, replies[0]), ("state", "in_progress")]
        if note and rng.random() < 0.6:
            steps.append(("note", teammate, note))
        steps += [("reply", rng.choice(customers), body) for body in follow_ups]
        if final == "waiting_on_customer":
            question = "Could you send us a screenshot of what you see?"
            steps += [("reply", teammate, question), ("state", final)]
        elif final == "resolved":
            steps += [("reply", teammate, body) for body in replies[1:]]
            steps.append(("state", final))
            if rng.random() < 0.3:
                steps.append(("reply", creator, "Thanks, all good now."))
        return steps

    def _final_state(self, age: timedelta) -> str:
        if age < timedelta(days=2):
            weights = [4, 4, 2, 0]
        elif age < timedelta(days=14):
            weights = [1, 4, 2, 4]
        else:
            weights = [1, 1, 1, 12]
        return self.rng.choices(STATES, weights)[0]

    def _priority(self) -> str:
        names, weights = zip(*PRIORITIES, strict=True)
        return self.rng.choices(names, weights)[0]

    def _contact(self, contact_id: str) -> dict | None:
        if contact_id not in self.names:
            return None
        return {"id": contact_id, "name": self.names[contact_id]}

    def _uuid(self, name: str) -> str:
        return uuid.uuid5(DEMO_NAMESPACE, name).hex

    def _part_id(self, conversation_id: str, index: int) -> str:
        return f"part-{self._uuid(f'{conversation_id}:{index}')}"


@dataclass
class Demo:
    base_url: str
    admin_token: str
    identity_secret: str

    def seeded(self) -> bool:
        answer = requests.get(
            f"{self.base_url}/api/admin/companies/{COMPANIES[0][0]}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=15,
        )
        if answer.status_code not in (200, 404):
            answer.raise_for_status()
        return answer.status_code == 200

    def seed(self, store: EventStore, now: datetime | None = None) -> None:
        """Import the demo into ``store`` as it stands ``now`` (default: this moment)."""
        first = tickets.next_ticket_number(lambda n: store.stream_version(tickets.stream_of(n)) > 0)
        for stream_id, events in demo_streams(now or datetime.now(UTC), first):
            store.append(stream_id, events, 0)

    def sign_in_link(self, contact_id: str) -> str:
        email = next(c[1] for c in CONTACTS if c[0] == contact_id)
        user_hash = hmac.new(
            self.identity_secret.encode(), contact_id.encode(), hashlib.sha256
        ).hexdigest()
        fragment = {"user_id": contact_id, "user_hash": user_hash}
        if email:
            fragment["email"] = email
        return f"{self.base_url}/#{urlencode(fragment)}"

    def links(self) -> list[tuple[str, str]]:
        return [
            ("Ann (Acme admin: sees every Acme ticket)", self.sign_in_link("ann")),
            ("Bob (Acme member: sees only tickets he created)", self.sign_in_link("bob")),
            ("Carol (member of Acme and Globex)", self.sign_in_link("carol")),
            ("Erin (no email: shows the no-access explanation)", self.sign_in_link("erin")),
        ]
