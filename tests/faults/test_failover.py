"""Two copies of every service under load (the load scenario, small): one copy of each
service is killed with SIGKILL in turn, the gateway included, and comes back; then every
copy is restarted in turn with SIGTERM (a rolling restart). No request is answered with an
error (a read that reaches a portal_query copy still loading is asked again), every accepted
change reaches the projection exactly once (the served projection equals a clean rebuild of
the store), and a copy that comes back catches up by itself. The load's client retries a
request once on a new connection when its connection breaks, as a browser does: a request
in flight on a gateway that is killed is asked again, and a connection still waiting to be
accepted is not lost with the gateway (the copies accept from one socket the stack holds)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from portalctl.stack import Stack, copy_name
from tests.faults.projection import checkpoint, served_and_rebuilt
from tests.load.scenario import Client, LoadPlan, lost_changes, run
from tests.support.broker import BROKER_URI
from tests.support.stack import (
    ADMIN_TOKEN,
    IDENTITY_SECRET,
    event_store_of,
    read_side,
    running_stack,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1200)]

# The load runs until every kill and restart is done (``seconds`` only bounds a broken run).
PLAN = LoadPlan(users=10, changes_per_second=10, seconds=1200, seed_tickets=20)
# What a process logs once it is back at work: nameko's consumer connected, the relay
# connected to the broker, portal_query's projection loaded.
BACK = {"event_relay": "relay connected", "portal_query": "projection loaded"}
CONNECTED = "Connected to amqp://"
DOWN_SECONDS = 2.0  # how long a killed copy stays down, under load


def log_count(stack: Stack, name: str, text: str) -> int:
    log = stack.log_dir / f"{name}.log"
    return log.read_text().count(text) if log.exists() else 0


def restart(stack: Stack, name: str, signum: int) -> None:
    """End the copy ``name`` with ``signum`` (SIGTERM: a graceful stop), start it again
    and wait until it is back at work."""
    service = name.partition(".")[0]
    marker = BACK.get(service, CONNECTED)
    before = log_count(stack, name, marker)
    if signum == signal.SIGTERM:
        assert stack.stop(name)[name].clean, f"{name} did not stop cleanly"
    else:
        stack.signal(name, signum)
        time.sleep(DOWN_SECONDS)
    stack.start(name)
    eventually(lambda: log_count(stack, name, marker) > before, timeout=60)


def publisher(stack: Stack) -> str:
    """The relay copy that publishes: the last to have taken the lock, by the logs."""
    return max(
        stack.copies_of("event_relay"),
        key=lambda name: log_count(stack, name, "relay took the publisher lock"),
    )


def test_copies_killed_and_restarted_under_load_lose_no_request(tmp_path):
    with running_stack(tmp_path, BROKER_URI, copies=2) as stack:
        outcome: dict = {}
        done = threading.Event()

        def under_load() -> None:
            outcome["seen"], outcome["accepted"] = run(
                stack.base_url, ADMIN_TOKEN, IDENTITY_SECRET, PLAN, stop=done
            )

        load = threading.Thread(target=under_load)
        load.start()
        admin = Client(stack.base_url, ADMIN_TOKEN)
        eventually(lambda: admin.ok("GET", "/api/admin/portal/status")["head"] > 300, timeout=120)

        for service in stack.names:
            name = publisher(stack) if service == "event_relay" else service
            restart(stack, name, signal.SIGKILL)
        for name in stack.copies:
            restart(stack, name, signal.SIGTERM)
        time.sleep(DOWN_SECONDS)  # the load goes on a while on the last restarted copy
        done.set()
        load.join()

        # Only the restarted first copy of portal_query (of each partition) answers now: it
        # caught up by itself.
        stack.stop(*(copy_name(service, 2) for service in read_side(stack)))
        lost = lost_changes(admin, Path(stack.env["PORTAL_DATA_DIR"]), outcome["accepted"])
        status = admin.ok("GET", "/api/admin/portal/status")
        head = event_store_of(stack).head_position()
        eventually(lambda: checkpoint(tmp_path) == head, timeout=30)

    assert lost == []
    assert (status["lag_events"], status["parked"]) == (0, 0)
    served, rebuilt = served_and_rebuilt(tmp_path)
    assert served == rebuilt
    errors = {kind: found for kind, found in outcome["seen"].errors.items() if found}
    assert not errors, errors  # no request failed, answered or not
