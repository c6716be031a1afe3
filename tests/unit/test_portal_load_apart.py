"""A large load runs in a child process and hands over what a load in process would have
served: the writer commits it (and keeps it as its restart snapshot), a copy that does not
write only follows, a partition keeps only its companies, and a load that fails or loses
its lease leaves nothing behind."""

from __future__ import annotations

import os
import time

import eventlet
import psutil
import pytest

from kernel.eventstore.sqlite import SqliteEventStore
from services.portal_query import load_apart, snapshot
from services.portal_query.dependencies import LiveProjection
from services.portal_query.storage import SqliteProjectionStorage
from tests.support.portal_events import acme_world
from tests.unit.test_portal_partitions import COMPANIES, COUNT, Partitioned
from tests.unit.test_portal_partitions import world as partitioned_world
from tests.unit.test_portal_projector import answers, documents


def config(data_dir, **settings) -> dict:
    return {"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": "", **settings}


@pytest.fixture
def two_folders(tmp_path):
    """The same store in two data folders: one loads in process, the other apart."""
    history = acme_world()
    history.state(1, "in_progress")
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1", ["ann"])
    folders = []
    for name in ("in_process", "apart"):
        folder = tmp_path / name
        folder.mkdir()
        store = SqliteEventStore(folder / "events.sqlite3")
        history.append_to(store)
        store.close()
        folders.append(folder)
    return folders


def loaded_apart(capfd) -> bool:
    return "projection loaded apart" in capfd.readouterr().out


def test_a_large_load_runs_apart_and_serves_what_a_load_in_process_serves(two_folders, capfd):
    in_process_folder, apart_folder = two_folders
    in_process = LiveProjection(config(in_process_folder, PORTAL_LOAD_APART_FROM=10**9))
    in_process._reload()
    assert not loaded_apart(capfd)

    apart = LiveProjection(config(apart_folder, PORTAL_LOAD_APART_FROM=0))
    apart._reload()

    assert loaded_apart(capfd)
    assert answers(apart.view()) == answers(in_process.view())
    assert apart.projector.committing and apart.projector.index is not None
    stored = apart.storage.current()
    assert stored.checkpoint == apart.projector.checkpoint == apart.store.head_position()
    assert documents(apart.storage) == documents(in_process.storage)
    # What it handed over is exactly what storage holds: it is the next start's snapshot.
    assert [path.name for path in apart_folder.glob("portal-snapshot*")] == [snapshot.SNAPSHOT_FILE]
    assert apart._snapshot_at == (stored.generation, stored.revision, stored.checkpoint)
    expected = answers(apart.view())
    apart.stop()
    in_process.stop()

    restarted = LiveProjection(config(apart_folder, PORTAL_LOAD_APART_FROM=0))
    restarted._reload()
    assert not loaded_apart(capfd), "the restart served from the snapshot"
    assert answers(restarted.view()) == expected
    restarted.stop()


def test_a_copy_that_does_not_write_loads_apart_and_leaves_storage_alone(two_folders, capfd):
    _, folder = two_folders
    storage = SqliteProjectionStorage(folder / "projections.sqlite3")
    follower = LiveProjection(config(folder, PORTAL_LOAD_APART_FROM=0))
    follower._reload(committing=False)

    assert loaded_apart(capfd)
    assert follower.projector.committing is False
    assert follower.projector.checkpoint == follower.store.head_position()
    assert storage.current().checkpoint == 0, "only the writer commits"
    assert not list(folder.glob("portal-snapshot*")), "nothing storage does not hold is kept"
    storage.close()
    follower.stop()


def test_each_partition_loaded_apart_holds_only_its_companies(tmp_path, capfd):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    partitioned_world().append_to(store)
    expected = Partitioned(store)
    store.close()
    for number in range(COUNT):
        settings = {"PORTAL_PARTITIONS": COUNT, "PORTAL_PARTITION": number}
        live = LiveProjection(config(tmp_path, PORTAL_LOAD_APART_FROM=0, **settings))
        live._reload()
        assert loaded_apart(capfd)
        assert set(live.projector.model.tickets) == set(expected.models[number].tickets)
        # The service's own filter follows the company assignment from where the load ended.
        owners = {company: expected.filters[0].assignment.owner(company) for company in COMPANIES}
        for route in live.routes(COMPANIES):
            assert all(owners[company] == route["partition"] for company in route["companies"])
        assert live.partition.me == number
        live.stop()


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


def test_a_writer_that_loses_its_lease_stops_the_load_and_keeps_nothing(two_folders):
    _, folder = two_folders
    path = folder / "handed-over"
    before = children()
    seen: set[int] = set()

    def lost_lease() -> bool:
        seen.update(children() - before)
        return False

    with pytest.raises(load_apart.LoadFailed, match="lease"):
        load_apart.load(config(folder), True, path, "any", lost_lease)

    assert seen, "a child process was loading"
    assert not seen & {p.pid for p in psutil.process_iter() if p.status() != "zombie"}
    assert not path.exists()


def test_a_load_that_fails_in_the_child_raises_and_keeps_nothing(two_folders):
    _, folder = two_folders
    path = folder / "handed-over"
    broken = config(folder, PORTAL_PARTITIONS="two")  # the child refuses this setting

    with pytest.raises(load_apart.LoadFailed, match="exited with 1"):
        load_apart.load(broken, False, path, "any", lambda: True)

    assert not path.exists()


def test_the_child_stops_once_the_service_that_started_it_is_gone():
    pause = load_apart.watching(os.getppid(), every=0)
    pause()  # its parent is there: the load goes on

    orphaned = load_apart.watching(os.getppid() + 1_000_000, every=0)
    with pytest.raises(SystemExit):
        orphaned()


def test_a_service_that_stops_during_the_load_stops_its_child(two_folders):
    _, folder = two_folders
    live = LiveProjection(config(folder, PORTAL_LOAD_APART_FROM=0))
    before = children()
    live.start()
    deadline = time.monotonic() + 10
    while not children() - before and time.monotonic() < deadline:
        eventlet.sleep(0.01)
    loading = children() - before
    assert loading, "the applier started a load apart"

    live.stop()

    assert live.projector is None, "stopped before the load was handed over"
    assert not loading & {p.pid for p in psutil.process_iter() if p.status() != "zombie"}
    assert not list(folder.glob("portal-snapshot*"))


def test_hand_over_files_a_killed_copy_left_are_removed_by_the_next_load(two_folders):
    _, folder = two_folders
    snapshot_path = folder / snapshot.SNAPSHOT_FILE
    left = load_apart.hand_over_path(snapshot_path, "a" * 32)
    half_written = left.with_name(f"{left.name}.partial")
    in_progress = load_apart.hand_over_path(snapshot_path, "b" * 32)
    unrelated = folder / f"{snapshot.SNAPSHOT_FILE}.notes"
    for path in (left, half_written, in_progress, unrelated):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    for path in (left, half_written, unrelated):
        os.utime(path, (an_hour_ago, an_hour_ago))

    live = LiveProjection(config(folder, PORTAL_LOAD_APART_FROM=0))
    live._reload()

    assert not left.exists() and not half_written.exists()
    assert in_progress.exists(), "another copy's load of a moment ago is left alone"
    assert unrelated.exists(), "only hand-over files are removed"
    live.stop()
