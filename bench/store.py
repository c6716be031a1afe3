"""Event store: append and read-all of the embedded backend beside two peers.

* ``eventsourcing`` 9.5.6's ``SQLiteApplicationRecorder``: the reference Python event store
  on the same SQLite (WAL; it leaves ``synchronous`` at SQLite's default, FULL). It gets
  the same payload bytes as ``StoredEvent.state``; no mapper or transcoder runs, so it is
  the library's storage path alone.
* plain ``sqlite3``: the same rows into the same table (the kernel's schema, indexes and
  triggers), WAL and ``synchronous=FULL``, with no validation, no version check and no
  lock: the floor any SQLite event store stands on.

The platform's append includes everything a service pays: envelope and payload validation
against the schemas, the optimistic version check and the insert. Stored ids are looked up
(to answer a retry) only when the version is stale or the unique ``event_id`` refuses a row.
A diagnostic row times the store's transaction alone (``_append``, validation skipped), to
show how much of an append the validation is.
Each run uses fresh files, and the three are interleaved run by run.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from bench.context import Context, log
from bench.datagen import SIZES, Generator
from bench.measure import Row, Stat, check, rate
from kernel.contracts.envelope import NewEvent
from kernel.eventstore import sqlite as kernel_sqlite
from kernel.eventstore.sqlite import SqliteEventStore

PEERS = ("eventsourcing", "sqlite3")
READ_PAGE = 5000


@dataclass(frozen=True)
class Batch:
    stream_id: str
    version: int  # the stream's version before this batch
    events: list[NewEvent]


def sample_events(count: int) -> list[NewEvent]:
    """Real conversation parts from the generator (the most common event, ~60% of all)."""
    parts = (
        event
        for _stream, batch in Generator(SIZES["medium"], seed=7).streams()
        for event in batch
        if event.type == "ConversationPartAdded"
    )
    return list(islice(parts, count))


def batches(events: list[NewEvent], per_append: int, per_stream: int) -> list[Batch]:
    """Events spread over conversation streams of ``per_stream`` events, ``per_append`` at
    a time (each stream's payloads get its own conversation id)."""
    plan = []
    for start in range(0, len(events), per_append):
        stream_number, offset = divmod(start, per_stream)
        conversation_id = f"bench-{stream_number}"
        chunk = [
            NewEvent(
                e.type,
                {**e.payload, "conversation_id": conversation_id},
                event_id=e.event_id,
                occurred_at=e.occurred_at,
                correlation_id=e.correlation_id,
            )
            for e in events[start : start + per_append]
        ]
        plan.append(Batch(f"conversation-{conversation_id}", offset, chunk))
    return plan


def encoded(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def plain_rows(plan: list[Batch]) -> list[list[tuple]]:
    return [
        [
            (
                e.event_id,
                b.stream_id,
                b.version + i,
                e.type,
                e.schema_version,
                e.occurred_at,
                e.correlation_id,
                e.causation_id,
                encoded(e.payload),
                encoded(e.metadata),
            )
            for i, e in enumerate(b.events, start=1)
        ]
        for b in plan
    ]


def stored_events(plan: list[Batch]) -> list[list[StoredEvent]]:
    return [
        [
            StoredEvent(
                uuid.uuid5(uuid.NAMESPACE_URL, b.stream_id),
                b.version + i,
                e.type,
                encoded(e.payload).encode(),
            )
            for i, e in enumerate(b.events, start=1)
        ]
        for b in plan
    ]


def plain_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(kernel_sqlite.SCHEMA)
    return db


PLAIN_INSERT = (
    "INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, "
    "occurred_at, correlation_id, causation_id, payload, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def recorder(path: Path) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(path)))
    recorder.create_table()
    return recorder


def append_rates(ctx: Context, plan: list[Batch], run: int) -> dict[str, float]:
    """One run of each backend over the same batches; events per second."""
    count = sum(len(b.events) for b in plan)
    folder = ctx.scratch(f"store-append-{run}-{len(plan)}")
    store = SqliteEventStore(folder / "platform.sqlite3")
    unchecked = SqliteEventStore(folder / "unchecked.sqlite3")
    es = recorder(folder / "eventsourcing.sqlite3")
    es_batches = stored_events(plan)
    db = plain_database(folder / "plain.sqlite3")
    rows = plain_rows(plan)

    def platform() -> None:
        for b in plan:
            store.append(b.stream_id, b.events, b.version)

    def store_path_only() -> None:
        """The store's transaction alone: what validation leaves to the rest."""
        for b in plan:
            unchecked._append(b.stream_id, b.events, b.version)

    def eventsourcing() -> None:
        for chunk in es_batches:
            es.insert_events(chunk)

    def plain() -> None:
        for chunk in rows:
            db.execute("BEGIN")
            db.executemany(PLAIN_INSERT, chunk)
            db.execute("COMMIT")

    rates = {
        "platform": rate(count, platform),
        "store path only": rate(count, store_path_only),
        "eventsourcing": rate(count, eventsourcing),
        "sqlite3": rate(count, plain),
    }
    store.close()
    unchecked.close()
    es.datastore.close()
    db.close()
    return rates


def read_setup(
    ctx: Context, size: str, count: int
) -> tuple[SqliteEventStore, SQLiteApplicationRecorder, sqlite3.Connection, int]:
    """Three fresh files holding the same first ``count`` events of a data set."""
    source = SqliteEventStore(ctx.dataset(size))
    events = []
    for event in source.iter_all():
        events.append(event)
        if len(events) == count:
            break
    source.close()
    folder = ctx.scratch("store-read")
    store = SqliteEventStore(folder / "platform.sqlite3")
    # The platform's file is filled with the recorded rows as they are (positions, ids,
    # encoded payloads); appending them again would only re-validate them.
    store._db.executemany(
        f"INSERT INTO events ({kernel_sqlite.COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [tuple(e) for e in events],
    )
    es = recorder(folder / "eventsourcing.sqlite3")
    for start in range(0, len(events), 1000):
        es.insert_events(
            [
                StoredEvent(
                    uuid.uuid5(uuid.NAMESPACE_URL, e.stream_id),
                    e.stream_version,
                    e.type,
                    e.raw_payload.encode(),
                )
                for e in events[start : start + 1000]
            ]
        )
    db = plain_database(folder / "plain.sqlite3")
    db.execute("BEGIN")
    db.executemany(PLAIN_INSERT, [tuple(e)[1:] for e in events])
    db.execute("COMMIT")
    return store, es, db, len(events)


def read_rates(store, es, db, count: int, decode: bool) -> dict[str, float]:
    loads = json.loads

    def platform() -> None:
        n = 0
        for event in store.iter_all(0, READ_PAGE):
            if decode:
                event.payload  # noqa: B018 - decoding is the work measured
            n += 1
        assert n == count, n

    def eventsourcing() -> None:
        n, start = 0, 1
        while True:
            page = es.select_notifications(start, READ_PAGE)
            for notification in page:
                if decode:
                    loads(notification.state)
            n += len(page)
            if len(page) < READ_PAGE:
                break
            start = page[-1].id + 1
        assert n == count, n

    def plain() -> None:
        n, after = 0, 0
        query = (
            f"SELECT {kernel_sqlite.COLUMNS} FROM events WHERE position > ? "
            "ORDER BY position LIMIT ?"
        )
        while True:
            page = db.execute(query, (after, READ_PAGE)).fetchall()
            for row in page:
                if decode:
                    loads(row[9])
            n += len(page)
            if len(page) < READ_PAGE:
                break
            after = page[-1][0]
        assert n == count, n

    return {
        "platform": rate(count, platform),
        "eventsourcing": rate(count, eventsourcing),
        "sqlite3": rate(count, plain),
    }


def collect(samples: list[dict[str, float]]) -> tuple[Stat, dict[str, Stat]]:
    platform = Stat.of(s["platform"] for s in samples)
    return platform, {peer: Stat.of(s[peer] for s in samples) for peer in PEERS}


def run(ctx: Context) -> list[Row]:
    single_count, batch_count, read_size, read_count = (
        (300, 3_000, "small", 20_000) if ctx.smoke else (3_000, 30_000, "medium", 200_000)
    )
    rows = []
    events = sample_events(batch_count)
    for label, plan in (
        ("append, 1 event per append", batches(events[:single_count], 1, 10)),
        ("append, 100 events per append", batches(events, 100, 100)),
    ):
        log(f"store: {label}")
        samples = [append_rates(ctx, plan, run) for run in range(ctx.runs)]
        platform, peers = collect(samples)
        row = Row("event store", label, "events/s", platform, peers)
        rows.append(check(row, row.ratio("eventsourcing") >= 1.0, "at least eventsourcing's rate"))
        diagnostic = Row(
            "event store",
            f"{label}: the store's transaction alone, without validation (diagnostic)",
            "events/s",
            Stat.of(s["store path only"] for s in samples),
            peers,
            note="SqliteEventStore._append: what is left of an append once validation is free",
        )
        rows.append(diagnostic)
    store, es, db, read_count = read_setup(ctx, read_size, read_count)
    log(f"store: read-all of {read_count:,} events")
    for decode, label in (
        (False, "read-all, records (payload left encoded)"),
        (True, "read-all, payloads decoded (json.loads)"),
    ):
        samples = [read_rates(store, es, db, read_count, decode) for _ in range(ctx.runs)]
        platform, peers = collect(samples)
        row = Row("event store", label, "events/s", platform, peers)
        rows.append(check(row, row.ratio("sqlite3") >= 0.5, "within 2x of plain sqlite3"))
    store.close()
    es.datastore.close()
    db.close()
    return rows
