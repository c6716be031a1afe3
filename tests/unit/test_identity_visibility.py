"""Visibility conditions (kernel.visibility): who is restricted to the tickets they created."""

from __future__ import annotations

import pytest

from kernel.visibility import restricts, shape_problems


def condition(attribute: str, operator: str, value) -> dict:
    return {"attribute": attribute, "operator": operator, "value": value}


MEMBERS = [condition("role", "eq", "member")]


def test_no_conditions_restrict_nobody():
    assert not restricts([], {"role": "member"})
    assert not restricts([], {})


@pytest.mark.parametrize(
    ("attributes", "restricted"),
    [
        ({"role": "member"}, True),
        ({"role": "admin"}, False),
        ({"role": "Member"}, False),  # case-sensitive
        ({}, False),  # a missing attribute is null, and null is not "member"
        ({"role": None}, False),
    ],
)
def test_eq_restricts_users_whose_attribute_equals_the_value(attributes, restricted):
    assert restricts(MEMBERS, attributes) is restricted


@pytest.mark.parametrize(
    ("attributes", "restricted"),
    [({"role": "admin"}, False), ({"role": "member"}, True), ({}, True)],
)
def test_neq_restricts_users_whose_attribute_differs_missing_included(attributes, restricted):
    assert restricts([condition("role", "neq", "admin")], attributes) is restricted


@pytest.mark.parametrize(
    ("attributes", "restricted"),
    [({"plan": "free"}, True), ({"plan": "trial"}, True), ({"plan": "pro"}, False), ({}, False)],
)
def test_in_restricts_users_whose_attribute_is_one_of_the_values(attributes, restricted):
    assert restricts([condition("plan", "in", ["free", "trial"])], attributes) is restricted


def test_every_condition_has_to_match():
    conditions = [condition("role", "eq", "member"), condition("plan", "eq", "free")]

    assert restricts(conditions, {"role": "member", "plan": "free"})
    assert not restricts(conditions, {"role": "member", "plan": "pro"})
    assert not restricts(conditions, {"role": "admin", "plan": "free"})


def test_null_matches_a_missing_attribute():
    assert restricts([condition("role", "eq", None)], {})
    assert not restricts([condition("role", "neq", None)], {})


def test_booleans_and_numbers_compare_exactly():
    assert restricts([condition("vip", "eq", True)], {"vip": True})
    assert not restricts([condition("vip", "eq", True)], {"vip": 1})
    assert not restricts([condition("seats", "eq", 1)], {"seats": True})
    assert restricts([condition("seats", "eq", 1)], {"seats": 1.0})
    assert not restricts([condition("seats", "eq", "1")], {"seats": 1})
    assert restricts([condition("vip", "neq", True)], {"vip": 1})


def test_a_malformed_condition_does_not_match():
    assert not restricts([condition("role", "in", "member")], {"role": "member"})
    assert not restricts([condition("role", "eq", ["member"])], {"role": "member"})
    assert not restricts([condition("role", "neq", ["member"])], {"role": "admin"})


def test_shape_problems_name_each_value_that_does_not_suit_its_operator():
    conditions = [
        condition("role", "eq", "member"),
        condition("role", "in", "member"),
        condition("plan", "in", ["free"]),
        condition("plan", "neq", ["pro"]),
    ]

    assert shape_problems(conditions) == {
        "1.value": "must be a list for the operator in",
        "3.value": "must be a single value for neq",
    }
    assert shape_problems(MEMBERS) == {}
