"""The load test, short: 20 portal users searching and paging while teammates write 20
changes/s for 20 s (the full run, 50 users and 50 changes/s for 2 minutes, is
``python -m tests.load``; its figures are in docs/reliability.md). No error, and every
accepted change is in the projection, which equals a clean rebuild of the store. The rate
it reaches is not asserted: the benchmark measures and reports it."""

from __future__ import annotations

from pathlib import Path

from tests.faults.projection import served_and_rebuilt
from tests.load.scenario import Client, LoadPlan, lost_changes, run
from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET, running_stack

PLAN = LoadPlan(users=20, changes_per_second=20, seconds=20, seed_tickets=40)


def test_users_and_writers_under_load_see_no_error_and_lose_no_change(tmp_path):
    with running_stack(tmp_path, BROKER_URI) as stack:
        seen, accepted = run(stack.base_url, ADMIN_TOKEN, IDENTITY_SECRET, PLAN)
        admin = Client(stack.base_url, ADMIN_TOKEN)
        lost = lost_changes(admin, Path(stack.env["PORTAL_DATA_DIR"]), accepted)
        status = admin.ok("GET", "/api/admin/portal/status")

    summary = seen.summary()
    assert summary["errors"] == 0, dict(seen.errors)
    kinds = summary["kinds"]
    assert {"portal search", "portal page", "create ticket", "update ticket", "reply"} <= set(kinds)
    offered = sum(kinds[k]["requests"] for k in ("create ticket", "update ticket", "reply"))
    assert 0 < offered == len(accepted)
    assert lost == []
    assert (status["lag_events"], status["parked"]) == (0, 0)
    served, rebuilt = served_and_rebuilt(tmp_path)
    assert served == rebuilt
