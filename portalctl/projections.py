"""Ops commands for portal_query's projections: ``rebuild``, ``status``, ``parked``.

They work on the event store and the projection storage directly (no RPC), so they run
with or without the platform up. A running portal_query notices what they did on its next
catch-up tick (a new current generation, or a revision it did not write) and reloads
beside the view it keeps serving.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from kernel.eventstore import EventStore, open_event_store
from services.portal_query.projector import Projector, projection_status, without_cyclic_gc
from services.portal_query.read_model import ReadModel
from services.portal_query.storage import (
    ProjectionStorage,
    StaleProjection,
    open_projection_storage,
)

# Events per commit while rebuilding: large, so a busy document is written rarely.
REBUILD_BATCH = 50_000
RETRY_ATTEMPTS = 5
RELAY = "event_relay"


@dataclass(frozen=True)
class RebuildSummary:
    generation: int
    events: int
    seconds: float
    parked: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float(self.events)

    def __str__(self) -> str:
        return (
            f"generation {self.generation}: {self.events} events in {self.seconds:.1f} s "
            f"({self.events_per_second:,.0f} events/s), {self.parked} parked"
        )


def rebuild(
    store: EventStore, storage: ProjectionStorage, progress: bool = False
) -> RebuildSummary:
    """Replay the whole store into a fresh generation, catch up, then switch to it.

    The fold skips schema validation (events were validated when appended) and the search
    index (the serving process builds it when it loads the generation), and documents
    are written in large batches, each with its checkpoint."""
    started = time.perf_counter()
    generation = storage.create_generation()
    projector = Projector(
        store,
        storage,
        storage.state(generation),
        ReadModel(),
        [],
        with_index=False,
        must_be_current=False,
        batch_size=REBUILD_BATCH,
    )
    bar = tqdm(total=store.head_position(), unit="event", unit_scale=True, disable=not progress)
    with without_cyclic_gc(), bar:
        while applied := projector.catch_up(until=projector.checkpoint + REBUILD_BATCH):
            bar.total = max(bar.total, projector.checkpoint)
            bar.update(applied)
    storage.switch(generation)
    return RebuildSummary(
        generation, projector.checkpoint, time.perf_counter() - started, len(projector.parked)
    )


def status(store: EventStore, storage: ProjectionStorage) -> dict[str, Any]:
    current = storage.current()
    if current is None:
        answer: dict[str, Any] = {"generation": None, "checkpoint": 0}
        answer["head"] = store.head_position()
    else:
        parked = len(storage.parked(current.generation))
        answer = projection_status(store, current.generation, current.checkpoint, parked)
    answer["relay_checkpoint"] = store.get_checkpoint(RELAY)
    return answer


def retry_parked(store: EventStore, storage: ProjectionStorage) -> dict[str, int]:
    """Re-apply the current generation's parked events; reload and try again if the
    running service commits in between."""
    attempt = 1
    while True:
        try:
            return Projector.load(store, storage).retry_parked()
        except StaleProjection:
            if attempt >= RETRY_ATTEMPTS:
                raise
            attempt += 1


# command line ------------------------------------------------------------------------------


def _open(config: dict[str, Any]) -> tuple[EventStore, ProjectionStorage]:
    return open_event_store(config), open_projection_storage(config)


def rebuild_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    store, storage = _open(config)
    summary = rebuild(store, storage, progress=True)
    print(f"rebuilt {summary}")


def status_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    store, storage = _open(config)
    for name, value in status(store, storage).items():
        print(f"{name:>16}: {value}")


def parked_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    store, storage = _open(config)
    if args.retry:
        outcome = retry_parked(store, storage)
        print(f"re-applied {outcome['retried']}; still parked: {outcome['parked']}")
        return
    current = storage.current()
    parked = storage.parked(current.generation) if current else []
    if not parked:
        print("no parked events")
    for event in parked:
        print(
            f"{event.position:>10}  {event.stream_id}  {event.type}  "
            f"attempts={event.attempts}  {event.error}"
        )


def register(commands: Any, config_loader: Any) -> None:
    """Add ``rebuild``, ``status`` and ``parked`` to portalctl's subcommands."""

    def bind(handler):
        return lambda args: handler(args, config_loader())

    commands.add_parser(
        "rebuild", help="replay the event store into a fresh projection generation"
    ).set_defaults(handler=bind(rebuild_command))
    commands.add_parser(
        "status", help="projection checkpoint and lag, relay checkpoint"
    ).set_defaults(handler=bind(status_command))
    parked = commands.add_parser("parked", help="list (or --retry) parked projection events")
    parked.add_argument("--retry", action="store_true", help="re-apply them in order")
    parked.set_defaults(handler=bind(parked_command))
