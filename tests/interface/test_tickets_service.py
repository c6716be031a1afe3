"""The tickets service through nameko on the real RabbitMQ and the embedded event store,
with the real identity, companies and messenger_bridge services beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.contracts import fields as f
from kernel.errors import ConcurrencyConflict, Conflict, NotFound, ValidationFailed
from services.companies.service import CompaniesService
from services.identity.service import IdentityService
from services.messenger_bridge.service import MessengerBridgeService
from services.tickets.service import TicketsService
from tests.support.broker import AUTH, MANAGEMENT
from tests.support.waiting import eventually

REPOSITORY = Path(__file__).resolve().parents[2]

CONTACTS = {"ann": ["acme"], "bob": ["acme", "globex"], "cid": [], "dee": ["globex"]}


@pytest.fixture
def rpc(container_factory, config):
    for service in (IdentityService, CompaniesService, MessengerBridgeService, TicketsService):
        container_factory(service, config).start()
    with ClusterRpcProxy(config, timeout=20) as cluster:
        for contact_id in CONTACTS:
            cluster.identity.save_contact({"id": contact_id, "name": contact_id.title()})
        for company_id in ("acme", "globex"):
            cluster.companies.create_company({"id": company_id, "name": company_id.title()})
        for contact_id, companies in CONTACTS.items():
            for company_id in companies:
                cluster.companies.add_member(company_id, {"user_id": contact_id})
        yield cluster


def ticket_events(store, ticket_id: int) -> list[str]:
    return [event.type for event in store.read_stream(f"ticket-{ticket_id}")]


def new_ticket(rpc, **fields) -> dict:
    return rpc.tickets.create_ticket({"type": "Bug", "title": "Printer on fire", **fields})


def conversation_of(rpc, user_id: str = "cid") -> dict:
    return rpc.messenger_bridge.start_conversation({"user_id": user_id, "body": "Help!"})


def test_health(rpc):
    assert rpc.tickets.health() == {"service": "tickets", "status": "ok"}


# creating ---------------------------------------------------------------------------------


def test_tickets_get_sequential_display_ids_and_are_answered_as_stored(rpc, store):
    first = new_ticket(rpc, creator_id="ann", participant_ids=["cid"])
    second = new_ticket(rpc, creator_id="cid", description="It smokes", state="in_progress")
    assert (first["id"], second["id"]) == (1, 2)
    assert first == {
        "id": 1,
        "type": "Bug",
        "state": "submitted",
        "title": "Printer on fire",
        "description": "",
        "attributes": [],
        "creator_id": "ann",
        "participant_ids": ["ann", "cid"],
        "company_id": "acme",
        "conversation_id": None,
        "created_at": first["created_at"],
        "updated_at": first["created_at"],
        "form": None,
        "state_changed_by": None,
    }
    assert rpc.tickets.get_ticket(2) == second
    assert ticket_events(store, 1) == ["TicketCreated"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"creator_id": "ann"}, "acme"),
        ({"creator_id": "bob"}, None),
        ({"creator_id": "cid"}, None),
        ({"creator_id": "cid", "participant_ids": ["dee"]}, "globex"),
        ({"creator_id": "ann", "company_id": None}, None),
        ({"creator_id": "bob", "company_id": "globex"}, "globex"),
    ],
)
def test_the_company_rule_on_create(rpc, fields, expected):
    assert new_ticket(rpc, **fields)["company_id"] == expected


def test_a_company_outside_the_participants_companies_is_refused(rpc, unchanged):
    with unchanged, pytest.raises(ValidationFailed) as error:
        new_ticket(rpc, creator_id="ann", company_id="globex")
    assert error.value.fields == {"company_id": "must be one of: acme"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": {"$gt": ""}}, "title"),
        ({"creator_id": {"$ne": None}}, "creator_id"),
        ({"participant_ids": [{"$gt": ""}]}, "participant_ids.0"),
        ({"is_admin": True}, "is_admin"),
        ({"participant_ids": "bob"}, "participant_ids"),
        ({"state": "closed"}, "state"),
        ({"type": "x" * 51}, "type"),
        ({"title": "two\nlines"}, "title"),
        ({"title": "x" * (f.MAX_TITLE + 1)}, "title"),
        ({"description": "x" * (f.MAX_TEXT + 1)}, "description"),
        ({"attributes": [{"name": "a", "value": "b"}]}, "attributes.0.visible_to_customer"),
        ({"creator_id": "zed"}, "creator_id"),
        ({"participant_ids": ["bob", "yan", "xi"]}, "participant_ids"),
        ({"participant_ids": ["bob", "cid", "bob"]}, "participant_ids"),
        ({"participant_ids": [f"p{n}" for n in range(f.MAX_PARTICIPANTS + 1)]}, "participant_ids"),
        (
            {
                "attributes": [
                    {"name": "Severity", "value": 1, "visible_to_customer": True},
                    {"name": "Severity", "value": 2, "visible_to_customer": False},
                ]
            },
            "attributes",
        ),
        ({"conversation_id": "conv-missing"}, "conversation_id"),
    ],
)
def test_bad_input_names_the_field_and_appends_nothing(rpc, unchanged, fields, field):
    with unchanged, pytest.raises(ValidationFailed) as error:
        new_ticket(rpc, **{"creator_id": "ann", **fields})
    assert field in error.value.fields, error.value.fields


def test_unknown_participants_are_named(rpc):
    with pytest.raises(ValidationFailed) as error:
        new_ticket(rpc, creator_id="ann", participant_ids=["bob", "yan", "xi"])
    assert error.value.fields == {"participant_ids": "no such contacts: yan, xi"}


@pytest.mark.parametrize("command", [None, [], "ticket", 7])
def test_a_command_that_is_not_an_object_is_refused(rpc, unchanged, command):
    with unchanged, pytest.raises(ValidationFailed):
        rpc.tickets.create_ticket(command)


def test_a_retried_create_with_the_same_idempotency_key_answers_the_same_ticket(config, rpc, store):
    context = {"idempotency_key": "create-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        first = new_ticket(keyed, creator_id="ann")
        head = store.head_position()
        assert new_ticket(keyed, creator_id="ann") == first
        assert store.head_position() == head
    reused = {"idempotency_key": "create-1", "request_fingerprint": "fp-other"}
    with (
        ClusterRpcProxy(config, context_data=reused, timeout=20) as keyed,
        pytest.raises(Conflict) as error,
    ):
        new_ticket(keyed, creator_id="bob")
    assert "Idempotency-Key" in error.value.fields
    assert store.head_position() == head


# reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ticket_id", [99, "1", 0, -1, 1.5, None, {"$gt": 0}])
def test_an_unknown_or_malformed_ticket_id_is_refused(rpc, ticket_id):
    new_ticket(rpc, creator_id="ann")
    expected = NotFound if ticket_id == 99 else ValidationFailed
    with pytest.raises(expected):
        rpc.tickets.get_ticket(ticket_id)
    with pytest.raises(expected):
        rpc.tickets.company_choices(ticket_id)


def test_company_choices_are_the_participants_companies(rpc):
    ticket = new_ticket(rpc, creator_id="cid", participant_ids=["bob"])
    assert rpc.tickets.company_choices(ticket["id"]) == {
        "choices": ["acme", "globex"],
        "company_id": None,
        "company_chosen": False,
    }


# updating ---------------------------------------------------------------------------------


def test_an_update_appends_only_what_changed(rpc, store):
    ticket = new_ticket(rpc, creator_id="bob", description="Smoke")
    updated = rpc.tickets.update_ticket(
        ticket["id"],
        {
            "state": "in_progress",
            "title": "Printer on fire",
            "description": "Flames",
            "company_id": "globex",
            "attributes": [{"name": "Floor", "value": 3, "visible_to_customer": True}],
        },
    )
    assert ticket_events(store, ticket["id"]) == [
        "TicketCreated",
        "TicketStateChanged",
        "TicketEdited",
        "TicketAttributesChanged",
        "TicketCompanyAssigned",
    ]
    edited = store.read_stream(f"ticket-{ticket['id']}")[2].payload
    assert edited == {"ticket_id": ticket["id"], "description": "Flames"}
    assert (updated["state"], updated["description"], updated["company_id"]) == (
        "in_progress",
        "Flames",
        "globex",
    )
    assert updated["created_at"] == ticket["created_at"]
    assert updated["updated_at"] > ticket["updated_at"]
    assert rpc.tickets.get_ticket(ticket["id"]) == updated


def test_an_update_that_changes_nothing_appends_nothing(rpc, unchanged):
    ticket = new_ticket(rpc, creator_id="ann", company_id="acme")
    with unchanged:
        same = rpc.tickets.update_ticket(
            ticket["id"], {"state": "submitted", "title": ticket["title"], "company_id": "acme"}
        )
        assert rpc.tickets.update_ticket(ticket["id"], {}) == ticket
    assert same == ticket


def test_the_company_can_be_cleared_and_set_to_a_choice_only(rpc, unchanged):
    ticket = new_ticket(rpc, creator_id="ann")
    assert rpc.tickets.update_ticket(ticket["id"], {"company_id": None})["company_id"] is None
    assert rpc.tickets.update_ticket(ticket["id"], {"company_id": "acme"})["company_id"] == "acme"
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.tickets.update_ticket(ticket["id"], {"company_id": "globex", "state": "resolved"})
    assert list(error.value.fields) == ["company_id"]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"state": {"$gt": ""}}, "state"),
        ({"creator_id": "bob"}, "creator_id"),
        ({"type": "Question"}, "type"),
        ({"title": ""}, "title"),
        ({"description": "x" * (f.MAX_TEXT + 1)}, "description"),
        ({"company_id": "initech"}, "company_id"),
        ({"attributes": {"name": "x"}}, "attributes"),
    ],
)
def test_a_bad_update_names_the_field_and_appends_nothing(rpc, unchanged, command, field):
    ticket = new_ticket(rpc, creator_id="ann")
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.tickets.update_ticket(ticket["id"], command)
    assert field in error.value.fields


def test_updating_an_unknown_ticket_is_not_found(rpc, unchanged):
    with unchanged, pytest.raises(NotFound):
        rpc.tickets.update_ticket(5, {"state": "resolved"})


# conversations ----------------------------------------------------------------------------


def test_converting_a_conversation_makes_its_contact_the_creator(rpc, store):
    conversation = conversation_of(rpc, "cid")
    ticket = rpc.tickets.convert_conversation(
        conversation["id"], {"type": "Question", "title": "From chat", "participant_ids": ["dee"]}
    )
    assert (ticket["creator_id"], ticket["participant_ids"]) == ("cid", ["cid", "dee"])
    assert (ticket["conversation_id"], ticket["company_id"]) == (conversation["id"], "globex")
    assert ticket_events(store, ticket["id"]) == ["TicketCreated", "TicketConversationLinked"]
    assert rpc.messenger_bridge.get_conversation(conversation["id"])["ticket_id"] == ticket["id"]


def test_a_conversation_converts_once(rpc, unchanged):
    conversation = conversation_of(rpc, "ann")
    command = {"type": "Bug", "title": "Once", "creator_id": "bob", "company_id": None}
    ticket = rpc.tickets.convert_conversation(conversation["id"], command)
    assert ticket["participant_ids"] == ["bob", "ann"]
    with unchanged, pytest.raises(Conflict) as error:
        rpc.tickets.convert_conversation(conversation["id"], command)
    assert error.value.fields == {"conversation_id": f"already linked to ticket {ticket['id']}"}
    with unchanged, pytest.raises(Conflict):
        new_ticket(rpc, creator_id="ann", conversation_id=conversation["id"])


def test_converting_applies_the_company_rule(rpc, unchanged):
    conversation = conversation_of(rpc, "bob")
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.tickets.convert_conversation(
            conversation["id"], {"type": "Bug", "title": "t", "company_id": "initech"}
        )
    assert list(error.value.fields) == ["company_id"]
    ticket = rpc.tickets.convert_conversation(conversation["id"], {"type": "Bug", "title": "t"})
    assert ticket["company_id"] is None  # bob has two companies: a teammate picks one


def test_converting_an_unknown_conversation_is_not_found(rpc, unchanged):
    with unchanged, pytest.raises(NotFound):
        rpc.tickets.convert_conversation("conv-missing", {"type": "Bug", "title": "t"})
    with unchanged, pytest.raises(ValidationFailed):
        rpc.tickets.convert_conversation({"$gt": ""}, {"type": "Bug", "title": "t"})


def test_a_retried_convert_answers_the_same_ticket(config, rpc, store):
    conversation = conversation_of(rpc, "ann")
    context = {"idempotency_key": "convert-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        command = {"type": "Bug", "title": "From chat"}
        first = keyed.tickets.convert_conversation(conversation["id"], command)
        head = store.head_position()
        assert keyed.tickets.convert_conversation(conversation["id"], command) == first
    assert store.head_position() == head


def test_linking_unites_participants_and_picks_the_automatic_company(rpc, store):
    ticket = new_ticket(rpc, creator_id="cid")
    conversation = conversation_of(rpc, "ann")
    linked = rpc.tickets.link_conversation(ticket["id"], {"conversation_id": conversation["id"]})
    assert (linked["participant_ids"], linked["company_id"]) == (["cid", "ann"], "acme")
    assert linked["conversation_id"] == conversation["id"]
    assert ticket_events(store, ticket["id"]) == [
        "TicketCreated",
        "TicketConversationLinked",
        "TicketCompanyAssigned",
    ]
    again = rpc.tickets.link_conversation(ticket["id"], {"conversation_id": conversation["id"]})
    assert again == linked
    assert len(store.read_stream(f"ticket-{ticket['id']}")) == 3


def test_linking_keeps_an_assigned_company(rpc):
    ticket = new_ticket(rpc, creator_id="bob", company_id="globex")
    conversation = conversation_of(rpc, "ann")
    linked = rpc.tickets.link_conversation(ticket["id"], {"conversation_id": conversation["id"]})
    assert linked["company_id"] == "globex"


def test_linking_keeps_no_company_a_teammate_chose(rpc, store):
    ticket = new_ticket(rpc, creator_id="cid", company_id=None)
    conversation = conversation_of(rpc, "ann")
    linked = rpc.tickets.link_conversation(ticket["id"], {"conversation_id": conversation["id"]})
    assert (linked["participant_ids"], linked["company_id"]) == (["cid", "ann"], None)
    assert ticket_events(store, ticket["id"]) == ["TicketCreated", "TicketConversationLinked"]


def test_linking_applies_the_rule_again_until_a_teammate_confirms_the_company(rpc, store):
    automatic, confirmed = new_ticket(rpc, creator_id="ann"), new_ticket(rpc, creator_id="ann")
    assert rpc.tickets.company_choices(confirmed["id"])["company_chosen"] is False
    rpc.tickets.update_ticket(confirmed["id"], {"company_id": "acme"})
    assert rpc.tickets.company_choices(confirmed["id"]) == {
        "choices": ["acme"],
        "company_id": "acme",
        "company_chosen": True,
    }
    assert ticket_events(store, confirmed["id"]) == ["TicketCreated", "TicketCompanyAssigned"]
    for ticket in (automatic, confirmed):
        conversation = conversation_of(rpc, "dee")  # of Globex: two companies now
        rpc.tickets.link_conversation(ticket["id"], {"conversation_id": conversation["id"]})
    assert rpc.tickets.get_ticket(automatic["id"])["company_id"] is None
    assert rpc.tickets.get_ticket(confirmed["id"])["company_id"] == "acme"


def test_a_conversation_links_to_one_ticket_and_a_ticket_to_one_conversation(rpc, unchanged):
    first, second = new_ticket(rpc, creator_id="ann"), new_ticket(rpc, creator_id="ann")
    conversation, other = conversation_of(rpc, "ann"), conversation_of(rpc, "bob")
    rpc.tickets.link_conversation(first["id"], {"conversation_id": conversation["id"]})
    with unchanged:
        with pytest.raises(Conflict) as error:
            rpc.tickets.link_conversation(second["id"], {"conversation_id": conversation["id"]})
        assert error.value.fields == {"conversation_id": "already linked to ticket 1"}
        with pytest.raises(Conflict):
            rpc.tickets.link_conversation(first["id"], {"conversation_id": other["id"]})
        with pytest.raises(Conflict):
            rpc.tickets.convert_conversation(conversation["id"], {"type": "Bug", "title": "t"})


@pytest.mark.parametrize(
    ("ticket_id", "command", "error_type"),
    [
        (1, {"conversation_id": "conv-missing"}, ValidationFailed),
        (1, {"conversation_id": {"$gt": ""}}, ValidationFailed),
        (1, {"conversation_id": "c", "ticket_id": 2}, ValidationFailed),
        (1, {}, ValidationFailed),
        (9, {"conversation_id": "conv-missing"}, NotFound),
        ("1", {"conversation_id": "conv-missing"}, ValidationFailed),
    ],
)
def test_bad_links_are_refused_and_append_nothing(rpc, unchanged, ticket_id, command, error_type):
    new_ticket(rpc, creator_id="ann")
    with unchanged, pytest.raises(error_type):
        rpc.tickets.link_conversation(ticket_id, command)


# concurrent writers -----------------------------------------------------------------------


def results(replies) -> tuple[list, list]:
    """Wait for every reply; split them into answers and errors."""
    answers, errors = [], []
    for reply in replies:
        try:
            answers.append(reply.result())
        except Exception as error:
            errors.append(error)
    return answers, errors


def test_concurrent_updates_of_one_ticket_succeed_or_conflict_clearly(rpc, store):
    ticket = new_ticket(rpc, creator_id="bob", participant_ids=["dee"])
    commands = [
        {"company_id": ("acme", "globex")[n % 2], "state": f.TICKET_STATES[n % 4]}
        for n in range(12)
    ]
    replies = [rpc.tickets.update_ticket.call_async(ticket["id"], c) for c in commands]
    answers, errors = results(replies)
    assert all(isinstance(error, ConcurrencyConflict) for error in errors), errors
    assert answers
    history = store.read_stream(f"ticket-{ticket['id']}")
    assert [event.stream_version for event in history] == list(range(1, len(history) + 1))
    assert rpc.tickets.get_ticket(ticket["id"])["updated_at"] == history[-1].occurred_at


def test_concurrent_converts_of_one_conversation_make_one_ticket(rpc, store):
    conversation = conversation_of(rpc, "ann")
    command = {"type": "Bug", "title": "Race"}
    replies = [
        rpc.tickets.convert_conversation.call_async(conversation["id"], command) for _ in range(6)
    ]
    answers, errors = results(replies)
    assert len(answers) == 1
    assert all(type(error) is Conflict for error in errors), errors
    tickets = {event.stream_id for event in store.iter_all() if event.type == "TicketCreated"}
    assert tickets == {f"ticket-{answers[0]['id']}"}


@pytest.fixture
def second_tickets_process(rpc, config, tmp_path):
    """Another tickets process on the same broker and store: RabbitMQ hands the RPC calls to
    both, so their appends truly race (within one process eventlet runs them in turns)."""
    log = (tmp_path / "tickets-2.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "kernel.runner", "services.tickets.service:TicketsService"],
        cwd=REPOSITORY,
        env={
            **os.environ,
            "AMQP_URI": config["AMQP_URI"],
            "PORTAL_DATA_DIR": config["PORTAL_DATA_DIR"],
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_consumers(config["vhost"], "rpc-tickets", 2, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_for_consumers(vhost: str, queue: str, count: int, process, timeout: float = 60) -> None:
    url = f"{MANAGEMENT}/queues/{quote(vhost, safe='')}/{queue}"

    def enough_consumers() -> bool:
        assert process.poll() is None, "the second tickets process exited"
        answer = requests.get(url, auth=AUTH, timeout=5)
        return answer.ok and answer.json().get("consumers", 0) >= count

    eventually(enough_consumers, timeout)


def test_concurrent_creates_in_two_processes_get_gapless_ids(rpc, store, second_tickets_process):
    replies = [
        rpc.tickets.create_ticket.call_async({"type": "Bug", "title": f"n{n}", "creator_id": "ann"})
        for n in range(24)
    ]
    answers, errors = results(replies)
    assert errors == []
    assert sorted(answer["id"] for answer in answers) == list(range(1, 25))
    for answer in answers:
        [created] = store.read_stream(f"ticket-{answer['id']}")
        assert created.payload["title"] == answer["title"]


def test_concurrent_converts_in_two_processes_make_one_ticket(rpc, store, second_tickets_process):
    conversations = [conversation_of(rpc, "ann") for _ in range(4)]
    replies = [
        rpc.tickets.convert_conversation.call_async(c["id"], {"type": "Bug", "title": "Race"})
        for c in conversations
        for _ in range(4)
    ]
    answers, errors = results(replies)
    assert all(type(error) is Conflict for error in errors), errors
    assert sorted(a["conversation_id"] for a in answers) == sorted(c["id"] for c in conversations)
    links = [event for event in store.iter_all() if event.type == "TicketConversationLinked"]
    assert len(links) == len(conversations)
    created = [event for event in store.iter_all() if event.type == "TicketCreated"]
    assert [event.payload["ticket_id"] for event in created] == [1, 2, 3, 4]


def test_concurrent_links_of_one_conversation_keep_one(rpc, store, second_tickets_process):
    tickets = [new_ticket(rpc, creator_id="ann")["id"] for _ in range(6)]
    conversation = conversation_of(rpc, "ann")
    link = {"conversation_id": conversation["id"]}
    replies = [rpc.tickets.link_conversation.call_async(t, link) for t in tickets]
    replies.append(
        rpc.tickets.convert_conversation.call_async(
            conversation["id"], {"type": "Bug", "title": "t"}
        )
    )
    answers, errors = results(replies)
    assert len(answers) == 1, answers
    assert all(type(error) is Conflict for error in errors), errors
    [linked] = [event for event in store.iter_all() if event.type == "TicketConversationLinked"]
    assert linked.payload["ticket_id"] == answers[0]["id"]
    for ticket_id in tickets:
        expected = conversation["id"] if ticket_id == answers[0]["id"] else None
        assert rpc.tickets.get_ticket(ticket_id)["conversation_id"] == expected
