"""The stack a test module shares when its tests need no world of their own."""

from __future__ import annotations

import pytest

from tests.support.api import api_stack


@pytest.fixture(scope="module")
def platform(request, tmp_path_factory):
    """Every process of the platform on a fresh vhost and store, started once per module,
    and a client of its gateway: ``stack, api = platform``."""
    root = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    with api_stack(root) as (stack, api):
        yield stack, api


@pytest.fixture
def api(platform):
    return platform[1]
