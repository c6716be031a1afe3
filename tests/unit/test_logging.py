"""Redaction in the JSON logs reaches every depth: values under credential-named keys in
nested mappings and lists, credentials in a message's text, in a library's formatted
message and in an exception's text, and the process's own secrets wherever they appear;
what is not a credential is written as it was."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from kernel.logging import REDACTED, configure_logging, get_logger, secrets_in_environment

ADMIN_TOKEN = "admin-token-under-test-1234"
HAND_OFF = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
USER_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture
def lines():
    """Log lines as the platform writes them (JSON, one per line), configured for this test
    and put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("unit", stream=stream, known_secrets=[ADMIN_TOKEN])

    def written() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield written
    structlog.reset_defaults()
    logging.captureWarnings(False)
    root.handlers, root.level = handlers, level


def test_values_under_credential_keys_are_redacted_at_any_depth(lines):
    get_logger("unit.nested").info(
        "request",
        headers={"Authorization": "Bearer abc.def", "Accept": "application/json"},
        body=[{"user_id": "ann", "user_hash": USER_HASH}, {"session": {"token": "abc123"}}],
        token="top-level",
    )
    [line] = lines()
    assert line["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert line["body"] == [
        {"user_id": "ann", "user_hash": REDACTED},
        {"session": {"token": REDACTED}},
    ]
    assert line["token"] == REDACTED
    assert line["event"] == "request"


def test_credentials_in_message_text_are_redacted(lines):
    log = get_logger("unit.text")
    log.info(f"sign-in with user_hash={USER_HASH} for ann")
    log.info(f"hand-off {HAND_OFF} refused", detail=f"Authorization: Bearer {HAND_OFF}")
    logging.getLogger("kombu.connection").warning(
        "connecting to %s", "pyamqp://guest:s3cret-pw@127.0.0.1:5672/portal"
    )
    first, second, third = lines()
    assert first["event"] == f"sign-in with user_hash={REDACTED} for ann"
    assert second["event"] == f"hand-off {REDACTED} refused"
    assert second["detail"] == f"Authorization: Bearer {REDACTED}"
    assert third["event"] == f"connecting to pyamqp://guest:{REDACTED}@127.0.0.1:5672/portal"


def test_credentials_in_exception_text_are_redacted(lines):
    try:
        raise ValueError(f"cannot verify {{'user_id': 'ann', 'user_hash': '{USER_HASH}'}}")
    except ValueError:
        get_logger("unit.exception").exception("verification failed")
    try:
        raise PermissionError(f"bad signature on {HAND_OFF}")
    except PermissionError:
        logging.getLogger("nameko.containers").exception("worker failed")
    structlog_line, stdlib_line = lines()
    assert (
        "ValueError: cannot verify {'user_id': 'ann', 'user_hash': '[redacted]'}"
        in (structlog_line["exception"])
    )
    assert f"PermissionError: bad signature on {REDACTED}" in stdlib_line["exception"]
    assert USER_HASH not in json.dumps(structlog_line)
    assert HAND_OFF not in json.dumps(stdlib_line)


def test_the_processes_own_secrets_are_redacted_wherever_they_appear(lines):
    get_logger("unit.known").info(
        f"token {ADMIN_TOKEN} rejected", attempts=[f"x-{ADMIN_TOKEN}-y"], note=ADMIN_TOKEN
    )
    [line] = lines()
    assert ADMIN_TOKEN not in json.dumps(line)
    assert line["attempts"] == [f"x-{REDACTED}-y"]


def test_the_processes_own_secrets_are_its_credential_named_variables():
    environment = {
        "PORTAL_ADMIN_TOKEN": "a",
        "PORTAL_IDENTITY_SECRET": "b",
        "PORTAL_SESSION_SECRET": "c",
        "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:5672/",
        "LOG_LEVEL": "INFO",
    }
    assert sorted(secrets_in_environment(environment)) == ["a", "b", "c"]


def test_what_is_not_a_credential_is_written_as_it_was(lines):
    get_logger("unit.plain").info(
        "ticket 42 edited",
        ticket_id=42,
        changes={"title": "Printer on fire", "state": "resolved"},
        positions=(1, 2, 3),
        event_id="0b6f4a7e-7d1b-4c43-9d3e-2f0f6a3c1a55",
        ok=True,
        took=0.25,
        missing=None,
    )
    [line] = lines()
    assert line["event"] == "ticket 42 edited"
    assert line["changes"] == {"title": "Printer on fire", "state": "resolved"}
    assert line["positions"] == [1, 2, 3]
    assert line["event_id"] == "0b6f4a7e-7d1b-4c43-9d3e-2f0f6a3c1a55"
    assert (line["ticket_id"], line["ok"], line["took"], line["missing"]) == (42, True, 0.25, None)
