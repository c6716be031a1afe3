"""The load scenario: portal users searching and paging while teammates write at a steady
rate, measured per kind of request, then a check that no accepted change was lost.

Users run closed loops (request, think, request) on keep-alive connections of their own;
teammates' changes are open-loop (one every ``1/rate`` seconds, handed to a pool of
writers), so a slow answer does not lower the offered write rate. Every change carries an
Idempotency-Key, so the end check can find each accepted change in the event store, and
the served projection is compared with a clean rebuild of the whole store.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import queue
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from kernel.eventstore import EVENTS_FILE
from kernel.eventstore.sqlite import SqliteEventStore

WORDS = ("invoice", "export", "printer", "login", "billing", "webhook", "import", "report")
STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
COMPANIES = 5
WRITER_THREADS = 16


@dataclass(frozen=True)
class LoadPlan:
    users: int = 50
    changes_per_second: float = 50.0
    seconds: float = 120.0
    seed_tickets: int = 200
    think_seconds: float = 0.2  # mean pause of a user between two requests


class Client:
    """One keep-alive HTTP connection; ``call`` answers ``(status, JSON or None)``."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, params=None, headers=None):
        if params:
            path = f"{path}?{urlencode(params)}"
        payload = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self.connection.request(method, path, payload, {**self.headers, **(headers or {})})
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            return response.status, json.loads(data) if data else None
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body: Any = None, params=None) -> Any:
        status, data = self.call(method, path, body, params)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data}")
        return data


@dataclass
class Measurements:
    started: float = field(default_factory=time.perf_counter)
    finished: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, request) -> tuple[int, Any] | None:
        began = time.perf_counter()
        try:
            status, data = request()
        except Exception as error:  # a request that got no answer is an error too
            status, data = 0, repr(error)
        elapsed = time.perf_counter() - began
        with self.lock:
            self.latencies[kind].append(elapsed)
            if not 200 <= status < 300:
                self.errors[kind].append(f"{status}: {str(data)[:200]}")
                return None
        return status, data

    def summary(self) -> dict[str, Any]:
        seconds = self.finished - self.started
        kinds = {}
        for kind, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            kinds[kind] = {
                "requests": len(ordered),
                "per_second": round(len(ordered) / seconds, 1),
                "p50_ms": round(1000 * quantile(ordered, 0.50), 1),
                "p99_ms": round(1000 * quantile(ordered, 0.99), 1),
                "errors": len(self.errors.get(kind, ())),
            }
        total = sum(len(v) for v in self.latencies.values())
        return {
            "seconds": round(seconds, 1),
            "requests": total,
            "per_second": round(total / seconds, 1),
            "errors": sum(len(v) for v in self.errors.values()),
            "kinds": kinds,
        }


def quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class World:
    tickets: list[dict]  # {id, conversation_id, company}
    users: list[tuple[str, str]]  # (user id, session token)


def user_hash(user_id: str, identity_secret: str) -> str:
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def seed(admin: Client, base_url: str, plan: LoadPlan, identity_secret: str) -> World:
    """Companies, one contact per portal user (each a member of one company), and tickets
    with a linked conversation, spread over the companies."""
    rng = random.Random(1)
    companies = [f"co{n}" for n in range(COMPANIES)]
    for company in companies:
        admin.ok("POST", "/api/admin/companies", {"id": company, "name": company.upper()})
    users = []
    anonymous = Client(base_url)
    for number in range(plan.users):
        user_id, company = f"user{number}", companies[number % COMPANIES]
        admin.ok("POST", "/api/admin/contacts", {"id": user_id, "email": f"{user_id}@x.example"})
        admin.ok("POST", f"/api/admin/companies/{company}/members", {"user_id": user_id})
        session = anonymous.ok(
            "POST",
            "/api/portal/session",
            {"user_id": user_id, "user_hash": user_hash(user_id, identity_secret)},
        )
        users.append((user_id, session["token"]))
    tickets = []
    for number in range(plan.seed_tickets):
        creator = f"user{number % plan.users}"
        words = " ".join(rng.sample(WORDS, 2))
        conversation = admin.ok(
            "POST", "/api/admin/conversations", {"user_id": creator, "body": f"Hello, {words}"}
        )
        ticket = admin.ok(
            "POST",
            f"/api/admin/conversations/{conversation['id']}/ticket",
            {"type": rng.choice(["Bug", "Question"]), "title": f"Seeded {number} {words}"},
        )
        tickets.append({"id": ticket["id"], "conversation_id": conversation["id"]})
    return World(tickets, users)


def portal_user(
    base_url: str, token: str, plan: LoadPlan, until: float, seen: Measurements, stop=None
):
    """Search, page through the results and open a ticket now and then."""
    rng = random.Random(token)
    client = Client(base_url, token)
    while time.perf_counter() < until and not (stop and stop.is_set()):
        q = " ".join(rng.sample(WORDS, rng.choice([1, 1, 2])))
        if rng.random() < 0.3:
            q = q[: rng.randint(2, len(q))]  # typing: the last word as a prefix
        found = seen.timed(
            "portal search", lambda q=q: client.call("GET", "/api/portal/tickets", params={"q": q})
        )
        time.sleep(rng.expovariate(1 / plan.think_seconds))
        page = rng.randint(1, 3)
        seen.timed(
            "portal page",
            lambda page=page: client.call(
                "GET",
                "/api/portal/tickets",
                params={"page": page, "per_page": 10, "sort": rng.choice(["id", "updated_at"])},
            ),
        )
        if found and found[1]["items"] and rng.random() < 0.3:
            ticket_id = rng.choice(found[1]["items"])["id"]
            seen.timed(
                "portal details",
                lambda t=ticket_id: client.call("GET", f"/api/portal/tickets/{t}"),
            )
        time.sleep(rng.expovariate(1 / plan.think_seconds))


@dataclass
class Change:
    key: str
    kind: str
    method: str
    path: str
    body: dict


def changes(world: World, rng: random.Random):
    """An endless, varied stream of teammates' changes, each with a unique token."""
    creators = [user for user, _ in world.users]
    for number in itertools.count():
        token = f"chg{number}"
        ticket = rng.choice(world.tickets)
        roll = rng.random()
        if roll < 0.2:
            yield Change(
                token,
                "create ticket",
                "POST",
                "/api/admin/tickets",
                {"type": "Bug", "title": f"New {token}", "creator_id": rng.choice(creators)},
            )
        elif roll < 0.6:
            yield Change(
                token,
                "update ticket",
                "PATCH",
                f"/api/admin/tickets/{ticket['id']}",
                {"title": f"Edited {token}", "state": rng.choice(STATES)},
            )
        else:
            yield Change(
                token,
                "reply",
                "POST",
                f"/api/admin/conversations/{ticket['conversation_id']}/parts",
                {
                    "author_type": "teammate",
                    "author_id": "sam",
                    "author_name": "Sam",
                    "body": f"Reply {token} about the {rng.choice(WORDS)}",
                },
            )


def teammates(
    base_url: str, admin_token: str, world: World, plan: LoadPlan, until, seen, stop=None
):
    """Offer ``changes_per_second`` changes until ``until``; answer the accepted ones."""
    pending: queue.Queue[Change | None] = queue.Queue()
    accepted: list[Change] = []

    def writer() -> None:
        client = Client(base_url, admin_token)
        while (change := pending.get()) is not None:
            answer = seen.timed(
                change.kind,
                lambda c=change: client.call(
                    c.method, c.path, c.body, headers={"Idempotency-Key": c.key}
                ),
            )
            if answer is not None:
                accepted.append(change)

    threads = [threading.Thread(target=writer) for _ in range(WRITER_THREADS)]
    for thread in threads:
        thread.start()
    stream = changes(world, random.Random(2))
    next_at = time.perf_counter()
    while next_at < until and not (stop and stop.is_set()):
        time.sleep(max(0.0, next_at - time.perf_counter()))
        pending.put(next(stream))
        next_at += 1 / plan.changes_per_second
    for _ in threads:
        pending.put(None)
    for thread in threads:
        thread.join()
    return accepted


def run(
    base_url: str,
    admin_token: str,
    identity_secret: str,
    plan: LoadPlan,
    on_seeded=None,
    stop: threading.Event | None = None,
):
    """Seed, then run users and teammates together: ``(measurements, accepted changes)``.
    ``on_seeded()`` is called between the two (say, to start a profiler); ``stop``, once
    set, ends the load before ``plan.seconds``."""
    admin = Client(base_url, admin_token)
    world = seed(admin, base_url, plan, identity_secret)
    if on_seeded is not None:
        on_seeded()
    seen = Measurements()
    until = seen.started + plan.seconds
    users = [
        threading.Thread(target=portal_user, args=(base_url, token, plan, until, seen, stop))
        for _, token in world.users
    ]
    for thread in users:
        thread.start()
    accepted = teammates(base_url, admin_token, world, plan, until, seen, stop)
    for thread in users:
        thread.join()
    seen.finished = time.perf_counter()
    return seen, accepted


def lost_changes(admin: Client, data_dir: Path, accepted: list[Change], timeout: float = 60):
    """The accepted changes the platform does not show: not stored under their key, or
    stored but not (yet, after ``timeout``) in the projection portal_query serves."""
    deadline = time.monotonic() + timeout
    while (status := admin.ok("GET", "/api/admin/portal/status"))["lag_events"]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    store = SqliteEventStore(data_dir / EVENTS_FILE)
    try:
        stored = {}
        for event in store.iter_all():
            key = event.metadata.get("idempotency_key")
            if key:
                stored.setdefault(key, event.position)
    finally:
        store.close()
    return [
        change.key
        for change in accepted
        if change.key not in stored or stored[change.key] > status["checkpoint"]
    ]
