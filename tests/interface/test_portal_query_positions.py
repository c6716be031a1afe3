"""portal_query answers a read that names a store position once its projection has applied
it, woken by its own applier, with no bus and no timer to help (no relay runs here, and the
timer is an hour): the read itself prompts the catch-up."""

from __future__ import annotations

import uuid

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.contracts.envelope import NewEvent
from kernel.errors import ServiceUnavailable, ValidationFailed
from services.portal_query.dependencies import Projection
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.service import PortalQueryService
from tests.support.interface import refused
from tests.support.portal_events import acme_world
from tests.support.waiting import eventually

SLOW_BODY = "takes the applier a while"
SLOW_SECONDS = 1.5
WAIT_BOUND = 0.5


def slow_part(model, event):
    """A part that takes the applier longer than a reader may wait."""
    if event.payload["body"] == SLOW_BODY:
        eventlet.sleep(SLOW_SECONDS)
    HANDLERS["ConversationPartAdded"](model, event)


class SlowPortalQuery(PortalQueryService):
    projection = Projection(handlers={**HANDLERS, "ConversationPartAdded": slow_part})


@pytest.fixture
def config(config):
    return {**config, "CATCH_UP_INTERVAL": 3600, "READ_YOUR_WRITES_WAIT": WAIT_BOUND}


@pytest.fixture
def rpc(container_factory, config, store):
    history = acme_world()
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1")
    history.append_to(store)
    container_factory(SlowPortalQuery, config).start()
    with ClusterRpcProxy(config, timeout=10) as cluster:
        yield cluster.portal_query


def reply(store, body: str) -> int:
    """A part by ann appended to the store; its position."""
    payload = {
        "conversation_id": "c1",
        "part_id": f"p-{uuid.uuid4().hex}",
        "author_type": "user",
        "author_id": "ann",
        "author_name": None,
        "body": body,
        "internal": False,
    }
    stream = "conversation-c1"
    [recorded] = store.append(
        stream, [NewEvent("ConversationPartAdded", payload)], store.stream_version(stream)
    )
    return recorded.position


def bodies(conversation: dict) -> list[str]:
    return [part["body"] for part in conversation["parts"]]


def test_a_read_waits_until_the_projection_has_applied_its_position(rpc, store):
    head = store.head_position()
    assert bodies(rpc.portal_conversation("ann", "c1", min_position=head)) == [
        "The printer is on fire"
    ]
    unseen = reply(store, "Without a position")
    assert "Without a position" not in bodies(rpc.portal_conversation("ann", "c1"))
    seen = reply(store, "With a position")
    conversation = rpc.portal_conversation("ann", "c1", min_position=seen)
    assert bodies(conversation)[-2:] == ["Without a position", "With a position"]
    assert seen > unseen


def test_a_position_not_applied_within_the_bound_is_a_503_then_shows(rpc, store):
    rpc.portal_me("ann", min_position=store.head_position())
    slow = reply(store, SLOW_BODY)
    refused(ServiceUnavailable, rpc.portal_conversation, "ann", "c1", slow)
    shown = eventually(
        lambda: rpc.portal_conversation("ann", "c1", min_position=slow),
        tolerating=(ServiceUnavailable,),
    )
    assert bodies(shown)[-1] == SLOW_BODY


def test_a_position_beyond_the_store_is_answered_at_once(rpc, store):
    beyond = store.head_position() + 1000
    assert rpc.tickets_space("ann", min_position=beyond)["items"]


@pytest.mark.parametrize("position", [-1, "7", 1.5, True, None])
def test_a_position_must_be_a_store_position(rpc, position):
    fields = refused(ValidationFailed, rpc.portal_me, "ann", position).fields
    assert "min_position" in fields
