"""The messenger domain core: given these events, when this command, then these events or
this error. Every decision is also checked against the event contracts."""

from __future__ import annotations

import functools

import pytest

from kernel.errors import AccessDenied, NotFound, ValidationFailed
from services.messenger_bridge import domain
from tests.support.decisions import checked, history

ANN = {"id": "ann", "email": "ann@acme.test", "name": "Ann Example", "attributes": {}}
BOB = {"id": "bob", "email": None, "name": None, "attributes": {}}


# Every decision here is about one conversation, in its stream.
recorded = functools.partial(history, "conversation-conv-1")
valid = functools.partial(checked, "conversation-conv-1")


def started() -> list[domain.Decision]:
    return valid(
        domain.start_conversation("conv-1", "part-1", {"user_id": "ann", "body": "Hi"}, ANN)
    )


def conversation(*more: domain.Decision) -> domain.Conversation:
    return domain.fold(recorded(*started(), *more))


def teammate_part(**changes) -> dict:
    return {"author_type": "teammate", "author_id": "tm-1", "author_name": "Tess", "body": "Ok"} | (
        changes
    )


def user_part(**changes) -> dict:
    return {"author_type": "user", "author_id": "ann", "body": "Thanks"} | changes


# starting ---------------------------------------------------------------------------------


def test_a_conversation_starts_with_the_users_opening_message():
    assert started() == [
        ("ConversationStarted", {"conversation_id": "conv-1", "contact_id": "ann"}),
        (
            "ConversationPartAdded",
            {
                "conversation_id": "conv-1",
                "part_id": "part-1",
                "author_type": "user",
                "author_id": "ann",
                "author_name": "Ann Example",
                "body": "Hi",
                "internal": False,
            },
        ),
    ]


def test_only_an_existing_contact_starts_a_conversation():
    with pytest.raises(ValidationFailed) as error:
        domain.start_conversation("conv-1", "part-1", {"user_id": "zed", "body": "Hi"}, None)
    assert error.value.fields == {"user_id": "no such contact"}


# folding ----------------------------------------------------------------------------------


def test_folding_gives_the_teammate_view_with_internal_notes():
    note = domain.add_part(conversation(), "part-2", teammate_part(internal=True), None)
    joined = domain.join(conversation(), "bob", 12)
    assert domain.fold(recorded(*started(), *note, *joined)).to_dict(ticket_id=12) == {
        "id": "conv-1",
        "contact_id": "ann",
        "participant_ids": ["ann", "bob"],
        "ticket_id": 12,
        "parts": [
            {
                "id": "part-1",
                "author_type": "user",
                "author_id": "ann",
                "author_name": "Ann Example",
                "body": "Hi",
                "internal": False,
                "created_at": "2026-03-02T10:00:00.000000+00:00",
            },
            {
                "id": "part-2",
                "author_type": "teammate",
                "author_id": "tm-1",
                "author_name": "Tess",
                "body": "Ok",
                "internal": True,
                "created_at": "2026-03-03T10:00:00.000000+00:00",
            },
        ],
    }


def test_an_unknown_conversation_is_not_found():
    assert domain.fold([]) is None
    with pytest.raises(NotFound) as error:
        domain.existing_conversation([], "conv-404")
    assert error.value.fields == {"conversation_id": "no such conversation"}


# adding parts -----------------------------------------------------------------------------


def test_a_teammate_writes_replies_and_internal_notes():
    [(_, reply)] = valid(domain.add_part(conversation(), "part-2", teammate_part(), None))
    [(_, note)] = valid(
        domain.add_part(conversation(), "part-3", teammate_part(internal=True), None)
    )
    assert (reply["internal"], note["internal"]) == (False, True)
    assert (reply["author_name"], reply["author_id"]) == ("Tess", "tm-1")


@pytest.mark.parametrize("name", [None, ""])
def test_a_teammate_part_needs_the_authors_name(name):
    command = teammate_part(author_name=name)
    with pytest.raises(ValidationFailed) as error:
        domain.add_part(conversation(), "part-2", command, None)
    assert error.value.fields == {"author_name": "required"}
    del command["author_name"]
    with pytest.raises(ValidationFailed):
        domain.add_part(conversation(), "part-2", command, None)


def test_a_users_part_takes_the_name_from_the_contact():
    [(_, part)] = valid(domain.add_part(conversation(), "part-2", user_part(), ANN))
    assert (part["author_type"], part["author_name"], part["internal"]) == (
        "user",
        "Ann Example",
        False,
    )


def test_a_user_who_joined_may_write():
    [(_, part)] = domain.add_part(
        conversation(*domain.join(conversation(), "bob", 3)), "p", user_part(author_id="bob"), BOB
    )
    assert (part["author_id"], part["author_name"]) == ("bob", None)


def test_a_user_cannot_write_internal_notes():
    with pytest.raises(ValidationFailed) as error:
        domain.add_part(conversation(), "part-2", user_part(internal=True), ANN)
    assert error.value.fields == {"internal": "a user cannot write internal notes"}


def test_a_user_does_not_choose_their_name():
    with pytest.raises(ValidationFailed) as error:
        domain.add_part(conversation(), "part-2", user_part(author_name="Boss"), ANN)
    assert list(error.value.fields) == ["author_name"]


def test_a_user_part_needs_an_existing_contact_taking_part():
    with pytest.raises(ValidationFailed) as error:
        domain.add_part(conversation(), "part-2", user_part(author_id="zed"), None)
    assert error.value.fields == {"author_id": "no such contact"}
    with pytest.raises(ValidationFailed) as error:
        domain.add_part(conversation(), "part-2", user_part(author_id="bob"), BOB)
    assert error.value.fields == {"author_id": "is not a participant of this conversation"}


# a portal user's reply -----------------------------------------------------------------------


def test_a_portal_users_reply_is_a_customer_visible_part_under_the_contacts_name():
    [(event_type, part)] = valid(domain.user_reply(conversation(), "part-2", "ann", "Hi", ANN))
    assert (event_type, part) == (
        "ConversationPartAdded",
        {
            "conversation_id": "conv-1",
            "part_id": "part-2",
            "author_type": "user",
            "author_id": "ann",
            "author_name": "Ann Example",
            "body": "Hi",
            "internal": False,
        },
    )
    replied = conversation(("ConversationPartAdded", part))
    assert replied.part("part-2").customer_view() == {
        "id": "part-2",
        "author_type": "user",
        "author_name": "Ann Example",
        "body": "Hi",
        "created_at": "2026-03-03T10:00:00.000000+00:00",
    }


def test_a_portal_user_replies_only_after_joining():
    with pytest.raises(ValidationFailed) as error:
        domain.user_reply(conversation(), "part-2", "bob", "Me too", BOB)
    assert error.value.fields == {"author_id": "is not a participant of this conversation"}
    joined = conversation(*domain.join(conversation(), "bob", 3))
    assert valid(domain.user_reply(joined, "part-2", "bob", "Me too", BOB))


def test_an_outsider_who_may_open_the_conversation_is_told_to_join_first():
    with pytest.raises(AccessDenied) as error:
        domain.refuse_outsider("conv-1", may_open=True)
    assert error.value.fields == {"conversation_id": "not joined"}


def test_to_any_other_outsider_the_conversation_does_not_exist():
    with pytest.raises(NotFound) as refused:
        domain.refuse_outsider("conv-1", may_open=False)
    with pytest.raises(NotFound) as missing:
        domain.existing_conversation([], "conv-1")
    assert (refused.value.message, refused.value.fields) == (
        missing.value.message,
        missing.value.fields,
    )


# joining ----------------------------------------------------------------------------------


def test_joining_adds_the_user_through_the_ticket():
    assert valid(domain.join(conversation(), "bob", 12)) == [
        (
            "ConversationParticipantJoined",
            {"conversation_id": "conv-1", "contact_id": "bob", "ticket_id": 12},
        )
    ]


def test_a_participant_joining_again_changes_nothing():
    assert domain.join(conversation(), "ann", 12) == []
    assert domain.join(conversation(*domain.join(conversation(), "bob", 12)), "bob", 12) == []


# removing a participant -------------------------------------------------------------------


def test_a_teammate_removes_a_participant_who_then_cannot_write():
    joined = conversation(*domain.join(conversation(), "bob", 12))
    removal = valid(domain.remove_participant(joined, "bob"))
    assert removal == [
        ("ConversationParticipantRemoved", {"conversation_id": "conv-1", "contact_id": "bob"})
    ]

    removed = conversation(*domain.join(conversation(), "bob", 12), *removal)

    assert removed.participant_ids == ("ann",)
    with pytest.raises(ValidationFailed) as refused:
        domain.user_reply(removed, "part-9", "bob", "Still here?", BOB)
    assert refused.value.fields == {"author_id": "is not a participant of this conversation"}


def test_removing_someone_who_does_not_take_part_changes_nothing():
    assert domain.remove_participant(conversation(), "bob") == []
