"""portal_query under faults, each time compared with a clean rebuild of the whole store
(``portalctl rebuild`` into a fresh generation): killed by SIGKILL while it applies a
stream of events, flooded with duplicated, shuffled and forged bus messages, and started
for the first time after every event was published to queues that did not exist yet."""

from __future__ import annotations

import json
import random
import threading

import pika
import pytest

from kernel.contracts.envelope import NewEvent
from kernel.contracts.events import CATEGORY_OWNERS, category_of
from services.event_relay.relay import message_for, pika_url
from tests.faults.projection import (
    busy_history,
    checkpoint,
    open_store,
    read_path,
    served_and_rebuilt,
    wait_until_answering,
    wait_until_caught_up,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults


def assert_same_projection(root) -> dict:
    """The served documents, once shown equal to a clean rebuild's."""
    served, rebuilt = served_and_rebuilt(root)
    assert served["parked"] == rebuilt["parked"] == []
    assert served["documents"].keys() == rebuilt["documents"].keys()
    differing = [
        key for key, body in served["documents"].items() if rebuilt["documents"][key] != body
    ]
    assert differing == []
    assert any(kind == "ticket" for kind, _ in served["documents"])
    return served["documents"]


def test_portal_query_killed_while_applying_a_stream_applies_every_event_once(tmp_path, vhost):
    stack = read_path(tmp_path, vhost, "event_relay", "portal_query", CATCH_UP_INTERVAL="0.2")
    stack.start()
    try:
        wait_until_answering(vhost)
        history = busy_history(tickets=300)
        store = open_store(tmp_path)
        appending = threading.Thread(target=history.append_to, args=(store,))
        appending.start()
        kills = 0
        for fraction in (0.25, 0.6):
            target = int(len(history.events) * fraction)
            eventually(lambda target=target: checkpoint(tmp_path) >= target, timeout=60)
            stack.signal("portal_query")  # SIGKILL, mid-stream
            kills += 1
            stack.start("portal_query")
        appending.join()
        store.close()
        head = wait_until_caught_up(tmp_path)
        assert head == len(history.events)
        assert kills == 2
        stack.check_alive()
    finally:
        stack.stop()
    assert_same_projection(tmp_path)


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
    payload = {"ticket_id": ticket_id, "state": "resolved", "previous_state": "submitted"}
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

        relay.start("portal_query")
        wait_until_caught_up(tmp_path)
        relay.check_alive()
    finally:
        relay.stop()
    served = assert_same_projection(tmp_path)
    assert len([kind for kind, _ in served if kind == "ticket"]) == 80
