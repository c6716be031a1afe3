"""Ticket visibility conditions: which portal users see only the tickets they created.

Teammates set a list of conditions in the portal settings, each
``{"attribute", "operator", "value"}`` on the user's (contact's) attributes. Semantics:

* A user is *restricted* (sees only tickets they created) when **every** condition matches
  their attributes. An empty list restricts nobody: by default a user sees all tickets of
  all their companies.
* ``eq``: the attribute equals ``value``. ``neq``: it does not. ``in``: it equals one of
  the values in the list ``value``.
* A missing attribute counts as ``null``: it matches ``eq null`` and ``neq "admin"``, and
  never matches ``eq "member"``.
* Comparison is exact: case-sensitive for text, and a boolean never equals a number
  (``true`` is not ``1``), although ``1`` equals ``1.0``.

``in`` needs a list and ``eq``/``neq`` a single value; :func:`shape_problems` says where a
list breaks that, so settings can refuse it. :func:`restricts` treats a malformed
condition as not matching.

Identity stores the conditions; portal_query evaluates them. Both import this module
because services never import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kernel.errors import ValidationFailed


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right


def matches(condition: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether one condition holds for a user's attributes."""
    actual = attributes.get(condition["attribute"])
    operator, value = condition["operator"], condition["value"]
    if operator == "in":
        return isinstance(value, list) and any(_same(actual, option) for option in value)
    if isinstance(value, list):
        return False
    if operator == "eq":
        return _same(actual, value)
    if operator == "neq":
        return not _same(actual, value)
    return False


def restricts(conditions: Sequence[Mapping[str, Any]], attributes: Mapping[str, Any]) -> bool:
    """True when the user sees only tickets they created: every condition matches."""
    return bool(conditions) and all(matches(c, attributes or {}) for c in conditions)


def shape_problems(conditions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{"<index>.value": problem}`` for each condition whose value does not suit its
    operator (``in`` takes a list, ``eq`` and ``neq`` a single value)."""
    problems = {}
    for index, condition in enumerate(conditions):
        is_list = isinstance(condition["value"], list)
        if condition["operator"] == "in" and not is_list:
            problems[f"{index}.value"] = "must be a list for the operator in"
        elif condition["operator"] != "in" and is_list:
            problems[f"{index}.value"] = f"must be a single value for {condition['operator']}"
    return problems


def check_shapes(conditions: Sequence[Mapping[str, Any]], what: str) -> None:
    """:class:`ValidationFailed` naming each ``visibility_conditions.<index>.value`` that
    :func:`shape_problems` finds."""
    problems = shape_problems(conditions)
    if problems:
        fields = {f"visibility_conditions.{path}": problem for path, problem in problems.items()}
        first = next(iter(fields.items()))
        raise ValidationFailed(f"invalid {what}: {first[0]} {first[1]}", fields)
