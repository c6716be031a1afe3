"""The envelope's field list has one source (ENVELOPE_FIELDS) that its type, schema and
codecs agree with."""

from __future__ import annotations

from kernel.contracts.envelope import (
    ENVELOPE_FIELDS,
    ENVELOPE_SCHEMA,
    NEW_EVENT_FIELDS,
    NEW_EVENT_SCHEMA,
    NewEvent,
    RecordedEvent,
    check_envelope,
)


def test_the_envelope_type_and_schemas_follow_the_one_field_list():
    assert RecordedEvent._fields == (*ENVELOPE_FIELDS[:-2], "raw_payload", "raw_metadata")
    assert tuple(ENVELOPE_SCHEMA) == ENVELOPE_FIELDS
    assert tuple(NEW_EVENT_SCHEMA) == NEW_EVENT_FIELDS
    assert set(NEW_EVENT_FIELDS) - {"stream_id"} <= {f for f in NewEvent.__dataclass_fields__}


def test_an_envelope_survives_the_trip_through_a_dict():
    event = RecordedEvent(
        7,
        "3f6c1a52-8d0e-4b8e-9a77-5b1de0c7a0f4",
        "company-acme",
        2,
        "CompanyRenamed",
        1,
        "2026-03-01T10:00:00.000000+00:00",
        "req-1",
        None,
        '{"company_id":"acme","name":"Acme"}',
        "{}",
    )
    as_dict = event.to_dict()
    assert list(as_dict) == list(ENVELOPE_FIELDS)
    assert as_dict["payload"] == {"company_id": "acme", "name": "Acme"}
    assert check_envelope(as_dict).to_dict() == as_dict
