"""Two copies of every service (``PORTAL_REPLICAS=2``): the gateways share one port, RPC
copies compete on their service's queue, and what is one-at-a-time by nature stays right
with copies racing: ticket numbers, idempotency keys, the portal's read side."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kernel.config import partition_count
from kernel.partitions import hashed
from portalctl.stack import PROCESSES, REPOSITORY
from tests.support.api import Api
from tests.support.broker import BROKER_URI
from tests.support.stack import read_side, running_stack, stack_config, tickets_titled
from tests.support.waiting import eventually

CREATES = 40


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    root = tmp_path_factory.mktemp("copies")
    with running_stack(root, BROKER_URI, copies=2) as stack:
        api = Api(stack)
        api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@acme.test"})
        api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
        api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})
        yield stack, api


def logged(stack, name: str, text: str) -> int:
    """How many lines of a process's log hold ``text``."""
    return Path(stack.log_dir / f"{name}.log").read_text().count(text)


def test_every_service_runs_twice_and_the_gateways_share_one_port(copies):
    stack, api = copies
    assert sorted(stack.processes) == sorted(stack.copies)
    # Every process twice, the read side once per partition.
    assert len(stack.copies) == 2 * (len(PROCESSES) - 1 + len(read_side(stack)))
    for _ in range(40):
        assert api.call("GET", "/healthz").status_code == 200
    assert all(logged(stack, name, "/healthz") for name in stack.copies_of("gateway"))


def test_two_tickets_copies_number_tickets_without_duplicate_or_gap(copies):
    stack, api = copies
    title = f"Raced {uuid.uuid4().hex}"

    def create(_index: int) -> int:
        body = {"type": "Bug", "title": title, "creator_id": "ann"}
        return api.admin_ok("POST", "/api/admin/tickets", json=body)["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = sorted(pool.map(create, range(CREATES)))

    assert ids == list(range(ids[0], ids[0] + CREATES)), "no duplicate, no gap"
    assert sorted(tickets_titled(stack.env, title)) == ids, "one stored ticket per answer"
    assert all(logged(stack, name, "ticket created") for name in stack.copies_of("tickets"))


def test_one_idempotency_key_sent_to_both_copies_at_once_creates_one_ticket(copies):
    stack, api = copies
    title = f"Once {uuid.uuid4().hex}"
    body = {"type": "Bug", "title": title, "creator_id": "ann"}
    key = {"Idempotency-Key": f"copies-{uuid.uuid4().hex}"}

    def create(_index: int):
        return api.admin("POST", "/api/admin/tickets", json=body, headers=key)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(create, range(6)))

    created = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(created) == 1
    assert all(answer.status_code in (201, 409) for answer in answers), [
        answer.text for answer in answers if answer.status_code not in (201, 409)
    ]
    assert len(tickets_titled(stack.env, title)) == 1


def test_every_portal_query_copy_shows_a_teammates_change(copies):
    stack, api = copies
    count = partition_count(stack_config(stack))
    acme = hashed("acme", count)
    # With partitions every read first asks the reader's home partition for its route: a
    # reader at home in Acme's partition would send that partition's copies a route and a
    # ticket read in turn, so the broker's round robin would give all ticket reads to one.
    reader = next(
        f"reader{n}" for n in itertools.count() if count == 1 or hashed(f"reader{n}", count) != acme
    )
    api.admin_ok("POST", "/api/admin/contacts", json={"id": reader, "email": f"{reader}@acme.test"})
    api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": reader})
    ticket = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Seen", "creator_id": "ann"}
    )
    token = api.sign_in(reader, f"{reader}@acme.test")
    api.admin_ok("PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "in_progress"})

    def every_answer_shows_it() -> bool:
        states = {
            api.call("GET", f"/api/portal/tickets/{ticket['id']}", session=token).json()["state"]
            for _ in range(10)
        }
        return states == {"in_progress"}

    eventually(every_answer_shows_it, timeout=5)
    # Every copy of the read side holding Acme's tickets (its partition's) answered some.
    holding = read_side(stack)[acme]
    served = [logged(stack, name, "portal ticket") for name in stack.copies_of(holding)]
    assert all(served), served


def test_portalctl_status_counts_the_copies_at_work(copies):
    stack, _api = copies
    status = subprocess.run(
        [sys.executable, "-m", "portalctl", "status"],
        cwd=REPOSITORY,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(line.strip().split(": ", 1) for line in status.splitlines() if ": " in line)
    count = partition_count(stack_config(stack))
    queried = ", ".join(
        ["portal_query 2"] if count == 1 else [f"portal_query_p{n} 2" for n in range(count)]
    )
    assert fields["copies"] == (
        f"identity 2, companies 2, tickets 2, messenger_bridge 2, {queried}, "
        "notifications 2, event_relay 2"
    )


def test_a_connection_waiting_while_every_gateway_is_gone_is_answered_by_the_next(copies):
    """The gateways accept from one socket the stack holds: a connection the kernel queued
    while the copies were killed is served by the copy that starts next, not reset."""
    stack, api = copies
    gateways = stack.copies_of("gateway")
    for name in gateways:
        stack.signal(name, signal.SIGKILL)
    host, port = stack.listener.getsockname()[:2]
    with socket.create_connection((host, port), timeout=60) as waiting:
        waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n")
        stack.start(*gateways)
        answer = b""
        while chunk := waiting.recv(65536):
            answer += chunk
    stack.wait_ready()
    # Answered (healthy, or 503 naming a service the fresh gateway could not reach yet).
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"200", b"503"), answer[:200]
    assert b'"services"' in body, body[:200]
    assert api.call("GET", "/healthz").status_code == 200
