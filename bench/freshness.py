"""Freshness: from a teammate's write returning to the change being visible in the portal.

Two writes, alternated: a ticket edit (``PATCH /api/admin/tickets/{id}``, seen when the
user's ``GET /api/portal/tickets/{id}`` shows the new title) and a new reply (``POST
/api/admin/conversations/{id}/parts``, seen when the user's search for a word only it
contains finds the ticket). Each is timed from the write's answer to the first read that
shows it; reads repeat every 2 ms. Measured idle, then while other teammates edit other
tickets at 50 writes/s.
"""

from __future__ import annotations

import contextlib
import random
import string
import threading
import time
from collections.abc import Callable

from bench.context import log
from bench.http import Client
from bench.measure import Row, Stat, check, percentile

POLL_INTERVAL = 0.002
GIVE_UP = 10.0
LOAD_RATE = 50
LOAD_WARM_UP = 3.0
LOAD_THREADS = 5  # each paced at LOAD_RATE / LOAD_THREADS, so a slow write delays only one


def marker(rng: random.Random) -> str:
    """A word no ticket contains."""
    return "zq" + "".join(rng.choices(string.ascii_lowercase, k=10))


def visible_after(check_visible: Callable[[], bool]) -> float:
    """Milliseconds until ``check_visible()`` first answers true (``GIVE_UP`` at most)."""
    started = time.perf_counter()
    while not check_visible():
        if time.perf_counter() - started > GIVE_UP:
            break
        time.sleep(POLL_INTERVAL)
    return (time.perf_counter() - started) * 1000


def edit_then_read(admin: Client, reader: Client, ticket_id: int, rng: random.Random) -> float:
    title = f"Edited {marker(rng)}"
    admin.ok("PATCH", f"/api/admin/tickets/{ticket_id}", {"title": title})
    return visible_after(
        lambda: reader.ok("GET", f"/api/portal/tickets/{ticket_id}").get("title") == title
    )


def reply_then_search(admin: Client, reader: Client, conversation_id: str, rng) -> float:
    word = marker(rng)
    admin.ok(
        "POST",
        f"/api/admin/conversations/{conversation_id}/parts",
        {
            "author_type": "teammate",
            "author_id": "tm-bench",
            "author_name": "Bench Teammate",
            "body": f"We shipped the fix, reference {word}.",
        },
    )
    return visible_after(
        lambda: reader.ok("GET", "/api/portal/tickets", params={"q": word})["total"] >= 1
    )


class BackgroundEdits:
    """Other teammates editing other tickets at ``rate`` writes per second in all."""

    def __init__(self, base_url: str, admin_token: str, ticket_ids: list[int], rate: float):
        self.base_url, self.admin_token = base_url, admin_token
        self.ticket_ids = ticket_ids
        self.interval = LOAD_THREADS / rate
        self.stopping = threading.Event()
        self.writes = 0
        self.threads = [threading.Thread(target=self._edit, args=(n,)) for n in range(LOAD_THREADS)]

    def _edit(self, offset: int) -> None:
        client = Client(self.base_url, self.admin_token)
        due = time.perf_counter()
        index = offset
        while not self.stopping.is_set():
            ticket_id = self.ticket_ids[index % len(self.ticket_ids)]
            client.ok("PATCH", f"/api/admin/tickets/{ticket_id}", {"title": f"Busy edit {index}"})
            self.writes += 1
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


def run(ctx, corpus, platform, users) -> list[Row]:
    """``users``: a portal user of the largest company and one of a small company."""
    rng = random.Random(ctx.seed)
    largest, small = users
    reader = Client(platform.stack.base_url, small.token)
    mine = [t for t in corpus.portal_tickets() if t.company_id == small.company_id]
    others = [t.ticket_id for t in corpus.portal_tickets() if t.company_id == largest.company_id]
    per_run = 4 if ctx.smoke else 20
    rows = []
    for phase in ("idle", f"under {LOAD_RATE} writes/s"):
        samples = {"ticket edit → detail": [], "new reply → search": []}
        load = BackgroundEdits(
            platform.stack.base_url,
            platform.admin.headers["Authorization"].removeprefix("Bearer "),
            others,
            LOAD_RATE,
        )
        with load if phase != "idle" else contextlib.nullcontext():
            if phase != "idle":
                time.sleep(LOAD_WARM_UP)  # measure a steady load, not its first writes
            for _ in range(ctx.runs):
                edits, replies = [], []
                for i in range(per_run):
                    ticket = mine[rng.randrange(len(mine))]
                    if i % 2 == 0:
                        edits.append(edit_then_read(platform.admin, reader, ticket.ticket_id, rng))
                    else:
                        conversation = ticket.conversation_id
                        replies.append(reply_then_search(platform.admin, reader, conversation, rng))
                samples["ticket edit → detail"].append(edits)
                samples["new reply → search"].append(replies)
        note = f"background write rate achieved: {load.rate:.0f}/s" if phase != "idle" else ""
        log(f"freshness {phase}: done {note}")
        for kind, runs in samples.items():
            for quantile in (50, 99):
                row = Row(
                    "freshness (write answered → visible in the portal)",
                    f"{kind}, {phase}: p{quantile}",
                    "ms",
                    Stat.of(percentile(run, quantile) for run in runs),
                    higher_is_better=False,
                    note=note if quantile == 50 else "",
                )
                if quantile == 99:
                    target, limit = (
                        ("p99 under 100 ms", 100) if phase == "idle" else ("p99 under 1 s", 1000)
                    )
                    check(row, row.platform.median < limit, target)
                rows.append(row)
    reader.close()
    return rows
