"""Run a command against a real MongoDB replica set: ``python -m tests.support.mongo_server
CMD...`` (what ``make test-mongo`` does).

* ``MONGO_URI`` set: the command runs against it, unchanged.
* otherwise, with a Docker engine reachable: a throwaway single-node replica set is started
  through the Docker SDK, the command runs with ``MONGO_URI`` pointing at it, and the
  container is removed afterwards, whatever happened.
* neither: a clear message, exit status 2 (nothing ran, so nothing may look green).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

IMAGE = "mongo:7.0"
REPLICA_SET = "rs0"
START_TIMEOUT = 90.0


def _mongosh(container, script: str) -> str:
    code, output = container.exec_run(["mongosh", "--quiet", "--eval", script])
    return output.decode(errors="replace").strip() if code == 0 else ""


@contextlib.contextmanager
def throwaway_replica_set() -> Iterator[str]:
    """A single-node replica set in a new container on a free host port; its URI."""
    import docker

    client = docker.from_env()
    client.ping()
    container = client.containers.run(
        IMAGE,
        ["--replSet", REPLICA_SET, "--bind_ip_all"],
        detach=True,
        ports={"27017/tcp": ("127.0.0.1", None)},
        labels={"purpose": "customer-portal-test"},
    )
    try:
        container.reload()
        port = container.ports["27017/tcp"][0]["HostPort"]
        deadline = time.monotonic() + START_TIMEOUT
        while _mongosh(container, "db.runCommand({ping: 1}).ok") != "1":
            if time.monotonic() > deadline:
                raise TimeoutError("mongod did not start")
            time.sleep(0.5)
        # The member's host is what clients are told to use, so it must work from here.
        _mongosh(
            container,
            f'rs.initiate({{_id: "{REPLICA_SET}", '
            f'members: [{{_id: 0, host: "127.0.0.1:{port}"}}]}})',
        )
        while _mongosh(container, "db.hello().isWritablePrimary") != "true":
            if time.monotonic() > deadline:
                raise TimeoutError("the replica set did not elect a primary")
            time.sleep(0.5)
        yield f"mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}&directConnection=true"
    finally:
        container.remove(force=True)


def docker_reachable() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # any failure means: no engine to use
        return False
    return True


def main(command: list[str]) -> int:
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    if os.environ.get("MONGO_URI"):
        print(f"running against MONGO_URI={os.environ['MONGO_URI']}", flush=True)
        return subprocess.call(command)
    if not docker_reachable():
        print(
            "no MongoDB to test against: set MONGO_URI to a replica set, or make a Docker "
            "engine reachable for a throwaway one",
            file=sys.stderr,
        )
        return 2
    with throwaway_replica_set() as uri:
        print(f"running against a throwaway replica set at {uri}", flush=True)
        return subprocess.call(command, env={**os.environ, "MONGO_URI": uri})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
