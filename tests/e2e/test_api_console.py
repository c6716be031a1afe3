"""What the teammates' console stands on, through HTTP against the real stack: the portal
switch, removing a participant from a conversation, the inbox's "No company" filter and
choices, the companies and their members, and counting the users visibility conditions
would restrict. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.support.api import api_stack, error_of
from tests.support.waiting import eventually

CONTACTS = {
    "ann": ("ann@acme.example", "Ann Archer", "acme", {"role": "member"}),
    "bob": ("bob@acme.example", "Bob Baker", "acme", {"role": "admin"}),
    "dave": ("dave@globex.example", "Dave Diaz", "globex", {"role": "member"}),
}
PORTAL_CALLS = ["/api/portal/me", "/api/portal/tickets", "/api/portal/tickets/facets"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Acme (Ann, Bob) and Globex (Dave); Bob's ticket of Acme, which Ann joins, and a
    ticket of nobody's company (Carl is a member of no company)."""
    with api_stack(tmp_path_factory.mktemp("api_console")) as (_stack, api):
        for company_id in ("acme", "globex"):
            api.admin_ok(
                "POST", "/api/admin/companies", json={"id": company_id, "name": company_id.title()}
            )
        for contact_id, (email, name, company_id, attributes) in CONTACTS.items():
            contact = {"id": contact_id, "email": email, "name": name, "attributes": attributes}
            api.admin_ok("POST", "/api/admin/contacts", json=contact)
            api.admin_ok(
                "POST", f"/api/admin/companies/{company_id}/members", json={"user_id": contact_id}
            )
        api.admin_ok("POST", "/api/admin/contacts", json={"id": "carl", "email": "c@x.example"})
        acme = api.ticket_from_conversation(
            "bob", "Invoices export fails!", type="Bug", title="Invoices"
        )
        lone = api.ticket_from_conversation(
            "carl", "Who am I?", type="Question", title="Companyless"
        )
        sessions = {user: api.sign_in(user, CONTACTS[user][0]) for user in CONTACTS}
        world = {"api": api, "acme": acme, "lone": lone, "sessions": sessions}
        eventually(lambda: portal(world, "ann", "/api/portal/tickets").status_code == 200)
        joined = portal(world, "ann", f"/api/portal/tickets/{acme['id']}/join", "POST", json={})
        assert joined.status_code == 200, joined.text
        yield world


def portal(world, user: str, path: str, method: str = "GET", **options):
    return world["api"].call(method, path, session=world["sessions"][user], **options)


def conversation(world, user: str, ticket: dict):
    return portal(world, user, f"/api/messenger/conversations/{ticket['conversation_id']}")


def reply(world, user: str, ticket: dict, body: str):
    path = f"/api/messenger/conversations/{ticket['conversation_id']}/messages"
    return portal(world, user, path, "POST", json={"body": body})


def switch_portal(api, enabled: bool) -> dict:
    return api.admin_ok("PUT", "/api/admin/portal/settings", json={"portal_enabled": enabled})


def test_while_the_portal_is_off_portal_calls_are_refused_and_the_messenger_has_no_banner(world):
    api, acme = world["api"], world["acme"]
    assert api.admin_ok("GET", "/api/admin/portal/settings")["portal_enabled"] is True
    try:
        assert switch_portal(api, False)["portal_enabled"] is False

        def refused(path: str) -> bool:
            answer = portal(world, "ann", path)
            return answer.status_code == 403 and error_of(answer)["code"] == "portal_disabled"

        eventually(lambda: all(refused(path) for path in PORTAL_CALLS))
        assert refused(f"/api/portal/tickets/{acme['id']}")
        assert refused("/api/portal/ticket-types")
        new = portal(
            world,
            "ann",
            "/api/portal/tickets",
            "POST",
            json={"type": "bug", "title": "While it is off"},
        )
        assert (new.status_code, error_of(new)["code"]) == (403, "portal_disabled")
        join = portal(world, "ann", f"/api/portal/tickets/{acme['id']}/join", "POST", json={})
        assert (join.status_code, error_of(join)["code"]) == (403, "portal_disabled")
        space = portal(world, "ann", "/api/messenger/tickets").json()
        assert space["portal_url"] is None
        assert [item["id"] for item in space["items"]] == [acme["id"]]
        opened = conversation(world, "ann", acme).json()
        assert (opened["portal_url"], opened["ticket"]) == (None, None)
        assert reply(world, "ann", acme, "Still here").status_code == 201
    finally:
        switch_portal(api, True)
    eventually(lambda: portal(world, "ann", "/api/portal/me").status_code == 200)
    assert portal(world, "ann", "/api/messenger/tickets").json()["portal_url"] == "/"


def test_a_removed_participant_who_no_longer_sees_the_ticket_can_neither_read_nor_reply(world):
    api, acme = world["api"], world["acme"]
    conversation_id = acme["conversation_id"]
    assert conversation(world, "ann", acme).json()["participant"] is True
    api.admin_ok("DELETE", "/api/admin/companies/acme/members/ann")
    try:
        # Membership gone, participation kept: Ann still reads and replies.
        assert conversation(world, "ann", acme).status_code == 200
        assert reply(world, "ann", acme, "I moved to another team").status_code == 201

        removed = api.admin_ok(
            "DELETE", f"/api/admin/conversations/{conversation_id}/participants/ann"
        )
        assert removed["removed"] is True and "ann" not in removed["participant_ids"]
        again = api.admin_ok(
            "DELETE", f"/api/admin/conversations/{conversation_id}/participants/ann"
        )
        assert again["removed"] is False

        eventually(lambda: conversation(world, "ann", acme).status_code == 404)
        refused = reply(world, "ann", acme, "Let me back in")
        assert refused.status_code == 404
        assert error_of(refused)["fields"] == {"conversation_id": "no such conversation"}
        space = portal(world, "ann", "/api/messenger/tickets").json()
        assert acme["id"] not in [item["id"] for item in space["items"]]
        parts = api.admin_ok("GET", f"/api/admin/conversations/{conversation_id}")["parts"]
        assert "Let me back in" not in [part["body"] for part in parts]
    finally:
        api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})


def test_a_removed_participant_who_still_sees_the_ticket_must_join_again_to_reply(world):
    api, acme = world["api"], world["acme"]
    path = f"/api/portal/tickets/{acme['id']}/join"
    eventually(lambda: portal(world, "ann", path, "POST", json={}).status_code == 200)
    api.admin_ok("DELETE", f"/api/admin/conversations/{acme['conversation_id']}/participants/ann")

    eventually(lambda: conversation(world, "ann", acme).json()["participant"] is False)
    refused = reply(world, "ann", acme, "Hello?")
    assert (refused.status_code, error_of(refused)["fields"]) == (
        403,
        {"conversation_id": "not joined"},
    )
    assert portal(world, "ann", path, "POST", json={}).json()["joined"] is True


def test_the_inbox_filters_tickets_without_a_company_and_offers_the_choice(world):
    api = world["api"]
    lone = api.admin_ok("GET", "/api/admin/tickets?no_company=true")
    assert [item["id"] for item in lone["items"]] == [world["lone"]["id"]]
    assert lone["items"][0]["company"] is None
    facets = api.admin_ok("GET", "/api/admin/inbox/facets")
    assert facets["no_company"] is True
    assert [c["id"] for c in facets["companies"]] == ["acme"]
    both = api.admin_ok("GET", "/api/admin/tickets?no_company=true&company_id=acme")
    assert both["total"] == 0
    mine = portal(world, "bob", "/api/portal/tickets?no_company=true").json()
    assert mine["total"] == 0


def test_companies_and_their_members_for_the_profile(world):
    api = world["api"]
    companies = api.admin_ok("GET", "/api/admin/companies")["items"]
    assert [(c["id"], c["members"], c["tickets"]) for c in companies] == [
        ("acme", 2, 1),
        ("globex", 1, 0),
    ]
    members = api.admin_ok("GET", "/api/admin/companies/acme/members")
    assert [(m["id"], m["email"]) for m in members["members"]] == [
        ("ann", "ann@acme.example"),
        ("bob", "bob@acme.example"),
    ]
    assert api.admin("GET", "/api/admin/companies/nope/members").status_code == 404


def test_restricted_counts_count_portal_users_per_condition_and_together(world):
    api = world["api"]
    conditions = [
        {"attribute": "role", "operator": "eq", "value": "member"},
        {"attribute": "role", "operator": "in", "value": ["member", "admin"]},
    ]
    counts = api.admin_ok(
        "POST", "/api/admin/portal/restricted-counts", json={"visibility_conditions": conditions}
    )
    assert counts == {"users": 3, "restricted": 2, "conditions": [2, 3]}
    bad = api.admin(
        "POST",
        "/api/admin/portal/restricted-counts",
        json={"visibility_conditions": [{"attribute": "role", "operator": "in", "value": "x"}]},
    )
    assert bad.status_code == 422
    assert "visibility_conditions.0.value" in error_of(bad)["fields"]
