"""Operations on portal_query's projections: rebuild, status, parked events and their retry.

They work on the event store and the projection storage directly (no RPC), so they run
with or without the platform up (``portalctl`` calls them). A running portal_query notices
what they did on its next catch-up tick (a new current generation, or a revision it did not
write) and reloads beside the view it keeps serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.config import partition_count
from kernel.contracts.events import PORTAL_SETTINGS_STREAM
from kernel.eventstore import EventStore, open_event_store
from services.portal_query import snapshot
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.partition import PartitionFilter
from services.portal_query.projector import Projector, projection_status, without_cyclic_gc
from services.portal_query.read_model import ReadModel
from services.portal_query.storage import (
    ParkedEvent,
    ProjectionStorage,
    StaleProjection,
    open_projection_storage,
)

# Events read and folded per step while rebuilding: large, so a busy document is written
# rarely (a storage with transaction limits commits more often within a step).
REBUILD_BATCH = 50_000
RETRY_ATTEMPTS = 5
RELAY = "event_relay"

Progress = Callable[[int, int], None]  # (events applied so far, events to apply)


@dataclass(frozen=True)
class RebuildSummary:
    generation: int
    events: int
    seconds: float
    parked: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float(self.events)


def open_stores(config: Mapping[str, Any]) -> tuple[EventStore, ProjectionStorage]:
    """The event store and the projection storage ``config`` names (with partitions, the
    storage of partition ``PORTAL_PARTITION``)."""
    return open_event_store(config), open_projection_storage(config)


def partition_configs(config: Mapping[str, Any], partition: int | None = None) -> list[dict]:
    """``config`` for each partition of the read side (or only ``partition``)."""
    numbers = range(partition_count(config)) if partition is None else [partition]
    return [{**config, "PORTAL_PARTITION": number} for number in numbers]


def partition_of(config: Mapping[str, Any], store: EventStore) -> PartitionFilter | None:
    """The filter of the partition ``config`` names; ``None`` for a single read side."""
    if partition_count(config) == 1:
        return None
    return PartitionFilter.of(config, store, HANDLERS)


def _no_progress(_applied: int, _total: int) -> None:
    """For callers that show no progress."""


def rebuild(
    store: EventStore,
    storage: ProjectionStorage,
    progress: Progress = _no_progress,
    partition: PartitionFilter | None = None,
    snapshot_at: tuple[Path, str] | None = None,
) -> RebuildSummary:
    """Replay the whole store into a fresh generation, catch up, then switch to it.

    Every event is checked against its contract as it is folded (:class:`Projector`).
    The generation is written in batches, each with its checkpoint, and becomes current
    only once caught up; ``progress`` hears after each step how far it got. A
    ``partition`` rebuilds only what that partition holds.

    With ``snapshot_at`` (:func:`snapshot.location`) the rebuild also builds the search
    index and leaves the model and index there as the new generation's snapshot before it
    switches: the serving copies then take the generation from that file instead of
    reading its documents back and indexing them again (``bench.rebuild`` counts the time
    until the rebuilt generation serves)."""
    started = time.perf_counter()
    generation = storage.create_generation()
    projector = Projector(
        store,
        storage,
        storage.state(generation),
        ReadModel(),
        [],
        handlers=partition.handlers() if partition else HANDLERS,
        with_index=False,
        must_be_current=False,
        batch_size=REBUILD_BATCH,
    )
    total = store.head_position()
    with without_cyclic_gc():
        while projector.catch_up(until=projector.checkpoint + REBUILD_BATCH):
            total = max(total, projector.checkpoint)
            progress(projector.checkpoint, total)
        if snapshot_at is not None:
            projector.build_index()
            snapshot.write(*snapshot_at, snapshot.Snapshot.of(projector, storage.state(generation)))
    storage.switch(generation)
    return RebuildSummary(
        generation, projector.checkpoint, time.perf_counter() - started, len(projector.parked)
    )


def status(store: EventStore, storage: ProjectionStorage) -> dict[str, Any]:
    """The current generation's checkpoint and lag, the relay's checkpoint, and whether the
    portal is on."""
    current = storage.current()
    if current is None:
        answer: dict[str, Any] = {"generation": None, "checkpoint": 0}
        answer["head"] = store.head_position()
    else:
        parked = len(storage.parked(current.generation))
        answer = projection_status(store, current.generation, current.checkpoint, parked)
    answer["relay_checkpoint"] = store.get_checkpoint(RELAY)
    answer["portal"] = "on" if portal_enabled(store) else "off"
    return answer


def portal_enabled(store: EventStore) -> bool:
    """Whether the teammates' portal switch is on, from the settings stream itself (the
    projection may lag behind it). Version 1 settings, from before the switch, leave it on."""
    changes = store.read_stream(PORTAL_SETTINGS_STREAM)
    return changes[-1].payload.get("portal_enabled", True) if changes else True


def parked_events(storage: ProjectionStorage) -> list[ParkedEvent]:
    """The current generation's parked events, by position."""
    current = storage.current()
    return storage.parked(current.generation) if current else []


def retry_parked(
    store: EventStore, storage: ProjectionStorage, partition: PartitionFilter | None = None
) -> dict[str, int]:
    """Re-apply the current generation's parked events; reload and try again if the
    running service commits in between."""
    attempt = 1
    while True:
        try:
            if partition is None:
                return Projector.load(store, storage).retry_parked()
            projector = Projector.load(store, storage, handlers=partition.handlers())
            partition.load(projector.checkpoint)
            return projector.retry_parked()
        except StaleProjection:
            if attempt >= RETRY_ATTEMPTS:
                raise
            attempt += 1
