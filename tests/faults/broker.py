"""A RabbitMQ node of the broker-outage test's own, which it may stop and start.

The broker at 127.0.0.1:5672 is shared by every test run on the machine, so the outage
test never touches it: it starts a second node with a name, ports, data, logs and Erlang
cookie of its own (all under a temporary directory), stops and starts that node's RabbitMQ
application, and shuts the node down afterwards. Every ``rabbitmqctl`` call names the
node, and its cookie is not the shared node's, so no call here can reach the shared one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.broker import AUTH
from tests.support.stack import free_port
from tests.support.waiting import eventually

# Debian's package keeps the scripts themselves here; the ones on PATH (/usr/sbin) are
# wrappers that switch to the rabbitmq user, with its home and cookie, when run as root.
DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
NODE_PREFIX = "portal-outage-"
STARTUP_SECONDS = 180  # two shared cores: a cold node with its management plugin is slow


def rabbitmq_command(name: str) -> str:
    script = DEBIAN_SCRIPTS / name
    if script.exists():
        return str(script)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: `make broker` installs RabbitMQ")
    return found


@dataclass
class PrivateNode:
    """One RabbitMQ node (with the management plugin) on free loopback ports."""

    root: Path
    name: str = field(default_factory=lambda: f"{NODE_PREFIX}{os.getpid()}@localhost")
    amqp_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    distribution_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def amqp_uri(self) -> str:
        return f"pyamqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def management(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/api"

    @property
    def log(self) -> Path:
        return self.root / "node.log"

    def environment(self) -> dict[str, str]:
        """Everything the node and ``rabbitmqctl`` read, pointed away from the shared node's
        files (its env file names the shared node; its config takes port 5672)."""
        home = self.root / "home"
        return {
            **os.environ,
            "HOME": str(home),  # the Erlang cookie is $HOME/.erlang.cookie
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
            "RABBITMQ_DIST_PORT": str(self.distribution_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def write_files(self) -> None:
        home = self.root / "home"
        home.mkdir(parents=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.management_port}\n"
        )

    def start(self) -> None:
        """Start the node and wait until both its AMQP and management listeners answer."""
        self.write_files()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                # SIGTERM when the test process dies, however it dies (the start script
                # shuts the node down on SIGTERM), so no node outlives its test run.
                ["setpriv", "--pdeathsig", "TERM", rabbitmq_command("rabbitmq-server")],
                env=self.environment(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until_serving()

    def wait_until_serving(self) -> None:
        def serving() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"RabbitMQ node {self.name} exited ({self.process.returncode}):\n"
                    + self.log.read_text()[-4000:]
                )
            return self.accepts_connections() and self.management_answers()

        eventually(serving, timeout=STARTUP_SECONDS)

    def accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=1):
                return True
        except OSError:
            return False

    def management_answers(self) -> bool:
        try:
            return requests.get(f"{self.management}/overview", auth=AUTH, timeout=2).ok
        except requests.RequestException:
            return False

    def ctl(self, *arguments: str) -> str:
        """``rabbitmqctl -n <this node> ...``: never without the node's name."""
        assert self.name.startswith(NODE_PREFIX), self.name
        completed = subprocess.run(
            [rabbitmq_command("rabbitmqctl"), "-n", self.name, *arguments],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {self.name} {' '.join(arguments)}: {completed.stderr.strip()}"
            )
        return completed.stdout

    def queue_counts(self, vhost: str, queue: str) -> tuple[int, int] | None:
        """(ready, unacknowledged) messages of a queue, read from the queue itself (the
        management API's figures are sampled every few seconds), or None while it is absent."""
        listed = self.ctl(
            "list_queues", "-p", vhost, "--quiet", "--no-table-headers",
            "name", "messages_ready", "messages_unacknowledged",
        )  # fmt: skip
        for line in listed.splitlines():
            name, ready, unacknowledged = line.split()
            if name == queue:
                return int(ready), int(unacknowledged)
        return None

    def stop(self) -> None:
        """Shut the node down (its start script stops RabbitMQ on SIGTERM); kill what is left
        of its process group if it takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def private_node(root: Path) -> Iterator[PrivateNode]:
    node = PrivateNode(root)
    try:
        node.start()
        yield node
    finally:
        node.stop()


@contextlib.contextmanager
def broker_stopped(node: PrivateNode, seconds: float) -> Iterator[None]:
    """Stop the node's RabbitMQ application, let the body run, keep it down ``seconds`` in
    all, then start it again (whatever happened) and wait until it accepts connections."""
    node.ctl("stop_app")
    started = time.monotonic()
    try:
        yield
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))  # the outage itself
    finally:
        node.ctl("start_app")
        eventually(node.accepts_connections, timeout=STARTUP_SECONDS)
