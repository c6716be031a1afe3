"""A restart's shortcut: the served read model and search index, written to a local file
when portal_query stops and read back on its next start.

Why: loading a generation's documents and indexing them costs seconds per 10,000 tickets;
reading the same objects back from one file costs a small fraction of that. The file is a
cache, never the truth. It is used only when its header names this code's format, the
projection it was taken from (``source``: which storage, which data) and exactly the
generation and revision that storage now holds as current, and when its body has the
digest the header names; anything else (a crash left an older file, a rebuild switched
generations, another writer committed) means the ordinary load. The read model is a pure
fold, so a model at a (generation, revision) is the model of those documents.

The body is a pickle read by an unpickler that admits only the classes a snapshot is made
of, so a file that is not one cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex
from services.portal_query.storage import GenerationState, ParkedEvent

FORMAT = 1  # bump whenever a class of the read model or the index changes shape
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


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name not in ALLOWED.get(module, ()):
            raise pickle.UnpicklingError(f"a snapshot does not hold {module}.{name}")
        return super().find_class(module, name)


def write(path: Path, source: str, snapshot: Snapshot) -> None:
    """Write ``snapshot`` whole or not at all (a new file renamed over the old one)."""
    body = pickle.dumps(
        (snapshot.model, snapshot.index, snapshot.parked), protocol=pickle.HIGHEST_PROTOCOL
    )
    header = {
        "format": FORMAT,
        "source": source,
        "generation": snapshot.state.generation,
        "revision": snapshot.state.revision,
        "checkpoint": snapshot.state.checkpoint,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as file:
        file.write(json.dumps(header).encode() + b"\n")
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)


def read(path: Path, source: str, current: GenerationState | None) -> Snapshot | None:
    """The snapshot at ``path`` if it is of ``source`` at exactly ``current``, else ``None``."""
    if current is None or not path.exists():
        return None
    with path.open("rb") as file:
        try:
            header = json.loads(file.readline())
        except ValueError:
            return None
        wanted = {
            "format": FORMAT,
            "source": source,
            "generation": current.generation,
            "revision": current.revision,
            "checkpoint": current.checkpoint,
        }
        if any(header.get(name) != value for name, value in wanted.items()):
            return None
        body = file.read()
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        return None
    model, index, parked = _Unpickler(io.BytesIO(body)).load()
    return Snapshot(model, index, parked, current)
