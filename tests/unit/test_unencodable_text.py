"""Text no store can hold: a lone surrogate (JSON can spell one, ``"\\ud800"``) and control
characters are refused by every string rule of the platform, and an error that names such a
key can still be encoded."""

from __future__ import annotations

import json

import pytest

from kernel.contracts import commands, envelope, events
from kernel.contracts.validation import compile_rules, validate
from kernel.errors import ValidationFailed
from services.gateway.responses import json_response

LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]


def platform_schemas() -> dict[str, dict]:
    schemas = {
        f"commands.{name}": value
        for name, value in vars(commands).items()
        if name.isupper() and isinstance(value, dict) and value
    }
    schemas |= {
        f"envelope.{name}": value
        for name, value in vars(envelope).items()
        if name.endswith("_SCHEMA") and isinstance(value, dict)
    }
    schemas |= {f"events.{name}.v{v}": e.schema for (name, v), e in events.EVENT_TYPES.items()}
    return schemas


def string_rules(rules: dict, path: str):
    """Every rule set that admits a string, with its dotted path, nested ones included."""
    declared = rules.get("type")
    if declared == "string" or (isinstance(declared, list) and "string" in declared):
        yield path, rules
    nested = {
        "keysrules": [rules.get("keysrules")],
        "valuesrules": [rules.get("valuesrules")],
        "anyof": rules.get("anyof", []),
    }
    if "schema" in rules:
        schema = rules["schema"]
        if declared == "dict":
            for key, field_rules in schema.items():
                yield from string_rules(field_rules, f"{path}.{key}")
        else:
            nested["items"] = [schema]
    for kind, rule_sets in nested.items():
        for inner in rule_sets:
            if inner:
                yield from string_rules({**inner}, f"{path}[{kind}]")


STRING_RULES = [
    (f"{name}:{path}", rules)
    for name, schema in platform_schemas().items()
    for field, field_rules in schema.items()
    for path, rules in string_rules(field_rules, field)
]


def test_the_walk_finds_the_string_rules():
    names = {name for name, _ in STRING_RULES}
    assert "commands.SAVE_CONTACT:attributes[keysrules]" in names
    assert "commands.CHANGE_PORTAL_SETTINGS:visibility_conditions[items].value[anyof]" in names
    assert "commands.START_SESSION_WITH_TOKEN:token" in names
    assert len(STRING_RULES) > 100


@pytest.mark.parametrize(("name", "rules"), STRING_RULES, ids=[n for n, _ in STRING_RULES])
def test_no_string_rule_of_the_platform_admits_a_lone_surrogate(name, rules):
    accepts = compile_rules(rules)
    for surrogate in LONE_SURROGATES:
        for text in (surrogate, f"a{surrogate}", f"ab@c{surrogate}.example"):
            assert not accepts(text), (name, text)


def test_a_surrogate_pair_is_one_character_and_accepted():
    assert json.loads('"\\ud83d\\ude00"') == "\U0001f600"
    command = validate(commands.USER_REPLY, {"body": "\U0001f600"}, "message")
    assert command == {"body": "\U0001f600"}


def test_a_lone_surrogate_in_text_is_refused_saying_why():
    with pytest.raises(ValidationFailed) as refused:
        validate(commands.USER_REPLY, {"body": "x\ud800y"}, "message")
    assert refused.value.fields == {
        "body": "must be valid Unicode text (no lone surrogate such as \\ud800)"
    }


@pytest.mark.parametrize(
    "document",
    [
        {"id": "ann", "x\ud800y": 1},
        {"id": "ann", "attributes": {"x\ud800y": "gold"}},
    ],
)
def test_an_error_naming_a_key_with_a_lone_surrogate_spells_it_as_its_escape(document):
    with pytest.raises(ValidationFailed) as refused:
        validate(commands.SAVE_CONTACT, document, "contact")
    error = refused.value
    assert any("x\\ud800y" in name for name in error.fields), error.fields
    json.dumps(error.to_dict(), ensure_ascii=False).encode("utf-8")  # never UnicodeEncodeError
    error.message.encode("utf-8")


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x80", "\x85", "\x9f"])
def test_control_characters_are_refused_in_emails_and_attribute_values(character):
    for document, field in [
        ({"id": "ann", "email": f"ann{character}@acme.example"}, "email"),
        ({"id": "ann", "attributes": {"role": f"member{character}"}}, "attributes.role"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            validate(commands.SAVE_CONTACT, document, "contact")
        assert field in refused.value.fields


def test_an_answer_holding_a_lone_surrogate_is_written_as_its_json_escape():
    answer = json_response({"error": {"fields": {"x\ud800y": "unknown field"}}}, 422)

    assert answer.get_data() == b'{"error":{"fields":{"x\\ud800y":"unknown field"}}}'
    assert json.loads(answer.get_data()) == {"error": {"fields": {"x\ud800y": "unknown field"}}}
