"""How many copies of each service are at work, as RabbitMQ sees them (``portalctl
status``): the consumers of a service's RPC queue (``rpc-<service>``, where copies compete;
with ``PORTAL_PARTITIONS`` > 1 each partition of the read side has its own), and the relays
on the publisher lock's queue (one publishes, the others stand by). The gateways share a
listening port and no queue of a common name, so they are not counted."""

from __future__ import annotations

from typing import Any

from amqp.exceptions import NotFound
from kombu import Connection

from kernel import partitions
from kernel.config import partition_count
from services.event_relay.relay import LOCK_QUEUE

RPC_SERVICES = (
    "identity",
    "companies",
    "tickets",
    "messenger_bridge",
    partitions.SERVICE,
    "notifications",
)


def rpc_services(config: dict[str, Any]) -> list[str]:
    """The services with an RPC queue: the read side's partitions in its place."""
    count = partition_count(config)
    read_side = [partitions.service_name(n, count) for n in range(count)]
    return [
        name
        for service in RPC_SERVICES
        for name in (read_side if service == partitions.SERVICE else [service])
    ]


def consumers(connection: Connection, queue: str) -> int:
    """The consumers of ``queue`` (0 when nobody declared it yet)."""
    channel = connection.channel()
    try:
        return channel.queue_declare(queue, passive=True).consumer_count
    except NotFound:  # the broker closed the channel with it
        return 0
    finally:
        if channel.is_open:
            channel.close()


def running_copies(config: dict[str, Any]) -> dict[str, int]:
    """Copies at work by service name; the relay's count includes those standing by."""
    with Connection(config["AMQP_URI"], connect_timeout=3) as connection:
        counts = {
            service: consumers(connection, f"rpc-{service}") for service in rpc_services(config)
        }
        counts["event_relay"] = consumers(connection, LOCK_QUEUE)
    return counts


def describe(config: dict[str, Any]) -> str:
    """One line for ``portalctl status``."""
    try:
        counts = running_copies(config)
    except OSError as error:
        return f"broker unreachable ({error})"
    return ", ".join(f"{service} {count}" for service, count in counts.items())
