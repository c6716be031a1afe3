"""Nothing is lost between "appended" and "published": the store is the outbox and the relay
publishes whatever it holds, with confirms, from its last confirmed checkpoint."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pika
import pytest

from portalctl.stack import Stack
from services.event_relay.relay import pika_url
from tests.support.stack import event_store_at, store_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults
EVENTS = 8000


@pytest.fixture
def listener(vhost):
    """A queue bound to every company event, declared before anything is published."""
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(vhost)))
    channel = connection.channel()
    channel.exchange_declare("companies.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "companies.events", "#")

    def received(expected: int, timeout: float = 120) -> list[dict]:
        """What reaches the queue, in order and with any duplicates, until ``expected``
        different events have (``timeout`` only bounds a broken run)."""
        messages: list[dict] = []
        event_ids: set[str] = set()
        deadline = time.monotonic() + timeout
        for method, _properties, body in channel.consume(
            queue, auto_ack=True, inactivity_timeout=0.05
        ):
            if method is not None:
                messages.append(json.loads(body))
                event_ids.add(messages[-1]["event_id"])
            if len(event_ids) >= expected or time.monotonic() > deadline:
                break
        channel.cancel()
        return messages

    yield received
    connection.close()


def relay_stack(tmp_path, vhost) -> Stack:
    return Stack(
        env={"AMQP_URI": vhost, **store_env(tmp_path)},
        log_dir=tmp_path / "logs",
        names=["event_relay"],
    )


def test_a_writer_killed_after_its_append_still_has_its_events_published(tmp_path, vhost, listener):
    writer = subprocess.run(
        [sys.executable, "-m", "tests.support.append_then_die", str(tmp_path / "data"), "5"],
        env={**os.environ, **store_env(tmp_path)},
        check=False,
    )
    assert writer.returncode == -signal.SIGKILL
    assert event_store_at(tmp_path).head_position() == 5
    assert listener(5, timeout=1) == [], "nothing may be published before the relay runs"

    relay = relay_stack(tmp_path, vhost)
    relay.start()
    try:
        messages = listener(5)
    finally:
        relay.stop()

    assert [m["payload"]["company_id"] for m in messages] == [f"c{i}" for i in range(5)]
    assert [m["position"] for m in messages] == [1, 2, 3, 4, 5]


def test_a_relay_killed_while_publishing_resumes_without_losing_an_event(tmp_path, vhost, listener):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.append_then_die",
            str(tmp_path / "data"),
            str(EVENTS),
        ],
        env={**os.environ, **store_env(tmp_path)},
        check=False,
    )
    relay = relay_stack(tmp_path, vhost)
    relay.start()
    store = event_store_at(tmp_path)
    eventually(lambda: store.get_checkpoint("event_relay"), timeout=60, interval=0.005)
    relay.signal("event_relay", signal.SIGKILL)
    killed_at = store.get_checkpoint("event_relay")

    relay.start()
    try:
        messages = listener(EVENTS)
    finally:
        relay.stop()

    positions = [m["position"] for m in messages]
    assert killed_at < EVENTS, "the relay was killed before it had published everything"
    assert set(positions) == set(range(1, EVENTS + 1)), "every appended event reaches the broker"
    # At least once: the restart republishes from the last confirmed checkpoint, in position
    # order again, so the stream is two ascending runs (consumers deduplicate by position).
    restarts = sum(1 for before, after in itertools.pairwise(positions) if after <= before)
    assert restarts <= 1
    assert store.get_checkpoint("event_relay") == EVENTS
