"""``portalctl move-company``: move a company to another partition of the read side with no
downtime.

Three steps, each an event every partition follows (:mod:`kernel.partitions`):

1. ``copy``: the target rebuilds the company from the store and follows it from then on,
   while the current owner keeps answering for it;
2. once the target has applied that step (its stored checkpoint), ``switch``: the target
   answers for the company from then on;
3. once every partition has applied the switch (so no caller is still routed to the old
   owner), ``drop``: the old owner lets the company go.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from kernel.config import partition_count
from kernel.contracts.envelope import NewEvent
from kernel.errors import ValidationFailed
from kernel.eventstore import EventStore, open_event_store
from kernel.partitions import ASSIGNED, ASSIGNMENT_STREAM, STEPS
from services.portal_query.storage import open_projection_storage

WAIT_SECONDS = 600.0


def applied(config: dict[str, Any], partition: int, position: int) -> bool:
    """Whether the partition's current generation has applied the store's ``position``."""
    storage = open_projection_storage({**config, "PORTAL_PARTITION": str(partition)})
    try:
        current = storage.current()
        return current is not None and current.checkpoint >= position
    finally:
        storage.close()


def move_company(
    config: dict[str, Any],
    company_id: str,
    target: int,
    report: Callable[[str], None] = print,
    wait: float = WAIT_SECONDS,
) -> None:
    count = partition_count(config)
    if not 0 <= target < count:
        raise ValidationFailed(
            f"there are {count} partitions", {"partition": f"must be 0..{count - 1}"}
        )
    store = open_event_store(config)
    try:
        for step in STEPS:
            position = _append(store, company_id, target, step)
            waiting_for = [target] if step == "copy" else list(range(count))
            if step != "drop":
                _wait(config, waiting_for, position, wait)
            report(f"{step}: applied at position {position} by partitions {waiting_for}")
    finally:
        store.close()


def _append(store: EventStore, company_id: str, target: int, step: str) -> int:
    payload = {"company_id": company_id, "partition": target, "step": step}
    version = store.stream_version(ASSIGNMENT_STREAM)
    return store.append(ASSIGNMENT_STREAM, [NewEvent(ASSIGNED, payload)], version)[-1].position


def _wait(config: dict[str, Any], partitions: list[int], position: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while not all(applied(config, n, position) for n in partitions):
        if time.monotonic() > deadline:
            raise TimeoutError(f"partitions {partitions} did not reach position {position}")
        time.sleep(0.2)


def move_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    move_company(config, args.company_id, args.partition)


def register(commands: Any, config_loader: Any) -> None:
    moving = commands.add_parser(
        "move-company", help="move a company to another read-side partition, no downtime"
    )
    moving.add_argument("company_id")
    moving.add_argument("partition", type=int, help="the target partition's number")
    moving.set_defaults(handler=lambda args: move_command(args, config_loader()))
