"""``portalctl rebuild``, ``status`` and ``parked`` (parsing and output; the work is in
``services.portal_query.ops``) on a temp embedded store."""

from __future__ import annotations

import pytest

from kernel.eventstore.sqlite import SqliteEventStore
from portalctl.__main__ import main
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.projector import Projector
from services.portal_query.storage import PROJECTIONS_FILE, SqliteProjectionStorage
from tests.support.portal_events import acme_world


@pytest.fixture
def store(data_dir, monkeypatch):
    monkeypatch.setenv("PORTAL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MONGO_URI", "")
    monkeypatch.setenv(
        "PORTAL_PARTITIONS", "1"
    )  # one read side; partitions: test_portal_partitions
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history = acme_world()
    history.state(2, "resolved")
    history.append_to(store)
    return store


def test_rebuild_prints_a_summary_and_switches_generations(store, data_dir, capsys):
    main(["rebuild"])
    main(["rebuild"])

    captured = capsys.readouterr()
    output = captured.out
    assert "100%|" in captured.err and "12.0/12.0" in captured.err  # the progress bar
    assert "rebuilt generation 1: 12 events in" in output
    assert "rebuilt generation 2: 12 events in" in output
    assert "events/s), 0 parked" in output
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    assert storage.current().generation == 2


def test_status_prints_checkpoint_lag_the_relay_checkpoint_and_the_email_outbox(store, capsys):
    store.save_checkpoint("event_relay", 0, 7)
    main(["rebuild"])
    capsys.readouterr()

    main(["status"])

    lines = dict(
        line.strip().split(": ", 1) for line in capsys.readouterr().out.strip().splitlines()
    )
    assert lines["generation"] == "1"
    assert lines["checkpoint"] == lines["head"] == "12"
    assert lines["lag_events"] == "0"
    assert lines["parked"] == "0"
    assert lines["relay_checkpoint"] == "7"
    assert lines["email_checkpoint"] == "not started"
    assert lines["emails"] == "0 pending, 0 sent, 0 rejected"
    assert lines["email_sender"] == "none"
    assert lines["portal"] == "on"


def test_status_says_when_the_teammates_turned_the_portal_off(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MONGO_URI", "")
    store = SqliteEventStore(data_dir / "events.sqlite3")
    history = acme_world()
    history.settings(portal_enabled=False)
    history.append_to(store)

    main(["status"])

    assert "portal: off" in capsys.readouterr().out


def test_parked_lists_the_events_and_retry_reapplies_them(store, data_dir, capsys):
    storage = SqliteProjectionStorage(data_dir / PROJECTIONS_FILE)
    broken = {**HANDLERS, "TicketStateChanged": _explode}
    Projector.load(store, storage, handlers=broken).catch_up()

    main(["parked"])
    listed = capsys.readouterr().out
    assert "ticket-2  TicketStateChanged  attempts=3  RuntimeError: state machine on fire" in (
        listed
    )

    main(["parked", "--retry"])
    assert capsys.readouterr().out.strip() == "re-applied 1; still parked: 0"
    main(["parked"])
    assert capsys.readouterr().out.strip() == "no parked events"
    assert Projector.load(store, storage).model.tickets[2].state == "resolved"


def _explode(model, event):
    raise RuntimeError("state machine on fire")
