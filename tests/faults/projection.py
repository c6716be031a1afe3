"""What the projection fault tests share: a busy history, the processes of the read path
(the relay and portal_query, or its partitions), and the comparison of the served projection
with a clean rebuild, partition by partition."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from kernel.config import partition_count
from kernel.eventstore import EventStore
from kernel.partitions import service_name
from portalctl.stack import Stack
from services.portal_query.ops import partition_of, rebuild
from services.portal_query.storage import ProjectionStorage
from tests.support.portal_events import History
from tests.support.stack import event_store_at, partition_storages, store_env
from tests.support.waiting import eventually

STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")


def busy_history(tickets: int, seed: int = 7, companies: int = 6) -> History:
    """Companies, their people and ``tickets`` tickets with conversations, replies, internal
    notes, joins, state changes, edits and company moves: every kind of event portal_query
    projects, interleaved across streams."""
    rng = random.Random(seed)
    h = History()
    company_ids = [f"co{n}" for n in range(companies)]
    people = {company: [f"{company}-u{n}" for n in range(4)] for company in company_ids}
    h.settings(preview_enabled=True)
    for company in company_ids:
        h.company(company)
        for person in people[company]:
            h.contact(person, role=rng.choice(["admin", "member"]))
            h.member(company, person)
    for number in range(1, tickets + 1):
        company = rng.choice(company_ids)
        creator = rng.choice(people[company])
        conversation = f"conv{number}"
        h.conversation(conversation, creator, f"Opening message {number} about invoices")
        h.ticket(
            number,
            company,
            creator_id=creator,
            title=f"Ticket {number} {rng.choice(['printer', 'export', 'login', 'billing'])}",
            description=f"Description of ticket {number}",
            conversation_id=conversation,
            attributes=[
                {"name": "Plan", "value": "Pro", "visible_to_customer": True},
                {"name": "Margin", "value": "secret", "visible_to_customer": False},
            ],
        )
        h.part(conversation, f"Teammate reply {number}", "sam", "teammate", "Sam")
        h.note(conversation, f"Internal note {number}")
        h.join(conversation, rng.choice(people[company]), number)
        previous = "submitted"
        for _ in range(rng.randint(1, 3)):
            state = rng.choice([s for s in STATES if s != previous])
            h.state(number, state, previous)
            previous = state
        if rng.random() < 0.3:
            h.edit(number, title=f"Ticket {number} retitled")
        if rng.random() < 0.2:
            moved = rng.choice(company_ids)
            h.assign(number, moved, company)
    return h


def read_path(root: Path, amqp_uri: str, *names: str, **env: str) -> Stack:
    """The relay and portal_query (or some of them) on their own store and vhost; the read
    side is one process per partition with ``PORTAL_PARTITIONS`` > 1."""
    return Stack(
        env={"AMQP_URI": amqp_uri, **store_env(root), **env},
        log_dir=root / "logs",
        names=list(names),
    )


def config_at(root: Path) -> dict[str, Any]:
    """What the read path's processes are configured with, to open its stores from here."""
    return {**os.environ, **store_env(root)}


def open_store(root: Path) -> EventStore:
    return event_store_at(root)


def checkpoints(root: Path) -> list[int]:
    """Each partition's stored checkpoint (one with a single read side)."""
    storages = partition_storages(config_at(root))
    try:
        return [current.checkpoint if (current := s.current()) else 0 for s in storages]
    finally:
        for storage in storages:
            storage.close()


def checkpoint(root: Path) -> int:
    """How far the whole read side has applied the store: its slowest partition."""
    return min(checkpoints(root))


def wait_until_answering(amqp_uri: str) -> None:
    """Every partition of portal_query consumes its queues (a bus message now reaches it)."""
    count = partition_count(os.environ)

    def healthy():
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=5) as rpc:
                return all(
                    rpc[service_name(n, count)].health()["status"] == "ok" for n in range(count)
                )
        except Exception:  # not up yet: no queue, no answer
            return False

    eventually(healthy, timeout=60)


def wait_until_caught_up(root: Path, timeout: float = 60) -> int:
    store = open_store(root)
    try:
        head = store.head_position()
    finally:
        store.close()
    eventually(lambda: checkpoint(root) == head, timeout=timeout)
    return head


def documents(storage: ProjectionStorage, generation: int) -> dict[tuple, Any]:
    return {
        (kind, key): body for batch in storage.documents(generation) for kind, key, body in batch
    }


def served_and_rebuilt(root: Path) -> tuple[dict, dict]:
    """The documents of the generation each partition of portal_query serves, and those of
    a clean rebuild of the whole store into a fresh generation of that partition
    (``portalctl rebuild``), with the parked events of each; documents are keyed by
    ``(partition, kind, key)``."""
    served: dict[str, Any] = {"documents": {}, "parked": []}
    rebuilt: dict[str, Any] = {"documents": {}, "parked": []}
    config = config_at(root)
    store, storages = open_store(root), partition_storages(config)
    try:
        for number, storage in enumerate(storages):
            generation = storage.current().generation
            partition = partition_of({**config, "PORTAL_PARTITION": number}, store)
            summary = rebuild(store, storage, partition=partition)
            assert summary.events == store.head_position()
            for into, at in ((served, generation), (rebuilt, summary.generation)):
                into["documents"].update(
                    ((number, kind, key), body)
                    for (kind, key), body in documents(storage, at).items()
                )
                into["parked"].extend(storage.parked(at))
    finally:
        store.close()
        for storage in storages:
            storage.close()
    return served, rebuilt
