"""No secret reaches any log of the whole test run.

A pytest plugin (registered by ``tests/conftest.py``) that reads what every test's code
wrote to stdout and stderr (pytest's captured output) as the test ends and, once the
session has ended and every stack has stopped, every log file a platform process wrote
under the run's temporary directory (``<name>.log`` for the names in
``portalctl.stack.PROCESSES``). A known test secret or anything shaped like a credential
the tests hand out (a JWT: hand-off and session tokens; a user_hash) in any of them fails
the run, as one more failed test that names the file and what it found.

pytest's own "Captured log" sections are not read: pytest renders log records there
itself, raw, and never through the platform's redacting renderer (kernel/logging.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _pytest.reports import TestReport

from portalctl.stack import PROCESSES
from tests.support import interface, stack

KNOWN_SECRETS = {
    "the admin token": stack.ADMIN_TOKEN,
    "the identity secret": stack.IDENTITY_SECRET,
    "the session secret": stack.SESSION_SECRET,
    "the interface tests' identity secret": interface.IDENTITY_SECRET,
    "the interface tests' session secret": interface.SESSION_SECRET,
}
CREDENTIAL_SHAPES = {
    "a JWT (a hand-off or session token)": re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]+"),
    "a user_hash (an HMAC-SHA256 in hex)": re.compile(r"\b[0-9a-f]{64}\b"),
}
NODEID = "tests/conftest.py::no_secret_in_any_log"


def secrets_in(text: str) -> list[str]:
    """What ``text`` holds that no log may: the names of known secrets and credential shapes,
    each with an excerpt of the first credential of that shape."""
    found = [name for name, secret in KNOWN_SECRETS.items() if secret in text]
    for name, shape in CREDENTIAL_SHAPES.items():
        if match := shape.search(text):
            found.append(f"{name}: {match.group()[:16]}...")
    return found


def platform_logs(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.log") if path.stem in PROCESSES)


class LogSecrets:
    """The plugin. ``basetemp`` is the run's temporary directory, set by a session fixture
    (tests/conftest.py) once any test has run."""

    def __init__(self) -> None:
        self.basetemp: Path | None = None
        self.found: list[str] = []

    def pytest_runtest_logreport(self, report: TestReport) -> None:
        if report.when != "teardown":  # its report holds every phase's output
            return
        for title, content in report.sections:
            if title.startswith(("Captured stdout", "Captured stderr")):
                self.found.extend(
                    f"{report.nodeid} ({title}): {what}" for what in secrets_in(content)
                )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.basetemp is None:  # nothing ran
            return
        logs = platform_logs(self.basetemp)
        for path in logs:
            text = path.read_text(errors="replace")
            self.found.extend(
                f"{path.relative_to(self.basetemp)}: {what}" for what in secrets_in(text)
            )
        failed = bool(self.found)
        report = TestReport(
            nodeid=NODEID,
            location=("tests/conftest.py", None, "no secret in any log"),
            keywords={},
            outcome="failed" if failed else "passed",
            longrepr=(
                "secrets in the logs of this run:\n  " + "\n  ".join(self.found) if failed else None
            ),
            when="call",
            user_properties=[("logs read", len(logs))],
        )
        session.testscollected += 1  # this check is one more test in the progress and summary
        session.config.hook.pytest_runtest_logreport(report=report)
        if failed:
            session.testsfailed += 1
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
