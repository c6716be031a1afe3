"""portal_query through nameko on the real RabbitMQ: events appended to a temp embedded
store are published by the real relay process and show up in RPC answers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.errors import NoPortalAccess, NotFound, ValidationFailed
from portalctl.stack import REPOSITORY, Stack
from services.portal_query.dependencies import Projection
from services.portal_query.event_handlers import HANDLERS
from services.portal_query.ops import rebuild
from services.portal_query.service import PortalQueryService
from services.portal_query.storage import open_projection_storage
from tests.support import waiting
from tests.support.portal_events import History, acme_world

WAIT = 20  # seconds a test waits for an answer before it fails (not a timing assertion)


@pytest.fixture
def config(config):
    # A long timer: within a test, only the bus prompt can make an event visible quickly.
    return {**config, "CATCH_UP_INTERVAL": 30}


@pytest.fixture
def relay(config, tmp_path):
    stack = Stack(
        env={"AMQP_URI": config["AMQP_URI"], "PORTAL_DATA_DIR": config["PORTAL_DATA_DIR"]},
        log_dir=tmp_path / "logs",
        names=["event_relay"],
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def rpc(config):
    with ClusterRpcProxy(config, timeout=10) as cluster:
        yield cluster.portal_query


def eventually(probe):
    """``probe()`` once it stops raising (the read side has not seen the user or ticket yet)
    and returns something truthy."""
    return waiting.eventually(probe, WAIT, tolerating=(NoPortalAccess, NotFound))


def test_events_appended_to_the_store_show_up_in_every_answer(
    container_factory, config, store, relay, rpc
):
    container_factory(PortalQueryService, config).start()
    eventually(lambda: rpc.health())
    history = acme_world()
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1")
    history.note("c1", "internal: printer was cheap")
    history.append_to(store)

    me = eventually(lambda: rpc.portal_me("ann"))
    assert [c["id"] for c in me["companies"]] == ["acme"]
    listed = eventually(lambda: rpc.portal_list_tickets("ann", {"q": "fire"})["items"])
    assert [item["id"] for item in listed] == [1]
    assert listed[0]["preview"] == {**listed[0]["preview"], "location": "title"}
    assert listed[0]["preview"]["html"] == "Printer on <mark>fire</mark>"
    details = rpc.portal_get_ticket("ann", 1)
    assert [part["body"] for part in details["conversation"]] == ["The printer is on fire"]
    assert rpc.ticket_for_user("ann", "1")["conversation_id"] == "c1"
    assert [item["id"] for item in rpc.tickets_space("ann")["items"]] == [1]
    assert rpc.admin_list_tickets({"q": "cheap"})["total"] == 0
    assert rpc.admin_list_tickets({"company_id": "evil"})["total"] == 1
    assert rpc.company_tickets("acme", {"sort": "id", "order": "asc"})["total"] == 2
    status = eventually(lambda: (s := rpc.status())["lag_events"] == 0 and s)
    assert (status["checkpoint"], status["parked"]) == (store.head_position(), 0)

    follow_up = acme_world()
    follow_up.state(2, "resolved")
    History.append_to(_only_new(follow_up, history), store)
    eventually(lambda: rpc.portal_get_ticket("bob", 2)["state"] == "resolved")


def _only_new(later: History, earlier: History) -> History:
    """The events of ``later`` past the streams' versions ``earlier`` already stored."""
    seen = {(e.stream_id, e.stream_version) for e in earlier.events}
    part = History()
    part.events = [e for e in later.events if (e.stream_id, e.stream_version) not in seen]
    return part


def test_typed_errors_cross_rpc_and_bad_input_names_the_field(
    container_factory, config, store, rpc
):
    acme_world().append_to(store)
    container_factory(PortalQueryService, config).start()
    eventually(lambda: rpc.portal_me("ann"))
    head = store.head_position()
    before = open_projection_storage(config).current()

    with pytest.raises(NoPortalAccess) as denied:
        rpc.portal_me("stranger")
    assert denied.value.fields["missing"] == ["email", "company", "ticket"]
    with pytest.raises(NotFound):
        rpc.portal_get_ticket("ann", 3)
    with pytest.raises(NotFound):
        rpc.company_tickets("nope", {})
    for call, field in (
        (lambda: rpc.portal_me({"$gt": ""}), "user_id"),
        (lambda: rpc.portal_list_tickets("ann", {"per_page": 1000}), "per_page"),
        (lambda: rpc.portal_list_tickets("ann", {"sort": "title"}), "sort"),
        (lambda: rpc.portal_list_tickets("ann", {"q": "a\nb"}), "q"),
        (lambda: rpc.portal_list_tickets("ann", {"where": "1"}), "where"),
        (lambda: rpc.portal_get_ticket("ann", "1; drop"), "ticket_id"),
        (lambda: rpc.admin_list_tickets({"created_from": "yesterday"}), "created_from"),
    ):
        with pytest.raises(ValidationFailed) as invalid:
            call()
        assert field in invalid.value.fields
    assert store.head_position() == head
    assert open_projection_storage(config).current() == before


def test_conversations_and_facets_answer_by_the_access_rules(container_factory, config, store, rpc):
    history = acme_world()
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1")
    history.note("c1", "CANARY internal note")
    history.conversation("c3", "eve", "Evil plans, part two")
    history.append_to(store)
    container_factory(PortalQueryService, config).start()

    conversation = eventually(lambda: rpc.portal_conversation("bob", "c1"))
    assert (conversation["participant"], conversation["ticket"]["id"]) == (False, 1)
    assert [part["body"] for part in conversation["parts"]] == ["The printer is on fire"]
    assert "CANARY" not in repr(conversation)
    assert rpc.portal_conversation("eve", "c3")["ticket"] is None
    for user_id, conversation_id in (("eve", "c1"), ("ann", "c3"), ("ann", "c-missing")):
        with pytest.raises(NotFound) as refused:
            rpc.portal_conversation(user_id, conversation_id)
        assert refused.value.fields == {"conversation_id": "no such conversation"}
    with pytest.raises(ValidationFailed) as invalid:
        rpc.portal_conversation("ann", {"$gt": ""})
    assert "conversation_id" in invalid.value.fields

    facets = rpc.portal_facets("ann")
    assert facets == {
        "types": ["Bug"],
        "creators": [{"id": "ann", "name": "Ann"}, {"id": "bob", "name": "Bob"}],
        "companies": [{"id": "acme", "name": "Acme Inc."}],
    }
    assert "facets" not in rpc.portal_list_tickets("ann", {"per_page": 1})
    with pytest.raises(NoPortalAccess):
        rpc.portal_facets("stranger")
    with pytest.raises(ValidationFailed):
        rpc.portal_facets({"$gt": ""})


def test_without_the_bus_the_timer_still_catches_up(container_factory, config, store, rpc):
    container_factory(PortalQueryService, {**config, "CATCH_UP_INTERVAL": 0.2}).start()
    eventually(lambda: rpc.health())

    acme_world().append_to(store)  # no relay runs: nothing is published

    assert eventually(lambda: rpc.admin_list_tickets({})["total"]) == 3


def test_a_rebuild_is_swapped_in_while_the_service_keeps_answering(
    container_factory, config, store, rpc
):
    acme_world().append_to(store)
    container_factory(PortalQueryService, {**config, "CATCH_UP_INTERVAL": 0.2}).start()
    first = eventually(lambda: rpc.portal_list_tickets("ann", {"sort": "id"}))
    generation = rpc.status()["generation"]

    summary = rebuild(store, open_projection_storage(config))

    assert summary.generation > generation
    eventually(lambda: rpc.status()["generation"] == summary.generation)
    assert rpc.portal_list_tickets("ann", {"sort": "id"}) == first


class BrokenPortalQuery(PortalQueryService):
    """The same service with a handler that fails for ticket 2."""

    projection = Projection(
        handlers={
            **HANDLERS,
            "TicketStateChanged": lambda model, event: (
                _fail() if event.payload["ticket_id"] == 2 else HANDLERS["TicketStateChanged"]
            )(model, event),
        }
    )


def _fail():
    def raise_it(model, event):
        raise RuntimeError("broken handler")

    return raise_it


def portalctl(config, *arguments: str) -> str:
    """An operator's ``portalctl`` command, in a process of its own, on the test's store and
    its one read side (the container under test is portal_query itself, whatever
    ``PORTAL_PARTITIONS`` the test run has)."""
    return subprocess.run(
        [sys.executable, "-m", "portalctl", *arguments],
        cwd=REPOSITORY,
        env={**os.environ, "PORTAL_DATA_DIR": config["PORTAL_DATA_DIR"], "PORTAL_PARTITIONS": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.faults
def test_a_failing_handler_parks_the_event_and_the_rest_keeps_flowing(
    container_factory, config, store, relay, rpc
):
    container_factory(BrokenPortalQuery, config).start()
    eventually(lambda: rpc.health())
    history = acme_world()
    history.state(2, "resolved")
    history.state(1, "resolved")
    history.append_to(store)

    eventually(lambda: rpc.status()["parked"] == 1)
    assert eventually(lambda: rpc.portal_get_ticket("ann", 1)["state"] == "resolved")
    assert rpc.portal_get_ticket("ann", 2)["state"] == "submitted"
    assert rpc.status()["lag_events"] == 0

    # An operator sees it, with the bounded number of attempts and the error.
    assert "parked: 1" in portalctl(config, "status")
    [parked] = portalctl(config, "parked").splitlines()
    assert "ticket-2  TicketStateChanged  attempts=3  RuntimeError: broken handler" in parked

    # Once the cause is fixed (the operator's portalctl runs the platform's own handlers),
    # a retry re-applies it; the running service reloads what the retry committed.
    assert portalctl(config, "parked", "--retry").strip() == "re-applied 1; still parked: 0"
    follow_up = acme_world()
    follow_up.state(2, "resolved")
    follow_up.state(1, "resolved")
    follow_up.state(3, "in_progress")
    History.append_to(_only_new(follow_up, history), store)
    assert eventually(lambda: rpc.portal_get_ticket("ann", 2)["state"] == "resolved")
    assert rpc.status()["parked"] == 0
    assert portalctl(config, "parked").strip() == "no parked events"
