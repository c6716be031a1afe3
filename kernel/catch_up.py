"""In-memory indexes a write-side service folds from the event store by position, and the
dependency provider that gives each container one.

Every answer first catches up to the store's head, so a change that has returned to its
caller is always in the next answer (read-your-writes), whichever process wrote it.
"""

from __future__ import annotations

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from kernel.contracts.envelope import RecordedEvent
from kernel.eventstore import EventStore, open_event_store


class CatchUpIndex:
    """Applies every stored event once, in position order; subclasses say how."""

    def __init__(self, store: EventStore):
        self.store = store
        self.position = 0
        self._catching_up = Semaphore()

    def catch_up(self) -> None:
        """Apply every event up to the store's head; one applier at a time."""
        with self._catching_up:
            for event in self.store.iter_all(self.position):
                self.apply(event)
                self.position = event.position

    def apply(self, event: RecordedEvent) -> None:
        raise NotImplementedError


class CatchUpIndexProvider(DependencyProvider):
    """One ``index_type`` per container, on its own store connection, warmed up when the
    container starts."""

    index_type: type[CatchUpIndex]

    def setup(self) -> None:
        self.index = self.index_type(open_event_store(self.container.config))

    def start(self) -> None:
        eventlet.spawn_n(self.index.catch_up)

    def stop(self) -> None:
        self.index.store.close()

    def get_dependency(self, worker_ctx) -> CatchUpIndex:
        return self.index
