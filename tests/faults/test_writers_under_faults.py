"""Writers under faults, through the gateway: a tickets process killed right after its
append, and many writers racing on one ticket across two tickets processes."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import pytest
import requests

from portalctl.stack import PROCESSES, Stack
from tests.support.api import api_stack, error_of
from tests.support.broker import AUTH, MANAGEMENT
from tests.support.failpoint_runner import killing_after_append
from tests.support.stack import event_store_of
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

# Long enough for a killed tickets process to be restarted while the gateway still waits:
# the call it was handling is then delivered again, to the new process.
RPC_TIMEOUT = 30
STATES = ("in_progress", "waiting_on_customer", "resolved", "submitted")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with api_stack(tmp_path_factory.mktemp("writers"), RPC_TIMEOUT=str(RPC_TIMEOUT)) as (
        stack,
        api,
    ):
        api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@acme.example"})
        api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
        api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})
        yield stack, api


def events_of(stack, event_type: str) -> list:
    store = event_store_of(stack)
    try:
        return [event for event in store.iter_all() if event.type == event_type]
    finally:
        store.close()


def test_a_writer_killed_right_after_its_append_loses_nothing_and_repeats_nothing(platform):
    stack, api = platform
    # This tickets process kills itself right after appending a TicketCreated, before it
    # can reply (the failpoint runner's failpoint): the crash lands there every time, as
    # it is the only tickets process (every copy of the service stops first).
    stack.stop(*stack.copies_of("tickets"))
    failpoint = Stack(
        env=stack.env,
        log_dir=stack.log_dir,
        names=["tickets"],
        commands={"tickets": killing_after_append("TicketCreated", PROCESSES["tickets"])},
    )
    failpoint.start()
    crashing = failpoint.processes.pop("tickets")
    title = "Created just before the crash"
    answer = ThreadPoolExecutor(1).submit(
        api.admin,
        "POST",
        "/api/admin/tickets",
        json={"type": "Bug", "title": title, "creator_id": "ann"},
    )
    assert crashing.wait(timeout=60) == -signal.SIGKILL
    assert [e.payload["title"] for e in events_of(stack, "TicketCreated")][-1:] == [title]
    assert not answer.done(), "the caller is still waiting for the reply that never came"

    stack.start(*stack.copies_of("tickets"))
    response = answer.result(timeout=RPC_TIMEOUT)

    # The call was delivered again to the restarted process: it answers the ticket that was
    # appended before the crash instead of opening a second one.
    assert response.status_code == 201, response.text
    created = [e for e in events_of(stack, "TicketCreated") if e.payload["title"] == title]
    assert [event.payload["ticket_id"] for event in created] == [response.json()["id"]]

    ticket_id = response.json()["id"]
    session = api.sign_in("ann", "ann@acme.example")
    listed = eventually(
        lambda: (
            (
                answer := api.call(
                    "GET", "/api/portal/tickets", session=session, params={"q": f"#{ticket_id}"}
                ).json()
            )["total"]
            and answer
        )
    )
    assert [item["title"] for item in listed["items"]] == [title]

    after = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "After", "creator_id": "ann"}
    )
    numbers = sorted(event.payload["ticket_id"] for event in events_of(stack, "TicketCreated"))
    assert numbers == list(range(1, len(numbers) + 1))
    assert after["id"] == numbers[-1]


@pytest.fixture
def second_tickets_process(platform):
    """Another tickets process on the same broker and store, so appends truly race."""
    stack, _api = platform
    second = Stack(env=stack.env, log_dir=stack.log_dir / "second", names=["tickets"])
    second.start()
    eventually(lambda: tickets_consumers(stack) == stack.replicas + 1, timeout=60)
    yield
    second.stop()


def tickets_consumers(stack) -> int:
    """How many processes consume the tickets service's RPC queue (management API)."""
    vhost = quote(urlsplit(stack.env["AMQP_URI"]).path[1:], safe="")
    answer = requests.get(f"{MANAGEMENT}/queues/{vhost}/rpc-tickets", auth=AUTH, timeout=10)
    return answer.json().get("consumers", 0) if answer.ok else 0


def test_many_writers_racing_on_one_ticket_succeed_or_get_a_clear_409(
    platform, second_tickets_process
):
    stack, api = platform
    ticket = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Raced", "creator_id": "ann"}
    )
    path = f"/api/admin/tickets/{ticket['id']}"
    bodies = [{"title": f"Racer {n}", "state": STATES[n % len(STATES)]} for n in range(24)]
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda body: api.admin("PATCH", path, json=body), bodies))

    for answer in answers:
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 409:
            assert error_of(answer)["code"] == "concurrency_conflict"
    accepted = {b["title"] for b, a in zip(bodies, answers, strict=True) if a.status_code == 200}
    assert accepted

    store = event_store_of(stack)
    try:
        history = store.read_stream(f"ticket-{ticket['id']}")
    finally:
        store.close()
    assert [event.stream_version for event in history] == list(range(1, len(history) + 1))
    edits = [event.payload["title"] for event in history if event.type == "TicketEdited"]
    assert sorted(edits) == sorted(accepted), "each accepted command is stored exactly once"
    final = api.admin_ok("GET", path)
    assert final["title"] == edits[-1]
    eventually(
        lambda: (
            api.admin_ok("GET", "/api/admin/tickets", params={"q": f"#{ticket['id']}"})["items"][0][
                "title"
            ]
            == edits[-1]
        )
    )
