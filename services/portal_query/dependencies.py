"""The projection as a Nameko dependency: one per container, fed from the event store."""

from __future__ import annotations

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from kernel.eventstore import open_event_store
from kernel.logging import get_logger

log = get_logger(__name__)


class TicketProjection:
    """Skeleton read model: tickets by id, caught up from the store by position."""

    def __init__(self, store):
        self.store = store
        self.tickets: dict[int, dict] = {}
        self.checkpoint = 0
        self._applying = Semaphore()

    def catch_up(self) -> int:
        """Apply every event after the checkpoint, in position order; one applier at a time."""
        with self._applying:
            for event in self.store.iter_all(self.checkpoint):
                if event.type == "TicketCreated":
                    data = event.payload
                    self.tickets[data["ticket_id"]] = {
                        "id": data["ticket_id"],
                        "type": data["ticket_type"],
                        "state": data["state"],
                        "title": data["title"],
                        "company_id": data["company_id"],
                    }
                self.checkpoint = event.position
            return self.checkpoint


class Projection(DependencyProvider):
    def setup(self) -> None:
        self.projection = TicketProjection(open_event_store(self.container.config))

    def start(self) -> None:
        eventlet.spawn_n(self.projection.catch_up)

    def get_dependency(self, worker_ctx) -> TicketProjection:
        return self.projection
