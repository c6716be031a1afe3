"""Where portalctl reaches the gateway: the configured address, loopback for a wildcard."""

from __future__ import annotations

import pytest

from portalctl.stack import Stack, local_url


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("10.1.2.3:80", "http://10.1.2.3:80"),
        ("gateway.internal:8000", "http://gateway.internal:8000"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("9000", "http://127.0.0.1:9000"),
        (9000, "http://127.0.0.1:9000"),
    ],
)
def test_the_gateway_is_reached_at_its_configured_address(address, url):
    assert local_url(address) == url


def test_a_stack_without_an_address_has_no_url_to_guess(tmp_path):
    with pytest.raises(KeyError):
        _ = Stack(env={}, log_dir=tmp_path).base_url
