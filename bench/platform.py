"""The real stack on a generated data set: portal search and list through the HTTP API
beside the search peers, memory of each process at rest, and freshness.

The stack starts like ``tests/support/stack.py`` starts it (every service, the relay and
the gateway as processes, on a fresh vhost), on a private copy of the data set's store.
The relay's checkpoint is set to the store's head first: the data set is history that was
published long ago, and replaying it all onto the bus would only measure that replay.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psutil

from bench import freshness
from bench.context import Context, log
from bench.corpus import Corpus, load_corpus
from bench.http import Client, portal_session
from bench.measure import Row, Stat, check, percentile
from bench.search import Fts5Peer, SearchCase, TantivyPeer, build, latencies, search_cases
from kernel.eventstore.sqlite import SqliteEventStore
from portalctl.stack import Stack
from tests.support.broker import fresh_vhost

PER_PAGE = 25
CONCURRENT_CLIENTS = 20


@dataclass
class Platform:
    stack: Stack
    admin: Client
    identity_secret: str
    catch_up_seconds: float
    head: int


@dataclass(frozen=True)
class PortalUser:
    who: str  # "largest company" / "small company"
    user_id: str
    email: str
    company_id: str
    token: str = field(default="", compare=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_caught_up(admin: Client, head: int, timeout: float) -> None:
    """Until portal_query's checkpoint reaches ``head``."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        code, status = admin.call("GET", "/api/admin/portal/status")
        if code == 200 and status.get("checkpoint", 0) >= head:
            return
        time.sleep(0.25)
    raise TimeoutError(f"portal_query did not catch up with {head} events: {status}")


@contextlib.contextmanager
def running_platform(ctx: Context, size: str) -> Iterator[Platform]:
    data_dir = ctx.scratch(f"platform-{size}") / "data"
    store = SqliteEventStore(ctx.dataset_copy(size, data_dir))
    head = store.head_position()
    store.save_checkpoint("event_relay", store.get_checkpoint("event_relay"), head)
    store.close()
    admin_token = secrets.token_urlsafe(24)
    identity_secret = secrets.token_urlsafe(24)
    with fresh_vhost(ctx.amqp_uri, prefix="portal_bench") as vhost_uri:
        stack = Stack(
            env={
                "AMQP_URI": vhost_uri,
                "PORTAL_DATA_DIR": str(data_dir),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                "PORTAL_ADMIN_TOKEN": admin_token,
                "PORTAL_IDENTITY_SECRET": identity_secret,
                "PORTAL_SESSION_SECRET": secrets.token_urlsafe(24),
                "PORTAL_DEMO": "0",
                "LOG_LEVEL": "WARNING",
            },
            log_dir=ctx.scratch(f"platform-{size}") / "logs",
        )
        log(f"platform: starting the stack on the {size} data set ({head:,} events)")
        started = time.perf_counter()
        stack.start()
        admin = Client(stack.base_url, admin_token)
        try:
            stack.wait_ready(timeout=600)
            wait_caught_up(admin, head, timeout=600)
            catch_up = time.perf_counter() - started
            log(f"platform: ready and caught up in {catch_up:.1f} s")
            yield Platform(stack, admin, identity_secret, catch_up, head)
        finally:
            admin.close()
            stack.stop()


def portal_users(corpus: Corpus, platform: Platform) -> list[PortalUser]:
    largest, small = corpus.largest_and_small_company()
    users = []
    for who, company in (("largest company", largest), ("small company", small)):
        user_id = corpus.portal_user(company)
        email = corpus.emails[user_id]
        token = portal_session(platform.stack.base_url, user_id, email, platform.identity_secret)
        users.append(PortalUser(who, user_id, email, company, token))
    return users


def list_cases(who: str, end: datetime) -> list[tuple[str, dict]]:
    recent = (end - timedelta(days=90)).isoformat()
    return [
        (f"{who}: list, newest updated first", {}),
        (f"{who}: list sorted by id, page 2", {"sort": "id", "order": "asc", "page": 2}),
        (
            f"{who}: list, state and type filter, by created",
            {"state": "resolved", "type": "Bug", "sort": "created_at", "order": "desc"},
        ),
        (
            f"{who}: list, created and updated in the last 90 days",
            {"created_from": recent, "updated_from": recent, "sort": "updated_at"},
        ),
    ]


def latency_row(label: str, quantile: int, runs: list[list[float]], peers: dict) -> Row:
    platform = Stat.of(percentile(run, quantile) for run in runs) if runs else None
    row = Row(
        "portal search and list (HTTP, 1 client)",
        f"{label}: p{quantile}",
        "ms",
        platform,
        {
            name: Stat.of(percentile(r, quantile) for r in samples)
            for name, samples in peers.items()
        },
        higher_is_better=False,
    )
    if quantile == 99 and platform is not None:
        check(row, platform.median < 15, "p99 under 15 ms")
    return row


def http_search_rows(
    ctx: Context, corpus: Corpus, platform: Platform | None, users: list[PortalUser], peers: list
) -> list[Row]:
    """Each search and list case, one client: p50 and p99 of the portal and of each peer
    (the portal's only when ``platform`` runs)."""
    count = 8 if ctx.smoke else 40
    rows = []
    largest, small = corpus.largest_and_small_company()
    by_company = {user.company_id: user for user in users}
    for company, who in ((largest, "largest company"), (small, "small company")):
        user = by_company.get(company)
        client = Client(platform.stack.base_url, user.token) if user else None
        for case in search_cases(corpus, company, who):
            params = {"q": case.q, "per_page": PER_PAGE}
            runs, peer_runs, note = [], {peer.name: [] for peer in peers}, []
            for _ in range(ctx.runs):
                if client:
                    runs.append(timed_requests(client, params, count))
                for peer in peers:
                    peer_runs[peer.name].append(
                        latencies(lambda p=peer, c=case: p.search(c.company_id, c.q), count)
                    )
            totals = {peer.name: peer.search(case.company_id, case.q)[1] for peer in peers}
            if client:
                answer = client.ok("GET", "/api/portal/tickets", params=params)
                totals["portal"] = answer["total"]
                note.append(f"answer {len(json.dumps(answer)) / 1024:.0f} KB")
            note.insert(
                0, f"q={case.q!r}, matches: " + ", ".join(f"{k} {v}" for k, v in totals.items())
            )
            for quantile in (50, 99):
                row = latency_row(case.label, quantile, runs, peer_runs)
                row.note = "; ".join(note) if quantile == 50 else ""
                rows.append(row)
        for label, params in list_cases(who, ctx.end):
            if client is None:
                continue
            query = {**params, "per_page": PER_PAGE}
            runs = [timed_requests(client, query, count) for _ in range(ctx.runs)]
            rows += [latency_row(label, quantile, runs, {}) for quantile in (50, 99)]
            size = len(json.dumps(client.ok("GET", "/api/portal/tickets", params=query)))
            rows[-2].note = f"answer {size / 1024:.0f} KB"
        if client:
            rows += concurrency_rows(ctx, corpus, platform, user)
            client.close()
    return rows


def timed_requests(client: Client, params: dict, count: int, warm_up: int = 2) -> list[float]:
    for _ in range(warm_up):
        client.ok("GET", "/api/portal/tickets", params=params)
    return latencies(lambda: client.ok("GET", "/api/portal/tickets", params=params), count)


def mixed_queries(corpus: Corpus, user: PortalUser, end: datetime) -> list[dict]:
    cases: list[SearchCase] = search_cases(corpus, user.company_id, user.who)
    searches = [{"q": case.q, "per_page": PER_PAGE} for case in cases]
    lists = [{**params, "per_page": PER_PAGE} for _label, params in list_cases(user.who, end)]
    return searches + lists


def clients_run(base_url: str, user: PortalUser, queries: list[dict], clients: int, each: int):
    """``clients`` threads, each with its own connection, ``each`` requests of the mix;
    answers (all latencies in ms, requests per second)."""
    timings: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def worker(offset: int) -> None:
        client = Client(base_url, user.token)
        client.ok("GET", "/api/portal/tickets", params=queries[0])
        mine = []
        barrier.wait()
        try:
            for i in range(each):
                params = queries[(offset + i) % len(queries)]
                began = time.perf_counter()
                client.ok("GET", "/api/portal/tickets", params=params)
                mine.append((time.perf_counter() - began) * 1000)
        except BaseException as error:  # reported by the caller
            errors.append(error)
        finally:
            client.close()
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed: {errors[0]!r}")
    return timings, len(timings) / elapsed


def concurrency_rows(ctx: Context, corpus: Corpus, platform: Platform, user: PortalUser):
    queries = mixed_queries(corpus, user, ctx.end)
    rows = []
    for clients in (1, CONCURRENT_CLIENTS):
        each = (40 if ctx.smoke else 200) // clients * (1 if clients == 1 else 4)
        results = [
            clients_run(platform.stack.base_url, user, queries, clients, each)
            for _ in range(ctx.runs)
        ]
        section = f"portal search and list (HTTP, {clients} client{'s' if clients > 1 else ''})"
        label = f"{user.who}: mixed searches and lists"
        rows.append(Row(section, f"{label}: throughput", "req/s", Stat.of(r[1] for r in results)))
        for quantile in (50, 99):
            rows.append(
                Row(
                    section,
                    f"{label}: p{quantile}",
                    "ms",
                    Stat.of(percentile(r[0], quantile) for r in results),
                    higher_is_better=False,
                )
            )
    return rows


def memory_rows(platform: Platform, samples: int) -> list[Row]:
    """Resident memory of each process, sampled a second apart."""
    processes = sorted(platform.stack.processes.items())
    rss: dict[str, list[float]] = {name: [] for name, _process in processes}
    for sample in range(samples):
        if sample:
            time.sleep(1)
        for name, process in processes:
            rss[name].append(psutil.Process(process.pid).memory_info().rss / 2**20)
    return [
        Row("memory at rest (RSS)", name, "MiB", Stat.of(values), higher_is_better=False)
        for name, values in rss.items()
    ]


def run(ctx: Context, parts: list[str]) -> tuple[list[Row], list[str]]:
    size = "small" if ctx.smoke else "medium"
    notes: list[str] = []
    store = SqliteEventStore(ctx.dataset(size))
    corpus = load_corpus(store)
    store.close()
    peers = []
    if "search" in parts:
        tickets = corpus.portal_tickets()
        for peer in (TantivyPeer, Fts5Peer):
            engine, seconds = build(peer, tickets)
            peers.append(engine)
            notes.append(
                f"{engine.name}: index of {len(tickets):,} tickets built in {seconds:.1f} s"
            )
    rows: list[Row] = []
    try:
        with running_platform(ctx, size) as platform:
            notes.append(
                f"stack start on {platform.head:,} events until portal_query caught up: "
                f"{platform.catch_up_seconds:.1f} s"
            )
            if "memory" in parts:
                time.sleep(5)  # at rest: start-up work done, nothing asked yet
                rows += memory_rows(platform, ctx.runs)
            users = portal_users(corpus, platform)
            if "search" in parts:
                log("platform: portal search and list")
                rows += http_search_rows(ctx, corpus, platform, users, peers)
            if "freshness" in parts:
                log("platform: freshness")
                rows += freshness.run(ctx, corpus, platform, users)
    except (RuntimeError, TimeoutError, OSError, KeyError) as error:
        notes.append(f"the platform could not be measured: {error!r}")
        log(f"platform: not measured: {error!r}")
        if "search" in parts and not any(r.section.startswith("portal search") for r in rows):
            rows += http_search_rows(ctx, corpus, None, [], peers)
    return rows, notes
