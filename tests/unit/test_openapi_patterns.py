"""The patterns of openapi.yaml, read as JSON Schema reads them (jsonschema-rs, ECMA-262
semantics), accept exactly what the gateway accepts: e-mail addresses, text without control
characters and the list query's dates."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema_rs
import pytest
import yaml
from werkzeug.datastructures import MultiDict

from kernel.contracts import fields as f
from kernel.contracts.validation import is_one_line, is_plain_text
from kernel.errors import BadRequest
from services.gateway.inputs import parse_ticket_query

DOCUMENT = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "services/gateway/openapi.yaml").read_text()
)
SCHEMAS = DOCUMENT["components"]["schemas"]
# Every character of the Basic Multilingual Plane but the surrogates, which a JSON Schema
# string cannot hold (the gateway refuses them: tests/unit/test_unencodable_text.py).
CHARACTERS = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]


def spec(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(SCHEMAS[name])


def test_the_email_pattern_agrees_on_every_character():
    documented = spec("Email")
    contract = re.compile(f.EMAIL_PATTERN + r"\Z")
    disagreements = [
        hex(ord(c))
        for c in CHARACTERS
        if documented.is_valid(f"a{c}b@c.example") != bool(contract.match(f"a{c}b@c.example"))
    ]
    assert disagreements == []
    assert not documented.is_valid("a@b.example\n")


@pytest.mark.parametrize(
    ("name", "check"), [("OneLine", is_one_line), ("PlainText", is_plain_text)]
)
def test_the_text_patterns_agree_on_every_character(name, check):
    documented = spec(name)
    disagreements = [
        hex(ord(c)) for c in CHARACTERS if documented.is_valid(f"a{c}") != check(f"a{c}")
    ]
    assert disagreements == []


def gateway_accepts(moment: str) -> bool:
    try:
        parse_ticket_query(MultiDict({"created_from": moment}))
    except BadRequest:
        return False
    return True


def test_the_query_moment_pattern_agrees_on_every_day_and_time():
    documented = spec("QueryMoment")
    candidates = [
        f"{year}-{month:02d}-{day:02d}"
        for year in ("0000", "0001", "0004", "0100", "0400", "1900", "2000", "2023", "2024", "9999")
        for month in range(14)
        for day in range(33)
    ]
    candidates += [
        f"2024-02-29{time}"
        for time in (
            "T00:00",
            "T23:59:59",
            "T24:00",
            "T12:60",
            "T12:00:60",
            "T12:00:00.123456Z",
            "T12:00:00.1234567",
            "T12:00+23:59",
            "T12:00+24:00",
            "T12:00-00:60",
            "T1:00",
        )
    ]
    disagreements = [m for m in candidates if documented.is_valid(m) != gateway_accepts(m)]
    assert disagreements == []
