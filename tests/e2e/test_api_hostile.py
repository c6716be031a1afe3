"""Hostile input and access through HTTP against the whole stack: a canary planted in
internal notes and internal attributes never reaches a customer, an e-mail (every user
follows their company's tickets, and the stack sends to a real SMTP server), the outbox or
the projection's files;
pathological searches answer correctly within the RPC timeout; markup comes back as text
and is escaped in previews; forged session tokens are refused; sessions expire and can be
revoked; moving a ticket or a member cuts access at once; and no secret reaches any log.

Already proven elsewhere (not repeated here): tenant isolation by id, search, filters,
company_id override, join, tickets space and me (test_api_portal.py::
test_another_companys_tickets_are_not_found_on_any_portal_endpoint); hand-off attacks
(another user's hash, another secret, expired or exp-less tokens, bad signatures, HS512,
alg none: test_api_portal.py::test_credentials_that_do_not_verify_are_401_and_start_nothing);
hostile bodies per field (test_api_validation.py); logout (test_api_portal.py)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
import warnings
from pathlib import Path

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from nameko.standalone.rpc import ClusterRpcProxy

from services.notifications.outbox import OUTBOX_FILE
from services.portal_query.storage import PROJECTIONS_FILE
from tests.support.api import api_stack, error_of, stored_events, user_hash
from tests.support.mail_server import MailServer
from tests.support.mongo import real_mongo_uri
from tests.support.stack import (
    ADMIN_TOKEN,
    IDENTITY_SECRET,
    SESSION_SECRET,
    event_store_of,
    partition_storages,
    stack_config,
)
from tests.support.waiting import eventually

SESSION_TTL = 15
CANARY = f"Canary{uuid.uuid4().hex}"
CANARY_ATTRIBUTE = f"Secret {uuid.uuid4().hex[:12]}"
MARKUP = {
    "company": "<b>Markup & Co</b>",
    "contact": "<img src=x onerror=alert('name')>",
    "type": "<i>Bug</i>",
    "title": "<script>alert('title')</script> pwned title",
    "description": "<iframe src=javascript:alert('description')></iframe> odd description",
    "attribute": "<svg onload=alert('attribute')>",
    "part": "<a href=javascript:alert('part')>clickme</a> now",
    "author": "<b>Sam</b>",
}
PEOPLE = {
    "ann": ("ann@acme.example", ["acme"]),
    "bob": ("bob@acme.example", ["acme"]),
    "dave": ("dave@globex.example", ["globex"]),
    "mia": ("mia@acme.example", ["acme"]),
}
# Issued during the module: none of it may reach a log file.
CREDENTIALS: set[str] = set()


def sign(claims: dict, key: str | None, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("api_hostile")
    mail = MailServer(root)
    mail.start()
    with (
        _stopping(mail),
        api_stack(root, PORTAL_SESSION_TTL_SECONDS=str(SESSION_TTL), SMTP_URI=mail.uri) as (
            stack,
            api,
        ),
    ):
        api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
        api.admin_ok("POST", "/api/admin/companies", json={"id": "globex", "name": "Globex"})
        api.admin_ok(
            "POST", "/api/admin/companies", json={"id": "markup", "name": MARKUP["company"]}
        )
        for person, (email, companies) in PEOPLE.items():
            api.admin_ok("POST", "/api/admin/contacts", json={"id": person, "email": email})
            for company in companies:
                api.admin_ok(
                    "POST", f"/api/admin/companies/{company}/members", json={"user_id": person}
                )
        api.admin_ok(
            "POST",
            "/api/admin/contacts",
            json={"id": "mark", "email": "mark@markup.example", "name": MARKUP["contact"]},
        )
        api.admin_ok("POST", "/api/admin/companies/markup/members", json={"user_id": "mark"})
        for person in (*PEOPLE, "mark"):  # every ticket's e-mail reaches its whole company
            api.call(
                "PUT",
                "/api/portal/notifications",
                session=session_of(api, person),
                json={"my_tickets": True, "company_tickets": True},
            )

        tickets = {}
        for key, creator, title in [
            ("acme_invoice", "ann", "Invoice export fails"),
            ("acme_login", "bob", "Login loops forever"),
            ("acme_regex", "ann", "Parser chokes on (zq+)+$ patterns"),
            ("acme_cafe", "ann", "Café crème menu garbled"),
            ("globex_invoice", "dave", "Invoice export fails for Globex"),
        ]:
            tickets[key] = ticket_with_canaries(api, creator, title)
        tickets["markup"] = markup_ticket(api)
        yield {"stack": stack, "api": api, "tickets": tickets, "root": root, "mail": mail}


@contextlib.contextmanager
def _stopping(mail: MailServer):
    try:
        yield
    finally:
        mail.stop()


def ticket_with_canaries(api, creator: str, title: str) -> dict:
    """A ticket whose conversation holds a customer reply and an internal note sharing its
    words, and whose internal attribute hides the canary in its name and its value."""
    conversation = api.admin_ok(
        "POST", "/api/admin/conversations", json={"user_id": creator, "body": f"About: {title}"}
    )
    ticket = api.admin_ok(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/ticket",
        json={
            "type": "Bug",
            "title": title,
            "description": f"{title}, since Monday",
            "attributes": [
                {"name": "Plan", "value": "Pro", "visible_to_customer": True},
                {"name": "Margin", "value": CANARY, "visible_to_customer": False},
                {"name": CANARY_ATTRIBUTE, "value": "hidden", "visible_to_customer": False},
            ],
        },
    )
    for body, internal in [
        (f"We are looking at: {title}", False),
        (f"{title} {CANARY} internal only", True),
    ]:
        api.teammate_part(conversation["id"], body, internal=internal)
    api.admin_ok("PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "in_progress"})
    return ticket


def markup_ticket(api) -> dict:
    conversation = api.admin_ok(
        "POST", "/api/admin/conversations", json={"user_id": "mark", "body": MARKUP["part"]}
    )
    ticket = api.admin_ok(
        "POST",
        f"/api/admin/conversations/{conversation['id']}/ticket",
        json={
            "type": MARKUP["type"],
            "title": MARKUP["title"],
            "description": MARKUP["description"],
            "attributes": [
                {"name": "Note", "value": MARKUP["attribute"], "visible_to_customer": True}
            ],
        },
    )
    api.teammate_part(conversation["id"], f"{MARKUP['part']} again", author_name=MARKUP["author"])
    return ticket


def session_of(api, user: str) -> str:
    """A fresh session (sessions here live only SESSION_TTL seconds)."""
    token = api.sign_in(user, PEOPLE.get(user, ("mark@markup.example",))[0])
    CREDENTIALS.update({token, user_hash(user)})
    return token


def portal(api, user: str, path: str, method: str = "GET", **options):
    return api.call(method, path, session=session_of(api, user), **options)


def everything_visible(world) -> None:
    api = world["api"]
    eventually(
        lambda: portal(api, "ann", "/api/portal/tickets").json().get("total") == 4, timeout=20
    )
    eventually(
        lambda: portal(api, "mark", "/api/portal/tickets").json().get("total") == 1, timeout=20
    )


# the canary --------------------------------------------------------------------------------


def test_a_canary_in_internal_notes_and_attributes_never_reaches_a_customer(world):
    api = world["api"]
    everything_visible(world)
    answers = []
    for user in ("ann", "bob", "dave"):
        session = session_of(api, user)

        def get(path, session=session, **params):
            answer = api.call("GET", path, session=session, params=params)
            answers.append(answer)
            return answer

        listed = get("/api/portal/tickets", per_page="100").json()
        for sort in ("id", "type", "state", "created_at", "updated_at"):
            get("/api/portal/tickets", sort=sort, order="asc")
        for q in (CANARY, CANARY.lower(), CANARY[:10], "internal", "invoice export", "login"):
            searched = get("/api/portal/tickets", q=q)
            assert searched.status_code == 200
            if q.lower().startswith("canary") or q == "internal":
                assert searched.json()["total"] == 0, q
        get("/api/portal/me")
        get("/api/messenger/tickets")
        for item in listed["items"]:
            get(f"/api/portal/tickets/{item['id']}")
            joined = api.call("POST", f"/api/portal/tickets/{item['id']}/join", session=session)
            assert joined.status_code == 200
            answers.append(joined)
        previews = get("/api/portal/tickets", q="invoice export").json()["items"]
        assert all("preview" in item for item in previews)

    assert len(answers) > 30
    for answer in answers:
        text = answer.text.lower()
        assert CANARY.lower() not in text, answer.url
        assert CANARY_ATTRIBUTE.lower() not in text, answer.url

    stored = ""
    for storage in partition_storages(stack_config(world["stack"])):
        try:
            generation = storage.current().generation
            stored += json.dumps([batch for batch in storage.documents(generation)]).lower()
        finally:
            storage.close()
    assert CANARY.lower() not in stored
    assert CANARY_ATTRIBUTE.lower() not in stored
    store = event_store_of(world["stack"])
    try:
        events = json.dumps([event.payload for event in store.iter_all()])
    finally:
        store.close()
    assert CANARY in events, "the canary was planted where teammates see it"

    # e-mail: every canary ticket's reply and state change was sent, and no message holds it
    mail = world["mail"]

    def subjects() -> set[str]:
        return {message["Subject"].split(": ")[0] for message in mail.messages()}

    for key in ("acme_invoice", "acme_login", "acme_regex", "acme_cafe", "globex_invoice"):
        number = world["tickets"][key]["id"]
        eventually(
            lambda n=number: subjects() >= {f"[#{n}] New reply", f"[#{n}] In progress"},
            timeout=30,
        )
    for message in mail.messages():
        raw = message.as_string().lower()
        assert CANARY.lower() not in raw, message["Subject"]
        assert CANARY_ATTRIBUTE.lower() not in raw, message["Subject"]
    if real_mongo_uri() is None:  # the embedded files, free pages and journals included
        data = Path(world["stack"].env["PORTAL_DATA_DIR"])
        files = sorted(data.glob(f"{Path(PROJECTIONS_FILE).stem}*")) + sorted(
            data.glob(f"{OUTBOX_FILE}*")
        )
        assert files
        for path in files:
            content = path.read_bytes().lower()
            assert CANARY.lower().encode() not in content, path.name
            assert CANARY_ATTRIBUTE.lower().encode() not in content, path.name


# searching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("(zq+)+$", {"acme_regex"}),
        ("((zq|zq)*)*$ patterns", {"acme_regex"}),
        ("cafe" + "\u0301" * 60, {"acme_cafe"}),
        ("Ｃａｆé", {"acme_cafe"}),
        ("c\u0327\u0301a\u0308f\u0301e\u0301", {"acme_cafe"}),
        ("a" * 200, set()),
        ("zz " * 66 + "z", set()),
        ("' OR 1=1 --", set()),
        ('{"$ne": null}', set()),
    ],
    ids=[
        "nested quantifiers",
        "alternation under stars",
        "60 combining accents",
        "fullwidth letters",
        "stacked combining marks",
        "one 200-letter word",
        "67 short words",
        "sql injection",
        "operator injection",
    ],
)
def test_pathological_searches_answer_correctly(world, q, expected):
    api = world["api"]
    everything_visible(world)
    answer = portal(api, "ann", "/api/portal/tickets", params={"q": q})
    assert answer.status_code == 200, answer.text
    found = {key for key, t in world["tickets"].items() if t["id"] in ids_of(answer)}
    assert found == expected


@pytest.mark.parametrize("q", ["*", ".*", "[", "\\", "%", "#", "()", "$^|?+"])
def test_a_search_of_symbols_alone_is_no_search(world, q):
    api = world["api"]
    everything_visible(world)
    answer = portal(api, "ann", "/api/portal/tickets", params={"q": q})
    assert answer.status_code == 200
    assert answer.json()["total"] == 4
    assert all("preview" not in item for item in answer.json()["items"])


@pytest.mark.parametrize("q", ["a " * 100 + "a", "x" * 201])
def test_a_search_longer_than_the_limit_is_a_400_naming_q(world, q):
    answer = portal(world["api"], "ann", "/api/portal/tickets", params={"q": q})
    assert answer.status_code == 400
    assert "q" in error_of(answer)["fields"]


def test_a_hundred_one_letter_words_answer(world):
    everything_visible(world)
    answer = portal(world["api"], "ann", "/api/portal/tickets", params={"q": "a " * 99 + "a"})
    assert answer.status_code == 200


def ids_of(answer) -> set[int]:
    return {item["id"] for item in answer.json()["items"]}


# markup ------------------------------------------------------------------------------------


def test_markup_comes_back_as_text_and_is_escaped_in_previews(world):
    api, ticket = world["api"], world["tickets"]["markup"]
    everything_visible(world)
    listed = portal(api, "mark", "/api/portal/tickets")
    assert listed.headers["Content-Type"].startswith("application/json")
    assert listed.headers["X-Content-Type-Options"] == "nosniff"
    [item] = listed.json()["items"]
    assert (item["type"], item["title"]) == (MARKUP["type"], MARKUP["title"])
    assert item["company"]["name"] == MARKUP["company"]
    assert item["creator"]["name"] == MARKUP["contact"]
    assert item["attributes"] == [{"name": "Note", "value": MARKUP["attribute"]}]

    details = portal(api, "mark", f"/api/portal/tickets/{ticket['id']}").json()
    assert details["description"] == MARKUP["description"]
    assert [(p["author_name"], p["body"]) for p in details["conversation"]] == [
        (MARKUP["contact"], MARKUP["part"]),
        (MARKUP["author"], f"{MARKUP['part']} again"),
    ]
    me = portal(api, "mark", "/api/portal/me").json()
    assert me["user"]["name"] == MARKUP["contact"]
    assert me["companies"] == [{"id": "markup", "name": MARKUP["company"]}]

    for q, location, escaped in [
        ("script", "title", "&lt;<mark>script</mark>&gt;alert(&#x27;title&#x27;)"),
        ("iframe", "description", "&lt;<mark>iframe</mark> src=javascript:alert("),
        ("clickme", "conversation", "alert(&#x27;part&#x27;)&gt;<mark>clickme</mark>&lt;/a&gt;"),
    ]:
        [found] = portal(api, "mark", "/api/portal/tickets", params={"q": q}).json()["items"]
        preview = found["preview"]
        assert preview["location"] == location
        assert escaped in preview["html"], preview["html"]
        markup_left = preview["html"].replace("<mark>", "").replace("</mark>", "")
        assert "<" not in markup_left and ">" not in markup_left
    assert preview["author_name"] == MARKUP["author"]


# sessions ----------------------------------------------------------------------------------


def forged_session_tokens(user_session: str) -> dict[str, str]:
    claims = jwt.decode(user_session, options={"verify_signature": False})
    later = {**claims, "exp": int(time.time()) + 3600}
    return {
        "alg none": sign(later, None, "none"),
        "signed with the identity secret": sign(later, IDENTITY_SECRET),
        "signed with another secret": sign(later, "not-the-session-secret"),
        "signed HS512 with the session secret": sign(later, SESSION_SECRET, "HS512"),
        "expired": sign({**claims, "exp": int(time.time()) - 60}, SESSION_SECRET),
        "without exp": sign({k: v for k, v in claims.items() if k != "exp"}, SESSION_SECRET),
        "exp as a string": sign({**later, "exp": str(later["exp"])}, SESSION_SECRET),
        "another user's session id": sign({**later, "sub": "dave"}, SESSION_SECRET),
        "a session that was never started": sign(
            {**later, "sid": str(uuid.uuid4())}, SESSION_SECRET
        ),
        "a hand-off token": sign(
            {"sub": "ann", "email": "ann@acme.example", "exp": later["exp"]}, IDENTITY_SECRET
        ),
        "truncated": user_session[:-4],
    }


def test_forged_session_tokens_are_401_on_every_portal_route(world):
    api = world["api"]
    genuine = session_of(api, "ann")
    assert api.call("GET", "/api/portal/me", session=genuine).status_code == 200
    for name, token in forged_session_tokens(genuine).items():
        CREDENTIALS.add(token)
        for method, path in [
            ("GET", "/api/portal/me"),
            ("GET", "/api/portal/tickets"),
            ("GET", f"/api/portal/tickets/{world['tickets']['acme_invoice']['id']}"),
            ("GET", "/api/messenger/tickets"),
        ]:
            for how in ({"session": token}, {"cookies": {"portal_session": token}}):
                answer = api.call(method, path, **how)
                assert answer.status_code == 401, (name, path)


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_hand_off_token_with_a_time_claim_as_a_string_is_401_and_starts_nothing(world, claim):
    """RFC 7519 times are numbers: "9999999999" is no expiry, however PyJWT would read it."""
    stack, api = world["stack"], world["api"]
    now = int(time.time())
    claims = {"sub": "ann", "email": "ann@acme.example", "exp": now + 300, "iat": now, "nbf": now}
    token = sign({**claims, claim: "9999999999" if claim == "exp" else str(now)}, IDENTITY_SECRET)
    CREDENTIALS.add(token)
    before = stored_events(stack)
    answer = api.call("POST", "/api/portal/session", json={"token": token})
    assert answer.status_code == 401, answer.text
    assert error_of(answer)["fields"] == {"token": f"has an {claim} claim that is not a number"}
    assert stored_events(stack) == before


def test_a_session_expires_after_its_lifetime(world):
    api = world["api"]
    token = session_of(api, "ann")
    assert api.call("GET", "/api/portal/me", session=token).status_code == 200
    eventually(
        lambda: api.call("GET", "/api/portal/me", session=token).status_code == 401,
        timeout=SESSION_TTL + 10,
    )
    cookie = api.call("GET", "/api/portal/me", cookies={"portal_session": token})
    assert cookie.status_code == 401


def test_revoking_a_contacts_sessions_ends_every_one_of_them(world):
    api, stack = world["api"], world["stack"]
    first, second = session_of(api, "bob"), session_of(api, "bob")
    others = session_of(api, "ann")
    with ClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"]}, timeout=10) as rpc:
        assert rpc.identity.revoke_sessions("bob")["revoked"] >= 2
    for token in (first, second):  # the gateway learns it from identity's events
        eventually(
            lambda token=token: api.call("GET", "/api/portal/me", session=token).status_code == 401,
            timeout=1.0,
        )
    assert api.call("GET", "/api/portal/me", session=others).status_code == 200
    assert portal(api, "bob", "/api/portal/me").status_code == 200


# access follows the data -------------------------------------------------------------------


def test_a_ticket_moved_to_another_company_leaves_the_old_companys_portal(world):
    api = world["api"]
    everything_visible(world)
    moved = api.admin_ok(
        "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Wanderer", "creator_id": "ann"}
    )
    assert moved["company_id"] == "acme"
    eventually(lambda: moved["id"] in ids_of(portal(api, "ann", "/api/portal/tickets")))
    api.admin_ok("POST", "/api/admin/companies/globex/members", json={"user_id": "ann"})
    api.admin_ok("PATCH", f"/api/admin/tickets/{moved['id']}", json={"company_id": "globex"})
    api.admin_ok("DELETE", "/api/admin/companies/globex/members/ann")

    def gone_for_bob():
        answer = portal(api, "bob", f"/api/portal/tickets/{moved['id']}")
        return answer.status_code == 404

    eventually(gone_for_bob)
    for params in ({"q": "wanderer"}, {"q": f"#{moved['id']}"}, {"company_id": "globex"}):
        assert moved["id"] not in ids_of(portal(api, "bob", "/api/portal/tickets", params=params))
    assert eventually(lambda: moved["id"] in ids_of(portal(api, "dave", "/api/portal/tickets")))
    joined = portal(api, "bob", f"/api/portal/tickets/{moved['id']}/join", method="POST")
    assert joined.status_code == 404


def test_a_removed_member_loses_the_companys_tickets_at_once(world):
    api = world["api"]
    everything_visible(world)
    ticket = world["tickets"]["acme_login"]
    assert portal(api, "mia", f"/api/portal/tickets/{ticket['id']}").status_code == 200
    api.admin_ok("DELETE", "/api/admin/companies/acme/members/mia")

    def no_access():
        answer = portal(api, "mia", "/api/portal/tickets")
        return answer.status_code == 403 and error_of(answer)["code"] == "no_portal_access"

    eventually(no_access)
    for path in (f"/api/portal/tickets/{ticket['id']}", "/api/portal/me"):
        answer = portal(api, "mia", path)
        assert answer.status_code == 403
        assert error_of(answer)["fields"]["missing"] == ["company", "ticket"]


# logs (last: it reads what every test above made the stack write) -------------------------


def test_no_secret_reaches_any_log_file(world):
    api = world["api"]
    hand_off = sign(
        {"sub": "ann", "email": "ann@acme.example", "exp": int(time.time()) + 60}, IDENTITY_SECRET
    )
    CREDENTIALS.add(hand_off)
    assert api.call("POST", "/api/portal/session", json={"token": hand_off}).status_code == 201
    secrets = {ADMIN_TOKEN, IDENTITY_SECRET, SESSION_SECRET, *CREDENTIALS}
    logs = sorted(world["stack"].log_dir.glob("*.log"))
    read_side = {name for name in world["stack"].names if name.startswith("portal_query")}
    assert read_side and {path.stem for path in logs} >= {"gateway", "identity", *read_side}
    for path in logs:
        text = path.read_text()
        assert text, path.name
        for line in text.splitlines():
            json.loads(line)  # one JSON object per line, nothing else
        leaked = sorted(secret[:12] for secret in secrets if secret in text)
        assert leaked == [], path.name
