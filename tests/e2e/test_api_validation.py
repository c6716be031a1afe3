"""Hostile and broken input through HTTP against the real stack: every body field of every
endpoint with a wrong type, an operator-injection payload or an oversized value, unknown
fields, unreadable bodies, oversized bodies and bad query parameters. Each gets a clear
4xx naming the problem, and nothing is appended to the event store."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.contracts import commands
from services.gateway.inputs import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.support.api import error_of, stored_events

ANN = "ann"
VALID_TICKET = {"type": "Bug", "title": "Printer on fire", "creator_id": ANN}
# method, path, command schema, a body that passes it
BODY_ENDPOINTS = [
    ("POST", "/api/admin/contacts", commands.SAVE_CONTACT, {"id": ANN}),
    ("POST", "/api/admin/companies", commands.CREATE_COMPANY, {"id": "acme", "name": "Acme"}),
    ("PATCH", "/api/admin/companies/acme", commands.RENAME_COMPANY, {"name": "Acme"}),
    ("POST", "/api/admin/companies/acme/members", commands.ADD_MEMBER, {"user_id": ANN}),
    ("POST", "/api/admin/tickets", commands.CREATE_TICKET, VALID_TICKET),
    ("PATCH", "/api/admin/tickets/1", commands.UPDATE_TICKET, {"state": "resolved"}),
    ("POST", "/api/admin/ticket-types", commands.CREATE_TICKET_TYPE, {"id": "bug", "name": "Bug"}),
    ("PATCH", "/api/admin/ticket-types/bug", commands.UPDATE_TICKET_TYPE, {"name": "Bug"}),
    (
        "POST",
        "/api/admin/tickets/1/conversation",
        commands.LINK_CONVERSATION,
        {"conversation_id": "c1"},
    ),
    (
        "POST",
        "/api/admin/conversations",
        commands.START_CONVERSATION,
        {"user_id": ANN, "body": "Hi"},
    ),
    (
        "POST",
        "/api/admin/conversations/c1/parts",
        commands.ADD_PART,
        {"author_type": "teammate", "author_id": "sam", "author_name": "Sam", "body": "Hi"},
    ),
    (
        "POST",
        "/api/admin/conversations/c1/ticket",
        commands.CONVERT_CONVERSATION,
        {"type": "Bug", "title": "From a chat"},
    ),
    (
        "PUT",
        "/api/admin/portal/settings",
        commands.CHANGE_PORTAL_SETTINGS,
        {"preview_enabled": True},
    ),
    (
        "POST",
        "/api/admin/portal/restricted-counts",
        commands.COUNT_RESTRICTED,
        {"visibility_conditions": []},
    ),
    (
        "POST",
        "/api/portal/session",
        commands.START_SESSION_WITH_HASH,
        {"user_id": ANN, "user_hash": "0" * 64},
    ),
    ("POST", "/api/portal/session", commands.START_SESSION_WITH_TOKEN, {"token": "x.y.z"}),
]
# A portal user's bodies, sent with a session.
PORTAL_BODY_ENDPOINTS = [
    ("POST", "/api/portal/tickets", commands.SUBMIT_TICKET, {"type": "bug", "title": "Help"}),
]
ERROR_CODES = {401: "unauthenticated", 422: "validation_failed"}


def refusal(path: str) -> int:
    """Sign-in credentials that cannot be read are refused like wrong ones (401); any other
    bad body is a 422."""
    return 401 if path == "/api/portal/session" else 422


OPERATOR_PAYLOADS = [
    {"$ne": None},
    {"$gt": ""},
    {"$where": "sleep(10000)"},
    {"$regex": ".*"},
    [{"$ne": 1}],
]
# A value of each JSON kind; a field gets the ones its declared type does not accept.
JSON_KINDS = [12345, 1.5, True, "text", ["text"], {"key": "value"}]


def accepts(declared: list[str], value) -> bool:
    kinds = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, float),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
    }
    return any(kinds[name] for name in declared)


def wrong_types(rule: dict) -> list:
    declared = rule.get("type")
    declared = declared if isinstance(declared, list) else [declared]
    return [value for value in JSON_KINDS if not accepts(declared, value)][:3]


def oversized(rule: dict, valid_item):
    limit = rule.get("maxlength")
    if limit is None:
        return None
    if rule.get("type") == "string":
        return "x" * (limit + 1)
    if rule.get("type") == "list" and valid_item is not None:
        return [valid_item] * (limit + 1)
    return None


LIST_ITEMS = {
    "participant_ids": ANN,
    "attributes": {"name": "Tier", "value": "gold", "visible_to_customer": True},
    "visibility_conditions": {"attribute": "role", "operator": "eq", "value": "member"},
}


def bad_bodies(endpoints: list = BODY_ENDPOINTS):
    """(endpoint id, method, path, body, field the answer must name)."""
    for method, path, schema, valid in endpoints:
        endpoint = f"{method} {path}"
        for field, rule in schema.items():
            for value in wrong_types(rule):
                yield f"{endpoint} {field} wrong type", method, path, {**valid, field: value}, field
            for index, payload in enumerate(OPERATOR_PAYLOADS):
                yield (
                    f"{endpoint} {field} operator {index}",
                    method,
                    path,
                    {**valid, field: payload},
                    field,
                )
            too_big = oversized(rule, LIST_ITEMS.get(field))
            if too_big is not None:
                yield (
                    f"{endpoint} {field} oversized",
                    method,
                    path,
                    {**valid, field: too_big},
                    field,
                )
        for unknown in ("$where", "a.b", "is_admin"):
            yield f"{endpoint} unknown {unknown}", method, path, {**valid, unknown: 1}, unknown


BAD_BODIES = list(bad_bodies())
BAD_PORTAL_BODIES = list(bad_bodies(PORTAL_BODY_ENDPOINTS))


@pytest.fixture(scope="module")
def session(platform):
    """A verified user's session (no contact, no company: enough to reach the validation)."""
    return platform[1].sign_in(f"visitor-{uuid.uuid4().hex[:8]}")


def send(api, method: str, path: str, body, **headers):
    admin = path.startswith("/api/admin/")
    return api.call(
        method,
        path,
        as_admin=admin,
        data=body,
        # The document checker cannot read a streamed (chunked) request back.
        conform=isinstance(body, bytes | None),
        headers={"Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_a_bad_field_is_refused_naming_it_and_appends_nothing(platform, method, path, body, field):
    stack, api = platform
    before = stored_events(stack)
    answer = send(api, method, path, json.dumps(body).encode())
    assert answer.status_code == refusal(path), answer.text
    error = error_of(answer)
    assert error["code"] == ERROR_CODES[refusal(path)]
    assert any(name == field or name.startswith(f"{field}.") for name in error["fields"]), error
    assert stored_events(stack) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [case[1:] for case in BAD_PORTAL_BODIES],
    ids=[case[0] for case in BAD_PORTAL_BODIES],
)
def test_a_bad_field_of_a_portal_body_is_refused_naming_it_and_appends_nothing(
    platform, session, method, path, body, field
):
    stack, api = platform
    before = stored_events(stack)
    answer = api.call(method, path, session=session, json=body)
    assert answer.status_code == 422, answer.text
    assert any(name == field or name.startswith(f"{field}.") for name in error_of(answer)["fields"])
    assert stored_events(stack) == before


def test_an_operator_key_inside_contact_attributes_is_refused(platform):
    stack, api = platform
    before = stored_events(stack)
    for attributes in ({"$where": "1"}, {"role.admin": True}, {"role": {"$ne": None}}):
        answer = send(
            api,
            "POST",
            "/api/admin/contacts",
            json.dumps({"id": ANN, "attributes": attributes}).encode(),
        )
        assert answer.status_code == 422, attributes
        assert any(name.startswith("attributes") for name in error_of(answer)["fields"])
    assert stored_events(stack) == before


def test_a_join_accepts_no_fields(platform, session):
    stack, api = platform
    before = stored_events(stack)
    answer = api.call(
        "POST",
        "/api/portal/tickets/1/join",
        session=session,
        json={"user_id": {"$ne": None}},
    )
    assert answer.status_code == 422
    assert "user_id" in error_of(answer)["fields"]
    assert stored_events(stack) == before


top_level_keys = st.one_of(
    st.from_regex(r"\$[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"[a-z]{1,5}\.[a-z]{1,5}", fullmatch=True),
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(BODY_ENDPOINTS),
    key=top_level_keys,
    value=json_values,
)
def test_any_operator_looking_key_is_refused_by_every_endpoint(platform, endpoint, key, value):
    stack, api = platform
    method, path, _, valid = endpoint
    before = stored_events(stack)
    answer = send(api, method, path, json.dumps({**valid, key: value}).encode())
    assert answer.status_code == refusal(path)
    assert key in error_of(answer)["fields"]
    assert stored_events(stack) == before


STRING_FIELDS = [
    (method, path, valid, field)
    for method, path, schema, valid in BODY_ENDPOINTS
    for field, rule in schema.items()
    if rule.get("type") == "string"
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(STRING_FIELDS),
    value=json_values.filter(lambda v: not isinstance(v, str)),
)
def test_anything_but_a_string_where_a_string_belongs_is_refused(platform, target, value):
    stack, api = platform
    method, path, valid, field = target
    if value is None and commands_allow_null(method, path, field):
        return
    before = stored_events(stack)
    answer = send(api, method, path, json.dumps({**valid, field: value}).encode())
    assert answer.status_code == refusal(path)
    assert any(name == field or name.startswith(f"{field}.") for name in error_of(answer)["fields"])
    assert stored_events(stack) == before


def commands_allow_null(method: str, path: str, field: str) -> bool:
    schema = next(s for m, p, s, _ in BODY_ENDPOINTS if (m, p) == (method, path) and field in s)
    return bool(schema[field].get("nullable"))


# unreadable bodies --------------------------------------------------------------------------

BROKEN_BODIES = {
    "malformed JSON": b'{"id": "acme", ',
    "trailing garbage": b'{"id": "acme"} x',
    "single quotes": b"{'id': 'acme'}",
    "invalid UTF-8": b'{"id": "\xff\xfe"}',
    "lone surrogate bytes": b'{"id": "\xed\xa0\x80"}',
    "NaN": b'{"id": NaN}',
    "duplicate keys": b'{"id": "a", "id": "b"}',
    "deep arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep objects": b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
    "empty": b"",
}
BODY_ROUTES = sorted({(method, path) for method, path, _, _ in BODY_ENDPOINTS})


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("problem", sorted(BROKEN_BODIES))
def test_an_unreadable_body_is_a_400(platform, method, path, problem):
    stack, api = platform
    before = stored_events(stack)
    answer = send(api, method, path, BROKEN_BODIES[problem])
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["code"] == "bad_request"
    assert "body" in error["fields"]
    assert stored_events(stack) == before


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_that_is_not_an_object_is_refused(platform, method, path):
    _stack, api = platform
    for body in (b"[]", b'"acme"', b"42", b"null"):
        answer = send(api, method, path, body)
        assert answer.status_code == refusal(path), body
        assert error_of(answer)["code"] == ERROR_CODES[refusal(path)]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_must_be_sent_as_json(platform, content_type):
    stack, api = platform
    headers = {"Content-Type": content_type} if content_type else {}
    before = stored_events(stack)
    answer = api.call(
        "POST",
        "/api/admin/companies",
        as_admin=True,
        data=json.dumps({"id": "acme", "name": "Acme"}).encode(),
        headers=headers,
    )
    assert answer.status_code == 400
    assert "Content-Type" in error_of(answer)["fields"]
    assert stored_events(stack) == before


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_over_the_documented_limit_is_a_413(platform, method, path):
    stack, api = platform
    before = stored_events(stack)
    padding = "x" * MAX_BODY_BYTES
    answer = send(api, method, path, json.dumps({"id": padding}).encode())
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "payload_too_large"
    assert stored_events(stack) == before


def test_a_chunked_body_over_the_limit_is_a_413(platform):
    stack, api = platform
    before = stored_events(stack)
    chunks = (b"x" * 4096 for _ in range(MAX_BODY_BYTES // 4096 + 2))
    answer = send(api, "POST", "/api/admin/companies", chunks)
    assert answer.status_code == 413
    assert stored_events(stack) == before


def test_a_chunked_body_within_the_limit_is_read(platform):
    _, api = platform
    company_id = f"chunked-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"id": company_id, "name": "Chunked"}).encode()
    answer = send(api, "POST", "/api/admin/companies", iter([body[:10], body[10:]]))
    assert answer.status_code == 201
    assert answer.json()["id"] == company_id


def test_the_largest_legal_ticket_fits_in_a_body(platform):
    """The documented limit leaves room for a ticket at every field limit, even written in
    astral characters that JSON escapes as surrogate pairs (12 bytes each)."""
    _stack, api = platform
    api.admin_ok("POST", "/api/admin/contacts", json={"id": "big-writer", "name": "Big"})
    wide = "\U0001f600"
    body = {
        "type": wide * 50,
        "title": wide * 300,
        "description": wide * 20_000,
        "creator_id": "big-writer",
        "attributes": [
            {"name": f"attribute {index}", "value": wide * 1000, "visible_to_customer": True}
            for index in range(50)
        ],
        "company_id": None,
    }
    encoded = json.dumps(body).encode()
    assert len(encoded) < MAX_BODY_BYTES
    answer = send(api, "POST", "/api/admin/tickets", encoded)
    assert answer.status_code == 201, answer.text
    assert answer.json()["description"] == wide * 20_000


# query parameters -------------------------------------------------------------------------

BAD_QUERIES = [
    ({"colour": "red"}, "colour"),
    ({"$where": "1"}, "$where"),
    ({"q[$ne]": "x"}, "q[$ne]"),
    ({"created_from": "last week"}, "created_from"),
    ({"created_to": "2024-02-30"}, "created_to"),
    ({"created_from": "0000-00-00"}, "created_from"),
    ({"updated_from": "2024-05-01T10:00-00:60"}, "updated_from"),
    ({"updated_from": "1714521600"}, "updated_from"),
    ({"updated_to": "2024-05-01T24:61"}, "updated_to"),
    ({"page": "two"}, "page"),
    ({"page": "0"}, "page"),
    ({"per_page": "1000"}, "per_page"),
    ({"sort": "title"}, "sort"),
    ({"order": "sideways"}, "order"),
    ({"state": "open"}, "state"),
    ({"creator_id": "a b"}, "creator_id"),
    ({"q": "x" * 201}, "q"),
]


@pytest.mark.parametrize(("params", "field"), BAD_QUERIES)
@pytest.mark.parametrize("audience", ["portal", "admin", "company"])
def test_a_bad_query_parameter_is_a_400_naming_it(platform, session, params, field, audience):
    _, api = platform
    if audience == "portal":
        answer = api.call("GET", "/api/portal/tickets", session=session, params=params)
    elif audience == "admin":
        answer = api.admin("GET", "/api/admin/tickets", params=params)
    else:
        answer = api.admin("GET", "/api/admin/companies/acme/tickets", params=params)
    assert answer.status_code == 400, answer.text
    assert field in error_of(answer)["fields"]


def test_a_repeated_query_parameter_is_a_400(platform):
    _, api = platform
    answer = api.admin("GET", "/api/admin/tickets?state=resolved&state=submitted")
    assert answer.status_code == 400
    assert error_of(answer)["fields"] == {"state": "must be given once"}


# text no store can hold ---------------------------------------------------------------------

# JSON may spell half a UTF-16 pair on its own; no store, log or answer can encode it.
LONE_SURROGATE = "x\ud800y"
# How an answer names a key holding one: spelled as its escape, never echoed raw.
LONE_SURROGATE_NAMED = "x\\ud800y"


def declares_string(rule: dict) -> bool:
    declared = rule.get("type")
    return declared == "string" or (isinstance(declared, list) and "string" in declared)


def lone_surrogate_bodies():
    """(endpoint id, method, path, body, field the answer must name): a lone surrogate in
    every string field, as a key of every body, and inside nested values and keys."""
    for method, path, schema, valid in BODY_ENDPOINTS:
        endpoint = f"{method} {path}"
        for field, rule in schema.items():
            if declares_string(rule):
                yield f"{endpoint} {field}", method, path, {**valid, field: LONE_SURROGATE}, field
        yield (
            f"{endpoint} key",
            method,
            path,
            {**valid, LONE_SURROGATE: "x"},
            LONE_SURROGATE_NAMED,
        )
    contact = ("POST", "/api/admin/contacts")
    yield (
        "contact attribute value",
        *contact,
        {"id": ANN, "attributes": {"role": LONE_SURROGATE}},
        ("attributes.role"),
    )
    yield (
        "contact attribute name",
        *contact,
        {"id": ANN, "attributes": {LONE_SURROGATE: "x"}},
        (f"attributes.{LONE_SURROGATE_NAMED}"),
    )
    attribute = {"name": "Tier", "value": LONE_SURROGATE, "visible_to_customer": True}
    yield (
        "ticket attribute value",
        "POST",
        "/api/admin/tickets",
        {
            **VALID_TICKET,
            "attributes": [attribute],
        },
        "attributes.0.value",
    )
    yield (
        "ticket attribute key",
        "POST",
        "/api/admin/tickets",
        {
            **VALID_TICKET,
            "attributes": [{**attribute, "value": "gold", LONE_SURROGATE: 1}],
        },
        f"attributes.0.{LONE_SURROGATE_NAMED}",
    )
    condition = {"attribute": "role", "operator": "in", "value": ["member", LONE_SURROGATE]}
    yield (
        "visibility condition value",
        "PUT",
        "/api/admin/portal/settings",
        {"visibility_conditions": [condition]},
        "visibility_conditions.0.value",
    )


LONE_SURROGATE_BODIES = list(lone_surrogate_bodies())


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [case[1:] for case in LONE_SURROGATE_BODIES],
    ids=[case[0] for case in LONE_SURROGATE_BODIES],
)
def test_a_lone_surrogate_is_refused_naming_its_field_and_appends_nothing(
    platform, method, path, body, field
):
    stack, api = platform
    before = stored_events(stack)
    encoded = json.dumps(body).encode()
    assert b"\\ud800" in encoded  # sent as the JSON escape, the only way to send one
    answer = send(api, method, path, encoded)
    assert answer.status_code == refusal(path), answer.text
    error = error_of(answer)
    assert error["code"] == ERROR_CODES[refusal(path)]
    assert any(name == field or name.startswith(f"{field}.") for name in error["fields"]), error
    assert "\ud800" not in answer.text  # a key is named by its escape, never echoed raw
    assert stored_events(stack) == before


def test_a_portal_reply_with_a_lone_surrogate_is_refused_naming_it(platform, session):
    stack, api = platform
    before = stored_events(stack)
    for body, field in [
        ({"body": LONE_SURROGATE}, "body"),
        ({"body": "Hi", LONE_SURROGATE: "x"}, LONE_SURROGATE_NAMED),
    ]:
        answer = api.call(
            "POST",
            "/api/messenger/conversations/c1/messages",
            session=session,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert field in error_of(answer)["fields"]
    assert stored_events(stack) == before


# C0 controls other than tab and line breaks, DEL, and C1 controls (NEL, CSI).
CONTROL_CHARACTERS = ["\x00", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9b", "\x9f"]


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_are_refused_in_emails_and_attribute_values(platform, character):
    stack, api = platform
    before = stored_events(stack)
    attribute = {"name": "Tier", "value": f"gold{character}", "visible_to_customer": True}
    for method, path, body, field in [
        ("POST", "/api/admin/contacts", {"id": ANN, "email": f"a{character}@b.example"}, "email"),
        (
            "POST",
            "/api/admin/contacts",
            {"id": ANN, "attributes": {"role": f"a{character}"}},
            ("attributes.role"),
        ),
        (
            "POST",
            "/api/admin/tickets",
            {**VALID_TICKET, "attributes": [attribute]},
            ("attributes.0.value"),
        ),
        (
            "POST",
            "/api/portal/session",
            {"user_id": ANN, "email": f"a{character}@b.example", "user_hash": "0" * 64},
            "email",
        ),
    ]:
        answer = send(api, method, path, json.dumps(body).encode())
        assert answer.status_code == refusal(path), (path, answer.text)
        assert field in error_of(answer)["fields"], (path, answer.text)
    assert stored_events(stack) == before
