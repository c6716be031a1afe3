"""A portal user's Messenger writes through HTTP with portal_query never started: replies and
joins are decided by messenger_bridge alone, and whoever may not see the ticket gets the
same 404 (or, not joined yet, 403) as with the read side up."""

from __future__ import annotations

import pytest

from portalctl.stack import Stack
from tests.support.api import Api, api_stack_without, error_of, stored_events

READ_SIDE = "portal_query"
MISSING_CONVERSATION = "conv-" + "0" * 32
CONTACTS = {  # id: (email, company, attributes)
    "ann": ("ann@acme.example", "acme", {}),
    "bob": ("bob@acme.example", "acme", {}),
    "rita": ("rita@acme.example", "acme", {"role": "restricted"}),
    "nora": (None, "acme", {}),
    "dave": ("dave@globex.example", "globex", {}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Every process but portal_query. Acme (Ann, Bob, Rita restricted to her own tickets,
    Nora without an email) and Globex (Dave); Bob's conversation made into ticket 1."""
    root = tmp_path_factory.mktemp("api_messenger_without_read_side")
    with api_stack_without(root, READ_SIDE) as (stack, api):
        yield populated(stack, api)


def populated(stack: Stack, api: Api) -> dict:
    for company_id in ("acme", "globex"):
        api.admin_ok(
            "POST", "/api/admin/companies", json={"id": company_id, "name": company_id.title()}
        )
    for contact_id, (email, company_id, attributes) in CONTACTS.items():
        contact = {"id": contact_id, "email": email, "name": contact_id.title()}
        api.admin_ok("POST", "/api/admin/contacts", json={**contact, "attributes": attributes})
        api.admin_ok(
            "POST", f"/api/admin/companies/{company_id}/members", json={"user_id": contact_id}
        )
    api.admin_ok(
        "PUT",
        "/api/admin/portal/settings",
        json={
            "visibility_conditions": [
                {"attribute": "role", "operator": "eq", "value": "restricted"}
            ]
        },
    )
    ticket = api.ticket_from_conversation("bob", "Export fails!", type="Bug", title="Export fails")
    sessions = {user: api.sign_in(user, email) for user, (email, _, _) in CONTACTS.items()}
    return {"stack": stack, "api": api, "ticket": ticket, "sessions": sessions}


def reply(world, user: str, conversation_id: str, body: str = "Hello"):
    return world["api"].call(
        "POST",
        f"/api/messenger/conversations/{conversation_id}/messages",
        session=world["sessions"][user],
        json={"body": body},
    )


def join(world, user: str, ticket_id: int):
    return world["api"].call(
        "POST", f"/api/portal/tickets/{ticket_id}/join", session=world["sessions"][user]
    )


def test_the_read_side_is_down(world):
    answer = world["api"].call("GET", "/api/portal/tickets", session=world["sessions"]["ann"])
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert READ_SIDE in error_of(answer)["message"]


def test_a_participant_replies(world):
    answer = reply(world, "bob", world["ticket"]["conversation_id"], "Still failing")

    assert answer.status_code == 201, answer.text
    assert (answer.json()["author_name"], answer.json()["body"]) == ("Bob", "Still failing")


def test_a_colleague_who_sees_the_ticket_joins_then_replies(world):
    ticket = world["ticket"]
    refused = reply(world, "ann", ticket["conversation_id"], "Me too")
    assert refused.status_code == 403
    assert error_of(refused)["fields"] == {"conversation_id": "not joined"}

    joined = join(world, "ann", ticket["id"])
    assert joined.status_code == 200, joined.text
    assert joined.json()["conversation_id"] == ticket["conversation_id"]

    answer = reply(world, "ann", ticket["conversation_id"], "Me too")
    assert answer.status_code == 201, answer.text
    assert answer.json()["author_name"] == "Ann"


@pytest.mark.parametrize(
    "user", ["dave", "rita", "nora"], ids=["other company", "visibility condition", "no email"]
)
def test_whoever_may_not_see_the_ticket_gets_the_404_of_a_missing_one(world, user):
    stack, ticket = world["stack"], world["ticket"]
    before = stored_events(stack)

    shown_ids = {
        "reply": (ticket["conversation_id"], MISSING_CONVERSATION),
        "join": (ticket["id"], 999),
    }
    refused = {
        "reply": reply(world, user, ticket["conversation_id"]),
        "join": join(world, user, ticket["id"]),
    }
    missing = {"reply": reply(world, user, MISSING_CONVERSATION), "join": join(world, user, 999)}

    for what, answer in refused.items():
        assert answer.status_code == missing[what].status_code == 404, (what, answer.text)
        hidden, absent = error_of(answer), error_of(missing[what])
        real_id, missing_id = (str(i) for i in shown_ids[what])
        assert hidden["message"] == absent["message"].replace(missing_id, real_id)
        assert (hidden["code"], hidden["fields"]) == (absent["code"], absent["fields"])
        assert "Export" not in answer.text
    assert stored_events(stack) == before
