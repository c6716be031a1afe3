"""Where portal_query's memory goes: the projection of a data set, rebuilt, loaded and
indexed in this process, with the bytes of each part of it.

    python -m bench.footprint            the medium data set (50,000 tickets)
    python -m bench.footprint --smoke    the small one

Two views of the same load: Python objects reached from each part of the read model and
of the search index (``sys.getsizeof`` over the object graph, each object counted once,
in the order printed), and ``tracemalloc``'s live allocations by the line that made them.
Beside them, the raw size of the customer-visible text (titles, descriptions and part
bodies, UTF-8): the figure the rest is a multiple of.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.context import Context, log
from kernel.eventstore import open_event_store
from services.portal_query import ops
from services.portal_query.projector import Projector
from services.portal_query.read_model import ReadModel
from services.portal_query.search_index import SearchIndex
from services.portal_query.storage import open_projection_storage

MIB = 2**20


class Sizer:
    """Deep size of object graphs, each object counted once across every call."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def __call__(self, *roots: object) -> int:
        total = 0
        stack = list(roots)
        while stack:
            value = stack.pop()
            if id(value) in self.seen or value is None or isinstance(value, type):
                continue
            self.seen.add(id(value))
            if isinstance(value, np.ndarray):
                total += value.nbytes + 112
                continue
            total += sys.getsizeof(value)
            if isinstance(value, str | int | float | bytes | bool):
                continue
            if isinstance(value, dict):
                stack.extend(value.keys())
                stack.extend(value.values())
            elif isinstance(value, list | tuple | set | frozenset):
                stack.extend(value)
            elif hasattr(value, "__slots__"):
                stack.extend(getattr(value, name, None) for name in _slots(type(value)))
            elif hasattr(value, "__dict__"):
                stack.append(vars(value))
            elif hasattr(value, "__iter__"):
                stack.extend(iter(value))  # SortedList and friends
        return total


def _slots(cls: type) -> Iterable[str]:
    for klass in cls.__mro__:
        yield from getattr(klass, "__slots__", ())


def visible_text_bytes(model: ReadModel) -> int:
    """UTF-8 bytes of every title, description and visible part body."""
    total = sum(len(t.title.encode()) + len(t.description.encode()) for t in model.tickets.values())
    for conversation in model.conversations.values():
        total += sum(len(part.body.encode()) for part in conversation.parts.values())
    return total


def breakdown(model: ReadModel, index: SearchIndex) -> list[tuple[str, int]]:
    """Bytes per part of the model and the index, each object counted under the first
    part that reaches it."""
    size = Sizer()
    rows = []
    conversations = list(model.conversations.values())
    rows.append(("parts, packed (bytes)", size(*(c.packed_parts for c in conversations))))
    rows.append(("parts added since the last pack", size(*(c.new_parts for c in conversations))))
    rows.append(("conversations: objects, ids", size(model.conversations)))
    tickets = list(model.tickets.values())
    rows.append(
        (
            "ticket titles and descriptions",
            size(*(t.title for t in tickets), *(t.description for t in tickets)),
        )
    )
    rows.append(("ticket attributes", size(*(t.attributes for t in tickets))))
    rows.append(("tickets: objects, ids, map", size(model.tickets)))
    rows.append(
        (
            "contacts, companies, memberships",
            size(model.contacts, model.companies, model.members, model.companies_of),
        )
    )
    rows.append(
        (
            "tickets of person, conversation links",
            size(model.tickets_of_person, model._people_of_ticket, model.ticket_of_conversation),
        )
    )
    partitions = list(index.partitions.values())
    rows.append(("index: per-slot sources", size(*(p.slot_sources for p in partitions))))
    rows.append(("index: token bitsets and their maps", size(*(p.words for p in partitions))))
    rows.append(("index: vocabulary (sorted)", size(*(p.vocabulary for p in partitions))))
    rows.append(("index: labels, sort keys, slots", size(*partitions, index.partition_of)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--size", help="data set (small, medium, large)")
    args = parser.parse_args(argv)
    size_name = args.size or ("small" if args.smoke else "medium")
    work = Path(tempfile.mkdtemp(prefix="portal-footprint-"))
    ctx = Context(smoke=args.smoke, runs=1, work_dir=work, amqp_uri="")
    try:
        path = ctx.dataset_copy(size_name, work / "data")
        config = {"PORTAL_DATA_DIR": str(path.parent), "MONGO_URI": ""}
        store, storage = open_event_store(config), open_projection_storage(config)
        log(f"footprint: rebuilding the {size_name} projection")
        ops.rebuild(store, storage)
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        projector = Projector.load(store, storage, with_index=False)
        loaded = time.perf_counter() - started
        model_bytes = tracemalloc.get_traced_memory()[0]
        projector.build_index()
        indexed = time.perf_counter() - started - loaded
        snapshot = tracemalloc.take_snapshot()
        total = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        model, index = projector.model, projector.index
        parts = sum(len(c.parts) for c in model.conversations.values())
        text = visible_text_bytes(model)
        print(f"{len(model.tickets):,} tickets, {parts:,} visible parts")
        print(f"load {loaded:.1f} s, index {indexed:.1f} s (noisy: shared machine)")
        print(f"traced: model {model_bytes / MIB:.0f} MiB, model + index {total / MIB:.0f} MiB")
        print(f"customer-visible text: {text / MIB:.0f} MiB (traced ÷ text: {total / text:.1f}x)")
        print(f"per 1,000 tickets: {total / len(model.tickets) * 1000 / MIB:.1f} MiB")
        print("\nobjects by part (sys.getsizeof, each counted once):")
        rows = breakdown(model, index)
        for name, count in rows:
            print(f"  {count / MIB:8.1f} MiB  {name}")
        print(f"  {sum(c for _n, c in rows) / MIB:8.1f} MiB  in all")
        print("\ntracemalloc, top lines:")
        for stat in snapshot.statistics("lineno")[:15]:
            frame = stat.traceback[0]
            print(f"  {stat.size / MIB:8.1f} MiB  {Path(frame.filename).name}:{frame.lineno}")
        store.close()
        storage.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
