"""The messenger_bridge service through nameko on the real RabbitMQ and the embedded event
store, with the real identity, companies and tickets beside it, and portal_query only for
the reads it answers (the tickets space, a user's conversation): a portal user's reply and
join are decided without it."""

from __future__ import annotations

import re

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.contracts import fields as f
from kernel.errors import AccessDenied, Conflict, NotFound, ServiceUnavailable, ValidationFailed
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


# joining from the portal (portal_query never started), and the tickets space -------------


@pytest.fixture
def world(rpc):
    """A portal user's world: ann and bob are members of acme, dee of globex; ticket 1
    (acme) has ann's conversation, ticket 2 (acme) none. portal_query is not running."""
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
    return conversation


@pytest.fixture
def portal(container_factory, config, rpc, store, world):
    """The same world with portal_query beside the others, caught up."""
    container_factory(PortalQueryService, {**config, "CATCH_UP_INTERVAL": 0.1}).start()
    caught_up(rpc, store)
    return world


def caught_up(rpc, store, timeout: float = 30) -> None:
    """Until portal_query has applied everything in the store (a readiness wait)."""
    eventually(lambda: rpc.portal_query.status()["checkpoint"] >= store.head_position(), timeout)


def test_a_user_who_sees_the_ticket_joins_its_conversation_once(rpc, store, world):
    answer = rpc.messenger_bridge.join_conversation(1, "bob")
    joined = store.read_stream(f"conversation-{world['id']}")[-1]
    assert answer == {
        "conversation_id": world["id"],
        "messenger_url": f"/messenger/conversations/{world['id']}",
        "joined": True,
        "position": joined.position,
    }
    conversation = rpc.messenger_bridge.get_conversation(world["id"])
    assert conversation["participant_ids"] == ["ann", "bob"]
    assert (joined.type, joined.payload["contact_id"], joined.payload["ticket_id"]) == (
        "ConversationParticipantJoined",
        "bob",
        1,
    )
    head = store.head_position()
    assert rpc.messenger_bridge.join_conversation(1, "bob")["joined"] is False
    assert rpc.messenger_bridge.join_conversation(1, "ann")["joined"] is False
    assert store.head_position() == head


def test_a_retried_join_answers_that_it_joined(config, rpc, store, world):
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
    rpc, unchanged, world, ticket_id, user_id, message
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
        "position": store.head_position(),
    }
    stored = store.read_stream(f"conversation-{portal['id']}")[-1]
    assert stored.position == part["position"]
    assert (stored.type, stored.payload["author_id"], stored.payload["internal"]) == (
        "ConversationPartAdded",
        "ann",
        False,
    )
    position = part.pop("position")
    shown = rpc.messenger_bridge.user_conversation(portal["id"], "bob", position)["parts"]
    assert shown[-1] == part


def test_a_user_who_may_see_the_ticket_replies_once_joined(rpc, store, unchanged, world):
    with unchanged, pytest.raises(AccessDenied) as refused:
        rpc.messenger_bridge.user_reply(world["id"], "bob", {"body": "Me too"})
    assert refused.value.fields == {"conversation_id": "not joined"}

    rpc.messenger_bridge.join_conversation(1, "bob")
    # No wait for the read side: the conversation's own stream says bob takes part.
    part = rpc.messenger_bridge.user_reply(world["id"], "bob", {"body": "Me too"})
    assert part["author_name"] == "Bob"


def test_replies_and_joins_are_decided_while_the_read_side_is_down(rpc, store, world):
    """portal_query never started: what it answers is unavailable, writes are not."""
    with pytest.raises(ServiceUnavailable):
        rpc.messenger_bridge.tickets_space("ann")

    assert rpc.messenger_bridge.user_reply(world["id"], "ann", {"body": "Hot"})["body"] == "Hot"
    assert rpc.messenger_bridge.join_conversation(1, "bob")["joined"] is True
    assert rpc.messenger_bridge.user_reply(world["id"], "bob", {"body": "Hi"})["body"] == "Hi"


def outsider_answers(rpc, world, user_id: str, join: bool = True) -> tuple[str, str | None]:
    """What a non-participant gets for replying and (``join``) for joining ticket 1:
    ``forbidden`` (may open the conversation, must join first), ``joined``, or ``not
    found`` worded exactly as for what does not exist."""
    try:
        rpc.messenger_bridge.user_reply(world["id"], user_id, {"body": "Let me in"})
        reply = "replied"
    except AccessDenied:
        reply = "forbidden"
    except NotFound as missing:
        assert (missing.message, missing.fields) == (
            f"conversation {world['id']} does not exist",
            {"conversation_id": "no such conversation"},
        )
        reply = "not found"
    if not join:
        return reply, None
    try:
        joined = rpc.messenger_bridge.join_conversation(1, user_id)["joined"]
    except NotFound as missing:
        assert (missing.message, missing.fields) == ("ticket 1 does not exist", {})
        return reply, "not found"
    return reply, "joined" if joined else "already in"


RESTRICTED = [{"attribute": "role", "operator": "eq", "value": "member"}]
ACCESS_CHANGES = {
    "membership": (
        lambda rpc: rpc.companies.remove_member("acme", "eve"),
        lambda rpc: rpc.companies.add_member("acme", {"user_id": "eve"}),
    ),
    "email": (
        lambda rpc: rpc.identity.save_contact({"id": "eve", "email": None}),
        lambda rpc: rpc.identity.save_contact({"id": "eve", "email": "eve@example.com"}),
    ),
    "visibility condition": (
        lambda rpc: rpc.identity.change_portal_settings({"visibility_conditions": RESTRICTED}),
        lambda rpc: rpc.identity.change_portal_settings({"visibility_conditions": []}),
    ),
    "ticket company": (
        lambda rpc: rpc.tickets.update_ticket(1, {"company_id": None}),
        lambda rpc: rpc.tickets.update_ticket(1, {"company_id": "acme"}),
    ),
}


@pytest.mark.parametrize("change", ACCESS_CHANGES)
def test_a_change_of_access_is_honoured_by_the_very_next_write(rpc, unchanged, world, change):
    """Eve, a member of acme (role member), sees ticket 1 (ann's) until a teammate's change
    takes it from her; the next reply and join follow that change at once, with no wait,
    and follow it back."""
    take_away, give_back = ACCESS_CHANGES[change]
    eve = {"id": "eve", "email": "eve@example.com", "name": "Eve", "attributes": {"role": "member"}}
    rpc.identity.save_contact(eve)
    rpc.companies.add_member("acme", {"user_id": "eve"})
    with unchanged:
        assert outsider_answers(rpc, world, "eve", join=False) == ("forbidden", None)

    take_away(rpc)
    with unchanged:
        assert outsider_answers(rpc, world, "eve") == ("not found", "not found")

    give_back(rpc)
    assert outsider_answers(rpc, world, "eve") == ("forbidden", "joined")


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
def test_a_bad_reply_names_the_field_and_appends_nothing(rpc, unchanged, world, command, field):
    with unchanged, pytest.raises(ValidationFailed) as error:
        rpc.messenger_bridge.user_reply(world["id"], "ann", command)
    assert field in error.value.fields, error.value.fields


@pytest.mark.parametrize(
    ("conversation_id", "user_id"), [({"$gt": ""}, "ann"), ("conv-1", {"$gt": ""}), (7, "ann")]
)
def test_malformed_conversation_arguments_are_refused(rpc, unchanged, conversation_id, user_id):
    with unchanged, pytest.raises(ValidationFailed):
        rpc.messenger_bridge.user_reply(conversation_id, user_id, {"body": "Hi"})
    with pytest.raises(ValidationFailed):
        rpc.messenger_bridge.user_conversation(conversation_id, user_id)


def test_a_retried_reply_is_added_once(config, rpc, store, world):
    context = {"idempotency_key": "reply-1", "request_fingerprint": "fp-1"}
    with ClusterRpcProxy(config, context_data=context, timeout=20) as keyed:
        first = keyed.messenger_bridge.user_reply(world["id"], "ann", {"body": "Once"})
        head = store.head_position()
        assert keyed.messenger_bridge.user_reply(world["id"], "ann", {"body": "Once"}) == first
    assert store.head_position() == head
    parts = rpc.messenger_bridge.get_conversation(world["id"])["parts"]
    assert [part["body"] for part in parts] == ["My printer is on fire", "Once"]
