"""Follows the event store by position into one projection generation.

The store is the truth: positions are contiguous and in commit order, so reading after
the checkpoint never skips a late commit, and a bus message is only a prompt to read.
Each batch of events is applied to the in-memory read model, then its document changes,
parked events and new checkpoint are committed in one transaction; a replayed or
redelivered event is below the checkpoint and changes nothing. When the storage limits
what one transaction may carry (MongoDB), a batch is committed in several transactions,
each with the position of the last event it covers, as soon as its pending changes reach
a limit (:class:`CommitBudget`).

Every event the projection folds is checked against its contract first (the store's
events were checked when appended, but a projection trusts no input it did not check,
and a rebuild meets events appended under older code); one that fails is parked at once.
A handler that raises is retried (``MAX_ATTEMPTS`` in all), then its event is parked with
the error; later events of the same stream park behind it (per-stream order), and other
streams keep flowing. :meth:`Projector.retry_parked` re-applies them in order.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterator, Mapping
from itertools import islice

from kernel.contracts.envelope import RecordedEvent, check_payload
from kernel.errors import ValidationFailed
from kernel.eventstore import EventStore
from kernel.logging import get_logger
from services.portal_query.documents import document_of, restore_model, take_changes
from services.portal_query.event_handlers import HANDLERS, Handler, epoch
from services.portal_query.queries import View
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex
from services.portal_query.storage import (
    CommitLimits,
    GenerationState,
    ParkedEvent,
    ProjectionStorage,
)

log = get_logger(__name__)

MAX_ATTEMPTS = 3
BATCH_SIZE = 500
LOAD_BATCH = 500  # documents read from storage at a time while loading


@contextlib.contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """For building millions of acyclic objects (a model, an index): the cyclic collector
    would rescan them all again and again (seconds of CPU, long stalls of the hub).
    Reference counting still frees everything; the survivors are then frozen out of
    later full collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _no_pause() -> None:
    """Called between steps of long work; the service passes one that lets queries run."""


# ASCII-only JSON: its length is at least the UTF-8 size of the same text.
_measure = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def invalid_payload(event: RecordedEvent) -> str | None:
    """Why the event breaks its contract, or ``None`` when it keeps it."""
    try:
        check_payload(event.stream_id, event.type, event.schema_version, event.payload)
    except ValidationFailed as invalid:
        return f"ValidationFailed: {invalid} {invalid.fields}"
    return None


class CommitBudget:
    """Whether the changes applied since the last commit reached what one commit may carry.

    Documents are counted exactly. Bytes are counted from above without encoding every
    document again at every event: each changed document's size when it first changed,
    plus every event's payload (the most a handler can grow a document by)."""

    def __init__(self, limits: CommitLimits) -> None:
        self.limits = limits
        self.bytes = 0

    def reached(self, model: ReadModel, event: RecordedEvent, documents_before: int) -> bool:
        """After ``event`` was applied (``documents_before`` changed documents before)."""
        changed = model.changed_documents
        if self.limits.bytes is not None:
            # The documents this event changed first are the last ones in insertion order.
            for key in islice(reversed(changed), len(changed) - documents_before):
                body = document_of(model, key)
                self.bytes += len(key[0]) + len(key[1]) + len(_measure(body))
            self.bytes += len(_measure(event.payload))
            if self.bytes >= self.limits.bytes:
                return True
        return self.limits.documents is not None and len(changed) >= self.limits.documents

    def spent(self) -> None:
        """The pending changes were committed."""
        self.bytes = 0


class Projector:
    """One generation's read model, its search index and its place in the store."""

    def __init__(
        self,
        store: EventStore,
        storage: ProjectionStorage,
        state: GenerationState,
        model: ReadModel,
        parked: list[ParkedEvent],
        handlers: Mapping[str, Handler] = HANDLERS,
        with_index: bool = True,
        must_be_current: bool = True,
        index: SearchIndex | None = None,
        pause: Callable[[], None] = _no_pause,
        batch_size: int = BATCH_SIZE,
        committing: bool = True,
    ):
        self.store = store
        self.storage = storage
        self.generation = state.generation
        self.checkpoint = state.checkpoint
        self.revision = state.revision
        self.model = model
        self.handlers = handlers
        self.must_be_current = must_be_current
        self.pause = pause
        self.batch_size = batch_size
        # False: a copy that does not hold the writer lease applies events in memory only.
        self.committing = committing
        self.parked = {event.position: event for event in parked}
        self.parked_streams = {event.stream_id for event in parked}
        self._parked_changes: dict[int, ParkedEvent] = {}
        self._unparked: set[int] = set()
        self._budget = CommitBudget(storage.commit_limits)
        self.index: SearchIndex | None = index  # given: the index of ``model`` (a snapshot's)
        if with_index and index is None:
            self.build_index()

    def build_index(self) -> None:
        """Index the whole model in bulk (far cheaper than ticket by ticket for a long
        catch-up); from then on every commit refreshes the tickets it changed."""
        self.index = SearchIndex.build(self.model, self.pause)
        self.model.take_changed_tickets()
        self.model.pack_parts(self.pause)

    @classmethod
    def load(
        cls,
        store: EventStore,
        storage: ProjectionStorage,
        generation: int | None = None,
        **options,
    ) -> Projector:
        """Load a generation (the current one by default, made on first start) from
        storage: from one snapshot where the backend reads one, else retried if a writer
        commits to it while it is being read."""
        with without_cyclic_gc():
            return cls._load(store, storage, generation, **options)

    @classmethod
    def _load(
        cls, store: EventStore, storage: ProjectionStorage, generation: int | None, **options
    ) -> Projector:
        pause = options.get("pause", _no_pause)
        while True:
            if generation is None:
                state = storage.current()
                if state is None:
                    storage.switch(storage.create_generation())
                    continue
            else:
                state = storage.state(generation)
            snapshot = storage.snapshot(state.generation, LOAD_BATCH)
            if snapshot is not None:
                state, parked, batches = snapshot
                model = restore_model((doc for batch in batches for doc in batch), pause)
                return cls(store, storage, state, model, parked, **options)
            model = restore_model(
                (
                    document
                    for batch in storage.documents(state.generation, LOAD_BATCH)
                    for document in batch
                ),
                pause,
            )
            parked = storage.parked(state.generation)
            if storage.state(state.generation) == state:
                return cls(store, storage, state, model, parked, **options)

    @property
    def view(self) -> View:
        return View(self.model, self.index)

    # following the store ---------------------------------------------------------------

    def catch_up(self, until: int | None = None) -> int:
        """Apply every event after the checkpoint (up to ``until``); the number applied."""
        applied = 0
        while until is None or self.checkpoint < until:
            limit = self.batch_size
            if until is not None:
                limit = min(limit, until - self.checkpoint)
            events = self.store.read_all(self.checkpoint, limit)
            if not events:
                break
            for event in events:
                before = len(self.model.changed_documents)
                self._apply(event)
                if self._budget.reached(self.model, event, before):
                    self._commit(event.position)
            if self.checkpoint < events[-1].position:
                self._commit(events[-1].position)
            applied += len(events)
            self.pause()
            if len(events) < limit:
                break
        return applied

    def _apply(self, event: RecordedEvent) -> None:
        if event.stream_id in self.parked_streams:
            first = min(p.position for p in self.parked.values() if p.stream_id == event.stream_id)
            self._park(event, f"waits behind parked event at position {first}", 0)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            return
        event = event._replace(raw_payload=event.payload)  # decoded once, for all below
        invalid = invalid_payload(event)
        if invalid is not None:
            self._park(event, invalid, 1)
            return
        error = self._run(handler, event)
        if error is not None:
            self._park(event, error, MAX_ATTEMPTS)

    def _run(self, handler: Handler, event: RecordedEvent) -> str | None:
        """Apply ``event``; after ``MAX_ATTEMPTS`` failures, the last error."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                handler(self.model, event)
                return None
            except Exception as error:  # any handler failure, retried then parked
                failure = f"{type(error).__name__}: {error}"
                log.warning(
                    "projection handler failed",
                    position=event.position,
                    type=event.type,
                    attempt=attempt,
                    error=failure,
                )
        return failure

    def _park(self, event: RecordedEvent, error: str, attempts: int) -> None:
        parked = ParkedEvent(
            event.position, event.event_id, event.stream_id, event.type, error, attempts
        )
        self.parked[event.position] = parked
        self.parked_streams.add(event.stream_id)
        self._parked_changes[event.position] = parked
        self._unparked.discard(event.position)
        log.error("projection parked an event", position=event.position, type=event.type)

    def _commit(self, checkpoint: int) -> None:
        """Persist what changed since the last commit, with the checkpoint, atomically."""
        changes = take_changes(self.model)
        changed_tickets = self.model.take_changed_tickets()
        if self.index is not None:  # serving: else the bulk index build packs them all
            for ticket_id in changed_tickets:
                self.index.refresh(self.model, ticket_id)
            self.model.pack_parts()
        if self.committing:
            self.revision = self.storage.commit(
                self.generation,
                self.revision,
                checkpoint,
                changes,
                parked=list(self._parked_changes.values()),
                unparked=sorted(self._unparked),
                must_be_current=self.must_be_current,
            )
        self.checkpoint = max(self.checkpoint, checkpoint)
        self._parked_changes.clear()
        self._unparked.clear()
        self._budget.spent()

    # parked events ---------------------------------------------------------------------

    def retry_parked(self) -> dict[str, int]:
        """Re-apply the parked events in position order; those that fail again (and the
        later events of their streams) stay parked."""
        waiting = sorted(self.parked.values(), key=lambda p: p.position)
        events = self.store.get_events([p.event_id for p in waiting])
        self.parked, self.parked_streams = {}, set()
        retried = 0
        for parked in waiting:
            event = events[parked.event_id]
            if event.stream_id in self.parked_streams:
                self._park(event, parked.error, parked.attempts)
                continue
            handler = self.handlers.get(event.type)
            before = len(self.model.changed_documents)
            error = invalid_payload(event) if handler else None
            if handler and error is None:
                error = self._run(handler, event)
            if error is None:
                self._unparked.add(parked.position)
                self._parked_changes.pop(parked.position, None)
                retried += 1
            else:
                self._park(event, error, parked.attempts + MAX_ATTEMPTS)
            if self._budget.reached(self.model, event, before):
                self._commit(self.checkpoint)
        self._commit(self.checkpoint)
        return {"retried": retried, "parked": len(self.parked)}

    # status ----------------------------------------------------------------------------

    def status(self, now: float | None = None) -> dict[str, int | float]:
        return projection_status(
            self.store, self.generation, self.checkpoint, len(self.parked), now
        )


def projection_status(
    store: EventStore, generation: int, checkpoint: int, parked: int, now: float | None = None
) -> dict[str, int | float]:
    """How far a generation is behind the store: events, and seconds since the oldest
    event it has not applied yet happened."""
    head = store.head_position()
    lag_seconds = 0.0
    if head > checkpoint:
        oldest = store.read_all(checkpoint, 1)
        if oldest:
            now = time.time() if now is None else now
            lag_seconds = max(0.0, round(now - epoch(oldest[0].occurred_at), 3))
    return {
        "generation": generation,
        "checkpoint": checkpoint,
        "head": head,
        "lag_events": max(0, head - checkpoint),
        "lag_seconds": lag_seconds,
        "parked": parked,
    }
