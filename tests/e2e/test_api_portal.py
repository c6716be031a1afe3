"""The customer portal's API through HTTP against the real stack: signing in (user hash and
JWT), cookie and bearer sessions, CSRF rules, logout, the table with its filters, details,
joining a conversation, the Messenger tickets space, and tenant isolation."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from tests.support.api import REVOCATION_BOUND, api_stack, error_of, stored_events, user_hash
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET
from tests.support.waiting import eventually

INTERNAL_NOTE = "CANARY-internal-note-7f3a"
INTERNAL_VALUE = "CANARY-internal-attribute-9b1c"

CONTACTS = {
    "ann": ("ann@acme.example", "Ann Archer", {"role": "admin"}, ["acme"]),
    "bob": ("bob@acme.example", "Bob Baker", {"role": "member"}, ["acme"]),
    "dave": ("dave@globex.example", "Dave Diaz", {"role": "admin"}, ["globex"]),
    "erin": (None, "Erin Evans", {"role": "admin"}, ["acme"]),
    "fay": ("fay@nowhere.example", "Fay Fox", {}, []),
}


def sign(claims: dict, key: str | None = IDENTITY_SECRET, algorithm: str = "HS256") -> str:
    """A JWT; the test secrets are short, which PyJWT warns about and which is fine here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def jwt_for(user_id: str, email: str, **claims) -> str:
    return sign({"sub": user_id, "email": email, "exp": int(time.time()) + 600, **claims})


def cookie_attributes(header: str) -> dict[str, str]:
    name_value, *attributes = [part.strip() for part in header.split(";")]
    parsed = {"": name_value}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return parsed


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two companies with their people and tickets; each ticket has a conversation with a
    customer reply, an internal note and an internal attribute."""
    with api_stack(tmp_path_factory.mktemp("api_portal")) as (stack, api):
        for company_id in ("acme", "globex"):
            api.admin_ok(
                "POST", "/api/admin/companies", json={"id": company_id, "name": company_id.title()}
            )
        for contact_id, (email, name, attributes, companies) in CONTACTS.items():
            body = {"id": contact_id, "name": name, "attributes": attributes}
            if email:
                body["email"] = email
            api.admin_ok("POST", "/api/admin/contacts", json=body)
            for company_id in companies:
                api.admin_ok(
                    "POST",
                    f"/api/admin/companies/{company_id}/members",
                    json={"user_id": contact_id},
                )
        tickets = {}
        for key, creator, kind, title, description in [
            ("acme_bug", "ann", "Bug", "Invoices export fails", "The PDF export stops at 80%"),
            (
                "acme_question",
                "bob",
                "Question",
                "Second billing contact",
                "Our accountant needs copies",
            ),
            ("globex_bug", "dave", "Bug", "Webhooks flood our endpoint", "Thousands of retries"),
        ]:
            conversation = api.admin_ok(
                "POST", "/api/admin/conversations", json={"user_id": creator, "body": description}
            )
            ticket = api.admin_ok(
                "POST",
                f"/api/admin/conversations/{conversation['id']}/ticket",
                json={
                    "type": kind,
                    "title": title,
                    "description": description,
                    "attributes": [
                        {"name": "Plan", "value": "Enterprise", "visible_to_customer": True},
                        {"name": "Margin", "value": INTERNAL_VALUE, "visible_to_customer": False},
                    ],
                },
            )
            api.teammate_part(conversation["id"], "We are on it")
            api.teammate_part(conversation["id"], INTERNAL_NOTE, internal=True)
            tickets[key] = ticket
        sessions = {user: api.sign_in(user, CONTACTS[user][0]) for user in ("ann", "bob", "dave")}

        def caught_up():
            status = api.admin_ok("GET", "/api/admin/portal/status")
            return status["lag_events"] == 0 and status["checkpoint"] >= stored_events(stack) - 10

        eventually(caught_up)
        eventually(lambda: portal_list(api, sessions["ann"])["total"] == 2)
        yield {"stack": stack, "api": api, "tickets": tickets, "sessions": sessions}


def portal_list(api, session: str, **params) -> dict:
    answer = api.call("GET", "/api/portal/tickets", session=session, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def api(world):
    return world["api"]


# signing in -------------------------------------------------------------------------------


def test_signing_in_with_a_user_hash_answers_the_token_and_sets_a_strict_cookie(api):
    answer = api.call(
        "POST",
        "/api/portal/session",
        json={"user_id": "ann", "email": "ann@acme.example", "user_hash": user_hash("ann")},
    )
    assert answer.status_code == 201
    session = answer.json()
    assert session["user_id"] == "ann"
    cookie = cookie_attributes(answer.headers["Set-Cookie"])
    assert cookie[""] == f"portal_session={session['token']}"
    assert "httponly" in cookie
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "secure" not in cookie
    assert datetime.strptime(cookie["expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(
        tzinfo=UTC
    ) > datetime.now(UTC)


def test_the_cookie_is_secure_behind_https(api):
    answer = api.call(
        "POST",
        "/api/portal/session",
        json={"user_id": "ann", "user_hash": user_hash("ann")},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "secure" in cookie_attributes(answer.headers["Set-Cookie"])


def test_signing_in_with_a_signed_token(api):
    answer = api.call(
        "POST", "/api/portal/session", json={"token": jwt_for("ann", "ann@acme.example")}
    )
    assert answer.status_code == 201
    me = api.call("GET", "/api/portal/me", session=answer.json()["token"])
    assert me.json()["user"]["id"] == "ann"


@pytest.mark.parametrize(
    "credentials",
    [
        {"user_id": "ann", "user_hash": user_hash("bob")},
        {"user_id": "ann", "user_hash": user_hash("ann", secret="another-secret")},
        {"user_id": "ann", "email": "bob@acme.example", "user_hash": user_hash("ann")},
        {"token": jwt_for("ann", "ann@acme.example", exp=int(time.time()) - 10)},
        {"token": sign({"sub": "ann", "email": "ann@acme.example"})},
        {"token": sign({"sub": "ann", "email": "ann@acme.example", "exp": 2**40}, "wrong")},
        {"token": sign({"sub": "ann", "email": "a@b.c", "exp": 2**40}, algorithm="HS512")},
        {"token": sign({"sub": "ann", "email": "a@b.c", "exp": 2**40}, None, "none")},
        {"token": "not-a-jwt"},
    ],
    ids=[
        "another user's hash",
        "hash with another secret",
        "another email",
        "expired token",
        "token without exp",
        "token with a bad signature",
        "token signed HS512",
        "unsigned token",
        "garbage token",
    ],
)
def test_credentials_that_do_not_verify_are_401_and_start_nothing(world, credentials):
    api = world["api"]
    before = stored_events(world["stack"])
    answer = api.call("POST", "/api/portal/session", json=credentials)
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers
    assert stored_events(world["stack"]) == before


def test_a_malformed_or_missing_hash_is_a_401_naming_it(api):
    for credentials in ({"user_id": "ann", "user_hash": "abc"}, {"user_id": "ann"}):
        answer = api.call("POST", "/api/portal/session", json=credentials)
        assert answer.status_code == 401
        assert error_of(answer)["code"] == "unauthenticated"
        assert "user_hash" in error_of(answer)["fields"]
        assert "Set-Cookie" not in answer.headers


# session credentials ------------------------------------------------------------------------


def test_a_session_works_as_a_cookie_and_as_a_bearer_token(world):
    api, token = world["api"], world["sessions"]["ann"]
    by_cookie = api.call("GET", "/api/portal/me", cookies={"portal_session": token})
    by_bearer = api.call("GET", "/api/portal/me", session=token)
    assert by_cookie.status_code == by_bearer.status_code == 200
    assert by_cookie.json() == by_bearer.json()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-session"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        {"Authorization": "Basic YW5uOmFubg=="},
        {"Cookie": "portal_session=forged"},
        {"Cookie": "session=whatever"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/portal/me"),
        ("GET", "/api/portal/tickets"),
        ("GET", "/api/portal/tickets/facets"),
        ("GET", "/api/portal/tickets/1"),
        ("POST", "/api/portal/tickets/1/join"),
        ("GET", "/api/messenger/tickets"),
        ("GET", "/api/messenger/conversations/conv-1"),
        ("POST", "/api/messenger/conversations/conv-1/messages"),
        ("DELETE", "/api/portal/session"),
    ],
)
def test_every_portal_route_needs_a_live_session(world, headers, method, path):
    api = world["api"]
    before = stored_events(world["stack"])
    answer = api.call(method, path, headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code == 401
    assert error_of(answer)["code"] == "unauthenticated"
    assert stored_events(world["stack"]) == before


def test_logging_out_revokes_the_session_and_clears_the_cookie(api):
    token = api.sign_in("ann", "ann@acme.example")
    answer = api.call("DELETE", "/api/portal/session", session=token)
    assert answer.status_code == 204
    cleared = cookie_attributes(answer.headers["Set-Cookie"])
    assert cleared[""] == "portal_session="
    assert cleared.get("max-age") == "0"
    assert_ended(api, token)


def assert_ended(api, token: str) -> None:
    """The session is refused, bearer or cookie, by whichever gateway copy answers: the
    one that ended it at once, the others within the bound (``test_portal_one_hop``)."""
    for how in ({"session": token}, {"cookies": {"portal_session": token}}):
        eventually(
            lambda how=how: api.call("GET", "/api/portal/me", **how).status_code == 401,
            timeout=REVOCATION_BOUND,
        )


def test_a_cookie_logout_needs_the_json_content_type(api):
    token = api.sign_in("ann", "ann@acme.example")
    refused = api.call("DELETE", "/api/portal/session", cookies={"portal_session": token})
    assert refused.status_code == 403
    assert api.call("GET", "/api/portal/me", session=token).status_code == 200
    accepted = api.call(
        "DELETE",
        "/api/portal/session",
        cookies={"portal_session": token},
        headers={"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"},
    )
    assert accepted.status_code == 204
    assert_ended(api, token)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cookie_authenticated_join_must_come_from_the_page_itself(world, headers):
    api, ticket = world["api"], world["tickets"]["acme_question"]
    token = api.sign_in("ann", "ann@acme.example")
    before = stored_events(world["stack"])
    answer = api.call(
        "POST",
        f"/api/portal/tickets/{ticket['id']}/join",
        cookies={"portal_session": token},
        headers=headers,
    )
    assert answer.status_code == 403
    assert error_of(answer)["code"] == "forbidden"
    assert stored_events(world["stack"]) == before


# the portal -------------------------------------------------------------------------------


def test_me_answers_the_user_their_companies_and_the_settings(world):
    me = world["api"].call("GET", "/api/portal/me", session=world["sessions"]["ann"]).json()
    assert me["user"]["id"] == "ann"
    assert [company["id"] for company in me["companies"]] == ["acme"]
    assert me["restricted_to_own_tickets"] is False
    assert me["settings"]["preview_enabled"] is True


@pytest.mark.parametrize(
    ("user", "missing"), [("erin", "email"), ("fay", "company"), ("visitor-9", "email")]
)
def test_a_user_without_access_is_told_what_is_missing(api, user, missing):
    token = api.sign_in(user, CONTACTS.get(user, (None,))[0])
    for path in ("/api/portal/me", "/api/portal/tickets", "/api/portal/tickets/facets"):
        answer = api.call("GET", path, session=token)
        assert answer.status_code == 403
        error = error_of(answer)
        assert error["code"] == "no_portal_access"
        assert missing in error["fields"]["missing"]


def test_the_table_lists_the_companys_tickets_without_internal_data(world):
    api, tickets = world["api"], world["tickets"]
    answer = api.call("GET", "/api/portal/tickets", session=world["sessions"]["ann"])
    listed = answer.json()
    assert {item["id"] for item in listed["items"]} == {
        tickets["acme_bug"]["id"],
        tickets["acme_question"]["id"],
    }
    assert listed["total"] == 2
    assert INTERNAL_VALUE not in answer.text and INTERNAL_NOTE not in answer.text


def test_the_filter_choices_are_their_own_answer_over_every_visible_ticket(world):
    api, sessions = world["api"], world["sessions"]
    answer = api.call("GET", "/api/portal/tickets/facets", session=sessions["ann"])
    assert answer.status_code == 200
    assert answer.json() == {
        "types": ["Bug", "Question"],
        "creators": [{"id": "ann", "name": "Ann Archer"}, {"id": "bob", "name": "Bob Baker"}],
        "companies": [{"id": "acme", "name": "Acme"}],
    }
    other = api.call("GET", "/api/portal/tickets/facets", session=sessions["dave"]).json()
    assert other["companies"] == [{"id": "globex", "name": "Globex"}]
    assert "acme" not in repr(other) and "Ann Archer" not in repr(other)


def test_no_list_answer_carries_the_filter_choices(world):
    api, session = world["api"], world["sessions"]["ann"]
    for answer in (
        api.call("GET", "/api/portal/tickets", session=session, params={"per_page": "1"}),
        api.call("GET", "/api/portal/tickets", session=session, params={"q": "invoices"}),
        api.admin("GET", "/api/admin/tickets"),
        api.admin("GET", "/api/admin/companies/acme/tickets"),
    ):
        assert answer.status_code == 200
        assert "facets" not in answer.json()


def test_filters_sort_and_pages_combine(world):
    api, session, tickets = world["api"], world["sessions"]["ann"], world["tickets"]
    bug, question = tickets["acme_bug"]["id"], tickets["acme_question"]["id"]
    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=1)).isoformat()

    def ids(**params):
        return [item["id"] for item in portal_list(api, session, **params)["items"]]

    assert ids(type="Bug") == [bug]
    assert ids(state="submitted", sort="id", order="asc") == [bug, question]
    assert ids(sort="id", order="desc") == [question, bug]
    assert ids(creator_id="bob") == [question]
    assert ids(created_from=tomorrow) == []
    assert sorted(ids(created_to=today.isoformat())) == [bug, question]
    assert sorted(ids(updated_from=today.isoformat(), updated_to=today.isoformat())) == [
        bug,
        question,
    ]
    assert ids(updated_to=f"{today.isoformat()}T00:00:00Z") == []
    assert ids(sort="id", order="asc", per_page="1", page="2") == [question]
    paged = portal_list(api, session, per_page="1")
    assert (paged["total"], len(paged["items"])) == (2, 1)


def test_a_search_answers_a_preview_unless_the_setting_is_off(world):
    api, session, bug = world["api"], world["sessions"]["ann"], world["tickets"]["acme_bug"]
    found = portal_list(api, session, q="invoices exp")
    assert [item["id"] for item in found["items"]] == [bug["id"]]
    preview = found["items"][0]["preview"]
    assert preview["location"] == "title"
    assert "<mark>" in preview["html"]
    assert portal_list(api, session, q=f"#{bug['id']}")["items"][0]["id"] == bug["id"]
    assert portal_list(api, session, q=INTERNAL_NOTE)["total"] == 0
    api.admin_ok("PUT", "/api/admin/portal/settings", json={"preview_enabled": False})
    try:
        eventually(lambda: "preview" not in portal_list(api, session, q="invoices")["items"][0])
    finally:
        api.admin_ok("PUT", "/api/admin/portal/settings", json={"preview_enabled": True})


def test_details_show_the_customer_visible_ticket_and_conversation(world):
    api, bug = world["api"], world["tickets"]["acme_bug"]
    answer = api.call("GET", f"/api/portal/tickets/{bug['id']}", session=world["sessions"]["ann"])
    assert answer.status_code == 200
    details = answer.json()
    assert (details["id"], details["title"], details["description"]) == (
        bug["id"],
        "Invoices export fails",
        "The PDF export stops at 80%",
    )
    assert details["attributes"] == [{"name": "Plan", "value": "Enterprise"}]
    assert [part["body"] for part in details["conversation"]] == [
        "The PDF export stops at 80%",
        "We are on it",
    ]
    assert INTERNAL_VALUE not in answer.text and INTERNAL_NOTE not in answer.text


def test_joining_a_conversation_puts_the_ticket_in_the_tickets_space(world):
    api, question = world["api"], world["tickets"]["acme_question"]
    session = world["sessions"]["ann"]
    before = api.call("GET", "/api/messenger/tickets", session=session).json()
    assert question["id"] not in [item["id"] for item in before["items"]]
    joined = api.call("POST", f"/api/portal/tickets/{question['id']}/join", session=session)
    assert joined.status_code == 200
    assert joined.json() == {
        "conversation_id": question["conversation_id"],
        "messenger_url": f"/messenger/conversations/{question['conversation_id']}",
        "joined": True,
    }
    again = api.call("POST", f"/api/portal/tickets/{question['id']}/join", session=session, json={})
    assert again.json()["joined"] is False

    def in_space():
        space = api.call("GET", "/api/messenger/tickets", session=session).json()
        return space if question["id"] in [item["id"] for item in space["items"]] else None

    space = eventually(in_space)
    assert space["portal_url"] == "/"


def test_a_cookie_join_from_the_page_is_accepted(world):
    api, bug = world["api"], world["tickets"]["acme_bug"]
    token = api.sign_in("bob", "bob@acme.example")
    answer = api.call(
        "POST",
        f"/api/portal/tickets/{bug['id']}/join",
        cookies={"portal_session": token},
        headers={"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 200
    assert answer.json()["conversation_id"] == bug["conversation_id"]


def test_visibility_conditions_restrict_matching_users_to_their_own_tickets(world):
    api, session, tickets = world["api"], world["sessions"]["bob"], world["tickets"]
    condition = {"attribute": "role", "operator": "eq", "value": "member"}
    api.admin_ok("PUT", "/api/admin/portal/settings", json={"visibility_conditions": [condition]})
    try:
        eventually(lambda: portal_list(api, session)["total"] == 1)
        assert [item["id"] for item in portal_list(api, session)["items"]] == [
            tickets["acme_question"]["id"]
        ]
        hidden = api.call(
            "GET", f"/api/portal/tickets/{tickets['acme_bug']['id']}", session=session
        )
        assert hidden.status_code == 404
        facets = api.call("GET", "/api/portal/tickets/facets", session=session).json()
        assert (facets["types"], facets["creators"]) == (
            ["Question"],
            [{"id": "bob", "name": "Bob Baker"}],
        )
    finally:
        api.admin_ok("PUT", "/api/admin/portal/settings", json={"visibility_conditions": []})
        eventually(lambda: portal_list(api, session)["total"] == 2)


def test_me_says_who_a_visibility_condition_restricts_to_their_own_tickets(world):
    # given: bob is a member, ann an admin, and no condition yet
    api, sessions = world["api"], world["sessions"]

    def restricted(user: str) -> bool:
        answer = api.call("GET", "/api/portal/me", session=sessions[user])
        assert answer.status_code == 200, answer.text
        return answer.json()["restricted_to_own_tickets"]

    assert (restricted("ann"), restricted("bob")) == (False, False)

    # when: the teammates restrict members
    condition = {"attribute": "role", "operator": "eq", "value": "member"}
    api.admin_ok("PUT", "/api/admin/portal/settings", json={"visibility_conditions": [condition]})
    try:
        # then: bob is told so, and his list holds only the ticket he created; ann is not
        eventually(lambda: restricted("bob"))
        assert portal_list(api, sessions["bob"])["total"] == 1
        assert restricted("ann") is False
        assert portal_list(api, sessions["ann"])["total"] == 2
    finally:
        api.admin_ok("PUT", "/api/admin/portal/settings", json={"visibility_conditions": []})
        eventually(lambda: not restricted("bob"))


# tenant isolation -------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "other_ticket"), [("ann", "globex_bug"), ("dave", "acme_bug")])
def test_another_companys_tickets_are_not_found_on_any_portal_endpoint(world, user, other_ticket):
    api, stack = world["api"], world["stack"]
    session = world["sessions"][user]
    ticket = world["tickets"][other_ticket]
    other_company = ticket["company_id"]
    secrets = (ticket["title"], ticket["description"], INTERNAL_NOTE, INTERNAL_VALUE)
    before = stored_events(stack)

    answers = [
        api.call("GET", f"/api/portal/tickets/{ticket['id']}", session=session),
        api.call("POST", f"/api/portal/tickets/{ticket['id']}/join", session=session),
        api.call(
            "POST",
            f"/api/portal/tickets/{ticket['id']}/join",
            cookies={"portal_session": session},
            headers={"Content-Type": "application/json"},
        ),
        api.call(
            "GET", f"/api/messenger/conversations/{ticket['conversation_id']}", session=session
        ),
        api.call(
            "POST",
            f"/api/messenger/conversations/{ticket['conversation_id']}/messages",
            session=session,
            json={"body": "Let me in"},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert error_of(answer)["code"] == "not_found"

    for params in [
        {"q": ticket["title"]},
        {"q": ticket["title"].split()[0]},
        {"q": f"#{ticket['id']}"},
        {"q": str(ticket["id"])},
        {"creator_id": ticket["creator_id"]},
        {"company_id": other_company},
        {"company_id": other_company, "q": ticket["title"]},
        {"type": ticket["type"], "company_id": other_company},
    ]:
        answer = api.call("GET", "/api/portal/tickets", session=session, params=params)
        assert answer.status_code in (200, 404), answer.text
        if answer.status_code == 200:
            assert ticket["id"] not in [item["id"] for item in answer.json()["items"]], params
            if "company_id" in params or "creator_id" in params:
                assert answer.json()["total"] == 0, params
        assert not any(secret in answer.text for secret in secrets), params

    everything = [
        api.call("GET", "/api/portal/me", session=session),
        api.call("GET", "/api/portal/tickets", session=session, params={"per_page": "100"}),
        api.call("GET", "/api/portal/tickets/facets", session=session),
        api.call("GET", "/api/messenger/tickets", session=session),
    ]
    for answer in everything:
        assert answer.status_code == 200
        assert other_company not in answer.text
        assert not any(secret in answer.text for secret in secrets)
    assert stored_events(stack) == before
