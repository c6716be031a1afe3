"""Test-wide set-up. Nameko needs eventlet's monkey patch before anything else imports
sockets or threads, so it happens first, here. Every run ends by checking that no secret
reached any log (``tests/support/log_secrets.py``)."""

import os

import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

from tests.support.log_secrets import LogSecrets  # noqa: E402
from tests.support.mongo import mongo_backend_description, real_mongo_uri  # noqa: E402

LOG_SECRETS = LogSecrets()


def pytest_configure(config):
    """A MONGO_URI that answers nowhere is a broken set-up, not a reason to test mongomock."""
    if os.environ.get("MONGO_URI") and real_mongo_uri() is None:
        raise pytest.UsageError(
            f"MONGO_URI={os.environ['MONGO_URI']} is set, but no MongoDB answers there"
        )
    config.pluginmanager.register(LOG_SECRETS, "log-secrets")


@pytest.fixture(scope="session", autouse=True)
def run_directory(tmp_path_factory):
    """Where every test's temporary directory, and so every stack's logs, lives."""
    LOG_SECRETS.basetemp = tmp_path_factory.getbasetemp()


def pytest_report_header(config):
    return [f"MongoDB backend under test: {mongo_backend_description()}"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_sep("-", f"MongoDB backend tested against {mongo_backend_description()}")


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path
