"""Companies' own dependency provider: the membership index (companies by contact)."""

from __future__ import annotations

from collections.abc import Iterable

from kernel.catch_up import CatchUpIndex, CatchUpIndexProvider
from kernel.contracts.envelope import RecordedEvent
from kernel.contracts.events import category_of
from kernel.eventstore import EventStore


class MembershipIndex(CatchUpIndex):
    """Company ids by contact id, folded from the store's ``company-*`` streams."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.companies_by_contact: dict[str, set[str]] = {}

    def apply(self, event: RecordedEvent) -> None:
        if category_of(event.stream_id) != "company":
            return
        data = event.payload
        if event.type == "CompanyMemberAdded":
            self.companies_by_contact.setdefault(data["contact_id"], set()).add(data["company_id"])
        elif event.type == "CompanyMemberRemoved":
            companies = self.companies_by_contact.get(data["contact_id"], set())
            companies.discard(data["company_id"])
            if not companies:
                self.companies_by_contact.pop(data["contact_id"], None)

    def companies_of(self, contact_ids: Iterable[str]) -> dict[str, list[str]]:
        """``{contact_id: sorted company ids}`` for every requested id, as of the head."""
        self.catch_up()
        return {cid: sorted(self.companies_by_contact.get(cid, ())) for cid in contact_ids}


class Memberships(CatchUpIndexProvider):
    """The membership index, one per container."""

    index_type = MembershipIndex
