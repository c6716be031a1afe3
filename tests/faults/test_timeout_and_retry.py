"""A caller that times out and retries with the same Idempotency-Key creates one change.

The call reaches a tickets process, which stalls (SIGSTOP: a long pause, an overloaded
host; with copies, every copy stalls) until the gateway has given up with a 504; it resumes
and carries the call out.
The caller's retry with the same key answers that ticket instead of opening a second."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.api import api_stack, error_of
from tests.support.stack import tickets_titled
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

RPC_TIMEOUT = 2


def test_a_timed_out_create_retried_with_its_key_creates_one_ticket(tmp_path):
    with api_stack(tmp_path, RPC_TIMEOUT=str(RPC_TIMEOUT)) as (stack, api):
        api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@acme.example"})
        body = {"type": "Bug", "title": "Slow but sure", "creator_id": "ann"}
        key = {"Idempotency-Key": "create-slow-but-sure"}

        copies = [stack.processes[name] for name in stack.copies_of("tickets")]
        for tickets in copies:  # every copy stalls: no other one may answer in time
            tickets.send_signal(signal.SIGSTOP)
        try:
            timed_out = api.admin("POST", "/api/admin/tickets", json=body, headers=key)
        finally:
            for tickets in copies:
                tickets.send_signal(signal.SIGCONT)
        assert timed_out.status_code == 504
        assert error_of(timed_out)["code"] == "upstream_timeout"

        # The stalled process still had the call, and carries it out once it resumes.
        created = eventually(lambda: tickets_titled(stack.env, body["title"]))
        retried = api.admin("POST", "/api/admin/tickets", json=body, headers=key)
        assert retried.status_code == 201
        assert retried.json()["id"] == created[0]
        again = api.admin("POST", "/api/admin/tickets", json=body, headers=key)
        assert again.json() == retried.json()

        reused = api.admin(
            "POST", "/api/admin/tickets", json={**body, "title": "Something else"}, headers=key
        )
        assert reused.status_code == 409
        assert "Idempotency-Key" in error_of(reused)["fields"]
        time.sleep(RPC_TIMEOUT)  # nothing else may still be on its way
        assert tickets_titled(stack.env, body["title"]) == created
        assert tickets_titled(stack.env, "Something else") == []
