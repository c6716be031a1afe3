"""A stop's snapshot serves the next start only when the storage still holds exactly what
it was taken from; anything else loads from storage, and a file that is not a snapshot
cannot run code."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle

import pytest

from kernel.eventstore.sqlite import SqliteEventStore
from services.portal_query import ops, queries, snapshot
from services.portal_query.dependencies import LiveProjection
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.projector import Projector
from services.portal_query.storage import PROJECTIONS_FILE, SqliteProjectionStorage
from tests.support.portal_events import acme_world, query

NOW = 1_900_000_000.0


def answers(view) -> list:
    asked = [{"q": "printer"}, {"q": "p"}, {"sort": "id", "order": "asc"}, {"state": "resolved"}]
    return [queries.admin_list_tickets(view, query(**q), NOW) for q in asked] + [
        queries.portal_list_tickets(view, "ann", query(), NOW),
        queries.tickets_space(view, "ann"),
    ]


@pytest.fixture
def world(data_dir):
    history = acme_world()
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1", ["ann"])
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history.append_to(store)
    store.close()
    return history


def source(data_dir) -> str:
    return f"||{data_dir}"  # no MongoDB: the data folder names the projection


def started(data_dir) -> LiveProjection:
    """A portal_query projection as a start makes it (without the applier greenthread)."""
    live = LiveProjection({"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""})
    live._reload()
    return live


def test_a_stop_leaves_a_snapshot_the_next_start_serves(world, data_dir):
    first = started(data_dir)
    expected = answers(first.view())
    first.stop()

    second = LiveProjection({"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""})
    restored = second._from_snapshot()

    assert restored is not None
    assert answers(restored.view) == expected
    second.stop()


def snapshot_header(data_dir) -> dict:
    with (data_dir / snapshot.SNAPSHOT_FILE).open("rb") as file:
        return json.loads(file.readline())


def test_a_start_served_from_the_snapshot_does_not_write_it_again(world, data_dir):
    started(data_dir).stop()
    written = os.stat(data_dir / snapshot.SNAPSHOT_FILE)

    live = started(data_dir)
    live._snapshot_if_due()

    again = os.stat(data_dir / snapshot.SNAPSHOT_FILE)
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    live.stop()


def test_a_start_that_caught_up_past_its_snapshot_writes_a_new_one(world, data_dir):
    started(data_dir).stop()
    before = snapshot_header(data_dir)["checkpoint"]
    world.state(2, "resolved")
    another_writer_applies(world, data_dir)

    live = started(data_dir)
    live._snapshot_if_due()

    assert snapshot_header(data_dir)["checkpoint"] == live.projector.checkpoint > before
    live.stop()


def test_a_snapshot_taken_beside_queries_is_the_same_file(world, data_dir):
    live = started(data_dir)
    state = live.storage.state(live.projector.generation)
    taken = snapshot.Snapshot(live.projector.model, live.projector.index, [], state)

    snapshot.write(data_dir / "plain.bin", source(data_dir), taken)
    snapshot.write(data_dir / "fair.bin", source(data_dir), taken, beside_queries=True)

    assert (data_dir / "fair.bin").read_bytes() == (data_dir / "plain.bin").read_bytes()
    live.stop()


def another_writer_applies(world, data_dir, handlers=None) -> None:
    """The world's last event reaches the store, and another writer commits it."""
    store = SqliteEventStore(data_dir / "events.sqlite3")
    world.append_to(store, slice(-1, None))
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    options = {"handlers": handlers} if handlers else {}
    Projector.load(store, storage, **options).catch_up()
    store.close()
    storage.close()


def test_a_snapshot_behind_the_storage_is_caught_up_from_the_store(world, data_dir):
    started(data_dir).stop()
    world.state(2, "resolved")
    another_writer_applies(world, data_dir)

    live = LiveProjection({"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""})
    restored = live._from_snapshot()
    assert restored is not None
    restored.catch_up()

    assert restored.model.tickets[2].state == "resolved"
    assert answers(restored.view) == answers(world.view())
    live.stop()


def test_a_snapshot_behind_a_generation_with_parked_events_is_not_used(world, data_dir):
    started(data_dir).stop()
    world.state(2, "resolved")

    def broken(_model, _event):
        raise RuntimeError("bug in the handler")

    another_writer_applies(world, data_dir, {**HANDLERS, "TicketStateChanged": broken})

    live = LiveProjection({"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""})
    assert live._from_snapshot() is None
    live.stop()


def test_a_snapshot_of_another_projection_or_damaged_is_not_used(world, data_dir):
    started(data_dir).stop()
    path = data_dir / snapshot.SNAPSHOT_FILE
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    current = storage.current()
    storage.close()

    assert snapshot.read(path, "another|projection", current, 0) is None
    header, body = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header + b"\n" + body[:-1] + bytes([body[-1] ^ 1]))
    assert snapshot.read(path, source(data_dir), current, 0) is None


def test_a_file_naming_other_code_is_refused(world, data_dir):
    started(data_dir).stop()
    path = data_dir / snapshot.SNAPSHOT_FILE
    header, _body = path.read_bytes().split(b"\n", 1)
    hostile = pickle.dumps((os.system, ("true",)))
    digest = hashlib.sha256(hostile).hexdigest()
    forged = header.replace(header.split(b'"sha256": "')[1][:64], digest.encode())
    path.write_bytes(forged + b"\n" + hostile)
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)

    with pytest.raises(pickle.UnpicklingError, match="does not hold"):
        snapshot.read(path, source(data_dir), storage.current(), 0)
    storage.close()


def test_a_rebuild_leaves_its_generation_as_a_snapshot_the_serving_copy_switches_to(
    world, data_dir, monkeypatch
):
    config = {"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""}
    serving = started(data_dir)
    expected = answers(serving.view())
    store = SqliteEventStore(data_dir / "events.sqlite3")
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    rebuilt = ops.rebuild(store, storage, snapshot_at=snapshot.location(config))

    taken = serving._from_snapshot()
    assert taken is not None, "the rebuild's snapshot stands for the new generation"
    assert taken.generation == rebuilt.generation
    assert answers(taken.view) == expected
    load_from_storage = Projector.load
    with monkeypatch.context() as patched:

        def no_documents_read_back(*_args, **_kwargs):
            raise AssertionError("the switch read the generation's documents back")

        patched.setattr(Projector, "load", no_documents_read_back)
        serving._reload()  # what the applier does when it notices the switch
    assert serving.projector.generation == rebuilt.generation
    assert answers(serving.view()) == expected

    from_storage = load_from_storage(store, storage)
    assert answers(from_storage.view) == expected
    store.close()
    storage.close()
    serving.stop()


def test_a_copy_still_serving_the_old_generation_leaves_the_rebuilds_snapshot_alone(
    world, data_dir
):
    config = {"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""}
    serving = started(data_dir)
    store = SqliteEventStore(data_dir / "events.sqlite3")
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    rebuilt = ops.rebuild(store, storage, snapshot_at=snapshot.location(config))
    store.close()
    storage.close()
    serving.stop()  # it served the old generation to the end: its snapshot would be stale

    restarted = LiveProjection(config)
    restored = restarted._from_snapshot()
    assert restored is not None and restored.generation == rebuilt.generation
    restarted.stop()


def test_the_read_models_records_come_back_from_a_pickle_equal(world, data_dir):
    """Records pickle as their constructors' arguments (conversations with their parts as
    tuples); what comes back equals what went in, field by field."""
    model = started(data_dir).projector.model
    body = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    back = snapshot._Unpickler(io.BytesIO(body)).load()  # as a snapshot is read
    assert back.conversations == model.conversations and model.conversations
    assert all(
        list(back.conversations[c].parts) == list(model.conversations[c].parts)
        for c in model.conversations
    ), "parts keep their order"
    assert back.tickets == model.tickets and back.contacts == model.contacts
