"""What the unique ``event_id`` index costs a batch append: plain sqlite3, no store code.

    python -m bench.eventid_index             5 runs of 30,000 events, 100 per transaction
    python -m bench.eventid_index --smoke     3 runs of 3,000 events

The same conversation parts the store benchmark appends (:mod:`bench.store`), written by
plain ``sqlite3`` (WAL, ``synchronous=FULL``, one transaction per 100 events) into the
kernel's events table and into variants of it that change only the ``event_id`` column,
beside ``eventsourcing``'s SQLite recorder given the same payloads. Every variant writes a
fresh file per run, and the variants are interleaved run by run. Results go to
``bench/results/eventid_index.{json,md}``.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.context import log
from bench.measure import Row, Stat, human, rate
from bench.store import PLAIN_INSERT, batches, plain_rows, recorder, sample_events, stored_events
from kernel.eventstore import sqlite as kernel_sqlite

PER_APPEND = 100
KERNEL_COLUMN = "event_id TEXT NOT NULL UNIQUE"
REFERENCE = "eventsourcing"


def schema_with(column: str) -> str:
    """The kernel's schema with its ``event_id`` column declared as ``column``."""
    if KERNEL_COLUMN not in kernel_sqlite.SCHEMA:
        raise SystemExit(f"the kernel's schema no longer declares {KERNEL_COLUMN!r}")
    return kernel_sqlite.SCHEMA.replace(KERNEL_COLUMN, column)


def as_blob(row: tuple) -> tuple:
    return (uuid.UUID(row[0]).bytes, *row[1:])


def in_insertion_order(rows: list[list[tuple]]) -> list[list[tuple]]:
    """Ids that grow with every row (as time-ordered ids would), in the same text form."""
    counter = iter(range(1, 1 << 62))
    return [
        [(str(uuid.UUID(int=next(counter) << 64)), *row[1:]) for row in batch] for batch in rows
    ]


VARIANTS: dict[str, tuple[str, Callable[[list[list[tuple]]], list[list[tuple]]]]] = {
    "the kernel's schema (event_id TEXT, unique; random ids)": (KERNEL_COLUMN, lambda rows: rows),
    "event_id as a 16-byte BLOB, unique (random ids)": (
        "event_id BLOB NOT NULL UNIQUE",
        lambda rows: [[as_blob(row) for row in batch] for batch in rows],
    ),
    "event_id TEXT, unique, ids in insertion order": (KERNEL_COLUMN, in_insertion_order),
    "no index on event_id (random ids)": ("event_id TEXT NOT NULL", lambda rows: rows),
}


def plain_rate(path: Path, column: str, rows: list[list[tuple]]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema_with(column))

    def insert() -> None:
        for batch in rows:
            db.execute("BEGIN")
            db.executemany(PLAIN_INSERT, batch)
            db.execute("COMMIT")

    events = sum(len(batch) for batch in rows)
    try:
        return rate(events, insert)
    finally:
        db.close()


def reference_rate(path: Path, plan) -> float:
    es = recorder(path)
    chunks = stored_events(plan)
    try:
        return rate(
            sum(len(chunk) for chunk in chunks), lambda: [es.insert_events(c) for c in chunks]
        )
    finally:
        es.datastore.close()


def measure(runs: int, events: int, work_dir: Path) -> dict[str, list[float]]:
    plan = batches(sample_events(events), PER_APPEND, PER_APPEND)
    rows = plain_rows(plan)
    prepared = {name: (column, shape(rows)) for name, (column, shape) in VARIANTS.items()}
    rates: dict[str, list[float]] = {name: [] for name in [*VARIANTS, REFERENCE]}
    for run in range(runs):
        folder = work_dir / f"run-{run}"
        folder.mkdir()
        for number, (name, (column, shaped)) in enumerate(prepared.items()):
            rates[name].append(plain_rate(folder / f"variant-{number}.sqlite3", column, shaped))
        rates[REFERENCE].append(reference_rate(folder / "eventsourcing.sqlite3", plan))
        log(f"eventid_index: run {run + 1} of {runs}")
    return rates


def result_rows(rates: dict[str, list[float]], events: int) -> list[Row]:
    section = f"plain sqlite3, {events:,} events, {PER_APPEND} per transaction"
    reference = Stat.of(rates[REFERENCE])
    rows = [
        Row(section, name, "events/s", Stat.of(samples), {REFERENCE: reference})
        for name, samples in rates.items()
        if name != REFERENCE
    ]
    rows.append(Row(section, "eventsourcing 9.5.6 SQLite recorder", "events/s", reference))
    return rows


def table(rows: list[Row]) -> str:
    kernel = rows[0].platform.median
    lines = [
        "| the events table | events/s | ÷ eventsourcing | ÷ the kernel's schema |",
        "|---|---|---|---|",
    ]
    for row in rows:
        ratio = row.ratio(REFERENCE) if row.peers else 1.0
        lines.append(
            f"| {row.measure} | {human(row.platform.median)} "
            f"({human(row.platform.low)}-{human(row.platform.high)}) | {human(ratio, 'x')} | "
            f"{human(row.platform.median / kernel, 'x')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eventid_index",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="3 runs of 3,000 events")
    parser.add_argument("--runs", type=int, help="runs per figure (5; smoke: 3)")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.smoke else 5)
    events = 3_000 if args.smoke else 30_000
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    work_dir = Path(tempfile.mkdtemp(prefix="portal-eventid-"))
    try:
        info = {
            "name": "eventid_index",
            "started_at": started_at.isoformat(timespec="seconds"),
            "smoke": args.smoke,
            "runs": runs,
            "parts": ["eventid_index"],
            "machine": report.machine(work_dir),
        }
        rows = result_rows(measure(runs, events, work_dir), events)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    info["seconds"] = time.perf_counter() - started
    name = "eventid_index-smoke" if args.smoke else "eventid_index"
    note = (
        "every variant is the kernel's events table with only the event_id column changed; "
        "the ids are the conversation parts' own (uuid4), or counting up in insertion order"
    )
    text = (
        f"`python -m bench.eventid_index{' --smoke' if args.smoke else ''}` at "
        f"{report.measured_at(info['machine'])}, {info['started_at'][:16].replace('T', ' ')} "
        f"UTC: {events:,} events, {PER_APPEND} per transaction, medians (min-max) of {runs} "
        f"runs:\n\n{table(rows)}\n"
    )
    path = report.write(name, info, rows, [note], text)
    print(text)
    log(f"done in {info['seconds']:.0f} s: {path}")


if __name__ == "__main__":
    main()
