"""Ticket types and their forms, and a customer's answers to a form: given these events,
when this command or these answers, then these events, attributes or this error."""

from __future__ import annotations

import functools

import pytest

from kernel.errors import Conflict, NotFound, ValidationFailed
from services.tickets import ticket_types
from tests.support.decisions import checked, history

recorded = functools.partial(history, "ticket_type-bug")
valid = functools.partial(checked, "ticket_type-bug")

FIELDS = [
    {"key": "severity", "label": "Severity", "type": "select", "required": True,
     "visible_to_customer": True, "options": ["Low", "High"]},
    {"key": "seats", "label": "Seats", "type": "number", "required": False,
     "visible_to_customer": True},
    {"key": "since", "label": "Since", "type": "date", "required": False,
     "visible_to_customer": True},
    {"key": "blocking", "label": "Blocking", "type": "boolean", "required": False,
     "visible_to_customer": True},
    {"key": "browser", "label": "Browser", "type": "text", "required": False,
     "visible_to_customer": True},
    {"key": "root_cause", "label": "Root cause", "type": "text", "required": True,
     "visible_to_customer": False},
]  # fmt: skip


def defined(**command) -> ticket_types.TicketType:
    decisions = valid(
        ticket_types.define_type(
            {"id": "bug", "name": "Bug", "customer_creatable": True, "attributes": FIELDS,
             **command},
            None,
        )
    )  # fmt: skip
    return ticket_types.fold(recorded(*decisions))


def test_a_new_type_is_version_1_and_every_field_has_options():
    bug = defined()
    assert bug.version == 1
    assert [field["options"] for field in bug.to_dict()["attributes"]][:2] == [["Low", "High"], []]


def test_an_existing_id_is_a_conflict_and_an_unknown_type_is_not_found():
    with pytest.raises(Conflict):
        ticket_types.define_type({"id": "bug", "name": "Bug"}, defined())
    with pytest.raises(NotFound):
        ticket_types.existing_type([], "nope")


@pytest.mark.parametrize(
    ("field", "where", "problem"),
    [
        ({"type": "select", "options": []}, "attributes.0.options", "at least one option"),
        ({"type": "text", "options": ["a"]}, "attributes.0.options", "only a select"),
        ({"type": "select", "options": ["a", "a"]}, "attributes.0.options", "distinct"),
    ],
)
def test_a_form_with_bad_options_is_refused(field, where, problem):
    base = {"key": "k", "label": "K", "required": False, "visible_to_customer": True}
    with pytest.raises(ValidationFailed) as error:
        ticket_types.define_type({"id": "x", "name": "X", "attributes": [{**base, **field}]}, None)
    assert problem in error.value.fields[where]


def test_a_form_with_a_key_twice_is_refused():
    with pytest.raises(ValidationFailed) as error:
        ticket_types.define_type({"id": "x", "name": "X", "attributes": FIELDS + FIELDS[:1]}, None)
    assert "attributes.6.key" in error.value.fields


def test_a_change_is_the_whole_type_at_the_next_version_and_no_change_is_nothing():
    bug = defined()
    assert ticket_types.change_type(bug, {"name": "Bug"}) == []
    decisions = valid(ticket_types.change_type(bug, {"customer_creatable": False}))
    creation = ticket_types.define_type(
        {"id": "bug", "name": "Bug", "customer_creatable": True, "attributes": FIELDS}, None
    )
    changed = ticket_types.fold(recorded(*creation, *decisions))
    assert (changed.version, changed.customer_creatable, changed.name) == (2, False, "Bug")


def test_a_customer_sees_only_the_visible_fields():
    view = defined().customer_view()
    assert [field["key"] for field in view["attributes"]] == [
        "severity", "seats", "since", "blocking", "browser"
    ]  # fmt: skip
    assert "customer_creatable" not in view


def test_an_uncreatable_or_unknown_type_is_refused_alike():
    for ticket_type in (None, defined(customer_creatable=False)):
        with pytest.raises(ValidationFailed) as error:
            ticket_types.creatable_type(ticket_type, "bug")
        assert list(error.value.fields) == ["type"]


def test_answers_become_customer_visible_attributes_in_the_forms_order():
    answers = {"browser": "Firefox", "severity": "High", "seats": 3, "blocking": False,
               "since": "2026-02-28"}  # fmt: skip
    assert ticket_types.answered_attributes(defined(), answers) == [
        {"name": "severity", "value": "High", "visible_to_customer": True},
        {"name": "seats", "value": 3, "visible_to_customer": True},
        {"name": "since", "value": "2026-02-28", "visible_to_customer": True},
        {"name": "blocking", "value": False, "visible_to_customer": True},
        {"name": "browser", "value": "Firefox", "visible_to_customer": True},
    ]


def test_an_empty_optional_answer_is_no_answer():
    answers = {"severity": "Low", "browser": "  ", "seats": None}
    assert [a["name"] for a in ticket_types.answered_attributes(defined(), answers)] == ["severity"]


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        ({}, "Severity is required"),
        ({"severity": ""}, "Severity is required"),
        ({"severity": "Medium"}, "must be one of: Low, High"),
        ({"severity": 1}, "must be text"),
        ({"seats": "3"}, "must be a number"),
        ({"seats": True}, "must be a number"),
        ({"blocking": "yes"}, "must be true or false"),
        ({"since": "2026-02-30"}, "must be a date (YYYY-MM-DD)"),
        ({"since": "20260201"}, "must be a date (YYYY-MM-DD)"),
        ({"since": "2026-W05-1"}, "must be a date (YYYY-MM-DD)"),
        ({"root_cause": "x"}, "not a field of this ticket type's form"),
        ({"nope": "x"}, "not a field of this ticket type's form"),
    ],
)
def test_every_bad_answer_names_its_field(answers, problem):
    answers = {"severity": "Low", **answers} if "severity" not in answers and answers else answers
    with pytest.raises(ValidationFailed) as error:
        ticket_types.answered_attributes(defined(), answers)
    [field] = [name for name, text in error.value.fields.items() if text == problem]
    assert field.startswith("attributes.")


def test_the_snapshot_names_the_version_and_keeps_every_field():
    snapshot = ticket_types.form_snapshot(defined())
    assert (snapshot["type_id"], snapshot["type_version"]) == ("bug", 1)
    assert len(snapshot["attributes"]) == len(FIELDS)
