"""Test-wide set-up. Nameko needs eventlet's monkey patch before anything else imports
sockets or threads, so it happens first, here."""

import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

from tests.support.mongo import mongo_backend_description  # noqa: E402


def pytest_report_header(config):
    return [f"MongoDB backend under test: {mongo_backend_description()}"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_sep("-", f"MongoDB backend tested against {mongo_backend_description()}")


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path
