"""``python -m bench.mongo_append``: the MongoDB store's append ceiling, measured on a real
replica set (``MONGO_URI``, or a throwaway one in Docker as ``make test-mongo`` makes).

Every append increments one counter document inside its transaction, so appends serialize on
it. This measures, for 1, 2, 4 and 8 concurrent writer threads: appends/s, the p50/p99
latency of one append, and the transaction attempts per append (write conflicts retried).
The model in ``docs/event-store-throughput.md`` reads these numbers.

    python -m bench.mongo_append [--seconds 5] [--json bench/results/mongo_append.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import pymongo

from kernel.contracts.envelope import NewEvent
from kernel.eventstore import open_event_store
from kernel.eventstore.mongo import MongoEventStore


def run_writers(store: MongoEventStore, writers: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    attempts_before = store.transactions.attempts

    def write(name: str) -> None:
        own: list[float] = []
        index = 0
        while time.monotonic() < stop:
            company = f"{name}-{index}"
            event = NewEvent("CompanyCreated", {"company_id": company, "name": "x"})
            started = time.perf_counter()
            store.append(f"company-{company}", [event], 0)
            own.append(time.perf_counter() - started)
            index += 1
        with lock:
            latencies.extend(own)

    threads = [
        threading.Thread(target=write, args=(f"w{uuid.uuid4().hex[:6]}{n}",))
        for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    appends = len(latencies)
    return {
        "writers": writers,
        "appends_per_s": appends / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (appends - 1))] * 1000,
        "attempts_per_append": (store.transactions.attempts - attempts_before) / appends,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mongo_append", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not os.environ.get("MONGO_URI"):
        print("needs MONGO_URI (a replica set); see `make test-mongo`", file=sys.stderr)
        return 2
    database = f"bench_{uuid.uuid4().hex[:10]}"
    store = open_event_store(
        {"MONGO_URI": os.environ["MONGO_URI"], "MONGO_DATABASE": database, "RPC_TIMEOUT": 5}
    )
    assert isinstance(store, MongoEventStore)
    try:
        rows = [run_writers(store, writers, args.seconds) for writers in (1, 2, 4, 8)]
    finally:
        store.close()
        with pymongo.MongoClient(os.environ["MONGO_URI"]) as client:
            client.drop_database(database)
    print(f"{'writers':>8} {'appends/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'tries/append':>13}")
    for row in rows:
        print(
            f"{row['writers']:>8} {row['appends_per_s']:>10.0f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['attempts_per_append']:>13.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"uri_host": "MONGO_URI", "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
