"""The compiled fast path of validation accepts exactly what Cerberus accepts.

For every schema of the platform (each command, event payload, the envelopes and the shared
field rules), hypothesis builds documents from the schema's own rules, valid ones and ones
with one thing changed somewhere inside (a wrong type, a boolean for a number, null, a key
missing or added, a ``$`` key, a length just past a limit, a trailing newline, a bad item
deep in a list), and the compiled predicate must give Cerberus' answer on each. Where
Cerberus refuses, :func:`validate` must report Cerberus' own errors.
"""

from __future__ import annotations

import math
from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kernel.contracts import commands, envelope, events
from kernel.contracts import fields as f
from kernel.contracts.validation import (
    COMPILED_RULES,
    PlatformValidator,
    UncompilableSchema,
    compile_schema,
    flatten_errors,
    validate,
)
from kernel.errors import ValidationFailed


def is_mapping_schema(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(rules, dict) for rules in value.values())


def is_rule_set(value: object) -> bool:
    return isinstance(value, dict) and ("type" in value or "anyof" in value)


def platform_schemas() -> dict[str, dict]:
    """Every schema constant of kernel/contracts, so a new one is covered without asking."""
    schemas = {
        f"commands.{name}": value
        for name, value in vars(commands).items()
        if name.isupper() and not name.startswith("_") and is_mapping_schema(value)
    }
    schemas |= {
        f"envelope.{name}": value
        for name, value in vars(envelope).items()
        if name.isupper() and not name.startswith("_") and is_mapping_schema(value)
    }
    schemas |= {
        f"events.{name}.v{version}": e.schema for (name, version), e in events.EVENT_TYPES.items()
    }
    # The shared field rules, each as the one (optional) field of a document.
    schemas |= {
        f"fields.{name}": {"field": value}
        for name, value in vars(f).items()
        if name.isupper() and is_rule_set(value)
    }
    return schemas


SCHEMAS = platform_schemas()


def test_every_kind_of_platform_schema_is_covered():
    kinds = {name.split(".")[0] for name in SCHEMAS}
    assert kinds == {"commands", "envelope", "events", "fields"}
    assert len([name for name in SCHEMAS if name.startswith("events.")]) == len(events.EVENT_TYPES)


def rules_used(rules: dict) -> set[str]:
    """The rule names in one field's rules and in every rule set nested in them."""
    nested = [rules[name] for name in ("keysrules", "valuesrules") if name in rules]
    nested += rules.get("anyof", [])
    if "schema" in rules:
        schema = rules["schema"]
        nested += list(schema.values()) if rules.get("type") == "dict" else [schema]
    return set(rules).union(*map(rules_used, nested))


def test_the_compiler_knows_exactly_the_rules_the_platform_uses():
    used = set().union(*(rules_used(rules) for s in SCHEMAS.values() for rules in s.values()))
    assert used == COMPILED_RULES


# Valid documents, built from the rules ------------------------------------------------------

CONTROL_CHARACTERS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
LONE_SURROGATES = "".join(chr(c) for c in range(0xD800, 0xE000))
FORBIDDEN_BY_CHECK = {
    None: "",
    "plain_text": "".join(c for c in CONTROL_CHARACTERS if c not in "\t\n\r") + LONE_SURROGATES,
    "one_line": "".join(c for c in CONTROL_CHARACTERS if c != "\t") + LONE_SURROGATES,
}


def strings(rules: dict) -> st.SearchStrategy[str]:
    if "allowed" in rules:
        return st.sampled_from(rules["allowed"])
    low, high = rules.get("minlength", 0), rules.get("maxlength", 100)
    if "regex" in rules:
        return st.from_regex(rules["regex"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
    alphabet = st.characters(exclude_characters=FORBIDDEN_BY_CHECK[rules.get("check_with")])
    return st.one_of(
        st.text(alphabet, min_size=low, max_size=min(high, 20)),
        st.just("x" * high),  # exactly at the limit
        st.just("x" * low),
    )


def json_values() -> st.SearchStrategy:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=8,
    )


def typed(type_name: str, rules: dict) -> st.SearchStrategy:
    if type_name == "string":
        return strings(rules)
    if type_name == "integer":
        return st.integers(rules.get("min"), rules.get("max"))
    if type_name == "float":
        return st.floats(rules.get("min"), rules.get("max"), allow_nan=False) | st.integers()
    if type_name == "boolean":
        return st.booleans()
    if type_name == "dict":
        if "schema" in rules:
            return documents(rules["schema"])
        if "keysrules" in rules:
            return st.dictionaries(
                values(rules["keysrules"]),
                values(rules["valuesrules"]),
                max_size=min(rules.get("maxlength", 5), 5),
            )
        return st.dictionaries(st.text(max_size=8), json_values(), max_size=4)
    if type_name == "list":
        return st.lists(values(rules["schema"]), max_size=min(rules.get("maxlength", 5), 5))
    raise AssertionError(f"no strategy for type {type_name}")


def values(rules: dict) -> st.SearchStrategy:
    """Values the rules accept."""
    if "anyof" in rules:
        # null is the field's own answer (Cerberus decides it before the alternatives)
        nullable = rules.get("nullable", False)
        options = [values({**alt, "nullable": nullable}) for alt in rules["anyof"]]
    else:
        names = rules["type"] if isinstance(rules["type"], list) else [rules["type"]]
        options = [typed(name, rules) for name in names]
    if rules.get("nullable"):
        options.append(st.none())
    return st.one_of(options)


def documents(schema: dict) -> st.SearchStrategy[dict]:
    required = {key: values(rules) for key, rules in schema.items() if rules.get("required")}
    optional = {key: values(rules) for key, rules in schema.items() if not rules.get("required")}
    return st.fixed_dictionaries(required, optional=optional)


# One thing changed ---------------------------------------------------------------------------

LIMITS = sorted(
    {n + d for n in (1, 20, 50, 64, 128, 200, 254, 300, 1000, 4096, 20_000) for d in (-1, 0, 1)}
)
HOSTILE = (
    st.sampled_from(
        [
            *(None, True, False, 0, 1, -1, 2**53, 2**53 + 1, 1.5, -0.0, math.nan, math.inf),
            *("", " ", "\n", "a\n", "\na", "a\x00", "a\tb", "a\rb", "a\x7fb", "Ab", "a" * 65),
            *({"$gt": ""}, {}, [], [None], ["a"], [{}], ("a",), b"a", {"a": 1}),
        ]
    )
    | json_values()
)
EXTRA_KEYS = st.sampled_from(["$where", "$gt", "extra", "", "a.b", "x" * 65, "Priority", 0])


def resized(value: str | list, length: int) -> str | list:
    """``value`` repeated or cut to ``length``, so its items stay valid and only the length
    changes."""
    if not value:
        value = "x" if isinstance(value, str) else [None]
    return (value * (length // len(value) + 1))[:length]


def changes(value: object, keep_type: bool = False) -> st.SearchStrategy:
    """Values that differ from ``value`` in one way (``keep_type``: still a mapping or a
    list, for the document itself)."""
    options = [] if keep_type else [HOSTILE]
    if isinstance(value, str):
        edits = [value + "\n", value + "\r\n", "\n" + value, value + "\x00", value + "$"]
        edits += [value + " ", value.upper(), value[:-1], value[1:], value + value]
        options.append(st.sampled_from(edits))
        options.append(st.sampled_from(LIMITS).map(lambda n: resized(value, n)))
    if isinstance(value, int):  # booleans too
        options.append(st.sampled_from([value + 1, value - 1, -value, float(value), str(value)]))
    if isinstance(value, list):
        options.append(st.sampled_from([10, 20, 21, 50, 51]).map(lambda n: resized(value, n)))
        options.append(HOSTILE.map(lambda item: [*value, item]))
    if isinstance(value, dict):
        if value:
            keys = st.sampled_from(sorted(value, key=repr))
            options.append(keys.map(lambda key: without(value, key)))
        options.append(st.tuples(EXTRA_KEYS, HOSTILE).map(lambda kv: {**value, kv[0]: kv[1]}))
    return st.one_of(options)


def without(document: dict, key: object) -> dict:
    return {k: v for k, v in document.items() if k != key}


def mutated(data: st.DataObject, value: object, top: bool = True) -> object:
    """A copy of ``value`` with one thing changed, at the top or somewhere inside (the top
    stays a mapping: :func:`validate` refuses anything else before any schema)."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value, key=repr)))
        return {**value, key: mutated(data, value[key], top=False)}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutated(data, value[index], top=False), *value[index + 1 :]]
    return data.draw(changes(value, keep_type=top))


# The oracle and the properties -----------------------------------------------------------------


@cache
def oracle(name: str) -> PlatformValidator:
    return PlatformValidator(SCHEMAS[name])


@cache
def predicate(name: str):
    return compile_schema(SCHEMAS[name])


def cerberus_accepts(name: str, document: dict) -> bool:
    return oracle(name).validate(document, normalize=False)


EQUIVALENCE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@EQUIVALENCE
@given(data=st.data())
def test_the_compiled_predicate_answers_as_cerberus_does(name, data):
    schema = SCHEMAS[name]
    valid = data.draw(documents(schema))
    assert cerberus_accepts(name, valid), oracle(name).errors
    assert predicate(name)(valid)

    document = mutated(data, valid)

    accepted = cerberus_accepts(name, document)
    event("accepted" if accepted else "refused")
    assert predicate(name)(document) == accepted
    if accepted:
        assert validate(schema, document, "thing") == document
    else:
        with pytest.raises(ValidationFailed) as refused:
            validate(schema, document, "thing")
        assert refused.value.fields == flatten_errors(oracle(name).errors)


# Named edge cases, each refused by both ---------------------------------------------------------

TICKET_CREATED = events.EVENT_TYPES[("TicketCreated", 1)].schema
GOOD_TICKET = {
    "ticket_id": 7,
    "ticket_type": "Bug",
    "state": "submitted",
    "title": "Sync fails",
    "description": "It fails.\n\tAgain.",
    "attributes": [{"name": "Priority", "value": "High", "visible_to_customer": True}],
    "creator_id": "ann",
    "participant_ids": ["ann", "bob"],
    "company_id": None,
    "conversation_id": "c-1",
}
GOOD_CONTACT = {"id": "ann", "email": None, "attributes": {"Plan": "pro", "Seats": 3}}
GOOD_SETTINGS = {"visibility_conditions": [{"attribute": "Plan", "operator": "in", "value": ["a"]}]}


def edited(document: dict, path: tuple, value: object) -> dict:
    """A deep copy of ``document`` with ``path`` set to ``value`` (``DELETE``: removed)."""
    if not path:
        return value
    head, *rest = path
    copy = list(document) if isinstance(document, list) else dict(document)
    if not rest and value is DELETE:
        del copy[head]
    else:
        copy[head] = edited(document[head], tuple(rest), value)
    return copy


DELETE = object()


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("ticket_id",), True), id="bool-for-int"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("ticket_id",), 2**53 + 1), id="max"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("ticket_id",), 0), id="min"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("ticket_id",), 1.0), id="float-for-int"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("creator_id",), "ann\n"), id="newline"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("creator_id",), None), id="null"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("creator_id",), DELETE), id="missing"),
        pytest.param(TICKET_CREATED, {**GOOD_TICKET, "$where": "1"}, id="dollar-key"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("title",), "x" * 301), id="too-long"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("title",), ""), id="too-short"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("title",), "a\tb\x00"), id="control"),
        pytest.param(TICKET_CREATED, edited(GOOD_TICKET, ("state",), "open"), id="not-allowed"),
        pytest.param(
            TICKET_CREATED,
            edited(GOOD_TICKET, ("attributes", 0, "value"), {"$gt": ""}),
            id="nested-list-dict",
        ),
        pytest.param(
            TICKET_CREATED,
            edited(GOOD_TICKET, ("attributes", 0, "visible_to_customer"), DELETE),
            id="nested-missing",
        ),
        pytest.param(
            TICKET_CREATED, edited(GOOD_TICKET, ("participant_ids", 1), 5), id="list-item"
        ),
        pytest.param(
            TICKET_CREATED, edited(GOOD_TICKET, ("participant_ids",), ["a"] * 51), id="long-list"
        ),
        pytest.param(
            TICKET_CREATED, edited(GOOD_TICKET, ("participant_ids",), "ann"), id="str-for-list"
        ),
        pytest.param(
            commands.SAVE_CONTACT,
            edited(GOOD_CONTACT, ("attributes",), {"$set": "x"}),
            id="keysrules",
        ),
        pytest.param(
            commands.SAVE_CONTACT,
            edited(GOOD_CONTACT, ("attributes", "Plan"), ["pro"]),
            id="valuesrules",
        ),
        pytest.param(
            commands.CHANGE_PORTAL_SETTINGS,
            edited(GOOD_SETTINGS, ("visibility_conditions", 0, "value"), [["a"]]),
            id="anyof",
        ),
        pytest.param(
            commands.CHANGE_PORTAL_SETTINGS,
            edited(GOOD_SETTINGS, ("visibility_conditions", 0, "value"), None),
            id="anyof-null",
        ),
        pytest.param({}, {"a": 1}, id="empty-schema"),
    ],
)
def test_named_edge_cases_are_refused_by_both(schema, document):
    assert not PlatformValidator(schema).validate(document, normalize=False)
    assert not compile_schema(schema)(document)


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        (TICKET_CREATED, GOOD_TICKET),
        (commands.SAVE_CONTACT, GOOD_CONTACT),
        (commands.CHANGE_PORTAL_SETTINGS, GOOD_SETTINGS),
        ({}, {}),
    ],
)
def test_the_named_cases_start_from_valid_documents(schema, document):
    assert PlatformValidator(schema).validate(document, normalize=False)
    assert compile_schema(schema)(document)


# A rule the compiler does not know fails loudly -----------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        {"type": "string", "empty": False},
        {"type": "string", "oneof": [{"maxlength": 1}]},
        {"type": "string", "coerce": str},
        {"type": "no_such_type"},
        {"type": "string", "check_with": "no_such_check"},
        {"schema": {"type": "string"}},
        {"type": ["list", "dict"], "schema": {"type": "string"}},
    ],
)
def test_a_rule_without_a_compiled_form_is_refused_at_compile_time(rules):
    with pytest.raises(UncompilableSchema):
        compile_schema({"field": rules})


@pytest.mark.parametrize("check", ["plain_text", "one_line"])
def test_each_check_refuses_exactly_its_characters(check):
    """Both sides share the check functions, so equivalence alone would not notice if a
    check changed: pin what each refuses."""
    rules = {"field": {"type": "string", "check_with": check}}
    accepts = compile_schema(rules)
    validator = PlatformValidator(rules)

    refused = {chr(c) for c in range(0x10000) if not accepts({"field": f"a{chr(c)}b"})}

    assert refused == set(FORBIDDEN_BY_CHECK[check])
    assert not any(validator.validate({"field": c}) for c in refused)
