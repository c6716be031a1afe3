"""The live projection as a Nameko dependency: one per container.

One greenthread applies events (one applier at a time, by construction): it wakes when a
bus message prompts it or every ``CATCH_UP_INTERVAL`` seconds, whichever comes first, and
then catches up from the store. On the same tick it notices a new generation (a rebuild
switched the pointer) and loads it beside the one it serves, then swaps.

Copies: each copy follows the store into its own memory; only the copy holding the storage's
writer lease commits (documents and checkpoint), the others apply in memory only. The
writer also reloads when the revision moved under it (``portalctl parked --retry``); a
copy that takes the lease over (its holder died) reloads once, to commit from the stored
revision. Loading
yields to the hub between batches, so queries keep being answered meanwhile; a load of a
large store runs in a child process instead (:mod:`load_apart`), so that this process keeps
only what it serves, not the holes the load leaves among it.

What it serves goes to a local snapshot file (:mod:`snapshot`) every
``PORTAL_SNAPSHOT_INTERVAL`` seconds while it changes (pickled in a native thread while the
applier waits, so queries keep being answered) and when it stops; the next start serves
from that file when it still stands for the storage's current generation, then folds the
store's events after the snapshot's checkpoint as usual. Until something is served, a query
is answered 503 with a hint to retry, never from a partial model.

A reader who just wrote something (a reply, a join) names the store position of that write,
and :meth:`LiveProjection.wait_until_applied` holds its answer until the projection has
applied it: the wait prompts the applier and is woken by the applier's own ticks, never by a
timer, and is bounded (``READ_YOUR_WRITES_WAIT`` seconds, then 503).

This provider owns the projection's two resources together (the event store it reads
and the projection storage it writes) because every write to the second is decided by
what it read from the first.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import pickle
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import eventlet
from eventlet import tpool
from eventlet.event import Event
from eventlet.queue import Empty, Full, LightQueue
from greenlet import GreenletExit
from nameko.extensions import DependencyProvider

from kernel.config import partition_count
from kernel.errors import PROJECTION_LOADING, ServiceUnavailable
from kernel.eventstore import open_event_store
from kernel.logging import get_logger
from services.portal_query import load_apart, snapshot
from services.portal_query.event_handlers import HANDLERS, Handler
from services.portal_query.partition import PartitionFilter
from services.portal_query.projector import Projector, without_cyclic_gc
from services.portal_query.queries import View
from services.portal_query.storage import StaleProjection, open_projection_storage

log = get_logger(__name__)

# Seconds the writer lease lasts unless renewed: how long the stored projection may stand
# still after its writer dies, until another copy takes over.
LEASE_SECONDS = 5.0


def time_slicer(slice_seconds: float = 0.005) -> Callable[[], None]:
    """A pause for long CPU work: it yields to the hub once ``slice_seconds`` of work
    went by since the last yield, and costs next to nothing otherwise."""
    last = time.perf_counter()

    def pause() -> None:
        nonlocal last
        if time.perf_counter() - last >= slice_seconds:
            eventlet.sleep(0)
            last = time.perf_counter()

    return pause


def return_free_memory() -> None:
    """Hand the C allocator's free pages back to the system (glibc's ``malloc_trim``): a
    load frees as much as it keeps (decoded documents, token sets), and without this the
    process holds on to it. Elsewhere (no glibc), nothing."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


class LiveProjection:
    """What a running portal_query serves, kept fresh by one applier greenthread."""

    def __init__(self, config: Mapping[str, Any], handlers: Mapping[str, Handler] = HANDLERS):
        self.store = open_event_store(config)
        self.storage = open_projection_storage(config)
        self.interval = float(config.get("CATCH_UP_INTERVAL") or 0.5)
        self.read_your_writes_wait = float(config.get("READ_YOUR_WRITES_WAIT") or 2.0)
        self.config = config
        self.handlers = handlers
        self.snapshot_path, self.snapshot_source = snapshot.location(config)
        self.snapshot_interval = float(config.get("PORTAL_SNAPSHOT_INTERVAL") or 300)
        # (generation, revision, checkpoint) of the snapshot file: written or restored
        self._snapshot_at: tuple[int, int, int] | None = None
        self._snapshot_due = 0.0  # monotonic time of the next periodic snapshot
        self.projector: Projector | None = None
        self.partition: PartitionFilter | None = None
        self.holder = uuid.uuid4().hex  # this copy, as a writer-lease holder
        self._lease_until = 0.0
        self._wake: LightQueue = LightQueue(maxsize=1)
        self._applier = None
        # The applier's ticks: how many started, the last that ended at the store's head,
        # and an event sent (then replaced) whenever a tick ends.
        self._ticks_started = 0
        self._caught_up_tick = 0
        self._tick_ended = Event()

    # life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._applier = eventlet.spawn(self._run)

    def stop(self) -> None:
        if self._applier is not None:
            self._applier.kill()
            with contextlib.suppress(GreenletExit):  # how it ended: it was killed
                self._applier.wait()  # until a load apart it waited for has stopped too
            self._applier = None
        self._write_snapshot()
        self.store.close()
        self.storage.close()

    def _write_snapshot(self, in_thread: bool = False) -> None:
        """What is served, for the next start, if it is what the storage holds (someone
        else wrote since: nothing) and the file does not hold it already (pickling the
        model takes seconds, and holds the interpreter meanwhile). ``in_thread``: pickled
        in a native thread while this greenthread (the applier: the only writer of the
        model) waits."""
        projector = self.projector
        if projector is None or projector.index is None:
            return
        served = (projector.generation, projector.revision, projector.checkpoint)
        if self._snapshot_at == served:
            return
        try:
            current = self.storage.current()
            if current is None or current.generation != projector.generation:
                return  # a rebuild switched generations: its snapshot is the one to keep
            state = self.storage.state(projector.generation)
            if (state.revision, state.checkpoint) != (projector.revision, projector.checkpoint):
                return
            taken = snapshot.Snapshot.of(projector, state)
            if in_thread:
                tpool.execute(snapshot.write, self.snapshot_path, self.snapshot_source, taken, True)
                tpool.execute(return_free_memory)  # what the pickler's memo held
            else:
                snapshot.write(self.snapshot_path, self.snapshot_source, taken)
            self._snapshot_at = (state.generation, state.revision, state.checkpoint)
        except (OSError, StaleProjection) as error:
            log.warning("no snapshot written", error=str(error))

    def _snapshot_if_due(self) -> None:
        projector = self.projector
        if projector is None or time.monotonic() < self._snapshot_due:
            return
        self._snapshot_due = time.monotonic() + self.snapshot_interval
        self._write_snapshot(in_thread=True)

    def prompt(self, position: int) -> None:
        """A bus message says there is an event at ``position``: wake the applier now."""
        projector = self.projector
        if projector is None or position > projector.checkpoint:
            with contextlib.suppress(Full):  # already awake or about to be
                self._wake.put_nowait(position)

    def applied(self, position: int) -> bool:
        projector = self.projector
        return projector is not None and projector.checkpoint >= position

    def wait_until_applied(self, position: int) -> None:
        """Return once the projection has applied the store's ``position`` (a reader's own
        write). A position the store did not have when asked (a tick that started after
        the call reached the head without it) is not waited for: no write of the reader's
        can be there. :class:`ServiceUnavailable` after ``READ_YOUR_WRITES_WAIT`` seconds.
        Position 0 names no write: nothing to wait for."""
        if position == 0 or self.applied(position):
            return
        asked_after_tick = self._ticks_started
        self.prompt(position)
        deadline = time.monotonic() + self.read_your_writes_wait
        while not self.applied(position):
            if self._caught_up_tick > asked_after_tick:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceUnavailable(
                    "the portal has not caught up with your last change yet; try again",
                    {"min_position": f"not applied within {self.read_your_writes_wait}s"},
                )
            with eventlet.Timeout(remaining, False):
                self._tick_ended.wait()

    def view(self) -> View:
        projector, partition = self.projector, self.partition
        if projector is None:
            raise ServiceUnavailable("the portal projection is still loading", PROJECTION_LOADING)
        if partition is None:
            return projector.view
        return View(projector.model, projector.index, partition.serves)

    def routes(self, company_ids: list[str]) -> list[dict[str, Any]]:
        """Which partition serves which of these companies, by the assignment this one
        has applied: ``[{"partition": n, "companies": [...]}]``."""
        partition = self.partition
        if partition is None:
            if partition_count(self.config) > 1:
                raise ServiceUnavailable(
                    "the portal projection is still loading", PROJECTION_LOADING
                )
            return [{"partition": 0, "companies": sorted(company_ids)}] if company_ids else []
        owners: dict[int, list[str]] = {}
        for company in sorted(company_ids):
            owners.setdefault(partition.assignment.owner(company), []).append(company)
        return [{"partition": n, "companies": owners[n]} for n in sorted(owners)]

    def status(self) -> dict[str, Any]:
        projector = self.projector
        if projector is None:
            raise ServiceUnavailable("the portal projection is still loading", PROJECTION_LOADING)
        return projector.status()

    # the applier -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._ticks_started += 1
            tick = self._ticks_started
            try:
                self._tick()
                self._caught_up_tick = tick
                self._snapshot_if_due()
            except Exception:
                log.exception("projection catch-up failed; retrying on the next tick")
            ended, self._tick_ended = self._tick_ended, Event()
            ended.send()
            with contextlib.suppress(Empty):
                self._wake.get(timeout=self.interval)

    def _tick(self) -> None:
        projector = self.projector
        writer = self._hold_lease()
        current = self.storage.current()
        if writer and projector is not None and not projector.committing and current is not None:
            stored = (current.generation, current.revision, current.checkpoint)
            if stored == (projector.generation, projector.revision, projector.checkpoint):
                # A copy that takes the lease holding exactly what is stored (a restart
                # from the snapshot while the old writer's lease ran out) writes on from
                # there: a reload would read and index every document again while serving.
                projector.committing = True
        if (
            projector is None
            or current is None
            or current.generation != projector.generation
            or (writer and (current.revision != projector.revision or not projector.committing))
        ):
            self._reload(writer)
            return
        projector.committing = writer
        try:
            projector.catch_up()
        except StaleProjection:
            log.info("projection changed under us; reloading", generation=projector.generation)
            self._reload(writer)

    def _hold_lease(self) -> bool:
        """Whether this copy writes the projection: it takes or renews the writer lease once
        half of it has run."""
        now = time.time()
        if self._lease_until - now > LEASE_SECONDS / 2:
            return True
        held = self.storage.hold_lease(self.holder, LEASE_SECONDS, now)
        self._lease_until = now + LEASE_SECONDS if held else 0.0
        return held

    def _reload(self, committing: bool = True) -> None:
        """Load the current generation beside the served one (from the snapshot when it
        stands for that generation: this copy's own on a start, the one ``portalctl
        rebuild`` leaves when it switches generations), catch it up, then swap. Within one
        generation (a write that was not this copy's, such as ``portalctl parked --retry``)
        it reads what was written. A partition
        (``PORTAL_PARTITIONS`` > 1) applies events through its filter, which folds the
        company assignment up to the loaded checkpoint first."""
        partition = None
        handlers = self.handlers
        if partition_count(self.config) > 1:
            partition = PartitionFilter.of(self.config, self.store, self.handlers)
            handlers = partition.handlers()
        with without_cyclic_gc():
            current = self.storage.current()
            served = self.projector.generation if self.projector else None
            switched = current is None or current.generation != served
            fresh = self._from_snapshot(handlers, committing) if switched else None
            if fresh is None and load_apart.worth_it(self.config, self.store):
                fresh = self._load_apart(handlers, committing)
            if fresh is None:
                fresh = load_apart.load_whole(
                    self.store, self.storage, handlers, partition, committing, time_slicer()
                )
            elif partition is not None:
                partition.load(fresh.checkpoint)
        fresh.catch_up()
        previous, self.projector, self.partition = self.projector, fresh, partition
        log.info(
            "projection loaded",
            generation=fresh.generation,
            checkpoint=fresh.checkpoint,
            tickets=len(fresh.model.tickets),
            replaced=previous.generation if previous else None,
            writer=committing,
        )
        del previous  # (a query still answering from it keeps it until it is done)
        return_free_memory()

    def _load_apart(self, handlers: Mapping[str, Handler], committing: bool) -> Projector:
        """The current generation, loaded by a child process (:mod:`load_apart`). When it
        is exactly what storage holds (this copy writes), the file it handed over is also
        the snapshot for the next start."""
        load_apart.remove_stale_hand_overs(self.snapshot_path)
        handed_over = load_apart.hand_over_path(self.snapshot_path, self.holder)
        found = load_apart.load(
            self.config,
            committing,
            handed_over,
            self.snapshot_source,
            self._hold_lease,
            eventlet.sleep,
        )
        if self.storage.current() == found.state:
            handed_over.replace(self.snapshot_path)
            self._snapshot_at = (
                found.state.generation,
                found.state.revision,
                found.state.checkpoint,
            )
        else:
            handed_over.unlink(missing_ok=True)
        return Projector(
            self.store,
            self.storage,
            found.state,
            found.model,
            found.parked,
            handlers=handlers,
            pause=time_slicer(),
            index=found.index,
            committing=committing,
        )

    def _from_snapshot(
        self, handlers: Mapping[str, Handler] | None = None, committing: bool = True
    ) -> Projector | None:
        current = self.storage.current()
        parked_now = len(self.storage.parked(current.generation)) if current else 0
        try:
            found = snapshot.read(self.snapshot_path, self.snapshot_source, current, parked_now)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
            log.warning("snapshot unreadable; loading from storage", error=str(error))
            return None
        if found is None:
            return None
        projector = Projector(
            self.store,
            self.storage,
            found.state,
            found.model,
            found.parked,
            handlers=self.handlers if handlers is None else handlers,
            pause=time_slicer(),
            index=found.index,
            committing=committing,
        )
        if found.state.checkpoint == current.checkpoint:  # the file is what storage holds
            self._snapshot_at = (current.generation, current.revision, current.checkpoint)
        log.info("projection restored from its snapshot", checkpoint=found.state.checkpoint)
        return projector


class Projection(DependencyProvider):
    """Hands workers the :class:`LiveProjection`; ``handlers`` is injectable for tests."""

    def __init__(self, handlers: Mapping[str, Handler] = HANDLERS, **kwargs):
        super().__init__(**kwargs)
        self.handlers = handlers

    def setup(self) -> None:
        self.live = LiveProjection(self.container.config, self.handlers)

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        self.live.stop()

    def kill(self) -> None:
        self.live.stop()

    def get_dependency(self, worker_ctx) -> LiveProjection:
        return self.live
