"""Fixtures-side helpers to run the platform's processes for end-to-end and fault tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from portalctl.stack import Stack
from tests.support.broker import fresh_vhost

ADMIN_TOKEN = "test-admin-token"
IDENTITY_SECRET = "test-identity-secret"
SESSION_SECRET = "test-session-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_stack(
    root: Path, amqp_uri: str, names: list[str] | None = None, **env: str
) -> Iterator[Stack]:
    with fresh_vhost(amqp_uri) as vhost_uri:
        stack = Stack(
            env={
                "AMQP_URI": vhost_uri,
                "PORTAL_DATA_DIR": str(root / "data"),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN,
                "PORTAL_IDENTITY_SECRET": IDENTITY_SECRET,
                "PORTAL_SESSION_SECRET": SESSION_SECRET,
                "CATCH_UP_INTERVAL": "0.5",
                **env,
            },
            log_dir=root / "logs",
        )
        if names:
            stack.names = names
        stack.start()
        try:
            stack.wait_ready()
            yield stack
        finally:
            stack.stop()
