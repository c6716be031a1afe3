"""In-memory indexes a service folds from the event store by position, and the dependency
provider that gives each container one.

An index is caught up in one of two ways, which its provider chooses:

* on demand: every answer of a write-side service first catches up to the store's head, so
  a change that has returned to its caller is always in the next answer (read-your-writes),
  whichever process wrote it;
* by following: a greenthread of each process catches up whenever :meth:`CatchUpIndex.prompt`
  wakes it (a bus message says there is more) and at least every ``follow_interval_key``
  seconds, bus or no bus, so every copy of a service follows the store by itself.
"""

from __future__ import annotations

import contextlib

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from kernel.contracts.envelope import RecordedEvent
from kernel.eventstore import EventStore, open_event_store
from kernel.logging import get_logger

log = get_logger(__name__)

YIELD_EVERY = 1000  # events applied between two yields to the hub


class CatchUpIndex:
    """Applies every stored event once, in position order; subclasses say how."""

    def __init__(self, store: EventStore):
        self.store = store
        self.position = 0
        self._catching_up = Semaphore()
        self._wake: LightQueue = LightQueue(maxsize=1)

    def catch_up(self) -> None:
        """Apply every event up to the store's head; one applier at a time. A long catch-up
        (a start on a large store) lets the process's other greenthreads run between
        batches."""
        with self._catching_up:
            for applied, event in enumerate(self.store.iter_all(self.position), 1):
                self.apply(event)
                self.position = event.position
                if applied % YIELD_EVERY == 0:
                    eventlet.sleep(0)

    def apply(self, event: RecordedEvent) -> None:
        raise NotImplementedError

    def prompt(self) -> None:
        """Wake the follower now (it catches up from its own position, whatever the prompt)."""
        with contextlib.suppress(Full):  # already awake or about to be
            self._wake.put_nowait(None)

    def follow(self, interval: float) -> None:
        """Catch up forever: when prompted, and at least every ``interval`` seconds."""
        while True:
            try:
                self.catch_up()
            except Exception:
                log.exception("index catch-up failed; retrying", index=type(self).__name__)
            with contextlib.suppress(Empty):
                self._wake.get(timeout=interval)


class CatchUpIndexProvider(DependencyProvider):
    """One ``index_type`` per container, on its own store connection, warmed up when the
    container starts. With ``follow_interval_key`` set, the index follows the store by
    itself (the config value is the longest wait between two catch-ups, in seconds)."""

    index_type: type[CatchUpIndex]
    follow_interval_key: str | None = None
    default_follow_interval = 0.25

    def setup(self) -> None:
        self.index = self.index_type(open_event_store(self.container.config))
        self._follower = None

    def start(self) -> None:
        if self.follow_interval_key is None:
            eventlet.spawn_n(self.index.catch_up)
            return
        interval = self.container.config.get(self.follow_interval_key)
        self._follower = eventlet.spawn(
            self.index.follow, float(interval or self.default_follow_interval)
        )

    def stop(self) -> None:
        if self._follower is not None:
            self._follower.kill()
            self._follower = None
        self.index.store.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx) -> CatchUpIndex:
        return self.index
