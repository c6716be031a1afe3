"""Fixtures-side helpers to run the platform's processes for end-to-end and fault tests."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymongo
import yaml

from kernel.config import partition_count, replicas
from kernel.eventstore import EventStore, open_event_store
from portalctl.stack import READ_SIDE, Stack, partition_names
from services.portal_query.storage import ProjectionStorage, open_projection_storage
from tests.support.broker import MANAGEMENT, fresh_vhost
from tests.support.mongo import real_mongo_uri

ADMIN_TOKEN = "test-admin-token"
IDENTITY_SECRET = "test-identity-secret"
SESSION_SECRET = "test-session-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def store_database_env() -> dict[str, str]:
    """Against a real MongoDB, a database of the stack's own; on SQLite nothing (the data
    directory is the stack's own already)."""
    return {"MONGO_DATABASE": f"portal_test_{uuid.uuid4().hex[:12]}"} if real_mongo_uri() else {}


def replicas_env() -> int:
    """``PORTAL_REPLICAS`` from the test run's environment: how many copies of every service
    a test's platform runs (``PORTAL_REPLICAS=2 pytest tests/e2e``)."""
    return replicas({"PORTAL_REPLICAS": yaml.safe_load(os.environ.get("PORTAL_REPLICAS", "1"))})


def platform_env(root: Path, amqp_uri: str, **overrides: str) -> dict[str, str]:
    """What every process of a test's platform is configured with: the broker's vhost, a
    store of the platform's own, a free HTTP port and the test secrets."""
    return {
        "AMQP_URI": amqp_uri,
        "PORTAL_DATA_DIR": str(root / "data"),
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "PORTAL_IDENTITY_SECRET": IDENTITY_SECRET,
        "PORTAL_SESSION_SECRET": SESSION_SECRET,
        **store_database_env(),
        **overrides,
    }


def tickets_titled(config: dict[str, str], title: str) -> list[int]:
    """The ids of the tickets stored with ``title``, in the store ``config`` names."""
    store = open_event_store({**os.environ, **config})
    try:
        return [
            event.payload["ticket_id"]
            for event in store.iter_all()
            if event.type == "TicketCreated" and event.payload["title"] == title
        ]
    finally:
        store.close()


def store_env(root: Path) -> dict[str, str]:
    """A store of the test's own, named by its ``root``: the data directory under it, and
    with a real MongoDB a database named after it."""
    env = {"PORTAL_DATA_DIR": str(root / "data")}
    if real_mongo_uri():
        env["MONGO_DATABASE"] = "portal_test_" + hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return env


def event_store_at(root: Path) -> EventStore:
    return open_event_store({**os.environ, **store_env(root)})


def projections_at(root: Path) -> ProjectionStorage:
    return open_projection_storage({**os.environ, **store_env(root)})


def partition_storages(config: dict[str, str]) -> list[ProjectionStorage]:
    """The projection storage of every partition of the read side ``config`` names."""
    count = partition_count(config)
    return [open_projection_storage({**config, "PORTAL_PARTITION": str(n)}) for n in range(count)]


def stack_config(stack: Stack) -> dict[str, str]:
    """The configuration the stack's processes see, to open their store from a test."""
    return {**os.environ, **stack.env}


def read_side(stack: Stack) -> list[str]:
    """The read side's services in ``stack``: portal_query, or one per partition."""
    count = partition_count(stack_config(stack))
    return [READ_SIDE] if count == 1 else partition_names(count)


def event_store_of(stack: Stack) -> EventStore:
    """The stack's event store, whichever backend it runs on."""
    return open_event_store(stack_config(stack))


def service_log(stack: Stack, service: str) -> str:
    """What every copy of ``service`` logged, one copy after another."""
    logs = [stack.log_dir / f"{name}.log" for name in stack.copies_of(service)]
    return "".join(log.read_text() for log in logs if log.exists())


def drop_store_database(env: dict[str, str]) -> None:
    if "MONGO_DATABASE" in env:
        with pymongo.MongoClient(real_mongo_uri()) as client:
            client.drop_database(env["MONGO_DATABASE"])


@contextlib.contextmanager
def running_stack(
    root: Path,
    amqp_uri: str,
    names: list[str] | None = None,
    management: str = MANAGEMENT,
    copies: int | None = None,
    **env: str,
) -> Iterator[Stack]:
    """The platform's processes (or ``names``) on a fresh vhost of the broker at
    ``amqp_uri`` (whose management API is ``management``), with a fresh store; each service
    as ``copies`` processes (default: ``PORTAL_REPLICAS`` of the test run, else 1)."""
    with fresh_vhost(amqp_uri, management=management) as vhost_uri:
        # Named at construction, so the read side's name becomes its partitions' names.
        stack = Stack(
            env=platform_env(root, vhost_uri, **{"CATCH_UP_INTERVAL": "0.5", **env}),
            log_dir=root / "logs",
            **({"names": list(names)} if names else {}),
            replicas=copies or replicas_env(),
        )
        stack.start()
        try:
            # A readiness wait: each copy is one more process starting on the same cores.
            stack.wait_ready(timeout=60 * stack.replicas)
            yield stack
        finally:
            stack.stop()
            drop_store_database(stack.env)
