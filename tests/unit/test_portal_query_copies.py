"""Several portal_query copies on one stored projection: each follows the store into its own
memory, only the holder of the writer lease commits, none reloads because another one
wrote, and when the writer goes another copy takes the lease over and writes on."""

from __future__ import annotations

import time

import pytest

from kernel.eventstore.sqlite import SqliteEventStore
from services.portal_query import dependencies
from services.portal_query.dependencies import LEASE_SECONDS, LiveProjection
from services.portal_query.storage import SqliteProjectionStorage
from tests.support.portal_events import acme_world
from tests.unit.test_portal_projector import answers, clean_rebuild, documents


class Clock:
    """The module's ``time`` with the wall clock moved on by ``offset`` seconds."""

    offset = 0.0

    def __getattr__(self, name: str):
        return getattr(time, name)

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(dependencies, "time", clock)
    return clock


def ticks(*copies: LiveProjection, times: int = 2) -> None:
    for _ in range(times):
        for copy in copies:
            copy._tick()


def test_copies_each_follow_the_store_and_only_one_writes(data_dir, clock):
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history = acme_world()
    history.append_to(store)
    first, second = (LiveProjection({"PORTAL_DATA_DIR": str(data_dir)}) for _ in range(2))
    ticks(first, second)
    loaded = first.projector, second.projector

    appended = len(history.events)
    history.state(1, "in_progress")
    history.edit(2, title="Renamed while two copies run")
    history.append_to(store, slice(appended, None))
    ticks(first, second, times=3)

    assert (first.projector, second.projector) == loaded, "neither copy reloaded"
    assert [first.projector.committing, second.projector.committing] == [True, False]
    head = store.head_position()
    assert first.projector.checkpoint == second.projector.checkpoint == head
    assert first.storage.current().checkpoint == head
    assert answers(first.projector.view) == answers(second.projector.view)


def test_another_copy_takes_the_lease_over_when_the_writer_stops_renewing_it(data_dir, clock):
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history = acme_world()
    history.append_to(store)
    writer, follower = (LiveProjection({"PORTAL_DATA_DIR": str(data_dir)}) for _ in range(2))
    ticks(writer, follower)
    assert follower.projector.committing is False

    appended = len(history.events)
    history.state(1, "resolved")
    history.append_to(store, slice(appended, None))
    clock.offset = LEASE_SECONDS + 1  # the writer is gone: it renews nothing any more
    ticks(follower)

    assert follower.projector.committing is True
    assert follower.storage.current().checkpoint == store.head_position()


def test_a_copy_that_takes_the_lease_holding_what_is_stored_writes_on_without_reloading(
    data_dir, clock
):
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history = acme_world()
    history.append_to(store)
    writer, follower = (LiveProjection({"PORTAL_DATA_DIR": str(data_dir)}) for _ in range(2))
    ticks(writer, follower)
    loaded = follower.projector
    assert loaded.committing is False

    clock.offset = LEASE_SECONDS + 1  # the writer is gone; nothing was written since
    ticks(follower)
    assert follower.projector is loaded and loaded.committing is True

    appended = len(history.events)
    history.state(1, "resolved")
    history.append_to(store, slice(appended, None))
    ticks(follower)
    assert follower.projector is loaded
    assert follower.storage.current().checkpoint == store.head_position()
    rebuilt = clean_rebuild(store, SqliteProjectionStorage(data_dir / "rebuilt.sqlite3"))
    assert documents(follower.storage) == rebuilt
