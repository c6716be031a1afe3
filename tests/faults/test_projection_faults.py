"""portal_query under faults, each time compared with a clean rebuild of the whole store
(``portalctl rebuild`` into a fresh generation; with ``PORTAL_PARTITIONS`` > 1 each
partition against its own rebuild): killed by SIGKILL while it applies a stream of events,
flooded with duplicated, shuffled and forged bus messages, and started for the first time
after every event was published to queues that did not exist yet."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pika
import pytest

from kernel.contracts.envelope import NewEvent
from kernel.contracts.events import CATEGORY_OWNERS, category_of
from services.event_relay.relay import message_for, pika_url
from tests.faults.projection import (
    busy_history,
    checkpoint,
    checkpoints,
    open_store,
    read_path,
    served_and_rebuilt,
    wait_until_answering,
    wait_until_caught_up,
)
from tests.support.stack import read_side
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults
HISTORY_TICKETS = 300


def assert_same_projection(root) -> dict:
    """The served documents, once shown equal to a clean rebuild's."""
    served, rebuilt = served_and_rebuilt(root)
    assert served["parked"] == rebuilt["parked"] == []
    assert served["documents"].keys() == rebuilt["documents"].keys()
    differing = [
        key for key, body in served["documents"].items() if rebuilt["documents"][key] != body
    ]
    assert differing == []
    assert any(kind == "ticket" for _, kind, _ in served["documents"])
    return served["documents"]


def test_portal_query_killed_while_applying_a_stream_applies_every_event_once(tmp_path, vhost):
    history = busy_history(tickets=HISTORY_TICKETS)
    stack = read_path(tmp_path, vhost, "event_relay", "portal_query", CATCH_UP_INTERVAL="0.2")
    stack.start()
    appender = [sys.executable, "-m", "tests.faults.append_history", str(tmp_path)]
    appending = None
    try:
        wait_until_answering(vhost)
        # Another process appends the history while portal_query applies it: up to 40% at
        # once, the next part at each kill (so the stream always runs ahead of a frozen
        # portal_query), and the rest at the second.
        appending = subprocess.Popen(
            [*appender, str(HISTORY_TICKETS), "0.4", "0.7"], stdin=subprocess.PIPE, text=True
        )
        store = open_store(tmp_path)
        kills: list[tuple[int, int]] = []
        for fraction in (0.2, 0.5):
            # Past this fraction of the history, and past the last kill: the process
            # running now has applied events of its own.
            past = max([int(len(history.events) * fraction), *(at for at, _ in kills)])
            eventually(lambda past=past: checkpoint(tmp_path) > past, timeout=60)
            kills.append(kill_behind_the_head(stack, tmp_path, store, appending))
            stack.start(*read_side(stack))
        appending.stdin.close()
        assert appending.wait(timeout=120) == 0
        store.close()
        head = wait_until_caught_up(tmp_path)
        assert head == len(history.events)
        for at, head_then in kills:
            assert at < head_then, "each kill landed with events still to apply in every partition"
        stack.check_alive()
    finally:
        if appending and appending.poll() is None:
            appending.kill()
        stack.stop()
    assert_same_projection(tmp_path)


def kill_behind_the_head(stack, root, store, appending) -> tuple[int, int]:
    """SIGKILL portal_query (every partition) while the stream runs ahead of it: frozen
    (SIGSTOP) wherever it is in its work, so its checkpoints hold still; the appender's next
    part let go; and killed once the store's head is past every checkpoint. The furthest
    checkpoint it left and the head when the kill landed."""
    processes = [stack.processes[name] for name in read_side(stack)]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    eventually(lambda: all(process_state(process.pid) == "T" for process in processes))
    frozen = max(checkpoints(root))
    appending.stdin.write("next part\n")
    appending.stdin.flush()
    eventually(lambda: store.head_position() > frozen, timeout=60)
    head = store.head_position()
    for name in read_side(stack):
        stack.signal(name)  # SIGKILL
    return max(checkpoints(root)), head


def process_state(pid: int) -> str:
    """The state letter of ``/proc/<pid>/stat`` ("T": stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_duplicated_reordered_and_forged_bus_messages_change_nothing(tmp_path, vhost):
    # A long timer: bus messages are what wakes the projection here.
    stack = read_path(tmp_path, vhost, "event_relay", "portal_query", CATCH_UP_INTERVAL="30")
    stack.start()
    try:
        wait_until_answering(vhost)
        history = busy_history(tickets=60, seed=11)
        store = open_store(tmp_path)
        history.append_to(store)
        wait_until_caught_up(tmp_path)

        recorded = list(store.iter_all())
        copies = recorded * 3
        random.Random(5).shuffle(copies)
        created = next(event for event in recorded if event.type == "TicketCreated")
        forged = created._replace(raw_payload={**created.payload, "title": "FORGED TITLE"})
        from_the_future = recorded[-1]._replace(position=recorded[-1].position + 1000)
        publish(vhost, [*copies, forged, from_the_future])

        # Events appended after the flood are still applied, once each.
        for ticket_id in range(1, 21):
            resolve(store, ticket_id)
        store.close()
        wait_until_caught_up(tmp_path)
        stack.check_alive()
    finally:
        stack.stop()
    served = assert_same_projection(tmp_path)
    assert "FORGED TITLE" not in json.dumps(list(served.values()))


def publish(amqp_uri: str, events) -> None:
    """Publish envelopes straight to the owners' exchanges, as the relay would."""
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_uri)))
    try:
        channel = connection.channel()
        for event in events:
            body, properties = message_for(event)
            exchange = f"{CATEGORY_OWNERS[category_of(event.stream_id)]}.events"
            channel.basic_publish(exchange, event.type, body, properties)
    finally:
        connection.close()


def resolve(store, ticket_id: int) -> None:
    stream = f"ticket-{ticket_id}"
    payload = {
        "ticket_id": ticket_id,
        "state": "resolved",
        "previous_state": "submitted",
        "author_type": "teammate",
        "author_id": None,
    }
    store.append(stream, [NewEvent("TicketStateChanged", payload)], store.stream_version(stream))


def test_events_published_before_portal_query_ever_ran_are_all_projected(tmp_path, vhost):
    relay = read_path(tmp_path, vhost, "event_relay")
    relay.start()
    try:
        history = busy_history(tickets=80, seed=3)
        store = open_store(tmp_path)
        history.append_to(store)
        head = store.head_position()
        # Published to exchanges no portal_query queue was bound to yet: dropped.
        eventually(lambda: store.get_checkpoint("event_relay") == head, timeout=60)
        store.close()

        relay.start(*read_side(relay))
        wait_until_caught_up(tmp_path)
        relay.check_alive()
    finally:
        relay.stop()
    served = assert_same_projection(tmp_path)
    assert len([kind for _, kind, _ in served if kind == "ticket"]) == 80
