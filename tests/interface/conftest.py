"""What every interface test module starts its services with, and the store they share. A
module that needs more settings overrides ``config`` by extending this one."""

from __future__ import annotations

import pytest

from kernel.eventstore import open_event_store
from tests.support.interface import IDENTITY_SECRET, SESSION_SECRET, Unchanged


@pytest.fixture
def config(rabbit_config, data_dir):
    """A fresh vhost (from nameko's ``rabbit_config``), a temp store and the test secrets."""
    return {
        **rabbit_config,
        "PORTAL_DATA_DIR": str(data_dir),
        "PORTAL_IDENTITY_SECRET": IDENTITY_SECRET,
        "PORTAL_SESSION_SECRET": SESSION_SECRET,
        "RPC_TIMEOUT": 10,
    }


@pytest.fixture
def store(config):
    store = open_event_store(config)
    yield store
    store.close()


@pytest.fixture
def unchanged(store):
    return Unchanged(store)
