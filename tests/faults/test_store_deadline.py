"""A write the event store cannot take within its deadline answers a clear 503 before the
gateway's RPC timeout, writes nothing, and succeeds when retried with its key afterwards.

The test holds the embedded store's write lock from outside (as a stuck process would) for
longer than the store's deadline, 0.6 x RPC_TIMEOUT."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kernel.eventstore import EVENTS_FILE
from tests.support.api import api_stack, error_of
from tests.support.mongo import real_mongo_uri

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        real_mongo_uri() is not None,
        reason="holds the embedded store's write lock; MongoDB's deadline is "
        "tests/contract/test_mongo_store.py",
    ),
]

RPC_TIMEOUT = 2


def test_a_write_past_the_store_deadline_is_a_503_and_writes_nothing(tmp_path):
    with api_stack(tmp_path, RPC_TIMEOUT=str(RPC_TIMEOUT)) as (stack, api):
        body = {"id": "ann", "email": "ann@acme.example", "name": "Ann"}
        key = {"Idempotency-Key": "ann-while-locked"}
        events = Path(stack.env["PORTAL_DATA_DIR"]) / EVENTS_FILE
        holder = sqlite3.connect(events, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            refused = api.admin("POST", "/api/admin/contacts", json=body, headers=key)
            head_while_locked = holder.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            holder.execute("ROLLBACK")
        head_after = holder.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        holder.close()

        assert refused.status_code == 503
        assert error_of(refused)["code"] == "service_unavailable"
        assert "nothing was written" in error_of(refused)["message"]
        assert head_after == head_while_locked

        retried = api.admin("POST", "/api/admin/contacts", json=body, headers=key)
        again = api.admin("POST", "/api/admin/contacts", json=body, headers=key)
        assert retried.status_code in (200, 201)
        assert again.json() == retried.json()
        with sqlite3.connect(events) as reader:
            (stored,) = reader.execute("SELECT COUNT(*) FROM events").fetchone()
        assert stored == head_after + 1, "the refused write and its retries stored one event"
