"""Freshness: from the moment a teammate's write is sent to the change being visible in the
portal.

Two writes, alternated: a ticket edit (``PATCH /api/admin/tickets/{id}``, seen when the
user's ``GET /api/portal/tickets/{id}`` shows the new title) and a new reply (``POST
/api/admin/conversations/{id}/parts``, seen when the user's search for a word only it
contains finds the ticket). The clock starts before the write request is sent, so the
write's own round trip is part of the figure, and stops at the first read that shows the
change; reads repeat every 2 ms. Measured idle, then while other teammates edit other
tickets at 50 writes/s, with ``SAMPLES`` samples of each kind in each phase (percentiles
over all of them).

A change that is not visible ``GIVE_UP`` seconds after its write was sent is counted as
lost, not as a sample; any lost change fails the run.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import string
import threading
import time
from collections.abc import Callable

from bench.context import log
from bench.http import Client
from bench.measure import Row, Stat, check, percentile

SECTION = "freshness (write sent → visible in the portal)"
POLL_INTERVAL = 0.002
GIVE_UP = 10.0
SAMPLES = 200  # of each kind, in each phase (smoke: SMOKE_SAMPLES)
SMOKE_SAMPLES = 20
LOAD_RATE = 50
LOAD_WARM_UP = 3.0
LOAD_THREADS = 5  # each paced at LOAD_RATE / LOAD_THREADS, so a slow write delays only one


def marker(rng: random.Random) -> str:
    """A word no ticket contains."""
    return "zq" + "".join(rng.choices(string.ascii_lowercase, k=10))


def visible_after(write: Callable[[], object], check_visible: Callable[[], bool]) -> float | None:
    """Milliseconds from sending ``write()`` until ``check_visible()`` first answers true;
    ``None`` if it still answers false ``GIVE_UP`` seconds after the write was sent."""
    started = time.perf_counter()
    write()
    while not check_visible():
        if time.perf_counter() - started > GIVE_UP:
            return None
        time.sleep(POLL_INTERVAL)
    return (time.perf_counter() - started) * 1000


def edit_then_read(admin: Client, reader: Client, ticket_id: int, rng) -> float | None:
    title = f"Edited {marker(rng)}"
    return visible_after(
        lambda: admin.ok("PATCH", f"/api/admin/tickets/{ticket_id}", {"title": title}),
        lambda: reader.ok("GET", f"/api/portal/tickets/{ticket_id}").get("title") == title,
    )


def reply_then_search(admin: Client, reader: Client, conversation_id: str, rng) -> float | None:
    word = marker(rng)
    reply = {
        "author_type": "teammate",
        "author_id": "tm-bench",
        "author_name": "Bench Teammate",
        "body": f"We shipped the fix, reference {word}.",
    }
    return visible_after(
        lambda: admin.ok("POST", f"/api/admin/conversations/{conversation_id}/parts", reply),
        lambda: reader.ok("GET", "/api/portal/tickets", params={"q": word})["total"] >= 1,
    )


class BackgroundEdits:
    """Other teammates editing other tickets at ``rate`` writes per second in all."""

    def __init__(self, base_url: str, admin_token: str, ticket_ids: list[int], rate: float):
        self.base_url, self.admin_token = base_url, admin_token
        self.ticket_ids = ticket_ids
        self.interval = LOAD_THREADS / rate
        self.stopping = threading.Event()
        self.writes = 0
        self.failures = 0
        self.threads = [threading.Thread(target=self._edit, args=(n,)) for n in range(LOAD_THREADS)]

    def _edit(self, offset: int) -> None:
        client = Client(self.base_url, self.admin_token)
        due = time.perf_counter()
        index = offset
        while not self.stopping.is_set():
            ticket_id = self.ticket_ids[index % len(self.ticket_ids)]
            try:
                client.ok("PATCH", f"/api/admin/tickets/{ticket_id}", {"title": f"Busy {index}"})
                self.writes += 1
            except (RuntimeError, OSError, http.client.HTTPException):
                self.failures += 1
            index += LOAD_THREADS
            due += self.interval
            time.sleep(max(0.0, due - time.perf_counter()))
        client.close()

    def __enter__(self) -> BackgroundEdits:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.rate = self.writes / (time.perf_counter() - self.started)


def phase_rows(phase: str, samples: dict[str, list[float | None]]) -> list[Row]:
    """p50 and p99 over every sample of each kind, and the changes that never showed up."""
    rows = []
    limit, target = (100, "p99 under 100 ms") if phase == "idle" else (1000, "p99 under 1 s")
    for kind, taken in samples.items():
        seen = [value for value in taken if value is not None]
        lost = len(taken) - len(seen)
        p50 = Row(SECTION, f"{kind}, {phase}: p50", "ms", None, higher_is_better=False)
        p99 = Row(SECTION, f"{kind}, {phase}: p99", "ms", None, higher_is_better=False)
        if seen:
            p50.platform = Stat.of([percentile(seen, 50)])
            p99.platform = Stat.of([percentile(seen, 99)])
        p50.observations = seen
        p50.note = f"{len(seen)} samples, {lost} lost"
        check(p99, bool(seen) and p99.platform.median < limit, target)
        missing = Row(
            SECTION,
            f"{kind}, {phase}: changes not visible {GIVE_UP:g} s after the write was sent",
            "changes",
            Stat.of([lost]),
            higher_is_better=False,
            required=True,
        )
        rows += [p50, p99, check(missing, lost == 0, "none")]
    return rows


def run(ctx, corpus, platform, users) -> list[Row]:
    """``users``: a portal user of the largest company and one of a small company."""
    rng = random.Random(ctx.seed)
    largest, small = users
    reader = Client(platform.stack.base_url, small.token)
    mine = [t for t in corpus.portal_tickets() if t.company_id == small.company_id]
    others = [t.ticket_id for t in corpus.portal_tickets() if t.company_id == largest.company_id]
    per_kind = SMOKE_SAMPLES if ctx.smoke else SAMPLES
    rows = []
    for phase in ("idle", f"under {LOAD_RATE} writes/s"):
        samples: dict[str, list[float | None]] = {
            "ticket edit → detail": [],
            "new reply → search": [],
        }
        load = BackgroundEdits(
            platform.stack.base_url,
            platform.admin.headers["Authorization"].removeprefix("Bearer "),
            others,
            LOAD_RATE,
        )
        with load if phase != "idle" else contextlib.nullcontext():
            if phase != "idle":
                time.sleep(LOAD_WARM_UP)  # measure a steady load, not its first writes
            for _ in range(per_kind):
                ticket = mine[rng.randrange(len(mine))]
                samples["ticket edit → detail"].append(
                    edit_then_read(platform.admin, reader, ticket.ticket_id, rng)
                )
                ticket = mine[rng.randrange(len(mine))]
                samples["new reply → search"].append(
                    reply_then_search(platform.admin, reader, ticket.conversation_id, rng)
                )
        rows += phase_rows(phase, samples)
        if phase != "idle":
            achieved = Row(
                SECTION,
                f"background edits, {phase}: rate achieved",
                "writes/s",
                Stat.of([load.rate]),
                note=f"{load.writes} writes, {load.failures} failed",
            )
            rows.append(
                check(achieved, load.rate >= 0.9 * LOAD_RATE, f"at least {0.9 * LOAD_RATE:g}/s")
            )
        log(f"freshness {phase}: done")
    reader.close()
    return rows
