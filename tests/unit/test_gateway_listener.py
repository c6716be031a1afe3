"""The listening socket a supervisor hands the gateway (systemd's socket activation)."""

from __future__ import annotations

import os

import pytest

from services.gateway.http_server import inherited_listener


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"LISTEN_FDS": "1"},
        {"LISTEN_FDS": "1", "LISTEN_PID": "1"},  # handed to another process (a parent)
        {"LISTEN_FDS": "2", "LISTEN_PID": "self"},  # more than the one socket it serves
    ],
)
def test_a_socket_not_handed_to_this_process_is_not_taken(monkeypatch, variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert inherited_listener() is None
    assert not {"LISTEN_FDS", "LISTEN_PID"} & set(os.environ), "nothing passes them on"
