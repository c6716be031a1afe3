"""The suite-wide log check (tests/support/log_secrets.py) finds every kind of secret the
tests use, and reads the platform processes' log files and nothing else."""

from __future__ import annotations

import json

from tests.support import interface, stack
from tests.support.api import user_hash
from tests.support.log_secrets import platform_logs, secrets_in

SESSION_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_every_kind_of_test_secret_is_found_in_a_log_line():
    for secret in (
        stack.ADMIN_TOKEN,
        stack.IDENTITY_SECRET,
        stack.SESSION_SECRET,
        interface.IDENTITY_SECRET,
        interface.SESSION_SECRET,
        SESSION_TOKEN,
        user_hash("ann"),
    ):
        line = json.dumps({"event": "http request", "detail": f"sent {secret}!"})
        assert secrets_in(line), secret


def test_a_log_line_without_secrets_has_none():
    line = json.dumps(
        {
            "event": "http request",
            "correlation_id": "0b6f4a7e7d1b4c439d3e2f0f6a3c1a55",
            "route": "/api/portal/session",
            "authorization": "[redacted]",
            "user_id": "ann",
            "timestamp": "2026-01-01T00:00:00Z",
        }
    )
    assert secrets_in(line) == []


def test_the_platform_processes_log_files_are_read_and_nothing_else(tmp_path):
    for name in ("a/logs/gateway.log", "b/logs/second/tickets.log", "c/rabbitmq/node.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    found = [path.relative_to(tmp_path).as_posix() for path in platform_logs(tmp_path)]
    assert found == ["a/logs/gateway.log", "b/logs/second/tickets.log"]
