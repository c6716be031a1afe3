"""``make test-mongo``'s runner: it uses the MONGO_URI it is given, and without one and without
a Docker engine it says so and fails, so a run that tested nothing never looks green."""

from __future__ import annotations

import subprocess
import sys

PRINT_URI = [sys.executable, "-c", "import os; print('uri=' + os.environ['MONGO_URI'])"]


def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.mongo_server", *PRINT_URI],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_given_mongo_uri_is_used_as_it_is():
    done = run({"MONGO_URI": "mongodb://db.example:27017/?replicaSet=rs0"})

    assert done.returncode == 0
    assert "uri=mongodb://db.example:27017/?replicaSet=rs0" in done.stdout


def test_without_mongo_uri_or_docker_it_fails_and_says_why(tmp_path):
    done = run({"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})

    assert done.returncode == 2
    assert "no MongoDB to test against" in done.stderr
    assert "uri=" not in done.stdout
