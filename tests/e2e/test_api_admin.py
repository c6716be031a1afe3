"""The teammates' API through HTTP against the real stack: every endpoint, its errors, the
admin token, and Idempotency-Key retries."""

from __future__ import annotations

import re
import uuid

import pytest
import yaml

from portalctl.stack import REPOSITORY
from tests.support.api import error_of, stored_events
from tests.support.waiting import eventually

DOCUMENT = yaml.safe_load((REPOSITORY / "services" / "gateway" / "openapi.yaml").read_text())
ADMIN_OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    if path.startswith("/api/admin/")
    for method in item
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def contact(api, name: str = "Ann", email: bool = True, **attributes) -> str:
    contact_id = unique(name.lower())
    body = {"id": contact_id, "name": name, "attributes": attributes}
    if email:
        body["email"] = f"{contact_id}@example.com"
    api.admin_ok("POST", "/api/admin/contacts", json=body)
    return contact_id


def company(api, *members: str) -> str:
    company_id = unique("co")
    api.admin_ok("POST", "/api/admin/companies", json={"id": company_id, "name": company_id})
    for member in members:
        api.admin_ok("POST", f"/api/admin/companies/{company_id}/members", json={"user_id": member})
    return company_id


# the admin token ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_every_teammate_route_refuses_a_missing_or_wrong_token(platform, method, path):
    stack, api = platform
    target = re.sub(r"\{ticket_id\}", "1", path)
    target = re.sub(r"\{\w+\}", "x1", target)
    before = stored_events(stack)
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dGVhbW1hdGU6cGFzcw=="},
        {"Authorization": "test-admin-token"},
        {"Cookie": "portal_session=test-admin-token"},
    ):
        answer = api.call(method, target, headers=headers, json={})
        assert answer.status_code == 401, (method, target, headers)
        assert error_of(answer)["code"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert stored_events(stack) == before


# contacts -----------------------------------------------------------------------------------


def test_a_contact_is_created_read_and_updated(api):
    contact_id = unique("ann")
    created = api.admin_ok(
        "POST",
        "/api/admin/contacts",
        json={
            "id": contact_id,
            "email": "ann@example.com",
            "name": "Ann",
            "attributes": {"role": "admin"},
        },
    )
    assert created == {
        "id": contact_id,
        "email": "ann@example.com",
        "name": "Ann",
        "attributes": {"role": "admin"},
    }
    api.admin_ok(
        "POST", "/api/admin/contacts", json={"id": contact_id, "attributes": {"role": "member"}}
    )
    read = api.admin_ok("GET", f"/api/admin/contacts/{contact_id}")
    assert read["attributes"] == {"role": "member"}
    assert read["email"] == "ann@example.com"


def test_a_contact_may_have_no_email(api):
    contact_id = contact(api, "Erin", email=False)
    assert api.admin_ok("GET", f"/api/admin/contacts/{contact_id}")["email"] is None


def test_an_unknown_contact_is_not_found(api):
    answer = api.admin("GET", "/api/admin/contacts/nobody-here")
    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"


# companies --------------------------------------------------------------------------------


def test_a_company_is_created_renamed_and_gains_and_loses_members(api):
    ann, bob = contact(api, "Ann"), contact(api, "Bob")
    company_id = unique("acme")
    answer = api.admin("POST", "/api/admin/companies", json={"id": company_id, "name": "Acme"})
    assert answer.status_code == 201
    assert answer.json() == {"id": company_id, "name": "Acme", "member_ids": []}
    renamed = api.admin_ok(
        "PATCH", f"/api/admin/companies/{company_id}", json={"name": "Acme Corp"}
    )
    assert renamed["name"] == "Acme Corp"
    for member in (ann, bob, ann):
        api.admin_ok("POST", f"/api/admin/companies/{company_id}/members", json={"user_id": member})
    assert sorted(
        api.admin_ok("GET", f"/api/admin/companies/{company_id}")["member_ids"]
    ) == sorted([ann, bob])
    after = api.admin_ok("DELETE", f"/api/admin/companies/{company_id}/members/{bob}")
    assert after["member_ids"] == [ann]


def test_a_company_id_is_taken_once(platform):
    stack, api = platform
    company_id = company(api)
    before = stored_events(stack)
    answer = api.admin("POST", "/api/admin/companies", json={"id": company_id, "name": "Again"})
    assert answer.status_code == 409
    assert error_of(answer)["code"] == "conflict"
    assert stored_events(stack) == before


def test_membership_errors(platform):
    stack, api = platform
    company_id = company(api)
    before = stored_events(stack)
    unknown_contact = api.admin(
        "POST", f"/api/admin/companies/{company_id}/members", json={"user_id": "nobody-at-all"}
    )
    assert unknown_contact.status_code == 422
    assert "user_id" in error_of(unknown_contact)["fields"]
    not_a_member = api.admin("DELETE", f"/api/admin/companies/{company_id}/members/nobody-at-all")
    assert not_a_member.status_code == 404
    for method, path, body in [
        ("GET", "/api/admin/companies/no-such-co", None),
        ("PATCH", "/api/admin/companies/no-such-co", {"name": "X"}),
        ("POST", "/api/admin/companies/no-such-co/members", {"user_id": "ann"}),
        ("GET", "/api/admin/companies/no-such-co/tickets", None),
        ("GET", "/api/admin/companies/$where/tickets", None),
    ]:
        answer = api.admin(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert stored_events(stack) == before


# tickets ----------------------------------------------------------------------------------


def test_a_ticket_takes_its_creators_only_company_and_can_be_updated(api):
    ann = contact(api, "Ann")
    company_id = company(api, ann)
    answer = api.admin(
        "POST",
        "/api/admin/tickets",
        json={
            "type": "Bug",
            "title": "Printer on fire",
            "description": "Smoke everywhere",
            "creator_id": ann,
            "attributes": [
                {"name": "Severity", "value": "high", "visible_to_customer": True},
                {"name": "Cost", "value": 12.5, "visible_to_customer": False},
            ],
        },
    )
    assert answer.status_code == 201
    ticket = answer.json()
    assert ticket["company_id"] == company_id
    assert ticket["state"] == "submitted"
    assert ticket["participant_ids"] == [ann]
    read = api.admin_ok("GET", f"/api/admin/tickets/{ticket['id']}")
    assert read["attributes"][1] == {"name": "Cost", "value": 12.5, "visible_to_customer": False}
    updated = api.admin_ok(
        "PATCH",
        f"/api/admin/tickets/{ticket['id']}",
        json={"state": "in_progress", "title": "Printer still on fire", "company_id": None},
    )
    assert (updated["state"], updated["title"], updated["company_id"]) == (
        "in_progress",
        "Printer still on fire",
        None,
    )
    choices = api.admin_ok("GET", f"/api/admin/tickets/{ticket['id']}/company-choices")
    assert choices == {"choices": [company_id], "company_id": None, "company_chosen": True}


def test_a_company_outside_the_choices_is_refused(platform):
    stack, api = platform
    ann = contact(api, "Ann")
    company(api, ann)
    other = company(api)
    before = stored_events(stack)
    answer = api.admin(
        "POST",
        "/api/admin/tickets",
        json={"type": "Bug", "title": "Wrong company", "creator_id": ann, "company_id": other},
    )
    assert answer.status_code == 422
    assert "company_id" in error_of(answer)["fields"]
    assert stored_events(stack) == before


def test_a_creator_with_several_companies_gets_no_company_until_one_is_picked(api):
    carol = contact(api, "Carol")
    first, second = company(api, carol), company(api, carol)
    ticket = api.admin_ok(
        "POST",
        "/api/admin/tickets",
        json={"type": "Question", "title": "Which?", "creator_id": carol},
    )
    assert ticket["company_id"] is None
    choices = api.admin_ok("GET", f"/api/admin/tickets/{ticket['id']}/company-choices")
    assert sorted(choices["choices"]) == sorted([first, second])
    picked = api.admin_ok(
        "PATCH", f"/api/admin/tickets/{ticket['id']}", json={"company_id": second}
    )
    assert picked["company_id"] == second


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"state": "resolved"}),
        ("GET", "/company-choices", None),
        ("POST", "/conversation", {"conversation_id": "conv-none"}),
    ],
)
@pytest.mark.parametrize("ticket_id", ["99999999", "0", "abc", "-1"])
def test_an_unknown_ticket_is_not_found(platform, method, suffix, body, ticket_id):
    stack, api = platform
    before = stored_events(stack)
    answer = api.admin(method, f"/api/admin/tickets/{ticket_id}{suffix}", json=body)
    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"
    assert stored_events(stack) == before


# conversations ----------------------------------------------------------------------------


def test_a_conversation_gets_parts_and_becomes_a_ticket_once(platform):
    stack, api = platform
    ann = contact(api, "Ann")
    company_id = company(api, ann)
    answer = api.admin("POST", "/api/admin/conversations", json={"user_id": ann, "body": "Help!"})
    assert answer.status_code == 201
    conversation = answer.json()
    assert conversation["parts"][0]["body"] == "Help!"
    assert conversation["parts"][0]["author_type"] == "user"
    note = api.admin(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/parts",
        json={
            "author_type": "teammate",
            "author_id": "sam",
            "author_name": "Sam",
            "body": "Internal: VIP",
            "internal": True,
        },
    )
    assert note.status_code == 201 and note.json()["internal"] is True
    reply = api.admin_ok(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/parts",
        json={"author_type": "user", "author_id": ann, "body": "Any news?"},
    )
    assert reply["author_name"] == "Ann"
    read = api.admin_ok("GET", f"/api/admin/conversations/{conversation['id']}")
    assert [part["body"] for part in read["parts"]] == ["Help!", "Internal: VIP", "Any news?"]

    converted = api.admin(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/ticket",
        json={"type": "Question", "title": "Help needed"},
    )
    assert converted.status_code == 201
    ticket = converted.json()
    assert (ticket["conversation_id"], ticket["creator_id"], ticket["company_id"]) == (
        conversation["id"],
        ann,
        company_id,
    )
    before = stored_events(stack)
    again = api.admin(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/ticket",
        json={"type": "Question", "title": "Help needed again"},
    )
    assert again.status_code == 409
    assert stored_events(stack) == before
    assert (
        api.admin_ok("GET", f"/api/admin/conversations/{conversation['id']}")["ticket_id"]
        == ticket["id"]
    )


def test_a_ticket_is_linked_to_a_conversation(api):
    ann = contact(api, "Ann")
    company(api, ann)
    ticket = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Link me", "creator_id": ann}
    )
    conversation = api.admin_ok(
        "POST", "/api/admin/conversations", json={"user_id": ann, "body": "Hello"}
    )
    linked = api.admin_ok(
        "POST",
        f"/api/admin/tickets/{ticket['id']}/conversation",
        json={"conversation_id": conversation["id"]},
    )
    assert linked["conversation_id"] == conversation["id"]


def test_linking_a_conversation_keeps_the_company_or_no_company_a_teammate_chose(api):
    ann, dee, cid = contact(api, "Ann"), contact(api, "Dee"), contact(api, "Cid")
    acme, _globex = company(api, ann), company(api, dee)

    def new_ticket(creator: str, **fields) -> int:
        body = {"type": "Bug", "title": "Link me", "creator_id": creator, **fields}
        return api.admin_ok("POST", "/api/admin/tickets", json=body)["id"]

    def link(ticket_id: int, user_id: str) -> dict:
        body = {"user_id": user_id, "body": "Same problem here"}
        conversation = api.admin_ok("POST", "/api/admin/conversations", json=body)
        path = f"/api/admin/tickets/{ticket_id}/conversation"
        return api.admin_ok("POST", path, json={"conversation_id": conversation["id"]})

    def choices(ticket_id: int) -> dict:
        return api.admin_ok("GET", f"/api/admin/tickets/{ticket_id}/company-choices")

    automatic, confirmed, no_company = new_ticket(ann), new_ticket(ann), new_ticket(cid)
    assert choices(automatic) == {"choices": [acme], "company_id": acme, "company_chosen": False}
    api.admin_ok("PATCH", f"/api/admin/tickets/{confirmed}", json={"company_id": acme})
    api.admin_ok("PATCH", f"/api/admin/tickets/{no_company}", json={"company_id": None})
    # Dee's conversation brings a second company; Ann's would bring the only one.
    assert link(automatic, dee)["company_id"] is None
    assert link(confirmed, dee)["company_id"] == acme
    assert link(no_company, ann)["company_id"] is None
    assert choices(automatic)["company_chosen"] is False
    assert choices(confirmed)["company_chosen"] is True
    assert choices(no_company) == {"choices": [acme], "company_id": None, "company_chosen": True}


def test_an_unknown_conversation_is_not_found(platform):
    stack, api = platform
    before = stored_events(stack)
    for method, suffix, body in [
        ("GET", "", None),
        (
            "POST",
            "/parts",
            {"author_type": "teammate", "author_id": "sam", "author_name": "Sam", "body": "Hi"},
        ),
        ("POST", "/ticket", {"type": "Bug", "title": "Nothing"}),
    ]:
        answer = api.admin(method, f"/api/admin/conversations/conv-none{suffix}", json=body)
        assert answer.status_code == 404, (method, suffix, answer.text)
    assert stored_events(stack) == before


# settings, lists and status ---------------------------------------------------------------------


def test_portal_settings_change_partially(api):
    condition = {"attribute": "role", "operator": "eq", "value": "member"}
    changed = api.admin_ok(
        "PUT", "/api/admin/portal/settings", json={"visibility_conditions": [condition]}
    )
    assert changed["visibility_conditions"] == [condition]
    changed = api.admin_ok("PUT", "/api/admin/portal/settings", json={"preview_enabled": False})
    assert changed == {
        "portal_enabled": True,
        "preview_enabled": False,
        "visibility_conditions": [condition],
    }
    assert api.admin_ok("GET", "/api/admin/portal/settings") == changed
    api.admin_ok(
        "PUT",
        "/api/admin/portal/settings",
        json={"preview_enabled": True, "visibility_conditions": []},
    )


def test_the_inbox_filters_by_company_and_shows_the_company_column(api):
    ann, dave = contact(api, "Ann"), contact(api, "Dave")
    acme, globex = company(api, ann), company(api, dave)
    mine = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Acme bug", "creator_id": ann}
    )
    api.admin_ok(
        "POST",
        "/api/admin/tickets",
        json={"type": "Bug", "title": "Globex bug", "creator_id": dave},
    )

    def acme_inbox():
        listed = api.admin_ok("GET", "/api/admin/tickets", params={"company_id": acme})
        return listed if listed["total"] else None

    listed = eventually(acme_inbox)
    assert [item["id"] for item in listed["items"]] == [mine["id"]]
    assert listed["items"][0]["company"]["id"] == acme
    tab = api.admin_ok("GET", f"/api/admin/companies/{globex}/tickets")
    assert [item["title"] for item in tab["items"]] == ["Globex bug"]
    searched = api.admin_ok("GET", "/api/admin/tickets", params={"q": "acme bu", "per_page": "5"})
    assert mine["id"] in [item["id"] for item in searched["items"]]


def test_the_status_shows_the_projection_checkpoint_and_lag(api):
    status = api.admin_ok("GET", "/api/admin/portal/status")
    assert status["checkpoint"] <= status["head"]
    assert status["lag_events"] >= 0


# idempotency keys -------------------------------------------------------------------------


def test_a_retried_create_with_the_same_key_creates_one_ticket(platform):
    stack, api = platform
    ann = contact(api, "Ann")
    company(api, ann)
    body = {"type": "Bug", "title": f"Retry {uuid.uuid4().hex}", "creator_id": ann}
    key = {"Idempotency-Key": unique("create")}
    before = stored_events(stack)
    first = api.admin("POST", "/api/admin/tickets", json=body, headers=key)
    appended = stored_events(stack) - before
    second = api.admin("POST", "/api/admin/tickets", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert stored_events(stack) - before == appended > 0

    reused = api.admin("POST", "/api/admin/tickets", json={**body, "title": "Another"}, headers=key)
    assert reused.status_code == 409
    assert "Idempotency-Key" in error_of(reused)["fields"]
    assert stored_events(stack) - before == appended


def test_a_retried_update_with_the_same_key_changes_the_ticket_once(platform):
    stack, api = platform
    ann = contact(api, "Ann")
    company(api, ann)
    ticket = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Patch me", "creator_id": ann}
    )
    key = {"Idempotency-Key": unique("patch")}
    first = api.admin_ok(
        "PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "resolved"}, headers=key
    )
    after_first = stored_events(stack)
    second = api.admin_ok(
        "PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "resolved"}, headers=key
    )
    assert first == second
    assert stored_events(stack) == after_first


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/admin/companies", lambda ann: {"id": unique("co"), "name": "Once"}),
        ("/api/admin/conversations", lambda ann: {"user_id": ann, "body": "Only once"}),
    ],
)
def test_other_retried_creates_change_nothing_the_second_time(platform, path, body):
    stack, api = platform
    ann = contact(api, "Ann")
    request_body = body(ann)
    key = {"Idempotency-Key": unique("retry")}
    first = api.admin("POST", path, json=request_body, headers=key)
    after_first = stored_events(stack)
    second = api.admin("POST", path, json=request_body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert stored_events(stack) == after_first


def test_a_malformed_idempotency_key_is_a_bad_request(platform):
    stack, api = platform
    before = stored_events(stack)
    answer = api.admin(
        "POST",
        "/api/admin/companies",
        json={"id": unique("co"), "name": "Key"},
        headers={"Idempotency-Key": "k" * 129},
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in error_of(answer)["fields"]
    assert stored_events(stack) == before
