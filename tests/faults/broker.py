"""Stopping and starting the RabbitMQ application for the broker-outage test.

The broker on this machine is shared by every engineer's tests, so the outage test only
stops it when no other test run or benchmark is going on, and always starts it again.
``TEST_RABBITMQ_NODE`` names a private node to stop instead (with ``TEST_AMQP_URI`` and
``TEST_RABBITMQ_MANAGEMENT`` pointing at it), which disturbs nobody.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

PRIVATE_NODE = os.environ.get("TEST_RABBITMQ_NODE")
OTHER_RUNS = "pytest|python -m bench"


def rabbitmqctl(*arguments: str) -> None:
    node = ["-n", PRIVATE_NODE] if PRIVATE_NODE else []
    subprocess.run(["rabbitmqctl", *node, *arguments], check=True, capture_output=True, timeout=120)


def _own_process_tree() -> set[int]:
    """This process and its ancestors (the pytest runner, a ``timeout`` wrapper)."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        with open(f"/proc/{pid}/stat") as stat:
            pid = int(stat.read().rsplit(")", 1)[1].split()[1])
    return pids


def other_runs() -> list[str]:
    """Test runs and benchmarks on this machine other than this one (``pgrep -af``)."""
    found = subprocess.run(
        ["pgrep", "-af", OTHER_RUNS], capture_output=True, text=True, check=False
    ).stdout
    own = _own_process_tree()
    return [line for line in found.splitlines() if int(line.split()[0]) not in own]


def _accepts_connections(amqp_uri: str) -> bool:
    parts = urlsplit(amqp_uri)
    try:
        with socket.create_connection((parts.hostname, parts.port or 5672), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def broker_stopped(amqp_uri: str, seconds: float) -> Iterator[None]:
    """Stop the RabbitMQ application, let the body run, keep it down ``seconds`` in all,
    then start it again (whatever happened) and wait until it accepts connections."""
    rabbitmqctl("stop_app")
    started = time.monotonic()
    try:
        yield
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        deadline = time.monotonic() + 60
        while not _accepts_connections(amqp_uri) and time.monotonic() < deadline:
            time.sleep(0.2)
