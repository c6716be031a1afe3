"""An RPC caller receives the typed error the callee raised (nameko's serialization)."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError, deserialize, serialize

from kernel import errors
from kernel.eventstore.base import CheckpointMismatch

TYPED = [
    e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, errors.PortalError)
]


@pytest.mark.parametrize("error_type", TYPED[1:], ids=lambda error_type: error_type.__name__)
def test_every_error_arrives_as_the_type_raised(error_type):
    received = deserialize(serialize(error_type("no", {"field": "why"})))
    assert type(received) is error_type
    assert (received.code, received.status, received.fields) == (
        error_type.code,
        error_type.status,
        {"field": "why"},
    )


def test_an_error_with_arguments_of_its_own_arrives_as_a_remote_error():
    assert isinstance(deserialize(serialize(CheckpointMismatch("relay", 1, 2))), RemoteError)
