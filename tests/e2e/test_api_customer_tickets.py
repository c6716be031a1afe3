"""Customers create, resolve and reopen tickets, over HTTP against the real stack: ticket
types and their forms, every 422 of a submission (each creating nothing), the company rule,
idempotency, the same 404 for a ticket a user may not see as for a missing one, and
read-your-writes in the portal and the Messenger tickets space.

As in ``test_read_your_writes``, nothing but the position a write answers brings the read
side up to date here (no relay, portal_query re-reads the store once an hour), so every read
that shows a change shows it because of that position."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portalctl.stack import PROCESSES
from tests.support.api import Api, error_of, stored_events
from tests.support.broker import BROKER_URI
from tests.support.stack import running_stack

POSITION = "Portal-Position"
CONTACTS = {
    "ann": ("ann@acme.example", ["acme"]),
    "carol": ("carol@both.example", ["acme", "globex"]),
    "dave": ("dave@globex.example", ["globex"]),
    "fay": ("fay@nowhere.example", []),
}
FIELDS = [
    {"key": "severity", "label": "Severity", "type": "select", "required": True,
     "visible_to_customer": True, "options": ["Low", "High"]},
    {"key": "seats", "label": "Seats", "type": "number", "required": False,
     "visible_to_customer": True},
    {"key": "since", "label": "Since", "type": "date", "required": False,
     "visible_to_customer": True},
    {"key": "blocking", "label": "Blocking", "type": "boolean", "required": False,
     "visible_to_customer": True},
    {"key": "root_cause", "label": "Root cause", "type": "text", "required": False,
     "visible_to_customer": False},
]  # fmt: skip
BUG = {
    "id": "bug",
    "name": "Bug",
    "description": "Something does not work",
    "customer_creatable": True,
    "attributes": FIELDS,
}
GOOD = {"type": "bug", "title": "Export fails", "attributes": {"severity": "High"}}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    without_relay = [name for name in PROCESSES if name != "event_relay"]
    root = tmp_path_factory.mktemp("customer_tickets")
    with running_stack(root, BROKER_URI, without_relay, CATCH_UP_INTERVAL="3600") as stack:
        api = Api(stack)
        for company in ("acme", "globex"):
            api.admin_ok("POST", "/api/admin/companies", json={"id": company, "name": company})
        for user, (email, companies) in CONTACTS.items():
            api.admin_ok("POST", "/api/admin/contacts", json={"id": user, "email": email})
            for company in companies:
                api.admin_ok(
                    "POST", f"/api/admin/companies/{company}/members", json={"user_id": user}
                )
        api.admin_ok("POST", "/api/admin/ticket-types", json=BUG)
        api.admin_ok(
            "POST",
            "/api/admin/ticket-types",
            json={"id": "incident", "name": "Incident", "attributes": []},
        )
        sessions = {user: api.sign_in(user, email) for user, (email, _) in CONTACTS.items()}
        yield {"api": api, "stack": stack, "sessions": sessions}


def submit(world: dict, user: str, body: dict, **headers: str):
    return world["api"].call(
        "POST", "/api/portal/tickets", session=world["sessions"][user], json=body, headers=headers
    )


def read(world: dict, user: str, path: str, position: str) -> dict:
    answer = world["api"].call(
        "GET", path, session=world["sessions"][user], headers={POSITION: position}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def state_change(world: dict, user: str, ticket_id: int, action: str, **headers: str):
    return world["api"].call(
        "POST",
        f"/api/portal/tickets/{ticket_id}/{action}",
        session=world["sessions"][user],
        headers=headers,
    )


# ticket types ---------------------------------------------------------------------------------


def test_teammates_list_every_type_and_customers_only_the_creatable_visible_form(world):
    api = world["api"]
    listed = api.admin_ok("GET", "/api/admin/ticket-types")["items"]
    assert [t["id"] for t in listed] == ["bug", "incident"]
    assert [f["key"] for f in listed[0]["attributes"]][-1] == "root_cause"
    portal = api.call("GET", "/api/portal/ticket-types", session=world["sessions"]["ann"])
    [bug] = portal.json()["items"]
    assert bug["id"] == "bug"
    assert [f["key"] for f in bug["attributes"]] == ["severity", "seats", "since", "blocking"]
    assert "root_cause" not in portal.text and "customer_creatable" not in bug


def test_a_type_is_versioned_by_its_changes_and_an_unknown_one_is_404(world):
    api = world["api"]
    api.admin_ok("POST", "/api/admin/ticket-types", json={"id": "question", "name": "Question"})
    changed = api.admin_ok(
        "PATCH", "/api/admin/ticket-types/question", json={"description": "Ask us"}
    )
    assert (changed["version"], changed["description"]) == (2, "Ask us")
    same = api.admin_ok("PATCH", "/api/admin/ticket-types/question", json={"name": "Question"})
    assert same["version"] == 2
    assert api.admin("PATCH", "/api/admin/ticket-types/nope", json={"name": "X"}).status_code == 404
    again = api.admin("POST", "/api/admin/ticket-types", json={"id": "question", "name": "Q"})
    assert again.status_code == 409


def test_a_select_without_options_is_a_422_naming_the_field(world):
    field = {"key": "k", "label": "K", "type": "select", "required": True,
             "visible_to_customer": True}  # fmt: skip
    answer = world["api"].admin(
        "POST", "/api/admin/ticket-types", json={"id": "bad", "name": "Bad", "attributes": [field]}
    )
    assert answer.status_code == 422
    assert list(error_of(answer)["fields"]) == ["attributes.0.options"]


def test_ticket_types_need_a_teammate(world):
    assert world["api"].call("GET", "/api/admin/ticket-types").status_code == 401
    assert world["api"].call("GET", "/api/portal/ticket-types").status_code == 401


# creating -------------------------------------------------------------------------------------


def test_a_new_ticket_is_the_users_in_their_one_company_and_shows_in_their_next_reads(world):
    answer = submit(
        world,
        "ann",
        {**GOOD, "description": "Since Monday",
         "attributes": {"severity": "High", "seats": 12, "since": "2026-11-30", "blocking": True}},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    ticket, position = answer.json(), answer.headers[POSITION]
    assert (ticket["state"], ticket["company_id"], ticket["company_chosen"]) == (
        "submitted",
        "acme",
        False,
    )
    assert (ticket["creator_id"], ticket["type"]) == ("ann", "Bug")
    shown = read(world, "ann", f"/api/portal/tickets/{ticket['id']}", position)
    assert shown["title"] == "Export fails"
    assert {a["name"]: a["value"] for a in shown["attributes"]}["seats"] == 12
    listed = read(world, "ann", "/api/portal/tickets", position)
    assert ticket["id"] in [item["id"] for item in listed["items"]]
    space = read(world, "ann", "/api/messenger/tickets", position)
    assert ticket["id"] in [item["id"] for item in space["items"]]
    # The teammates see the form it was made with.
    stored = world["api"].admin_ok("GET", f"/api/admin/tickets/{ticket['id']}")
    assert (stored["form"]["type_id"], stored["form"]["type_version"]) == ("bug", 1)


def test_ticket_ids_follow_the_teammates_sequence(world):
    teammates = world["api"].admin_ok(
        "POST",
        "/api/admin/tickets",
        json={"type": "Bug", "title": "By a teammate", "creator_id": "ann"},
    )
    customers = submit(world, "ann", GOOD).json()
    assert customers["id"] == teammates["id"] + 1


def test_a_user_of_several_companies_picks_one_of_theirs(world):
    picked = submit(world, "carol", {**GOOD, "company_id": "globex"})
    assert picked.status_code == 201
    assert (picked.json()["company_id"], picked.json()["company_chosen"]) == ("globex", True)
    automatic = submit(world, "carol", GOOD).json()
    assert (automatic["company_id"], automatic["company_chosen"]) == (None, False)


def test_a_user_of_no_company_creates_a_ticket_with_no_company_in_their_tickets_space(world):
    answer = submit(world, "fay", GOOD)
    assert answer.status_code == 201
    assert answer.json()["company_id"] is None
    space = read(world, "fay", "/api/messenger/tickets", answer.headers[POSITION])
    assert [item["id"] for item in space["items"]] == [answer.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "attributes": {}}, "attributes.severity"),
        ({**GOOD, "attributes": {"severity": "Medium"}}, "attributes.severity"),
        ({**GOOD, "attributes": {"severity": "Low", "seats": "many"}}, "attributes.seats"),
        ({**GOOD, "attributes": {"severity": "Low", "since": "yesterday"}}, "attributes.since"),
        ({**GOOD, "attributes": {"severity": "Low", "blocking": "yes"}}, "attributes.blocking"),
        ({**GOOD, "attributes": {"severity": "Low", "root_cause": "x"}}, "attributes.root_cause"),
        ({**GOOD, "attributes": {"severity": "Low", "nope": "x"}}, "attributes.nope"),
        ({**GOOD, "type": "incident"}, "type"),
        ({**GOOD, "type": "nope"}, "type"),
        ({**GOOD, "company_id": "globex"}, "company_id"),
        ({**GOOD, "company_id": "nope"}, "company_id"),
        ({key: value for key, value in GOOD.items() if key != "title"}, "title"),
        ({**GOOD, "creator_id": "dave"}, "creator_id"),
    ],
)
def test_every_bad_submission_is_a_422_naming_the_field_and_creates_nothing(world, body, field):
    before = stored_events(world["stack"])
    answer = submit(world, "ann", body)
    assert answer.status_code == 422, answer.text
    assert field in error_of(answer)["fields"]
    assert stored_events(world["stack"]) == before


def test_a_retried_submission_with_its_key_creates_one_ticket(world):
    key = {"Idempotency-Key": "new-ticket-1"}
    first = submit(world, "ann", GOOD, **key)
    before = stored_events(world["stack"])
    second = submit(world, "ann", GOOD, **key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert stored_events(world["stack"]) == before
    # Another user's same key is their own.
    dave = submit(world, "dave", GOOD, **key)
    assert dave.json()["id"] != first.json()["id"]
    assert submit(world, "ann", {**GOOD, "title": "Other"}, **key).status_code == 409


def test_a_changed_type_leaves_earlier_tickets_their_form(world):
    api = world["api"]
    api.admin_ok(
        "POST", "/api/admin/ticket-types", json={**BUG, "id": "billing", "name": "Billing"}
    )
    before = submit(world, "ann", {**GOOD, "type": "billing"}).json()
    api.admin_ok("PATCH", "/api/admin/ticket-types/billing", json={"attributes": FIELDS[1:]})
    after = submit(world, "ann", {"type": "billing", "title": "No severity now"}).json()
    first = api.admin_ok("GET", f"/api/admin/tickets/{before['id']}")["form"]
    second = api.admin_ok("GET", f"/api/admin/tickets/{after['id']}")["form"]
    assert (first["type_version"], len(first["attributes"])) == (1, len(FIELDS))
    assert (second["type_version"], len(second["attributes"])) == (2, len(FIELDS) - 1)


# resolving and reopening ----------------------------------------------------------------------


def test_a_customer_resolves_and_reopens_and_the_teammates_see_who(world):
    ticket = submit(world, "ann", GOOD).json()
    resolved = state_change(world, "ann", ticket["id"], "resolve")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    shown = read(world, "ann", f"/api/portal/tickets/{ticket['id']}", resolved.headers[POSITION])
    assert shown["state"] == "resolved"
    stored = world["api"].admin_ok("GET", f"/api/admin/tickets/{ticket['id']}")
    assert stored["state_changed_by"] == {"type": "user", "id": "ann"}
    assert state_change(world, "ann", ticket["id"], "resolve").status_code == 409
    # A colleague of the same company may reopen it.
    reopened = state_change(world, "carol", ticket["id"], "reopen")
    assert reopened.json()["state"] == "in_progress"
    assert state_change(world, "carol", ticket["id"], "reopen").status_code == 409
    stored = world["api"].admin_ok("GET", f"/api/admin/tickets/{ticket['id']}")
    assert stored["state_changed_by"] == {"type": "user", "id": "carol"}


def test_a_ticket_the_user_may_not_see_is_the_same_404_as_a_missing_one(world):
    ticket = submit(world, "ann", GOOD).json()
    before = stored_events(world["stack"])
    for action in ("resolve", "reopen"):
        hidden = state_change(world, "dave", ticket["id"], action)
        missing = state_change(world, "dave", 999_999, action)
        assert hidden.status_code == missing.status_code == 404
        assert error_of(hidden)["message"].replace(str(ticket["id"]), "N") == error_of(missing)[
            "message"
        ].replace("999999", "N")
        assert error_of(hidden)["fields"] == error_of(missing)["fields"]
    # fay created a ticket with no company: not in the portal, so not hers to resolve there.
    fays = submit(world, "fay", GOOD).json()
    assert state_change(world, "fay", fays["id"], "resolve").status_code == 404
    assert stored_events(world["stack"]) == before + 1


def test_a_retried_resolve_with_its_key_answers_like_the_first(world):
    ticket = submit(world, "ann", GOOD).json()
    key = {"Idempotency-Key": "resolve-1"}
    first = state_change(world, "ann", ticket["id"], "resolve", **key)
    second = state_change(world, "ann", ticket["id"], "resolve", **key)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()


def test_the_writes_need_a_session_and_a_cookie_alone_needs_json_from_this_origin(world):
    api, stack = world["api"], world["stack"]
    before = stored_events(stack)
    for path in ("/api/portal/tickets", "/api/portal/tickets/1/resolve"):
        assert api.call("POST", path, json=GOOD).status_code == 401
        assert api.call("POST", path, json=GOOD, session="not-a-token").status_code == 401
        form_post = api.call(
            "POST",
            path,
            cookies={"portal_session": world["sessions"]["ann"]},
            data="type=bug&title=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form_post.status_code == 403
    assert stored_events(stack) == before
