"""The messenger_bridge service through nameko on the real RabbitMQ and the embedded event
store, with the real identity, companies, tickets and (for joining and the tickets space)
portal_query beside it."""

from __future__ import annotations

import re

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.contracts import fields as f
from kernel.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from services.companies.service import CompaniesService
from services.identity.service import IdentityService
from services.messenger_bridge.service import MessengerBridgeService
from services.portal_query.service import PortalQueryService
from services.tickets.service import TicketsService
from tests.support.waiting import eventually

CONTACTS = {"ann": "Ann Archer", "bob": "Bob Baker", "cid": None}
TESS = {"author_type": "teammate", "author_id": "tm-tess", "author_name": "Tess"}


@pytest.fixture
def rpc(container_factory, config):
    for service in (IdentityService, CompaniesService, TicketsService, MessengerBridgeService):
        container_factory(service, config).start()
    with ClusterRpcProxy(config, timeout=20) as cluster:
        for contact_id, name in CONTACTS.items():
            cluster.identity.save_contact({"id": contact_id, "name": name})
        yield cluster


def start(rpc, user_id: str = "ann", body: str = "My printer is on fire") -> dict:
    return rpc.messenger_bridge.start_conversation({"user_id": user_id, "body": body})


def test_health(rpc):
    assert rpc.messenger_bridge.health() == {"service": "messenger_bridge", "status": "ok"}


# starting ---------------------------------------------------------------------------------


def test_a_conversation_starts_with_the_users_opening_message(rpc, store):
    conversation = start(rpc)
    assert re.fullmatch(r"conv-[0-9a-f]{32}", conversation["id"])
    [opening] = conversation["parts"]
    assert re.fullmatch(r"part-[0-9a-f]{32}", opening["id"])
    assert conversation == {
        "id": conversation["id"],
        "contact_id": "ann",
        "participant_ids": ["ann"],
        "ticket_id": None,
        "parts": [
            {
                "id": opening["id"],
                "author_type": "user",
                "author_id": "ann",
                "author_name": "Ann Archer",
                "body": "My printer is on fire",
                "internal": False,
                "created_at": opening["created_at"],
            }
        ],
    }
    events = store.read_stream(f"conversation-{conversation['id']}")
    assert [(e.type, e.stream_version) for e in events] == [
        ("ConversationStarted", 1),
        ("ConversationPartAdded", 2),
    ]
    assert events[0].position + 1 == events[1].position  # one append
    assert rpc.messenger_bridge.get_conversation(conversation["id"]) == conversation


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"user_id": "zed", "body": "Hi"}, "user_id"),
        ({"user_id": {"$gt": ""}, "body": "Hi"}, "user_id"),
        ({"user_id": "ann", "body": {"$ne": None}}, "body"),
        ({"user_id": "ann", "body": ""}, "body"),
        ({"user_id": "ann", "body": "x" * (f.MAX_TEXT + 1)}, "body"),
        ({"user_id": "ann", "body": "bell\x07"}, "body"),
        ({"user_id": "ann", "body": "Hi", "conversation_id": "conv-mine"}, "conversation_id"),
        ({"user_id": "ann"}, "body"),
        ({"user_id": ["ann"], "body": "Hi"}, "user_id"),
    ],
)
def test_a_bad_start_names_the_field_and_appends_nothing(rpc, unchanged, command, field):
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.messenger_bridge.start_conversation(command)
    assert field in error.value.fields, error.value.fields


def test_a_retried_start_answers_the_same_conversation(config, rpc, store):
    context = {"idempotency_key": "start-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        first = start(keyed)
        head = store.head_position()
        assert start(keyed) == first
    assert store.head_position() == head
    other = {"idempotency_key": "start-2", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=other, timeout=20) as keyed:
        assert start(keyed)["id"] != first["id"]
    reused = {"idempotency_key": "start-1", "request_fingerprint": "fp-2"}
    with (
        ClusterRpcProxy(config, context_data=reused, timeout=20) as keyed,
        pytest.raises(Conflict),
    ):
        start(keyed, body="Something else")


# parts ------------------------------------------------------------------------------------


def test_teammates_reply_and_write_internal_notes(rpc, store):
    conversation = start(rpc)
    reply = rpc.messenger_bridge.add_part(conversation["id"], {**TESS, "body": "On my way"})
    note = rpc.messenger_bridge.add_part(
        conversation["id"], {**TESS, "body": "Call the fire brigade", "internal": True}
    )
    assert (reply["author_name"], reply["internal"], note["internal"]) == ("Tess", False, True)
    assert re.fullmatch(r"part-[0-9a-f]{32}", reply["id"])
    parts = rpc.messenger_bridge.get_conversation(conversation["id"])["parts"]
    assert parts[1:] == [reply, note]


def test_a_participating_user_writes_under_the_contacts_name(rpc):
    conversation = start(rpc)
    part = rpc.messenger_bridge.add_part(
        conversation["id"], {"author_type": "user", "author_id": "ann", "body": "Still burning"}
    )
    assert (part["author_type"], part["author_name"], part["internal"]) == (
        "user",
        "Ann Archer",
        False,
    )


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"author_type": "user", "author_id": "ann", "body": "x", "internal": True}, "internal"),
        ({"author_type": "user", "author_id": "bob", "body": "x"}, "author_id"),
        ({"author_type": "user", "author_id": "zed", "body": "x"}, "author_id"),
        (
            {"author_type": "user", "author_id": "ann", "author_name": "X", "body": "x"},
            "author_name",
        ),
        ({"author_type": "teammate", "author_id": "tm-tess", "body": "x"}, "author_name"),
        ({**TESS, "author_name": None, "body": "x"}, "author_name"),
        ({**TESS, "body": "x" * (f.MAX_TEXT + 1)}, "body"),
        ({**TESS, "body": ""}, "body"),
        ({**TESS, "body": "x", "internal": "yes"}, "internal"),
        ({**TESS, "author_type": "bot", "body": "x"}, "author_type"),
        ({**TESS, "author_id": {"$gt": ""}, "body": "x"}, "author_id"),
        ({**TESS, "body": "x", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_a_bad_part_names_the_field_and_appends_nothing(rpc, unchanged, command, field):
    conversation = start(rpc)
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.messenger_bridge.add_part(conversation["id"], command)
    assert field in error.value.fields, error.value.fields


def test_parts_of_an_unknown_conversation_are_not_found(rpc, unchanged):
    with unchanged, pytest.raises(NotFound):
        rpc.messenger_bridge.add_part("conv-missing", {**TESS, "body": "Hello?"})
    with unchanged, pytest.raises(ValidationFailed):
        rpc.messenger_bridge.add_part({"$gt": ""}, {**TESS, "body": "Hello?"})


def test_a_retried_part_is_added_once(config, rpc, store):
    conversation = start(rpc)
    context = {"idempotency_key": "part-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        first = keyed.messenger_bridge.add_part(conversation["id"], {**TESS, "body": "Once"})
        assert (
            keyed.messenger_bridge.add_part(conversation["id"], {**TESS, "body": "Once"}) == first
        )
    assert len(rpc.messenger_bridge.get_conversation(conversation["id"])["parts"]) == 2


def test_concurrent_parts_all_land_in_order_without_holes(rpc, store):
    conversation = start(rpc)
    replies = [
        rpc.messenger_bridge.add_part.call_async(conversation["id"], {**TESS, "body": f"n{n}"})
        for n in range(10)
    ]
    parts = [reply.result() for reply in replies]
    history = store.read_stream(f"conversation-{conversation['id']}")
    assert [event.stream_version for event in history] == list(range(1, 13))
    stored = rpc.messenger_bridge.get_conversation(conversation["id"])["parts"][1:]
    assert sorted(p["id"] for p in stored) == sorted(p["id"] for p in parts)


# reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("conversation_id", ["conv-missing", {"$gt": ""}, 7, None, "a/b"])
def test_an_unknown_or_malformed_conversation_is_refused(rpc, conversation_id):
    expected = NotFound if conversation_id == "conv-missing" else ValidationFailed
    with pytest.raises(expected):
        rpc.messenger_bridge.get_conversation(conversation_id)


def test_the_conversation_shows_its_linked_ticket_which_tickets_answers(rpc):
    conversation = start(rpc)
    assert rpc.tickets.linked_ticket(conversation["id"]) is None
    ticket = rpc.tickets.convert_conversation(conversation["id"], {"type": "Bug", "title": "t"})
    assert rpc.tickets.linked_ticket(conversation["id"]) == ticket["id"]
    assert rpc.messenger_bridge.get_conversation(conversation["id"])["ticket_id"] == ticket["id"]


def test_the_participants_of_a_conversation(rpc):
    conversation = start(rpc)
    assert rpc.messenger_bridge.conversation_participants(conversation["id"]) == {
        "id": conversation["id"],
        "contact_id": "ann",
        "participant_ids": ["ann"],
    }
    with pytest.raises(NotFound):
        rpc.messenger_bridge.conversation_participants("conv-missing")


# joining from the portal, and the tickets space (through the real portal_query) ------------


@pytest.fixture
def portal(container_factory, config, rpc, store):
    """portal_query beside the others, with a portal user's world: ann and bob are members
    of acme, dee of globex; ticket 1 (acme) has ann's conversation, ticket 2 (acme) none."""
    container_factory(PortalQueryService, {**config, "CATCH_UP_INTERVAL": 0.1}).start()
    for contact_id in ("ann", "bob", "dee"):
        rpc.identity.save_contact(
            {"id": contact_id, "email": f"{contact_id}@example.com", "name": contact_id.title()}
        )
    for company_id, members in {"acme": ["ann", "bob"], "globex": ["dee"]}.items():
        rpc.companies.create_company({"id": company_id, "name": company_id.title()})
        for member in members:
            rpc.companies.add_member(company_id, {"user_id": member})
    conversation = start(rpc)
    rpc.tickets.convert_conversation(conversation["id"], {"type": "Bug", "title": "Fire"})
    rpc.tickets.create_ticket({"type": "Question", "title": "Toner?", "creator_id": "ann"})
    caught_up(rpc, store)
    return conversation


def caught_up(rpc, store, timeout: float = 30) -> None:
    """Until portal_query has applied everything in the store (a readiness wait)."""
    eventually(lambda: rpc.portal_query.status()["checkpoint"] >= store.head_position(), timeout)


def test_a_user_who_sees_the_ticket_joins_its_conversation_once(rpc, store, portal):
    answer = rpc.messenger_bridge.join_conversation(1, "bob")
    assert answer == {
        "conversation_id": portal["id"],
        "messenger_url": f"/messenger/conversations/{portal['id']}",
        "joined": True,
    }
    conversation = rpc.messenger_bridge.get_conversation(portal["id"])
    assert conversation["participant_ids"] == ["ann", "bob"]
    joined = store.read_stream(f"conversation-{portal['id']}")[-1]
    assert (joined.type, joined.payload["contact_id"], joined.payload["ticket_id"]) == (
        "ConversationParticipantJoined",
        "bob",
        1,
    )
    head = store.head_position()
    assert rpc.messenger_bridge.join_conversation(1, "bob")["joined"] is False
    assert rpc.messenger_bridge.join_conversation(1, "ann")["joined"] is False
    assert store.head_position() == head


def test_a_retried_join_answers_that_it_joined(config, rpc, store, portal):
    context = {"idempotency_key": "join-1", "request_fingerprint": "fp-join"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        assert keyed.messenger_bridge.join_conversation(1, "bob")["joined"] is True
        head = store.head_position()
        assert keyed.messenger_bridge.join_conversation(1, "bob")["joined"] is True
    assert store.head_position() == head


def test_the_joined_ticket_is_in_the_users_tickets_space(rpc, store, portal):
    assert rpc.messenger_bridge.tickets_space("dee") == {"items": [], "portal_url": "/"}
    before = rpc.messenger_bridge.tickets_space("bob")
    assert [item["id"] for item in before["items"]] == []
    rpc.messenger_bridge.join_conversation(1, "bob")
    caught_up(rpc, store)
    after = rpc.messenger_bridge.tickets_space("bob")
    assert ([item["id"] for item in after["items"]], after["portal_url"]) == ([1], "/")


@pytest.mark.parametrize(
    ("ticket_id", "user_id", "message"),
    [
        (1, "dee", "does not exist"),  # another company's ticket: as if it did not exist
        (1, "cid", "does not exist"),  # no email, no company: no portal access
        (99, "bob", "does not exist"),
        (2, "bob", "no linked conversation"),
    ],
)
def test_joining_what_the_user_may_not_see_or_that_has_no_conversation_is_not_found(
    rpc, unchanged, portal, ticket_id, user_id, message
):
    with unchanged, pytest.raises(NotFound) as error:
        rpc.messenger_bridge.join_conversation(ticket_id, user_id)
    assert message in error.value.message


@pytest.mark.parametrize(
    ("ticket_id", "user_id"), [("1", "bob"), (0, "bob"), (1, {"$gt": ""}), (1, None), (None, "bob")]
)
def test_malformed_join_arguments_are_refused(rpc, unchanged, ticket_id, user_id):
    with unchanged, pytest.raises(ValidationFailed):
        rpc.messenger_bridge.join_conversation(ticket_id, user_id)


@pytest.mark.parametrize("user_id", [{"$gt": ""}, "", None, ["bob"]])
def test_a_malformed_tickets_space_user_is_refused(rpc, user_id):
    with pytest.raises(ValidationFailed):
        rpc.messenger_bridge.tickets_space(user_id)


def test_the_tickets_space_links_each_ticket_into_its_conversation(rpc, store, portal):
    items = rpc.messenger_bridge.tickets_space("ann")["items"]
    assert {item["id"]: (item["conversation_id"], item["messenger_url"]) for item in items} == {
        1: (portal["id"], f"/messenger/conversations/{portal['id']}"),
        2: (None, None),
    }


# a portal user's conversation and replies -------------------------------------------------


def test_a_participant_reads_the_customer_visible_conversation(rpc, store, portal):
    rpc.messenger_bridge.add_part(portal["id"], {**TESS, "body": "Ladder on its way"})
    rpc.messenger_bridge.add_part(portal["id"], {**TESS, "body": "CANARY note", "internal": True})
    caught_up(rpc, store)

    conversation = rpc.messenger_bridge.user_conversation(portal["id"], "ann")

    assert conversation["id"] == portal["id"]
    assert conversation["messenger_url"] == f"/messenger/conversations/{portal['id']}"
    assert conversation["portal_url"] == "/"
    assert (conversation["participant"], conversation["ticket"]) == (
        True,
        {"id": 1, "title": "Fire", "state": "submitted"},
    )
    assert [(p["author_name"], p["body"]) for p in conversation["parts"]] == [
        ("Ann", "My printer is on fire"),
        ("Tess", "Ladder on its way"),
    ]
    assert "CANARY" not in repr(conversation)
    colleague = rpc.messenger_bridge.user_conversation(portal["id"], "bob")
    assert (colleague["participant"], colleague["parts"]) == (False, conversation["parts"])


def test_a_participant_replies_under_the_contacts_name(rpc, store, portal):
    part = rpc.messenger_bridge.user_reply(portal["id"], "ann", {"body": "Still smoking"})

    assert re.fullmatch(r"part-[0-9a-f]{32}", part["id"])
    assert part == {
        "id": part["id"],
        "author_type": "user",
        "author_name": "Ann",
        "body": "Still smoking",
        "created_at": part["created_at"],
    }
    stored = store.read_stream(f"conversation-{portal['id']}")[-1]
    assert (stored.type, stored.payload["author_id"], stored.payload["internal"]) == (
        "ConversationPartAdded",
        "ann",
        False,
    )
    caught_up(rpc, store)
    shown = rpc.messenger_bridge.user_conversation(portal["id"], "bob")["parts"]
    assert shown[-1] == part


def test_a_user_who_may_see_the_ticket_replies_once_joined(rpc, store, unchanged, portal):
    with unchanged, pytest.raises(AccessDenied) as refused:
        rpc.messenger_bridge.user_reply(portal["id"], "bob", {"body": "Me too"})
    assert refused.value.fields == {"conversation_id": "not joined"}

    rpc.messenger_bridge.join_conversation(1, "bob")
    # No wait for the read side: the conversation's own stream says bob takes part.
    part = rpc.messenger_bridge.user_reply(portal["id"], "bob", {"body": "Me too"})
    assert part["author_name"] == "Bob"


@pytest.mark.parametrize("user_id", ["dee", "cid", "nobody"])
def test_to_anyone_else_a_reply_answers_like_a_missing_conversation(
    rpc, unchanged, portal, user_id
):
    with unchanged, pytest.raises(NotFound) as refused:
        rpc.messenger_bridge.user_reply(portal["id"], user_id, {"body": "Let me in"})
    with pytest.raises(NotFound) as missing:
        rpc.messenger_bridge.user_reply("conv-missing", "ann", {"body": "Hello?"})
    assert (
        refused.value.fields == missing.value.fields == {"conversation_id": "no such conversation"}
    )
    assert refused.value.message == f"conversation {portal['id']} does not exist"
    with pytest.raises(NotFound) as reading:
        rpc.messenger_bridge.user_conversation(portal["id"], user_id)
    assert (reading.value.message, reading.value.fields) == (
        refused.value.message,
        refused.value.fields,
    )


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "x" * (f.MAX_TEXT + 1)}, "body"),
        ({"body": "bell\x07"}, "body"),
        ({"body": {"$ne": None}}, "body"),
        ({"body": "x", "internal": True}, "internal"),
        ({"body": "x", "author_id": "bob"}, "author_id"),
        ({"body": "x", "author_type": "teammate", "author_name": "Tess"}, "author_type"),
    ],
)
def test_a_bad_reply_names_the_field_and_appends_nothing(rpc, unchanged, portal, command, field):
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.messenger_bridge.user_reply(portal["id"], "ann", command)
    assert field in error.value.fields, error.value.fields


@pytest.mark.parametrize(
    ("conversation_id", "user_id"), [({"$gt": ""}, "ann"), ("conv-1", {"$gt": ""}), (7, "ann")]
)
def test_malformed_conversation_arguments_are_refused(rpc, unchanged, conversation_id, user_id):
    with unchanged, pytest.raises(ValidationFailed):
        rpc.messenger_bridge.user_reply(conversation_id, user_id, {"body": "Hi"})
    with pytest.raises(ValidationFailed):
        rpc.messenger_bridge.user_conversation(conversation_id, user_id)


def test_a_retried_reply_is_added_once(config, rpc, store, portal):
    context = {"idempotency_key": "reply-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        first = keyed.messenger_bridge.user_reply(portal["id"], "ann", {"body": "Once"})
        head = store.head_position()
        assert keyed.messenger_bridge.user_reply(portal["id"], "ann", {"body": "Once"}) == first
    assert store.head_position() == head
    parts = rpc.messenger_bridge.get_conversation(portal["id"])["parts"]
    assert [part["body"] for part in parts] == ["My printer is on fire", "Once"]
