"""The shared validation rules every edge relies on."""

from __future__ import annotations

import pytest

from kernel.contracts import commands
from kernel.contracts.envelope import NewEvent, RecordedEvent, check_envelope, derived_event_id
from kernel.contracts.validation import flatten_errors, validate
from kernel.errors import ValidationFailed


def problems(schema: dict, document) -> dict:
    with pytest.raises(ValidationFailed) as error:
        validate(schema, document, "thing")
    return error.value.fields


def test_a_boolean_is_not_a_number():
    assert problems({"n": {"type": "integer"}}, {"n": True}) == {"n": "must be of integer type"}
    assert problems({"n": {"type": "float"}}, {"n": False}) == {"n": "must be of float type"}
    assert validate({"n": {"type": "float"}}, {"n": 3}, "thing") == {"n": 3}


def test_operator_injection_and_unknown_keys_are_named():
    fields = problems(commands.CREATE_COMPANY, {"id": {"$gt": ""}, "name": "Acme", "$where": "1"})
    assert fields == {"id": "must be of string type", "$where": "unknown field"}


def test_control_characters_and_line_breaks_are_refused_where_they_do_not_belong():
    assert "name" in problems(commands.CREATE_COMPANY, {"id": "acme", "name": "Ac\nme"})
    assert "name" in problems(commands.CREATE_COMPANY, {"id": "acme", "name": "Ac\x00me"})
    body = validate(commands.START_CONVERSATION, {"user_id": "ann", "body": "line\nbreak\tok"}, "x")
    assert body["body"] == "line\nbreak\tok"


def test_ids_may_not_hide_a_trailing_newline_or_markup():
    assert problems(commands.CREATE_COMPANY, {"id": "acme\n", "name": "Acme"}) == {
        "id": "has an invalid format"
    }
    assert "id" in problems(commands.CREATE_COMPANY, {"id": "<b>", "name": "Acme"})


def test_oversized_text_is_refused_with_the_limit():
    fields = problems(commands.CREATE_COMPANY, {"id": "acme", "name": "x" * 201})
    assert fields == {"name": "max length is 200"}


def test_a_non_object_document_is_refused():
    assert problems(commands.CREATE_COMPANY, ["not", "an", "object"]) == {"": "must be an object"}


def test_nested_errors_flatten_to_dotted_paths():
    assert flatten_errors({"attributes": [{0: [{"name": ["required field"]}]}]}) == {
        "attributes.0.name": "required field"
    }


def test_an_envelope_from_the_bus_is_checked_like_an_append():
    event = NewEvent("CompanyCreated", {"company_id": "acme", "name": "Acme"})
    good = RecordedEvent(
        7,
        event.event_id,
        "company-acme",
        1,
        event.type,
        1,
        event.occurred_at,
        None,
        None,
        event.payload,
        {},
    ).to_dict()
    assert check_envelope(good).position == 7
    with pytest.raises(ValidationFailed):
        check_envelope({**good, "payload": {"company_id": "acme"}})
    with pytest.raises(ValidationFailed):
        check_envelope({**good, "stream_id": "ticket-1"})


def test_derived_event_ids_are_stable_per_command_and_index():
    assert derived_event_id("key-1", 0) == derived_event_id("key-1", 0)
    assert (
        len(
            {
                derived_event_id("key-1", 0),
                derived_event_id("key-1", 1),
                derived_event_id("key-2", 0),
            }
        )
        == 3
    )
