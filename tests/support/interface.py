"""Helpers of the interface tests (services in nameko on the real RabbitMQ and a temp
embedded store): the secrets they start services with, and the checks they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kernel.errors import ValidationFailed
from kernel.eventstore.base import EventStore

# At least 32 bytes each, so PyJWT signs and verifies with them without a warning.
IDENTITY_SECRET = "identity-secret-for-interface-tests-".ljust(64, "x")
SESSION_SECRET = "session-secret-for-interface-tests-".ljust(64, "y")


class Unchanged:
    """``with unchanged:`` asserts that nothing was appended to the store inside the block."""

    def __init__(self, store: EventStore):
        self.store = store

    def __enter__(self) -> None:
        self.head = self.store.head_position()

    def __exit__(self, *exc_info) -> None:
        assert self.store.head_position() == self.head, "something was appended"


def refused(error_type: type[Exception], call: Callable[..., Any], *args: Any) -> Exception:
    """The error ``call(*args)`` raises, which must be an ``error_type``."""
    with pytest.raises(error_type) as raised:
        call(*args)
    return raised.value


def invalid_fields(unchanged: Unchanged, call: Callable[..., Any], *args: Any) -> dict:
    """The fields of the :class:`ValidationFailed` that ``call(*args)`` raises without
    appending anything."""
    with unchanged:
        return refused(ValidationFailed, call, *args).fields
