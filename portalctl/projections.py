"""Ops commands for portal_query's projections: ``rebuild``, ``status`` (with the e-mail
outbox's), ``parked``.

Only arguments and output live here; the operations are in
:mod:`services.portal_query.ops`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from portalctl import copies
from services.notifications.outbox import open_outbox
from services.portal_query import ops, snapshot


def _partitions(args: argparse.Namespace, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The config of each partition the command works on, saying which when there are
    several (``--partition``: only that one)."""
    configs = ops.partition_configs(config, args.partition)
    if len(configs) > 1 or args.partition is not None:
        return [{**c, "_label": f"partition {c['PORTAL_PARTITION']}: "} for c in configs]
    return [{**c, "_label": ""} for c in configs]


def rebuild_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    for partition_config in _partitions(args, config):
        store, storage = ops.open_stores(partition_config)
        with tqdm(total=store.head_position(), unit="event", unit_scale=True) as bar:

            def progress(applied: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.update(applied - bar.n)

            summary = ops.rebuild(
                store,
                storage,
                progress,
                ops.partition_of(partition_config, store),
                snapshot_at=snapshot.location(partition_config),
            )
        print(
            f"{partition_config['_label']}rebuilt generation {summary.generation}: "
            f"{summary.events} events in {summary.seconds:.1f} s "
            f"({summary.events_per_second:,.0f} events/s), {summary.parked} parked"
        )


def status_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    for partition_config in _partitions(args, config):
        if partition_config["_label"]:
            print(partition_config["_label"].rstrip(": "))
        store, storage = ops.open_stores(partition_config)
        for name, value in ops.status(store, storage).items():
            print(f"{name:>16}: {value}")
    for name, value in email_status(config).items():
        print(f"{name:>16}: {value}")
    print(f"{'copies':>16}: {copies.describe(config)}")


def email_status(config: dict[str, Any]) -> dict[str, Any]:
    """The notifications outbox: how far e-mail is decided, e-mails by state, the sender."""
    outbox = open_outbox(config)
    try:
        checkpoint = outbox.checkpoint()
        return {
            "email_checkpoint": "not started" if checkpoint is None else checkpoint,
            "emails": ", ".join(f"{n} {state}" for state, n in outbox.counts().items()),
            "email_sender": outbox.lease_holder(time.time()) or "none",
        }
    finally:
        outbox.close()


def parked_command(args: argparse.Namespace, config: dict[str, Any]) -> None:
    for partition_config in _partitions(args, config):
        print(partition_config["_label"], end="")
        _parked(args, partition_config)


def _parked(args: argparse.Namespace, config: dict[str, Any]) -> None:
    store, storage = ops.open_stores(config)
    if args.retry:
        outcome = ops.retry_parked(store, storage, ops.partition_of(config, store))
        print(f"re-applied {outcome['retried']}; still parked: {outcome['parked']}")
        return
    parked = ops.parked_events(storage)
    if not parked:
        print("no parked events")
    for event in parked:
        print(
            f"{event.position:>10}  {event.stream_id}  {event.type}  "
            f"attempts={event.attempts}  {event.error}"
        )


def register(commands: Any, config_loader: Any) -> None:
    """Add ``rebuild``, ``status`` and ``parked`` to portalctl's subcommands."""

    def bind(handler):
        return lambda args: handler(args, config_loader())

    rebuilding = commands.add_parser(
        "rebuild", help="replay the event store into a fresh projection generation"
    )
    rebuilding.set_defaults(handler=bind(rebuild_command))
    status = commands.add_parser(
        "status",
        help=(
            "projection checkpoint and lag, relay checkpoint, e-mail outbox, portal on or off, "
            "copies at work"
        ),
    )
    status.set_defaults(handler=bind(status_command))
    parked = commands.add_parser("parked", help="list (or --retry) parked projection events")
    parked.add_argument("--retry", action="store_true", help="re-apply them in order")
    parked.set_defaults(handler=bind(parked_command))
    for command in (rebuilding, status, parked):
        command.add_argument(
            "--partition",
            type=int,
            help="only this partition of the read side (default: every partition)",
        )
