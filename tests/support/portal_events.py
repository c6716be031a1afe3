"""Given/when/then helpers for portal_query: a history of valid events, folded into a view.

Every event built here is checked against its schema in ``kernel/contracts/events.py``, so
a test cannot project an event the platform would never store.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from kernel.contracts.envelope import NewEvent, RecordedEvent, check_payload
from kernel.contracts.events import LATEST_VERSION, PORTAL_SETTINGS_STREAM
from kernel.eventstore.base import EventStore
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.queries import TicketQuery, View
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex

START = datetime(2026, 1, 1, tzinfo=UTC)


class History:
    """Recorded events with consecutive positions and a clock a test moves by hand."""

    def __init__(self, start: datetime = START):
        self.clock = start
        self.events: list[RecordedEvent] = []
        self._versions: Counter[str] = Counter()
        self._parts = itertools.count(1)

    def tick(self, **delta: float) -> datetime:
        self.clock += timedelta(**(delta or {"minutes": 1}))
        return self.clock

    def add(self, stream_id: str, event_type: str, payload: dict[str, Any]) -> RecordedEvent:
        version = LATEST_VERSION[event_type]
        check_payload(stream_id, event_type, version, payload)
        self._versions[stream_id] += 1
        event = RecordedEvent(
            len(self.events) + 1,
            str(uuid.uuid4()),
            stream_id,
            self._versions[stream_id],
            event_type,
            version,
            self.clock.isoformat(timespec="microseconds"),
            None,
            None,
            payload,
            {},
        )
        self.events.append(event)
        self.tick(seconds=1)
        return event

    # identity and companies ------------------------------------------------------------

    def contact(self, contact_id: str, email: str | None = "", name: str | None = "", **attrs):
        email = f"{contact_id}@example.com" if email == "" else email
        name = contact_id.capitalize() if name == "" else name
        kind = "ContactUpdated" if self._versions[f"contact-{contact_id}"] else "ContactCreated"
        payload = {"contact_id": contact_id, "email": email, "name": name, "attributes": attrs}
        return self.add(f"contact-{contact_id}", kind, payload)

    def settings(
        self,
        preview_enabled: bool = True,
        conditions: list | None = None,
        portal_enabled: bool = True,
    ):
        payload = {
            "portal_enabled": portal_enabled,
            "preview_enabled": preview_enabled,
            "visibility_conditions": conditions or [],
        }
        return self.add(PORTAL_SETTINGS_STREAM, "PortalSettingsChanged", payload)

    def company(self, company_id: str, name: str | None = None):
        payload = {"company_id": company_id, "name": name or f"{company_id.capitalize()} Inc."}
        return self.add(f"company-{company_id}", "CompanyCreated", payload)

    def member(self, company_id: str, *contact_ids: str):
        for contact_id in contact_ids:
            payload = {"company_id": company_id, "contact_id": contact_id}
            self.add(f"company-{company_id}", "CompanyMemberAdded", payload)

    def remove_member(self, company_id: str, contact_id: str):
        payload = {"company_id": company_id, "contact_id": contact_id}
        return self.add(f"company-{company_id}", "CompanyMemberRemoved", payload)

    # tickets -----------------------------------------------------------------------------

    def ticket(
        self,
        ticket_id: int,
        company_id: str | None,
        creator_id: str = "ann",
        title: str | None = None,
        description: str = "",
        ticket_type: str = "Bug",
        state: str = "submitted",
        attributes: list | None = None,
        participant_ids: list | None = None,
        conversation_id: str | None = None,
    ):
        payload = {
            "ticket_id": ticket_id,
            "ticket_type": ticket_type,
            "state": state,
            "title": title or f"Ticket {ticket_id}",
            "description": description,
            "attributes": attributes or [],
            "creator_id": creator_id,
            "participant_ids": participant_ids or [creator_id],
            "company_id": company_id,
            "company_chosen": True,
            "conversation_id": conversation_id,
            "form": None,
        }
        return self.add(f"ticket-{ticket_id}", "TicketCreated", payload)

    def state(self, ticket_id: int, state: str, previous: str = "submitted"):
        payload = {
            "ticket_id": ticket_id,
            "state": state,
            "previous_state": previous,
            "author_type": "teammate",
            "author_id": None,
        }
        return self.add(f"ticket-{ticket_id}", "TicketStateChanged", payload)

    def edit(self, ticket_id: int, **changes: str):
        return self.add(f"ticket-{ticket_id}", "TicketEdited", {"ticket_id": ticket_id, **changes})

    def attributes(self, ticket_id: int, attributes: list):
        payload = {"ticket_id": ticket_id, "attributes": attributes}
        return self.add(f"ticket-{ticket_id}", "TicketAttributesChanged", payload)

    def assign(self, ticket_id: int, company_id: str | None, previous: str | None = None):
        payload = {
            "ticket_id": ticket_id,
            "company_id": company_id,
            "previous_company_id": previous,
            "company_chosen": True,
        }
        return self.add(f"ticket-{ticket_id}", "TicketCompanyAssigned", payload)

    def link(self, ticket_id: int, conversation_id: str, participant_ids: list | None = None):
        payload = {
            "ticket_id": ticket_id,
            "conversation_id": conversation_id,
            "participant_ids": participant_ids or [],
        }
        return self.add(f"ticket-{ticket_id}", "TicketConversationLinked", payload)

    # conversations -----------------------------------------------------------------------

    def conversation(self, conversation_id: str, contact_id: str, opening: str | None = None):
        payload = {"conversation_id": conversation_id, "contact_id": contact_id}
        self.add(f"conversation-{conversation_id}", "ConversationStarted", payload)
        if opening:
            self.part(conversation_id, opening, author_id=contact_id)

    def part(
        self,
        conversation_id: str,
        body: str,
        author_id: str = "ann",
        author_type: str = "user",
        author_name: str | None = None,
        internal: bool = False,
    ):
        payload = {
            "conversation_id": conversation_id,
            "part_id": f"p{next(self._parts)}",
            "author_type": author_type,
            "author_id": author_id,
            "author_name": author_name,
            "body": body,
            "internal": internal,
        }
        return self.add(f"conversation-{conversation_id}", "ConversationPartAdded", payload)

    def note(self, conversation_id: str, body: str, author_id: str = "tom"):
        """An internal note by a teammate."""
        return self.part(
            conversation_id,
            body,
            author_id=author_id,
            author_type="teammate",
            author_name="Tom Teammate",
            internal=True,
        )

    def join(self, conversation_id: str, contact_id: str, ticket_id: int | None = None):
        payload = {
            "conversation_id": conversation_id,
            "contact_id": contact_id,
            "ticket_id": ticket_id,
        }
        return self.add(f"conversation-{conversation_id}", "ConversationParticipantJoined", payload)

    def remove_participant(self, conversation_id: str, contact_id: str):
        payload = {"conversation_id": conversation_id, "contact_id": contact_id}
        return self.add(
            f"conversation-{conversation_id}", "ConversationParticipantRemoved", payload
        )

    # folding -----------------------------------------------------------------------------

    def view(self) -> View:
        return fold(self.events)

    def append_to(self, store: EventStore, part: slice = slice(None)) -> None:
        """Write these events (or a ``part`` of them) into a real store (positions are the
        store's own)."""
        for event in self.events[part]:
            store.append(
                event.stream_id,
                [
                    NewEvent(
                        event.type,
                        event.payload,
                        event_id=event.event_id,
                        occurred_at=event.occurred_at,
                    )
                ],
                event.stream_version - 1,
            )


def fold(events: Iterable[RecordedEvent]) -> View:
    model = ReadModel()
    for event in events:
        handler = HANDLERS.get(event.type)
        if handler:
            handler(model, event)
    index = SearchIndex.build(model)
    model.pack_parts()  # as a load leaves it (Projector.build_index)
    return View(model, index)


def query(**fields: Any) -> TicketQuery:
    return TicketQuery.parse(fields)


def ids(answer: dict) -> list[int]:
    return [item["id"] for item in answer["items"]]


def acme_world() -> History:
    """Two tenants: ann and bob at Acme, eve at Evil; tickets 1-2 at Acme, 3 at Evil."""
    h = History()
    for who in ("ann", "bob", "eve"):
        h.contact(who)
    h.company("acme")
    h.company("evil")
    h.member("acme", "ann", "bob")
    h.member("evil", "eve")
    h.ticket(1, "acme", creator_id="ann", title="Printer on fire")
    h.ticket(2, "acme", creator_id="bob", title="Password reset")
    h.ticket(3, "evil", creator_id="eve", title="Evil plans")
    return h
