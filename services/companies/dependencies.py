"""Companies' own dependency provider: the membership index (companies by contact)."""

from __future__ import annotations

from collections.abc import Iterable

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from kernel.contracts.events import category_of
from kernel.eventstore import EventStore, open_event_store


class MembershipIndex:
    """Company ids by contact id, folded from the store's ``company-*`` streams in position
    order. Every answer first catches up to the store's head, so a membership change that
    has returned to its caller is always in the next answer (read-your-writes), whichever
    instance of the service wrote it."""

    def __init__(self, store: EventStore):
        self.store = store
        self.position = 0
        self.companies_by_contact: dict[str, set[str]] = {}
        self._catching_up = Semaphore()

    def catch_up(self) -> None:
        """Apply every event up to the store's head; one applier at a time."""
        with self._catching_up:
            for event in self.store.iter_all(self.position):
                if category_of(event.stream_id) == "company":
                    self._apply(event.type, event.payload)
                self.position = event.position

    def _apply(self, event_type: str, data: dict) -> None:
        if event_type == "CompanyMemberAdded":
            self.companies_by_contact.setdefault(data["contact_id"], set()).add(data["company_id"])
        elif event_type == "CompanyMemberRemoved":
            companies = self.companies_by_contact.get(data["contact_id"], set())
            companies.discard(data["company_id"])
            if not companies:
                self.companies_by_contact.pop(data["contact_id"], None)

    def companies_of(self, contact_ids: Iterable[str]) -> dict[str, list[str]]:
        """``{contact_id: sorted company ids}`` for every requested id, as of the head."""
        self.catch_up()
        return {cid: sorted(self.companies_by_contact.get(cid, ())) for cid in contact_ids}


class Memberships(DependencyProvider):
    """The membership index, one per container, warmed up when the container starts."""

    def setup(self) -> None:
        self.index = MembershipIndex(open_event_store(self.container.config))

    def start(self) -> None:
        eventlet.spawn_n(self.index.catch_up)

    def stop(self) -> None:
        self.index.store.close()

    def get_dependency(self, worker_ctx) -> MembershipIndex:
        return self.index
