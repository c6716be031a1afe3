"""How the gateway reads what callers send: JSON bodies, list queries, path ids, headers."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from kernel.errors import BadRequest, NotFound
from services.gateway.entrypoints import GatewayRequest, request_fingerprint
from services.gateway.inputs import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    entity_id,
    idempotency_key_of,
    json_depth,
    parse_json,
    parse_ticket_query,
    read_body,
    read_json,
    ticket_number,
)


def request(method="POST", path="/api/admin/tickets", body=b"", **headers) -> GatewayRequest:
    builder = EnvironBuilder(method=method, path=path, data=body, headers=headers)
    return GatewayRequest(builder.get_environ())


def epoch(*parts) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


# JSON bodies ------------------------------------------------------------------------------


def test_a_json_object_is_parsed():
    assert parse_json(b'{"title": "Printer \\u00e9", "n": [1, 2]}') == {
        "title": "Printer é",
        "n": [1, 2],
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"a": "\xc3"}', "not valid UTF-8"),
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": 1,}', "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": Infinity}', "not valid JSON"),
        (b'{"a": 1, "a": 2}', "not valid JSON"),
        (b"[" * 100_000, "nests too deeply"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nests too deeply"),
    ],
)
def test_an_unreadable_body_is_a_bad_request(body, problem):
    with pytest.raises(BadRequest) as raised:
        parse_json(body)
    assert problem in raised.value.message
    assert raised.value.fields["body"]


def test_nesting_up_to_the_limit_is_accepted_and_one_more_level_is_not():
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(BadRequest):
        parse_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"title": "[[[[{{{{" * 100 + '\\"[[[['})
    assert json_depth(text) == 1
    assert parse_json(text.encode())["title"].startswith("[[[[")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3)
    ),
    max_leaves=20,
)


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


@given(json_values)
def test_json_depth_measures_what_the_parser_would_build(value):
    assert json_depth(json.dumps(value)) == depth_of(value)


@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_a_bad_request(body):
    with contextlib.suppress(BadRequest):
        parse_json(body)


def test_a_body_needs_the_json_content_type():
    with pytest.raises(BadRequest) as raised:
        read_json(request(body=b"{}", **{"Content-Type": "text/plain"}))
    assert "Content-Type" in raised.value.fields
    assert read_json(request(body=b"{}", **{"Content-Type": "application/json"})) == {}


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    with pytest.raises(RequestEntityTooLarge):
        read_body(request(body=b" " * (MAX_BODY_BYTES + 1)))
    assert len(read_body(request(body=b" " * MAX_BODY_BYTES))) == MAX_BODY_BYTES


# Idempotency keys -------------------------------------------------------------------------


def test_an_idempotency_key_is_optional_and_must_be_short_printable_ascii():
    assert idempotency_key_of(request()) is None
    assert idempotency_key_of(request(**{"Idempotency-Key": "retry-1"})) == "retry-1"
    for bad in ("k" * 129, "tab\there", "caf\u00e9"):
        with pytest.raises(BadRequest) as raised:
            idempotency_key_of(request(**{"Idempotency-Key": bad}))
        assert "Idempotency-Key" in raised.value.fields


def test_the_fingerprint_tells_method_path_and_body_apart():
    one = request_fingerprint(request("POST", "/api/admin/tickets"), b'{"a":1}')
    assert one == request_fingerprint(request("POST", "/api/admin/tickets"), b'{"a":1}')
    assert one != request_fingerprint(request("PATCH", "/api/admin/tickets"), b'{"a":1}')
    assert one != request_fingerprint(request("POST", "/api/admin/companies"), b'{"a":1}')
    assert one != request_fingerprint(request("POST", "/api/admin/tickets"), b'{"a":2}')


# Path ids ---------------------------------------------------------------------------------


def test_ticket_numbers_in_paths():
    assert ticket_number("42") == 42
    for text in ("0", "042", "-1", "4.2", "#42", "abc", str(2**53 + 1), "1" * 40):
        with pytest.raises(NotFound):
            ticket_number(text)


def test_entity_ids_in_paths():
    assert entity_id("acme-1", "company") == "acme-1"
    for text in ("", "$where", ".hidden", "a" * 65, "a b"):
        with pytest.raises(NotFound):
            entity_id(text, "company")


# List queries -----------------------------------------------------------------------------


def test_a_full_query_is_typed():
    query = parse_ticket_query(
        MultiDict(
            {
                "q": "printer #12",
                "type": "Bug",
                "state": "resolved",
                "creator_id": "ann",
                "company_id": "acme",
                "created_from": "2024-05-01",
                "created_to": "2024-05-31",
                "updated_from": "2024-05-01T10:30:00Z",
                "updated_to": "2024-05-01T12:00:00+02:00",
                "sort": "created_at",
                "order": "asc",
                "page": "2",
                "per_page": "25",
            }
        )
    )
    assert query == {
        "q": "printer #12",
        "type": "Bug",
        "state": "resolved",
        "creator_id": "ann",
        "company_id": "acme",
        "created_from": epoch(2024, 5, 1),
        "created_to": epoch(2024, 6, 1) - 0.000001,
        "updated_from": epoch(2024, 5, 1, 10, 30),
        "updated_to": epoch(2024, 5, 1, 10),
        "sort": "created_at",
        "order": "asc",
        "page": 2,
        "per_page": 25,
    }


def test_a_date_alone_means_the_whole_day_and_a_naive_time_is_utc():
    query = parse_ticket_query(
        MultiDict(
            {
                "updated_from": "2024-02-29",
                "updated_to": "2024-02-29",
                "created_to": "2024-02-29T08:00",
            }
        )
    )
    assert query["updated_from"] == epoch(2024, 2, 29)
    assert epoch(2024, 2, 29, 23, 59, 59) < query["updated_to"] < epoch(2024, 3, 1)
    assert query["created_to"] == epoch(2024, 2, 29, 8)


def test_empty_values_count_as_not_given():
    assert parse_ticket_query(MultiDict({"q": "", "state": "", "page": ""})) == {}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"$where": "1"}, "$where"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "2024-13-01"}, "created_to"),
        ({"updated_from": "2024-02-30"}, "updated_from"),
        ({"updated_to": "2024-05-01T25:00:00Z"}, "updated_to"),
        ({"updated_to": "2024-05-01T10:00-00:60"}, "updated_to"),
        ({"created_from": "0000-00-00"}, "created_from"),
        ({"created_to": "2023-02-29"}, "created_to"),
        ({"created_from": "1714521600"}, "created_from"),
        ({"page": "two"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "0"}, "page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"sort": "title"}, "sort"),
        ({"order": "up"}, "order"),
        ({"state": "open"}, "state"),
        ({"creator_id": "$ne"}, "creator_id"),
        ({"company_id": "a.b c"}, "company_id"),
        ({"q": "x" * 201}, "q"),
        ({"q": "two\nlines"}, "q"),
    ],
)
def test_a_bad_parameter_is_a_bad_request_naming_it(args, field):
    with pytest.raises(BadRequest) as raised:
        parse_ticket_query(MultiDict(args))
    assert field in raised.value.fields


def test_a_repeated_parameter_is_a_bad_request():
    with pytest.raises(BadRequest) as raised:
        parse_ticket_query(MultiDict([("state", "resolved"), ("state", "submitted")]))
    assert raised.value.fields == {"state": "must be given once"}
