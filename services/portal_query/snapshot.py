"""A restart's shortcut: the served read model and search index, written to a local file
now and then and when portal_query stops, and read back on its next start.

Why: loading a generation's documents and indexing them costs seconds per 10,000 tickets;
reading the same objects back from one file costs a small fraction of that. The file is a
cache, never the truth. It is used only when its header names this code's format, the
projection it was taken from (``source``: which storage, which data) and the generation
that storage now holds as current, and when its body has the digest the header names;
anything else (a rebuild switched generations, another version of the code) means the
ordinary load. The read model is a pure fold of the store's events in order, so a model
taken at checkpoint C, with the events after C folded onto it, is the model of the
storage's documents, with one exception: ``portalctl parked --retry`` applies events out
of order. A snapshot behind the storage's revision is therefore used only when neither it
nor the generation has parked events (nothing was or can be retried); otherwise only the
exact revision will do.

The body is a pickle read by an unpickler that admits only the classes a snapshot is made
of, so a file that is not one cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.config import own_partition, partition_count
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex
from services.portal_query.storage import GenerationState, ParkedEvent

FORMAT = 3  # bump whenever a class of the read model or the index changes shape
SNAPSHOT_FILE = "portal-snapshot.bin"

# What a snapshot's pickle may name: the model's and the index's classes and what they
# hold (numpy arrays, sorted lists), nothing else.
ALLOWED = {
    "services.portal_query.read_model": {
        "ReadModel",
        "Contact",
        "Ticket",
        "Part",
        "Conversation",
        "restored_conversation",
        "Settings",
    },
    "services.portal_query.search_index": {"SearchIndex", "Partition", "SortKeys"},
    "services.portal_query.storage": {"ParkedEvent"},
    "sortedcontainers.sortedlist": {"SortedList"},
    "numpy": {"dtype", "ndarray"},
    "numpy._core.numeric": {"_frombuffer"},
    "numpy._core.multiarray": {"_reconstruct"},
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    model: ReadModel
    index: SearchIndex
    parked: list[ParkedEvent]
    state: GenerationState

    @classmethod
    def of(cls, projector: Any, state: GenerationState) -> Snapshot:
        """What a projector (its model, index and parked events) holds at ``state``."""
        return cls(projector.model, projector.index, list(projector.parked.values()), state)


def location(config: Mapping[str, Any]) -> tuple[Path, str]:
    """Where the snapshot of the projection ``config`` names lives, and the ``source`` it
    is of (the storage: database or data folder). Each partition of the read side has its
    own."""
    suffix = f".p{own_partition(config)}" if partition_count(config) > 1 else ""
    path = Path(config.get("PORTAL_DATA_DIR") or "var/data") / (SNAPSHOT_FILE + suffix)
    uri = str(config.get("MONGO_URI") or "")
    database = str(config.get("MONGO_DATABASE") or "") if uri else ""  # unused without one
    source = "|".join((uri, database, str(config.get("PORTAL_DATA_DIR") or "")))
    return path, source + suffix


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name not in ALLOWED.get(module, ()):
            raise pickle.UnpicklingError(f"a snapshot does not hold {module}.{name}")
        return super().find_class(module, name)


class _Pickler(pickle.Pickler):
    """The standard pickler, with a Python call for every object it pickles. Why: the C
    pickler runs no Python code otherwise, so it held the GIL from start to end, and a
    thread taking a snapshot of the medium data set froze every query of the process for
    seconds; a Python call lets the interpreter hand the GIL over every switch interval
    (a reducer_override is not called for dicts, lists and strings, whose long runs
    still held it for a fifth of a second)."""

    def persistent_id(self, obj: Any) -> None:
        return None  # every object pickled as usual


def write(path: Path, source: str, snapshot: Snapshot, beside_queries: bool = False) -> None:
    """Write ``snapshot`` whole or not at all (a new file renamed over the old one).
    ``beside_queries``: from a thread while the process answers queries, with the GIL
    handed over as it goes (:class:`_Pickler`, about twice the CPU); else (a stop) at
    full speed."""
    taken = (snapshot.model, snapshot.index, snapshot.parked)
    if beside_queries:
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(taken)
        body = buffer.getvalue()
    else:
        body = pickle.dumps(taken, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT,
        "source": source,
        "generation": snapshot.state.generation,
        "revision": snapshot.state.revision,
        "checkpoint": snapshot.state.checkpoint,
        "parked": len(snapshot.parked),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # One name, so a writer killed halfway leaves nothing behind but what the next write
    # replaces; two writers at once make a file whose digest fails, never a wrong snapshot.
    partial = path.with_name(f"{path.name}.partial")
    with partial.open("wb") as file:
        file.write(json.dumps(header).encode() + b"\n")
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)


def read(
    path: Path, source: str, current: GenerationState | None, parked_now: int
) -> Snapshot | None:
    """The snapshot at ``path`` if it is of ``source`` and may stand for ``current`` (which
    has ``parked_now`` parked events), else ``None``. Its state is its own checkpoint at
    the current revision: the caller folds the store's events after that checkpoint."""
    if current is None:
        return None
    found = _read(path, source, lambda header: _stands_for(header, current, parked_now))
    if found is None:
        return None
    header, (model, index, parked) = found
    state = GenerationState(current.generation, header["checkpoint"], current.revision)
    return Snapshot(model, index, parked, state)


def read_handed_over(path: Path, source: str) -> Snapshot | None:
    """What a load in another process (:mod:`load_apart`) wrote to ``path`` for this one,
    at the state it reached there (which storage may not hold: a copy that does not write
    folds ahead of it); ``None`` when ``path`` holds no such file."""
    found = _read(path, source, lambda header: header.get("format") == FORMAT)
    if found is None:
        return None
    header, (model, index, parked) = found
    state = GenerationState(header["generation"], header["checkpoint"], header["revision"])
    return Snapshot(model, index, parked, state)


def _read(path: Path, source: str, usable: Callable[[dict], bool]) -> tuple[dict, tuple] | None:
    """The header and unpickled body of the file at ``path``, if it is of ``source``, the
    header is ``usable`` and the body has the digest the header names."""
    if not path.exists():
        return None
    with path.open("rb") as file:
        try:
            header = json.loads(file.readline())
        except ValueError:
            return None
        if header.get("source") != source or not usable(header):
            return None
        body = file.read()
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        return None
    return header, _Unpickler(io.BytesIO(body)).load()


def _stands_for(header: dict, current: GenerationState, parked_now: int) -> bool:
    """Whether a snapshot of this projection (``_read`` checked its source) with ``header``
    may stand for ``current``."""
    if (header.get("format"), header.get("generation")) != (FORMAT, current.generation):
        return False
    revision, checkpoint = header.get("revision", -1), header.get("checkpoint", -1)
    if (revision, checkpoint) == (current.revision, current.checkpoint):
        return True
    behind = 0 <= revision < current.revision and 0 <= checkpoint <= current.checkpoint
    return behind and parked_now == 0 and header.get("parked") == 0
