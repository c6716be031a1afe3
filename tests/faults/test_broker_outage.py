"""The broker stops for 30 s while teammates create and update tickets through the gateway.

Every request either fails cleanly (503/504) or succeeds and is shown after recovery; every
process reconnects by itself; and a request that was carried out but whose reply was lost
(the broker went down between the append and the reply) answers its stored result when
the caller retries it with the same Idempotency-Key, without being carried out twice.

The broker stopped is a RabbitMQ node of this test's own (``tests/faults/broker.py``), so
the test runs beside every other test run on the machine and disturbs none of them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests

from kernel.eventstore import EventStore
from tests.faults.broker import broker_stopped, private_node
from tests.support.api import Api
from tests.support.stack import event_store_of, read_side, running_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 30
WRITERS = 4
STATES = ("in_progress", "waiting_on_customer", "resolved", "submitted")


@dataclass
class Request:
    """One teammate request and what became of it."""

    key: str
    method: str
    path: str
    body: dict
    statuses: list[int] = field(default_factory=list)
    answer: dict | None = None

    def send(self, api: Api) -> int:
        try:
            response = api.admin(
                self.method, self.path, json=self.body, headers={"Idempotency-Key": self.key}
            )
        except requests.RequestException:
            status = 599  # no answer at all (not a clean failure: the test refuses it)
        else:
            status = response.status_code
            if status < 300:
                self.answer = response.json()
        self.statuses.append(status)
        return status


def store_of(stack) -> EventStore:
    return event_store_of(stack)


def events_by_key(stack) -> dict[str, list]:
    store = store_of(stack)
    try:
        found: dict[str, list] = {}
        for event in store.iter_all():
            key = event.metadata.get("idempotency_key")
            if key:
                found.setdefault(key, []).append(event)
        return found
    finally:
        store.close()


def admin_tickets(api: Api) -> dict[int, dict]:
    tickets, page = {}, 1
    while True:
        listed = api.admin_ok(
            "GET", "/api/admin/tickets", params={"per_page": "100", "page": str(page)}
        )
        tickets.update({item["id"]: item for item in listed["items"]})
        if len(tickets) >= listed["total"] or not listed["items"]:
            return tickets
        page += 1


@pytest.fixture
def node(tmp_path):
    """The test's own RabbitMQ node, shut down afterwards."""
    with private_node(tmp_path / "rabbitmq") as node:
        yield node


@pytest.fixture
def stack(tmp_path, node):
    """Every process of the platform on that node."""
    platform = running_stack(tmp_path, node.amqp_uri, management=node.management, RPC_TIMEOUT="5")
    with platform as stack:
        yield stack


class Writers:
    """Teammates who each create a ticket or edit their own one, one request at a time,
    from entering the block until leaving it. Each holds its turn while a request of theirs
    is under way, so taking every turn (``paused``) means none is."""

    def __init__(self, api: Api, own_tickets: list[int]):
        self.api = api
        self.own_tickets = own_tickets
        self.sent: list[Request] = []
        self.stop = threading.Event()
        self.turns = [threading.Lock() for _ in range(WRITERS)]
        self.pool = ThreadPoolExecutor(WRITERS + 1)
        self.running = []

    def __enter__(self) -> Writers:
        self.running = [self.pool.submit(self.write, number) for number in range(WRITERS)]
        return self

    def write(self, number: int) -> None:
        for step in itertools.count():
            with self.turns[number]:
                if self.stop.is_set():
                    return
                key = f"w{number}-{step}"
                if step % 2 == 0:
                    body = {"type": "Bug", "title": key, "creator_id": "ann"}
                    request = Request(key, "POST", "/api/admin/tickets", body)
                else:
                    body = {"title": key, "state": STATES[step % len(STATES)]}
                    path = f"/api/admin/tickets/{self.own_tickets[number]}"
                    request = Request(key, "PATCH", path, body)
                self.sent.append(request)
                request.send(self.api)
            self.stop.wait(0.25)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        for turn in self.turns:
            turn.acquire()
        try:
            yield
        finally:
            for turn in self.turns:
                turn.release()

    def each_succeeded_since(self, mark: int) -> bool:
        """Every writer had a request accepted among those sent from ``mark`` on."""
        accepted = {
            r.key.split("-")[0] for r in self.sent[mark:] if r.statuses and r.statuses[0] < 300
        }
        return accepted == {f"w{number}" for number in range(WRITERS)}

    def __exit__(self, *_exception) -> None:
        self.stop.set()
        for finished in self.running:
            finished.result()
        self.pool.shutdown()


def test_a_broker_outage_loses_no_accepted_change_and_everyone_reconnects(node, stack):
    api = Api(stack)
    vhost = urlsplit(stack.env["AMQP_URI"]).path.lstrip("/")
    api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@acme.example"})
    api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
    api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})
    own_tickets = [
        api.admin_ok(
            "POST",
            "/api/admin/tickets",
            json={"type": "Bug", "title": f"Writer {n}", "creator_id": "ann"},
        )["id"]
        for n in range(WRITERS + 1)
    ]
    with Writers(api, own_tickets) as writers:
        eventually(lambda: writers.each_succeeded_since(0), timeout=60)

        # A call that reaches tickets just before the broker stops: tickets (every copy) is
        # frozen, so the call waits in its socket; it is carried out once the broker is
        # gone, and its reply cannot be sent. The writers wait until it is delivered, so it
        # is the only call in tickets' queue then.
        lost_reply = Request(
            "lost-reply",
            "PATCH",
            f"/api/admin/tickets/{own_tickets[-1]}",
            {"state": "resolved", "title": "lost-reply"},
        )
        copies = [stack.processes[name] for name in stack.copies_of("tickets")]
        with writers.paused():
            eventually(lambda: node.queue_counts(vhost, "rpc-tickets") == (0, 0), timeout=30)
            for tickets in copies:  # every copy: none other may answer the call
                tickets.send_signal(signal.SIGSTOP)
            lost_reply_answered = writers.pool.submit(lost_reply.send, api)
            # Delivered to a frozen copy (unacknowledged), none left in the queue.
            eventually(lambda: node.queue_counts(vhost, "rpc-tickets") == (0, 1), timeout=30)
        with broker_stopped(node, OUTAGE_SECONDS):
            for tickets in copies:
                tickets.send_signal(signal.SIGCONT)
            assert lost_reply_answered.result() >= 500

        # Every process reconnects by itself: none exits, all answer again, and every
        # writer has a request accepted again.
        eventually(lambda: api.call("GET", "/healthz").status_code == 200, timeout=60)
        stack.check_alive()
        recovered = len(writers.sent)
        eventually(lambda: writers.each_succeeded_since(recovered), timeout=60)
    stack.check_alive()
    requests_sent = writers.sent

    statuses = Counter(request.statuses[0] for request in requests_sent)
    assert statuses[200] + statuses[201] > 0, statuses
    assert any(status >= 500 for status in statuses), statuses
    assert set(statuses) <= {200, 201, 503, 504}, statuses

    # A failed request may be retried with its key: it answers the stored result if it
    # had been carried out, and is carried out now if it had not.
    for request in [lost_reply, *requests_sent]:
        if request.statuses[-1] >= 500:
            assert request.send(api) in (200, 201), (request.key, request.statuses)
    assert lost_reply.answer["title"] == "lost-reply"
    assert lost_reply.answer["state"] == "resolved"

    stored = events_by_key(stack)
    assert lost_reply.key in stored, "the frozen call was carried out during the outage"
    for request in [lost_reply, *requests_sent]:
        kinds = [event.type for event in stored.get(request.key, [])]
        if request.method == "POST":
            assert kinds == ["TicketCreated"], (request.key, kinds)
            assert request.answer["title"] == request.key
        else:
            assert kinds.count("TicketEdited") == 1, (request.key, kinds)

    # Every accepted change is shown: each ticket as its stream last left it.
    created = {r.answer["id"] for r in requests_sent if r.method == "POST"}
    expected = {
        ticket_id: (titles[-1], states[-1])
        for ticket_id, titles, states in final_titles_and_states(stack)
    }
    assert created | set(own_tickets) == set(expected)

    def shown():
        listed = admin_tickets(api)
        return listed if len(listed) == len(expected) else None

    eventually(shown, timeout=30)
    eventually(
        lambda: {t: (i["title"], i["state"]) for t, i in admin_tickets(api).items()} == expected,
        timeout=30,
    )

    # The relay published everything, and portal_query's bus consumer (every partition's)
    # got it again.
    store = store_of(stack)
    try:
        head = store.head_position()
        eventually(lambda: store.get_checkpoint("event_relay") == head, timeout=30)
    finally:
        store.close()
    eventually(
        lambda: all(head in positions_received(stack, name) for name in read_side(stack)),
        timeout=30,
    )


def positions_received(stack, name: str) -> set[int]:
    """The positions the read-side process ``name`` logged as received from the bus."""
    received = set()
    for line in (stack.log_dir / f"{name}.log").read_text().splitlines():
        entry = json.loads(line)
        if entry.get("event") == "event received":
            received.add(entry["position"])
    return received


def final_titles_and_states(stack):
    """Per ticket in the store: its titles and states in stream order."""
    store = store_of(stack)
    try:
        tickets: dict[int, tuple[list[str], list[str]]] = {}
        for event in store.iter_all():
            data = event.payload
            if event.type == "TicketCreated":
                tickets[data["ticket_id"]] = ([data["title"]], [data["state"]])
            elif event.type == "TicketEdited" and "title" in data:
                tickets[data["ticket_id"]][0].append(data["title"])
            elif event.type == "TicketStateChanged":
                tickets[data["ticket_id"]][1].append(data["state"])
        return [(ticket_id, titles, states) for ticket_id, (titles, states) in tickets.items()]
    finally:
        store.close()
