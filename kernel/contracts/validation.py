"""Cerberus validation with the platform's rules and one error shape.

:func:`validate` returns the document (a shallow copy) or raises :class:`ValidationFailed`
whose ``fields`` maps a dotted path (``attributes.0.name``) to the first problem found there.
Unknown fields are always rejected, so ``{"$gt": ""}`` where a string belongs, or an extra
key, never slips through to storage.

Cerberus is the validator of record, but it costs ~50-150 µs a document, which every event
pays on its way into the store. So each schema is also compiled, once, into a plain-Python
predicate that answers True exactly when Cerberus (:class:`PlatformValidator`,
``normalize=False``) accepts the document; Cerberus runs only when the predicate says no, to
name the problems. The compiler knows the rules the platform's schemas use and refuses any
other (:class:`UncompilableSchema`), so a new rule is never silently skipped.
``tests/unit/test_validation_compiled.py`` proves the two agree on every platform schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from typing import Any

import cerberus
from cerberus.utils import TypeDefinition

from kernel.errors import ValidationFailed
from kernel.logging import get_logger

log = get_logger(__name__)

# C0 control characters other than tab, newline and carriage return, DEL, and C1.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Half of a UTF-16 pair on its own: JSON can spell one (``"\ud800"``), but no store, log
# or answer can encode it. (A whole pair is decoded into the one character it stands for.)
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What each check refuses, in one pass: the fast path asks only whether the text is clean.
_NOT_PLAIN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_ONE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def is_plain_text(value: Any) -> bool:
    """``check_with: plain_text``: a string of valid Unicode without control characters
    (tabs and line breaks allowed); anything else is left to the other rules."""
    return not isinstance(value, str) or _NOT_PLAIN_TEXT.search(value) is None


def is_one_line(value: Any) -> bool:
    """``check_with: one_line``: plain text without line breaks."""
    return not isinstance(value, str) or _NOT_ONE_LINE.search(value) is None


def text_problem(value: str, one_line: bool) -> str:
    """What a check above refused in ``value``, said for the caller."""
    if LONE_SURROGATE.search(value):
        return "must be valid Unicode text (no lone surrogate such as \\ud800)"
    if one_line:
        return "must be a single line without control characters"
    return "must not contain control characters"


def printable_path(key: Any) -> str:
    """A field name as an error may show it: a lone surrogate spelled as its JSON escape,
    so an answer or a log line that names a field can always be encoded."""
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8")


class PlatformValidator(cerberus.Validator):
    # JSON has no integer/boolean overlap: `true` is never a number here.
    types_mapping = {
        **cerberus.Validator.types_mapping,
        "integer": TypeDefinition("integer", (int,), (bool,)),
        "float": TypeDefinition("float", (float, int), (bool,)),
        "number": TypeDefinition("number", (float, int), (bool,)),
    }

    def _check_with_plain_text(self, field: str, value: Any) -> None:
        if not is_plain_text(value):
            self._error(field, text_problem(value, one_line=False))

    def _check_with_one_line(self, field: str, value: Any) -> None:
        if not is_one_line(value):
            self._error(field, text_problem(value, one_line=True))


def flatten_errors(errors: dict, prefix: str = "") -> dict[str, str]:
    """Turn Cerberus' nested error tree into ``{"a.0.b": "message"}``."""
    flat: dict[str, str] = {}
    for key, problems in errors.items():
        path = f"{prefix}{printable_path(key)}"
        for problem in problems:
            if isinstance(problem, dict):
                flat.update(flatten_errors(problem, f"{path}."))
            else:
                message = str(problem)
                if message.startswith("value does not match regex"):
                    message = "has an invalid format"
                flat.setdefault(path, message)
    return flat


# The compiled fast path ---------------------------------------------------------------------

Predicate = Callable[[Any], bool]

CHECKS: dict[str, Predicate] = {"plain_text": is_plain_text, "one_line": is_one_line}


class UncompilableSchema(ValueError):
    """A schema uses a rule (or a form of one) the compiled fast path does not know."""


def compile_schema(schema: Mapping) -> Predicate:
    """The predicate of a mapping schema: every key known and valid, every required key
    present (present with ``None`` counts, as Cerberus counts it)."""
    fields = {name: compile_rules(rules) for name, rules in schema.items()}
    required = frozenset(name for name, rules in schema.items() if rules.get("required") is True)

    def accepts(document: Mapping) -> bool:
        if not document.keys() >= required:
            return False
        for key, value in document.items():
            accepts_value = fields.get(key)
            if accepts_value is None or not accepts_value(value):
                return False
        return True

    return accepts


def compile_rules(rules: Mapping) -> Predicate:
    """The predicate of one field's rules, in Cerberus' order: ``nullable`` first (``None``
    is decided there: every later rule but ``check_with`` is dropped for it, and the
    platform's checks pass anything but a string), then ``type`` (a wrong type ends it),
    then every other rule must hold. A check answers truthy when the value passes (a regex
    check is the pattern's own ``match``)."""
    unknown = rules.keys() - COMPILED_RULES
    if unknown:
        raise UncompilableSchema(f"no compiled form for the rules {sorted(unknown)} in {rules}")
    nullable = bool(rules.get("nullable", False))
    included, excluded, type_checks = _type_test(rules.get("type"))
    checks = type_checks + tuple(
        _RULE_COMPILERS[name](argument, rules)
        for name, argument in rules.items()
        if name in _RULE_COMPILERS
    )

    def accepts(value: Any) -> bool:
        if value is None:
            return nullable
        if not isinstance(value, included) or isinstance(value, excluded):
            return False
        for check in checks:  # noqa: SIM110 - faster than all() over a generator
            if not check(value):
                return False
        return True

    return accepts


def _type_test(type_names: str | list[str] | None) -> tuple[tuple, tuple, tuple[Predicate, ...]]:
    """The type rule as ``(included, excluded, checks)``: a value of an included type and of
    no excluded one passes if ``checks`` pass too. One type of
    :attr:`PlatformValidator.types_mapping` is its two tuples (so a boolean is not a number
    here either); several become a check that any one of them matches."""
    if not type_names:
        return (object,), (), ()
    pairs = [
        (_concrete_first(d.included_types), d.excluded_types) for d in _type_definitions(type_names)
    ]
    if len(pairs) == 1:
        return *pairs[0], ()

    def has_any_type(value: Any) -> bool:
        for included, excluded in pairs:
            if isinstance(value, included) and not isinstance(value, excluded):
                return True
        return False

    return (object,), (), (has_any_type,)


def _concrete_first(types: tuple[type, ...]) -> tuple[type, ...]:
    """``dict`` before ``Mapping`` and ``list`` before ``Sequence``: the same test, but a
    JSON value is answered without the ABC machinery."""
    concrete = {Mapping: dict, Sequence: list}
    return tuple(concrete[kind] for kind in types if kind in concrete) + types


def _type_definitions(type_names: str | list[str]) -> list[TypeDefinition]:
    names = [type_names] if isinstance(type_names, str) else list(type_names)
    unknown = [name for name in names if name not in PlatformValidator.types_mapping]
    if unknown:
        raise UncompilableSchema(f"no compiled form for the types {unknown}")
    return [PlatformValidator.types_mapping[name] for name in names]


def _always(rules: Mapping, kind: type) -> bool:
    """Whether the field's type rule admits only instances of ``kind``. The type rule runs
    before any other and ends the field's checks when it fails, so a rule that only applies
    to ``kind`` (a regex to strings, a length to iterables) need not ask again."""
    type_names = rules.get("type")
    return bool(type_names) and all(
        issubclass(included, kind)
        for definition in _type_definitions(type_names)
        for included in definition.included_types
    )


def _regex(pattern: str, rules: Mapping) -> Predicate:
    # Cerberus appends an implicit "$" and matches from the start; non-strings pass.
    matches = re.compile(pattern if pattern.endswith("$") else pattern + "$").match
    if _always(rules, str):
        return matches
    return lambda value: not isinstance(value, str) or matches(value) is not None


def _minlength(limit: int, rules: Mapping) -> Predicate:
    if _always(rules, Iterable):
        return lambda value: len(value) >= limit
    return lambda value: not isinstance(value, Iterable) or len(value) >= limit


def _maxlength(limit: int, rules: Mapping) -> Predicate:
    if _always(rules, Iterable):
        return lambda value: len(value) <= limit
    return lambda value: not isinstance(value, Iterable) or len(value) <= limit


def _min(limit: Any, rules: Mapping) -> Predicate:
    return lambda value: _not_ordered_below(value, limit)


def _max(limit: Any, rules: Mapping) -> Predicate:
    return lambda value: _not_ordered_below(limit, value)


def _not_ordered_below(value: Any, limit: Any) -> bool:
    try:
        return not value < limit
    except TypeError:  # Cerberus ignores values that cannot be compared
        return True


def _allowed(allowed: Iterable, rules: Mapping) -> Predicate:
    allowed = tuple(allowed)
    if _always(rules, str):
        return lambda value: value in allowed

    def accepts(value: Any) -> bool:  # a collection: each of its items must be allowed
        if isinstance(value, Iterable) and not isinstance(value, str):
            return all(item in allowed for item in value)
        return value in allowed

    return accepts


def _check_with(name: Any, rules: Mapping) -> Predicate:
    if not isinstance(name, str) or name not in CHECKS:
        raise UncompilableSchema(f"no compiled form for check_with {name!r}")
    return CHECKS[name]


def _schema(schema: Mapping, rules: Mapping) -> Predicate:
    # Cerberus reads ``schema`` by the value: the items' rules of a list, the fields of a
    # mapping. Only those two types are compiled, so the type rule says which it is.
    if rules.get("type") == "list":
        accepts_item = compile_rules(schema)
        return lambda items: all(map(accepts_item, items))
    if rules.get("type") == "dict":
        return compile_schema(schema)
    raise UncompilableSchema(f"'schema' needs type 'list' or 'dict': {rules}")


def _keysrules(key_rules: Mapping, rules: Mapping) -> Predicate:
    accepts_key = compile_rules(key_rules)
    if _always(rules, Mapping):
        return lambda value: all(map(accepts_key, value))
    return lambda value: not isinstance(value, Mapping) or all(map(accepts_key, value))


def _valuesrules(value_rules: Mapping, rules: Mapping) -> Predicate:
    accepts_value = compile_rules(value_rules)
    if _always(rules, Mapping):
        return lambda value: all(map(accepts_value, value.values()))
    return lambda value: not isinstance(value, Mapping) or all(map(accepts_value, value.values()))


def _anyof(definitions: list[Mapping], rules: Mapping) -> Predicate:
    # Each alternative inherits the field's type when it has none (as in Cerberus).
    inherited = {"type": rules["type"]} if "type" in rules else {}
    alternatives = [compile_rules({**inherited, **definition}) for definition in definitions]
    return lambda value: any(accepts(value) for accepts in alternatives)


_RULE_COMPILERS: dict[str, Callable[[Any, Mapping], Predicate]] = {
    "regex": _regex,
    "minlength": _minlength,
    "maxlength": _maxlength,
    "min": _min,
    "max": _max,
    "allowed": _allowed,
    "check_with": _check_with,
    "schema": _schema,
    "keysrules": _keysrules,
    "valuesrules": _valuesrules,
    "anyof": _anyof,
}


# Every rule the compiler knows: exactly those the platform's schemas use.
COMPILED_RULES = frozenset({"type", "nullable", "required", *_RULE_COMPILERS})


# Each schema's predicate and Cerberus validator, built once (building a validator checks the
# schema itself, which is slow). Schemas are module constants, so this stays small; the
# schema is kept beside them so an id can never be reused by another dict while cached.
_COMPILED: dict[int, tuple[dict, Predicate, PlatformValidator]] = {}


def compiled(schema: dict) -> tuple[Predicate, PlatformValidator]:
    cached = _COMPILED.get(id(schema))
    if cached is None or cached[0] is not schema:
        validator = PlatformValidator(schema)  # first, so Cerberus checks the schema
        cached = _COMPILED[id(schema)] = (schema, compile_schema(schema), validator)
    return cached[1], cached[2]


def validate(schema: dict, document: Any, what: str) -> dict:
    """Validate ``document`` against ``schema`` (a module-level constant); ``what`` names it
    in the error message."""
    if not isinstance(document, dict):
        raise ValidationFailed(f"{what} must be a JSON object", {"": "must be an object"})
    accepts, validator = compiled(schema)
    if accepts(document):
        return copy(document)
    if not validator.validate(document, normalize=False):
        fields = flatten_errors(validator.errors)
        first = next(iter(fields.items()))
        raise ValidationFailed(f"invalid {what}: {first[0]} {first[1]}", fields)
    # Cerberus has the last word; the equivalence tests exist so that this never happens.
    log.error("compiled validation refused what Cerberus accepts", what=what)
    return validator.document
