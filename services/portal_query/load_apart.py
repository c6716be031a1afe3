"""A large load in a process of its own, so that the serving process holds only what it serves.

Why: loading a generation (folding the store's events, or reading its documents back, then
indexing them) makes and frees about as many objects as the model keeps: decoded payloads,
part objects until they are packed, the index build's token sets. CPython's small-object
allocator hands an arena back to the system only once all of it is free, and the freed
objects lie scattered among the kept ones, so a process that loaded a large store itself
keeps about a third more resident than the same model needs when unpickled into a fresh
heap (``make bench``: 334 MiB against 236 on the benchmark set).

So when the store holds at least ``PORTAL_LOAD_APART_FROM`` events, portal_query runs the
load in a child process (``python -m services.portal_query.load_apart``). The child loads
and catches up exactly as the service would in process (:func:`load_whole`, committing only
when the service holds the writer lease, which the service keeps renewing meanwhile), builds
the index, and hands the result over as a snapshot file (:mod:`snapshot`); the service
unpickles it into compact memory. The child watches its parent between batches and stops
when the parent is gone, so a killed copy leaves no load running behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kernel.eventstore import EventStore, open_event_store
from kernel.logging import configure_logging, get_logger
from services.portal_query import snapshot
from services.portal_query.event_handlers import HANDLERS, Handler
from services.portal_query.ops import partition_of
from services.portal_query.partition import PartitionFilter
from services.portal_query.projector import Projector, without_cyclic_gc
from services.portal_query.storage import (
    GenerationState,
    ProjectionStorage,
    open_projection_storage,
)

log = get_logger("services.portal_query.load_apart")  # its name also when run as the child

DEFAULT_FROM = 100_000  # store events; below that, a load's leftovers are a few MiB
POLL_SECONDS = 0.25  # how often the service looks at the child (and renews its lease)
STOP_SECONDS = 5.0  # how long a child may take to stop before it is killed
STALE_SECONDS = 600.0  # a hand-over file untouched this long was left by a killed copy
HAND_OVER_NAME = re.compile(r"[0-9a-f]{32}(\.partial)?")
ROOT = Path(__file__).resolve().parents[2]


class LoadFailed(RuntimeError):
    """The child did not hand a load over; the service tries again on its next tick."""


def load_whole(
    store: EventStore,
    storage: ProjectionStorage,
    handlers: Mapping[str, Handler],
    partition: PartitionFilter | None,
    committing: bool,
    pause: Callable[[], None],
) -> Projector:
    """The current generation loaded from storage, caught up with the store and indexed:
    what a portal_query copy serves once it has no snapshot to start from."""
    projector = Projector.load(
        store,
        storage,
        handlers=handlers,
        pause=pause,
        with_index=False,
        committing=committing,
    )
    if partition is not None:
        partition.load(projector.checkpoint)
    projector.catch_up()
    projector.build_index()
    return projector


def worth_it(config: Mapping[str, Any], store: EventStore) -> bool:
    """Whether a load of the store ``config`` names runs in a child process."""
    value = config.get("PORTAL_LOAD_APART_FROM")
    threshold = DEFAULT_FROM if value in (None, "") else int(value)
    return store.head_position() >= threshold


def hand_over_path(snapshot_path: Path, holder: str) -> Path:
    """Where the load of the copy ``holder`` (a hex id) hands its result over: beside the
    snapshot, one file per copy, since copies of a partition share the data folder."""
    return snapshot_path.with_name(f"{snapshot_path.name}.{holder}")


def remove_stale_hand_overs(snapshot_path: Path, older_than: float = STALE_SECONDS) -> None:
    """Delete hand-over files (finished or partial) untouched for ``older_than`` seconds:
    what a copy killed between its child's last write and its own read of the file left.
    A live hand-over is read, or written to, within seconds."""
    stale = time.time() - older_than
    for path in snapshot_path.parent.glob(f"{snapshot_path.name}.*"):
        if HAND_OVER_NAME.fullmatch(path.name.removeprefix(f"{snapshot_path.name}.")):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < stale:
                    path.unlink()


def load(
    config: Mapping[str, Any],
    committing: bool,
    path: Path,
    source: str,
    keep_lease: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> snapshot.Snapshot:
    """Run :func:`load_whole` in a child process and read back what it hands over at
    ``path``. Meanwhile this waits with ``sleep`` (the service passes its hub's, so that
    queries go on being answered; the child must not import eventlet, whose import
    prints a warning before its logging is set up), and a writer (``committing``) renews
    its lease with ``keep_lease`` and gives up (:class:`LoadFailed`) if it lost it. The
    child is stopped whenever this returns or raises before it ended."""
    request = {
        "config": dict(config),
        "committing": committing,
        "path": str(path),
        "source": source,
        "parent": os.getpid(),
    }
    search_path = filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(search_path)}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", __name__], stdin=subprocess.PIPE, env=environment
    )
    try:
        child.stdin.write(json.dumps(request, default=str).encode())
        child.stdin.close()
        while child.poll() is None:
            if committing and not keep_lease():
                raise LoadFailed("another copy took the writer lease during the load")
            sleep(POLL_SECONDS)
        if child.returncode != 0:
            raise LoadFailed(f"the load process exited with {child.returncode}")
        found = snapshot.read_handed_over(path, source)
        if found is None:
            raise LoadFailed("the load process handed nothing readable over")
        return found
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        _stop(child, sleep)


def _stop(child: subprocess.Popen, sleep: Callable[[float], None]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    while child.poll() is None and time.monotonic() < deadline:
        sleep(0.05)
    if child.poll() is None:
        child.kill()
        child.wait()


def watching(parent: int, every: float = 0.5) -> Callable[[], None]:
    """A pause for the child's load: it ends the child once ``parent`` is gone."""
    last = time.monotonic()

    def pause() -> None:
        nonlocal last
        if time.monotonic() - last >= every:
            last = time.monotonic()
            if os.getppid() != parent:
                raise SystemExit("portal_query is gone; its load stops")

    return pause


def main() -> None:
    """The child: read the request from stdin, load, write the hand-over file."""
    request = json.load(sys.stdin)
    config = request["config"]
    configure_logging("portal_query", str(config.get("LOG_LEVEL") or "INFO"))
    store, storage = open_event_store(config), open_projection_storage(config)
    started = time.perf_counter()
    try:
        partition = partition_of(config, store)
        handlers = partition.handlers() if partition is not None else HANDLERS
        with without_cyclic_gc():
            projector = load_whole(
                store,
                storage,
                handlers,
                partition,
                request["committing"],
                watching(request["parent"]),
            )
        state = GenerationState(projector.generation, projector.checkpoint, projector.revision)
        taken = snapshot.Snapshot.of(projector, state)
        snapshot.write(Path(request["path"]), request["source"], taken)
    finally:
        store.close()
        storage.close()
    log.info(
        "projection loaded apart",
        checkpoint=state.checkpoint,
        tickets=len(projector.model.tickets),
        seconds=round(time.perf_counter() - started, 1),
        peak_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )


if __name__ == "__main__":
    main()
