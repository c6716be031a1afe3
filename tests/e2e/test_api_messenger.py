"""A portal user's Messenger through HTTP against the real stack: reading a conversation by
its id, replying in it (participants only, validated, CSRF-guarded, idempotent), the reply
reaching the portal, and the tickets space linking into each conversation. Every answer is
checked against the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.support.api import api_stack, error_of, stored_events
from tests.support.waiting import eventually

NOTE = "CANARY-internal-note-5d2e"
CONTACTS = {
    "ann": ("ann@acme.example", "Ann Archer", "acme"),
    "bob": ("bob@acme.example", "Bob Baker", "acme"),
    "dave": ("dave@globex.example", "Dave Diaz", "globex"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Acme (Ann, Bob) and Globex (Dave); one ticket per company converted from its
    creator's conversation, each with a teammate's reply and an internal note."""
    with api_stack(tmp_path_factory.mktemp("api_messenger")) as (stack, api):
        for company_id in ("acme", "globex"):
            api.admin_ok(
                "POST", "/api/admin/companies", json={"id": company_id, "name": company_id.title()}
            )
        for contact_id, (email, name, company_id) in CONTACTS.items():
            api.admin_ok(
                "POST", "/api/admin/contacts", json={"id": contact_id, "email": email, "name": name}
            )
            api.admin_ok(
                "POST", f"/api/admin/companies/{company_id}/members", json={"user_id": contact_id}
            )
        tickets = {
            "acme": ticket_from_conversation(api, "bob", "Invoices export fails"),
            "globex": ticket_from_conversation(api, "dave", "Webhooks flood our endpoint"),
        }
        sessions = {user: api.sign_in(user, CONTACTS[user][0]) for user in CONTACTS}
        world = {"stack": stack, "api": api, "tickets": tickets, "sessions": sessions}
        for user in ("ann", "bob"):
            eventually(lambda user=user: conversation_of(world, user, tickets["acme"]))
        yield world


def ticket_from_conversation(api, creator: str, title: str) -> dict:
    conversation = api.admin_ok(
        "POST", "/api/admin/conversations", json={"user_id": creator, "body": f"{title}!"}
    )
    ticket = api.admin_ok(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/ticket",
        json={"type": "Bug", "title": title},
    )
    for body, internal in (("We are on it", False), (NOTE, True)):
        api.teammate_part(conversation["id"], body, internal=internal)
    return ticket


def conversation_url(ticket: dict) -> str:
    return f"/api/messenger/conversations/{ticket['conversation_id']}"


def conversation_of(world, user: str, ticket: dict) -> dict | None:
    """The user's view of the ticket's conversation, or None while it is not there (yet)."""
    answer = world["api"].call("GET", conversation_url(ticket), session=world["sessions"][user])
    return answer.json() if answer.status_code == 200 else None


def reply(world, user: str, ticket: dict, body, **options):
    return world["api"].call(
        "POST",
        f"{conversation_url(ticket)}/messages",
        session=world["sessions"][user],
        json={"body": body},
        **options,
    )


# reading ----------------------------------------------------------------------------------


def test_the_creator_reads_the_customer_visible_conversation(world):
    ticket = world["tickets"]["acme"]
    answer = world["api"].call("GET", conversation_url(ticket), session=world["sessions"]["bob"])

    assert answer.status_code == 200
    conversation = answer.json()
    assert conversation["id"] == ticket["conversation_id"]
    assert conversation["messenger_url"] == f"/messenger/conversations/{ticket['conversation_id']}"
    assert conversation["portal_url"] == "/"
    assert conversation["participant"] is True
    assert conversation["ticket"] == {
        "id": ticket["id"],
        "title": "Invoices export fails",
        "state": "submitted",
    }
    assert [(p["author_type"], p["author_name"], p["body"]) for p in conversation["parts"]] == [
        ("user", "Bob Baker", "Invoices export fails!"),
        ("teammate", "Sam", "We are on it"),
    ]
    assert NOTE not in answer.text


def test_the_join_answers_url_opens_the_conversation(world):
    api, ticket = world["api"], world["tickets"]["acme"]
    before = conversation_of(world, "ann", ticket)
    assert before["participant"] is False  # a colleague sees it through the ticket

    joined = api.call(
        "POST", f"/api/portal/tickets/{ticket['id']}/join", session=world["sessions"]["ann"]
    )

    assert joined.status_code == 200
    answer = api.call(
        "GET", f"/api{joined.json()['messenger_url']}", session=world["sessions"]["ann"]
    )
    assert answer.status_code == 200
    assert answer.json()["parts"] == before["parts"]
    eventually(lambda: conversation_of(world, "ann", ticket)["participant"])


def test_another_tenant_gets_404_exactly_as_for_a_missing_conversation(world):
    api, stack, ticket = world["api"], world["stack"], world["tickets"]["acme"]
    session = world["sessions"]["dave"]
    before = stored_events(stack)
    missing_id = "conv-" + "0" * 32

    answers = {
        "read": api.call("GET", conversation_url(ticket), session=session),
        "reply": reply(world, "dave", ticket, "Let me in"),
    }
    missing = {
        "read": api.call("GET", f"/api/messenger/conversations/{missing_id}", session=session),
        "reply": api.call(
            "POST",
            f"/api/messenger/conversations/{missing_id}/messages",
            session=session,
            json={"body": "Let me in"},
        ),
    }

    for what, answer in answers.items():
        assert answer.status_code == missing[what].status_code == 404, what
        refused, absent = error_of(answer), error_of(missing[what])
        assert refused["message"].replace(ticket["conversation_id"], "X") == absent[
            "message"
        ].replace(missing_id, "X")
        assert (refused["code"], refused["fields"]) == (absent["code"], absent["fields"])
        assert "Invoices" not in answer.text and NOTE not in answer.text
    assert stored_events(stack) == before


def test_a_malformed_conversation_id_is_not_found(world):
    answer = world["api"].call(
        "GET", "/api/messenger/conversations/%24gt", session=world["sessions"]["bob"]
    )
    assert answer.status_code == 404


# replying ---------------------------------------------------------------------------------


def test_a_participant_replies_and_the_reply_reaches_the_conversation_and_the_portal(world):
    api, ticket = world["api"], world["tickets"]["acme"]
    listed_before = portal_item(world, "bob", ticket)

    answer = reply(world, "bob", ticket, "The zebra export still stops")

    assert answer.status_code == 201
    part = answer.json()
    assert (part["author_type"], part["author_name"], part["body"]) == (
        "user",
        "Bob Baker",
        "The zebra export still stops",
    )
    shown = eventually(
        lambda: (c := conversation_of(world, "ann", ticket)) and part in c["parts"] and c
    )
    assert shown["parts"][-1] == part

    def found():
        answer = api.call(
            "GET", "/api/portal/tickets", session=world["sessions"]["ann"], params={"q": "zebra"}
        ).json()
        return answer["items"] or None

    [item] = eventually(found)
    assert item["id"] == ticket["id"]
    assert item["preview"]["location"] == "conversation"
    assert item["preview"]["author_name"] == "Bob Baker"
    assert "<mark>zebra</mark>" in item["preview"]["html"]
    assert item["updated_at"] > listed_before["updated_at"]
    assert item["updated_at"] == part["created_at"]


def portal_item(world, user: str, ticket: dict) -> dict:
    answer = world["api"].call(
        "GET", "/api/portal/tickets", session=world["sessions"][user], params={"per_page": "100"}
    )
    return next(item for item in answer.json()["items"] if item["id"] == ticket["id"])


def test_a_user_who_sees_the_ticket_must_join_before_replying(world):
    api, stack = world["api"], world["stack"]
    ticket = ticket_from_conversation(api, "bob", "Second billing contact")
    eventually(lambda: conversation_of(world, "ann", ticket))
    before = stored_events(stack)

    refused = reply(world, "ann", ticket, "Me too")

    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    assert error_of(refused)["fields"] == {"conversation_id": "not joined"}
    assert stored_events(stack) == before
    joined = api.call(
        "POST", f"/api/portal/tickets/{ticket['id']}/join", session=world["sessions"]["ann"]
    )
    assert joined.status_code == 200
    assert reply(world, "ann", ticket, "Me too").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"body": "bell\u0007"}, "body"),
        ({"body": {"$ne": None}}, "body"),
        ({"body": ["Hi"]}, "body"),
        ({"body": "Hi", "internal": True}, "internal"),
        ({"body": "Hi", "author_id": "ann"}, "author_id"),
        ({"body": "Hi", "author_type": "teammate", "author_name": "Sam"}, "author_type"),
    ],
)
def test_a_bad_reply_is_a_422_naming_the_field_and_changes_nothing(world, body, field):
    api, stack, ticket = world["api"], world["stack"], world["tickets"]["acme"]
    before = stored_events(stack)
    answer = api.call(
        "POST", f"{conversation_url(ticket)}/messages", session=world["sessions"]["bob"], json=body
    )
    assert answer.status_code == 422
    assert field in error_of(answer)["fields"]
    assert stored_events(stack) == before


def test_a_reply_that_is_not_json_is_a_400(world):
    ticket = world["tickets"]["acme"]
    answer = world["api"].call(
        "POST",
        f"{conversation_url(ticket)}/messages",
        session=world["sessions"]["bob"],
        data=b'{"body": ',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, 201),
        ({"Content-Type": "text/plain"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
    ],
)
def test_a_cookie_reply_must_come_from_the_page_itself(world, headers, status):
    api, stack, ticket = world["api"], world["stack"], world["tickets"]["acme"]
    before = stored_events(stack)
    answer = api.call(
        "POST",
        f"{conversation_url(ticket)}/messages",
        cookies={"portal_session": world["sessions"]["bob"]},
        headers=headers,
        data=b'{"body": "From the page"}',
    )
    assert answer.status_code == status, answer.text
    assert (stored_events(stack) == before) == (status == 403)


def test_a_retried_reply_with_its_idempotency_key_is_added_once(world):
    stack, ticket = world["stack"], world["tickets"]["acme"]
    key = {"Idempotency-Key": "reply-once-1"}

    first = reply(world, "bob", ticket, "Only once, please", headers=key)
    head = stored_events(stack)
    again = reply(world, "bob", ticket, "Only once, please", headers=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert stored_events(stack) == head
    reused = reply(world, "bob", ticket, "Something else", headers=key)
    assert reused.status_code == 409
    assert stored_events(stack) == head
    # Keys are the user's own: Ann's request with Bob's key is hers, not a replay of his.
    theirs = reply(world, "ann", ticket, "Only once, please", headers=key)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["author_name"] == "Ann Archer"


def test_a_malformed_idempotency_key_is_a_400(world):
    answer = reply(
        world, "bob", world["tickets"]["acme"], "Hi", headers={"Idempotency-Key": "x" * 129}
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in error_of(answer)["fields"]


# the tickets space ------------------------------------------------------------------------


def test_the_tickets_space_links_into_each_conversation(world):
    ticket = world["tickets"]["globex"]
    answer = world["api"].call("GET", "/api/messenger/tickets", session=world["sessions"]["dave"])

    [item] = answer.json()["items"]
    assert (item["id"], item["conversation_id"], item["messenger_url"]) == (
        ticket["id"],
        ticket["conversation_id"],
        f"/messenger/conversations/{ticket['conversation_id']}",
    )
