"""What the fault tests that talk to RabbitMQ themselves share: a vhost of their own."""

from __future__ import annotations

import pytest

from tests.support.broker import BROKER_URI, fresh_vhost


@pytest.fixture
def vhost():
    """An AMQP URI on a fresh, empty vhost, deleted after the test."""
    with fresh_vhost(BROKER_URI) as uri:
        yield uri
