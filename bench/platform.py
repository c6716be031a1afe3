"""The real stack on a generated data set: portal search and list through the HTTP API,
portal_query's search inside its process beside the search peers, memory of each process
at rest, and freshness.

The stack starts like ``tests/support/stack.py`` starts it (every service, the relay and
the gateway as processes, on a fresh vhost), on a private copy of the data set's store.
The relay's checkpoint is set to the store's head first: the data set is history that was
published long ago, and replaying it all onto the bus would only measure that replay.

The search inside the service loads the projection the running portal_query wrote into
this process and calls the query function its RPC handler calls, so it is timed exactly
like the peers: same tickets, same number of results, same warm-up, interleaved run by run.
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
from pathlib import Path

import psutil

from bench import freshness
from bench.context import Context, log
from bench.corpus import Corpus, load_corpus
from bench.http import Client, portal_session
from bench.measure import Row, Stat, check, percentile
from bench.search import RESULTS, SearchCase, available_peers, build, latencies, search_cases
from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.eventstore import open_event_store
from kernel.eventstore.sqlite import SqliteEventStore
from portalctl.stack import Stack
from services.portal_query import queries
from services.portal_query.projector import Projector
from services.portal_query.storage import open_projection_storage
from tests.support.broker import fresh_vhost

PER_PAGE = RESULTS
CONCURRENT_CLIENTS = 20


@dataclass
class Platform:
    stack: Stack
    admin: Client
    identity_secret: str
    catch_up_seconds: float
    head: int
    data_dir: Path


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


def wait_caught_up(admin: Client, head: int, timeout: float, poll: float = 0.25) -> None:
    """Until portal_query's checkpoint reaches ``head``."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        code, status = admin.call("GET", "/api/admin/portal/status")
        if code == 200 and status.get("checkpoint", 0) >= head:
            return
        time.sleep(poll)
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
            yield Platform(stack, admin, identity_secret, catch_up, head, data_dir)
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


def latency_row(section: str, label: str, quantile: int, runs, peers: dict) -> Row:
    """The ``quantile`` of each run, for the platform and each peer."""
    return Row(
        section,
        f"{label}: p{quantile}",
        "ms",
        Stat.of(percentile(run, quantile) for run in runs),
        {
            name: Stat.of(percentile(r, quantile) for r in samples)
            for name, samples in peers.items()
        },
        higher_is_better=False,
    )


def http_search_rows(
    ctx: Context, corpus: Corpus, platform: Platform, users: list[PortalUser]
) -> list[Row]:
    """Each search and list case through the gateway, one client: p50 and p99."""
    count = 8 if ctx.smoke else 40
    section = "portal search and list (HTTP, 1 client)"
    rows = []
    for user in users:
        client = Client(platform.stack.base_url, user.token)
        cases = [
            (case.label, {"q": case.q, "per_page": PER_PAGE})
            for case in search_cases(corpus, user.company_id, user.who)
        ]
        cases += [
            (label, {**query, "per_page": PER_PAGE})
            for label, query in list_cases(user.who, ctx.end)
        ]
        for label, params in cases:
            runs = [timed_requests(client, params, count) for _ in range(ctx.runs)]
            p50, p99 = (latency_row(section, label, q, runs, {}) for q in (50, 99))
            answer = client.ok("GET", "/api/portal/tickets", params=params)
            p50.note = f"{answer['total']} matches; answer {len(json.dumps(answer)) / 1024:.0f} KB"
            rows += [p50, check(p99, p99.platform.median < 15, "p99 under 15 ms")]
        rows += concurrency_rows(ctx, corpus, platform, user)
        client.close()
    return rows


class PortalQueryInProcess:
    """portal_query's search inside its process: the projection the running service wrote,
    loaded here, and the work of its ``portal_list_tickets`` RPC handler (validate the
    query, then ``queries.portal_list_tickets``) without the RPC, HTTP or JSON around it."""

    name = "portal_query"

    def __init__(self, data_dir: Path, users: list[PortalUser]):
        config = {"PORTAL_DATA_DIR": str(data_dir), "MONGO_URI": ""}
        store, storage = open_event_store(config), open_projection_storage(config)
        try:
            self.view = Projector.load(store, storage).view
        finally:
            store.close()
            storage.close()
        self.user_of = {user.company_id: user.user_id for user in users}

    def search(self, company_id: str, q: str) -> tuple[list[int], int]:
        query = validate(commands.TICKET_QUERY, {"q": q, "per_page": RESULTS}, "ticket query")
        answer = queries.portal_list_tickets(
            self.view, self.user_of[company_id], queries.TicketQuery.parse(query), time.time()
        )
        return [item["id"] for item in answer["items"]], answer["total"]


def in_process_rows(
    ctx: Context, corpus: Corpus, users: list[PortalUser], portal, peers: list
) -> list[Row]:
    """Each search case inside this process: portal_query's query function beside each
    peer, interleaved run by run; p50 and p99 and the ratios."""
    count = 8 if ctx.smoke else 40
    section = f"search inside the process (first {RESULTS} results and the total, no HTTP or RPC)"
    engines = [portal, *peers]
    rows = []
    for user in users:
        for case in search_cases(corpus, user.company_id, user.who):
            runs: dict[str, list[list[float]]] = {engine.name: [] for engine in engines}
            for _ in range(ctx.runs):
                for engine in engines:
                    call = lambda e=engine, c=case: e.search(c.company_id, c.q)  # noqa: E731
                    runs[engine.name].append(latencies(call, count))
            totals = {engine.name: engine.search(case.company_id, case.q)[1] for engine in engines}
            mine = runs.pop(portal.name)
            p50, p99 = (latency_row(section, case.label, q, mine, runs) for q in (50, 99))
            p50.note = f"q={case.q!r}, matches: " + ", ".join(f"{k} {v}" for k, v in totals.items())
            rows += [p50, p99]
    return rows


def timed_requests(client: Client, params: dict, count: int) -> list[float]:
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


# portal_query's resident memory and start on the medium set before the read side was made
# compact (bench/results/full.json of the commit before): the ratio says what changed.
PORTAL_QUERY_RSS_BEFORE = 749.0
PORTAL_QUERY_RSS_TARGET = 250.0
START_BEFORE = 12.0  # seconds from a start of portal_query until it served, the same set
START_TARGET = 2.0


def resident_mib(platform: Platform, names: list[str], samples: int) -> dict[str, list[float]]:
    """The resident size of each named process of the stack, sampled a second apart."""
    processes = {name: psutil.Process(platform.stack.processes[name].pid) for name in names}
    rss: dict[str, list[float]] = {name: [] for name in names}
    for sample in range(samples):
        if sample:
            time.sleep(1)
        for name, process in processes.items():
            rss[name].append(process.memory_info().rss / 2**20)
    return rss


def memory_rows(platform: Platform, samples: int, corpus: Corpus, size: str) -> list[Row]:
    """Resident memory of each process, sampled a second apart; portal_query's also per
    1,000 tickets and per 1,000 visible parts, beside the raw size of the text it holds
    (and on the medium set beside its figure before)."""
    rss = resident_mib(platform, sorted(platform.stack.processes), samples)
    section = "memory at rest (RSS)"
    rows = [
        Row(section, name, "MiB", Stat.of(values), higher_is_better=False)
        for name, values in rss.items()
    ]
    portal = rss["portal_query"]
    whole = Row(
        section,
        "portal_query, beside its figure before the compact read side",
        "MiB",
        Stat.of(portal),
        {"before": Stat.of([PORTAL_QUERY_RSS_BEFORE])} if size == "medium" else {},
        higher_is_better=False,
        note="after its first start, which folded the whole store (in a child process: "
        "PORTAL_LOAD_APART_FROM)",
    )
    rows.append(check(whole, whole.platform.median <= PORTAL_QUERY_RSS_TARGET, "at most 250 MiB"))
    tickets = len(corpus.tickets)
    parts = sum(len(ticket.conversation) for ticket in corpus.tickets.values())
    text = corpus_text_bytes(corpus) / 2**20
    for label, count in ((f"{tickets:,} tickets", tickets), (f"{parts:,} visible parts", parts)):
        rows.append(
            Row(
                section,
                f"portal_query per 1,000 of its {label}",
                "MiB",
                Stat.of(value * 1000 / count for value in portal),
                {"customer-visible text": Stat.of([text * 1000 / count])},
                higher_is_better=False,
                note="peer: the raw UTF-8 size of the titles, descriptions and part bodies",
            )
        )
    return rows


def corpus_text_bytes(corpus: Corpus) -> int:
    """UTF-8 bytes of every title, description and customer-visible part body."""
    return sum(len(Corpus.text_of(ticket).encode()) for ticket in corpus.tickets.values())


def start_rows(ctx: Context, platform: Platform) -> list[Row]:
    """From starting portal_query (the rest of the stack up) until it answers a portal
    status with the store's head applied: what a restart costs the read side."""
    seconds = []
    for _ in range(min(ctx.runs, 3)):
        platform.stack.stop("portal_query")
        started = time.perf_counter()
        platform.stack.start("portal_query")
        wait_caught_up(platform.admin, platform.head, timeout=600, poll=0.05)
        seconds.append(time.perf_counter() - started)
    row = Row(
        "start",
        "portal_query start until it serves, beside the figure before",
        "s",
        Stat.of(seconds),
        {"before": Stat.of([START_BEFORE])} if ctx.portal_size == "medium" else {},
        higher_is_better=False,
    )
    rows = [check(row, row.platform.median < START_TARGET, "under 2 s")]
    time.sleep(5)  # at rest again: the restarted copy serves what it restored
    after = resident_mib(platform, ["portal_query"], ctx.runs)["portal_query"]
    restarted = Row(
        "memory at rest (RSS)",
        "portal_query after a restart from its snapshot",
        "MiB",
        Stat.of(after),
        higher_is_better=False,
        note="how every later start of a copy serves; the row above is the first start, "
        "which loaded the whole store in a child process",
    )
    return [
        *rows,
        check(restarted, restarted.platform.median <= PORTAL_QUERY_RSS_TARGET, "at most 250 MiB"),
    ]


def run(ctx: Context, parts: list[str]) -> tuple[list[Row], list[str]]:
    size = ctx.portal_size
    notes: list[str] = []
    store = SqliteEventStore(ctx.dataset(size))
    corpus = load_corpus(store)
    store.close()
    peers = []
    if "search" in parts:
        tickets = corpus.portal_tickets()
        for peer in available_peers():
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
                rows += memory_rows(platform, ctx.runs, corpus, size)
                log("platform: portal_query restarts")
                rows += start_rows(ctx, platform)
            users = portal_users(corpus, platform)
            if "search" in parts:
                log("platform: portal search and list")
                rows += http_search_rows(ctx, corpus, platform, users)
                log("platform: search inside portal_query's process, beside the peers")
                started = time.perf_counter()
                portal = PortalQueryInProcess(platform.data_dir, users)
                notes.append(
                    f"portal_query in process: projection loaded in "
                    f"{time.perf_counter() - started:.1f} s"
                )
                rows += in_process_rows(ctx, corpus, users, portal, peers)
                del portal
            if "freshness" in parts:  # last: its edits change the small company's tickets
                log("platform: freshness")
                rows += freshness.run(ctx, corpus, platform, users)
    except (RuntimeError, TimeoutError, OSError, KeyError) as error:
        ctx.failures.append(f"the platform could not be measured: {error!r}")
        log(f"platform: not measured: {error!r}")
    return rows, notes
