"""A RabbitMQ virtual host of its own for a test run, made through the management API."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import requests

# The broker the tests run against and its management API; another one by the environment.
BROKER_URI = os.environ.get("TEST_AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT = os.environ.get("TEST_RABBITMQ_MANAGEMENT", "http://127.0.0.1:15672/api")
AUTH = ("guest", "guest")


@contextlib.contextmanager
def fresh_vhost(
    base_uri: str, prefix: str = "portal_test", management: str = MANAGEMENT
) -> Iterator[str]:
    """Yield an AMQP URI on a new, empty vhost of the broker whose management API is
    ``management``; delete the vhost afterwards."""
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    requests.put(f"{management}/vhosts/{vhost}", auth=AUTH, timeout=10).raise_for_status()
    requests.put(
        f"{management}/permissions/{vhost}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=AUTH,
        timeout=10,
    ).raise_for_status()
    parts = urlsplit(base_uri)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{vhost}", "", ""))
    finally:
        requests.delete(f"{management}/vhosts/{vhost}", auth=AUTH, timeout=30)
