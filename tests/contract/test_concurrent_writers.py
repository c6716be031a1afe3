"""Several processes append at once while a follower reads by position: the follower must see
every event exactly once (no event that commits late is ever skipped), and the shared
stream's versions must have no holes or duplicates."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from kernel.eventstore.mongo import MongoEventStore
from kernel.eventstore.sqlite import SqliteEventStore
from tests.support.mongo import real_mongo_uri

WRITERS = 4
EVENTS_PER_WRITER = 300


def follow_while_writing(store, commands: list[list[str]]) -> tuple[list[int], int]:
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.append_worker", *c], stdout=subprocess.PIPE
        )
        for c in commands
    ]
    seen: list[int] = []
    last = 0
    while True:
        running = any(w.poll() is None for w in writers)
        batch = store.read_all(last, 50)
        seen.extend(e.position for e in batch)
        if batch:
            last = batch[-1].position
        elif not running:
            break
        else:
            time.sleep(0.001)
    appended = sum(int(w.communicate()[0]) for w in writers)
    assert all(w.returncode == 0 for w in writers)
    return seen, appended


def check(store, seen: list[int], appended: int) -> None:
    assert appended == WRITERS * (EVENTS_PER_WRITER + EVENTS_PER_WRITER // 3)
    everything = [e.position for e in store.iter_all()]
    assert len(everything) == appended
    assert seen == everything, "the follower skipped or repeated an event"
    assert everything == list(range(1, appended + 1))
    shared = [e.stream_version for e in store.read_stream("company-shared")]
    assert shared == list(range(1, WRITERS * (EVENTS_PER_WRITER // 3) + 1))


def test_sqlite_follower_never_skips_a_late_commit(tmp_path):
    path = tmp_path / "events.sqlite3"
    store = SqliteEventStore(path)
    commands = [["sqlite", str(path), f"w{n}", str(EVENTS_PER_WRITER)] for n in range(WRITERS)]

    seen, appended = follow_while_writing(store, commands)

    check(store, seen, appended)


@pytest.mark.skipif(
    real_mongo_uri() is None,
    reason="needs a real MongoDB replica set at MONGO_URI: mongomock lives inside one process",
)
def test_mongo_follower_never_skips_a_late_commit():
    import pymongo

    uri, database = real_mongo_uri(), f"writers_{uuid.uuid4().hex[:10]}"
    client = pymongo.MongoClient(uri)
    try:
        store = MongoEventStore(client, database)
        commands = [
            ["mongo", uri, database, f"w{n}", str(EVENTS_PER_WRITER)] for n in range(WRITERS)
        ]
        seen, appended = follow_while_writing(store, commands)
        check(store, seen, appended)
    finally:
        client.drop_database(database)
