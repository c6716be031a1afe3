"""The platform as a set of local processes: every Nameko service, the relay, the gateway.

Used by ``portalctl run`` (``make run``) and by the end-to-end and fault tests, so both
start the platform the same way. Each process gets the same environment (config overrides)
and writes JSON logs to ``<log_dir>/<name>.log``.

Copies (``PORTAL_REPLICAS``): every service runs as ``replicas`` processes named ``tickets``,
``tickets.2``, ... They need nothing from each other: RPC copies compete on their service's
queue, every copy follows the store itself, the relays hold a RabbitMQ lock (one publishes,
the others stand by) and the gateways accept from one listening socket the stack holds and
hands to each of them (systemd's socket activation protocol), so a connection waiting for a
gateway outlives any copy of it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from kernel.config import partition_count

REPOSITORY = Path(__file__).resolve().parent.parent

# Seconds a stop waits for every process to exit by itself before it kills the rest. Each
# process bounds its own graceful stop below this (kernel/runner.py, the relay).
STOP_TIMEOUT = 10.0

# name -> the command line after the Python interpreter
PROCESSES: dict[str, list[str]] = {
    "identity": ["-m", "kernel.runner", "services.identity.service:IdentityService"],
    "companies": ["-m", "kernel.runner", "services.companies.service:CompaniesService"],
    "tickets": ["-m", "kernel.runner", "services.tickets.service:TicketsService"],
    "messenger_bridge": [
        "-m",
        "kernel.runner",
        "services.messenger_bridge.service:MessengerBridgeService",
    ],
    "portal_query": ["-m", "kernel.runner", "services.portal_query.service:PortalQueryService"],
    "notifications": [
        "-m",
        "kernel.runner",
        "services.notifications.service:NotificationsService",
    ],
    "gateway": ["-m", "kernel.runner", "services.gateway.service:GatewayService"],
    "event_relay": ["-m", "services.event_relay"],
}


READ_SIDE = "portal_query"
GATEWAY = "gateway"
LISTEN_FDS_START = 3  # where socket activation hands the first descriptor

# Starts a gateway with the stack's listening socket as systemd's socket activation does:
# the descriptor as 3 (and no other: a gateway that stops closes the one it has), and
# LISTEN_PID naming the process it is for (the shell's own pid, which the interpreter keeps
# through ``exec``). Bash, as a POSIX shell may take one digit only.
SOCKET_ACTIVATION = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'


def socket_activation(fd: int) -> str:
    """The shell line that starts a gateway with the descriptor ``fd`` as 3, and only there."""
    moved = f" 3<&{fd} {fd}<&-" if fd != LISTEN_FDS_START else ""
    return SOCKET_ACTIVATION + moved


def partition_names(count: int) -> list[str]:
    """The processes of the read side's partitions."""
    return [f"{READ_SIDE}.p{number}" for number in range(count)]


EVERY_INTERFACE = ("", "0.0.0.0")  # noqa: S104 - recognised, not bound to

# Connections the gateways' socket queues before the kernel refuses more (capped by the
# kernel's somaxconn).
LISTEN_BACKLOG = 1024


def copy_name(service: str, copy: int) -> str:
    """The process name of a service's ``copy`` (counted from 1): the first copy keeps the
    service's name, so a stack of one copy is named as it always was."""
    return service if copy == 1 else f"{service}.{copy}"


def service_of(name: str) -> str:
    """The service a process name runs (``tickets.2`` runs ``tickets``, ``portal_query.p1.2``
    runs the partition ``portal_query.p1``)."""
    service, _, copy = name.rpartition(".")
    return service if service and copy.isdigit() else name


def host_and_port(address: str | int) -> tuple[str, int]:
    """Nameko's ``[host:]port``, a host meaning every interface given as ``""``."""
    host, _, port = str(address).rpartition(":")
    return (host if host not in EVERY_INTERFACE else ""), int(port)


def local_url(address: str | int) -> str:
    """Where a client on this machine reaches a server bound to ``address`` (Nameko's
    ``[host:]port``; a server bound to every interface is reached on loopback)."""
    host, port = host_and_port(address)
    return f"http://{host or '127.0.0.1'}:{port}"


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    # the services to run, each as ``replicas`` processes
    names: list[str] = field(default_factory=lambda: list(PROCESSES))
    # service (or process) name -> command line; a test may start a process another way.
    commands: dict[str, list[str]] = field(default_factory=lambda: dict(PROCESSES))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # name -> what that process's environment adds to the stack's (a partition's number).
    process_env: dict[str, dict[str, str]] = field(default_factory=dict)
    replicas: int = 1
    # The gateways' listening socket, opened with the first gateway, closed by a full stop.
    listener: socket.socket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """With ``PORTAL_PARTITIONS`` > 1 portal_query is one process per partition
        (``portal_query.p0``...), each told its number in ``PORTAL_PARTITION``."""
        count = partition_count({**os.environ, **self.env})
        if count == 1 or READ_SIDE not in self.commands:
            return
        command = self.commands.pop(READ_SIDE)
        names = []
        for name in self.names:
            names.extend(partition_names(count) if name == READ_SIDE else [name])
        self.names = names
        for number, name in enumerate(partition_names(count)):
            self.commands[name] = command
            self.process_env[name] = {"PORTAL_PARTITION": str(number)}

    @property
    def copies(self) -> list[str]:
        """Every process name of the stack: each service's copies in turn."""
        return [name for service in self.names for name in self.copies_of(service)]

    def copies_of(self, service: str) -> list[str]:
        return [copy_name(service, copy) for copy in range(1, self.replicas + 1)]

    @property
    def base_url(self) -> str:
        """The gateway's address, which the stack must be given: never a guess at another
        server (a stranger there would be sent the admin token)."""
        return local_url(self.env["WEB_SERVER_ADDRESS"])

    def start(self, *names: str, extra_env: dict[str, str] | None = None) -> None:
        """Start the named processes (default: every copy of every service); ``extra_env``
        adds to the stack's."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or self.copies:
            command = [
                sys.executable,
                *(self.commands.get(name) or self.commands[service_of(name)]),
            ]
            handed: tuple[int, ...] = ()
            if service_of(name) == GATEWAY and "WEB_SERVER_ADDRESS" not in (extra_env or {}):
                handed = (self.gateway_listener().fileno(),)
                command = ["/bin/bash", "-c", socket_activation(handed[0]), *command]
            log = (self.log_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                command,
                pass_fds=handed,
                cwd=REPOSITORY,
                env={
                    **os.environ,
                    **self.env,
                    **self.process_env.get(service_of(name), {}),
                    **(extra_env or {}),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def gateway_listener(self) -> socket.socket:
        """The one socket every gateway copy accepts from, bound to ``WEB_SERVER_ADDRESS``.
        Its queue of connections lives as long as the stack, not as long as a gateway."""
        if self.listener is None:
            self.listener = socket.create_server(
                host_and_port(self.env["WEB_SERVER_ADDRESS"]), backlog=LISTEN_BACKLOG
            )
        return self.listener

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the gateway answers ``/healthz`` with every service healthy."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                answer = requests.get(f"{self.base_url}/healthz", timeout=2)
                if answer.status_code == 200:
                    return
                last = answer.text
            except requests.RequestException as error:
                last = str(error)
            time.sleep(0.2)
        raise TimeoutError(f"the stack did not become healthy in {timeout}s: {last}")

    def check_alive(self) -> None:
        dead = self.exited()
        if dead:
            raise RuntimeError(f"processes exited: {dead}; see the logs in {self.log_dir}")

    def exited(self) -> dict[str, int]:
        """The processes that ended, with their exit status."""
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def signal(self, name: str, signum: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(signum)
        process.wait(timeout=30)

    def stop(self, *names: str, timeout: float = STOP_TIMEOUT) -> dict[str, Ended]:
        """SIGTERM to the named processes (default: all) at once; each finishes its work and
        exits. Whichever is still running ``timeout`` seconds later is killed, and said so
        on stderr. How each one ended, by name."""
        started = time.monotonic()
        running = {
            n: self.processes.pop(n) for n in (names or list(self.processes)) if n in self.processes
        }
        if not any(service_of(name) == GATEWAY for name in self.processes):
            self.close_listener()  # refused from now on, as each gateway closes its copy
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        ended: dict[str, Ended] = {}
        while running:
            for name, process in list(running.items()):
                if process.poll() is not None:
                    del running[name]
                    ended[name] = Ended(process.returncode, time.monotonic() - started)
            if time.monotonic() - started > timeout:
                break
            time.sleep(0.02)
        for name, process in running.items():
            process.kill()
            process.wait()
            ended[name] = Ended(process.returncode, time.monotonic() - started, killed=True)
            print(f"{name} did not stop within {timeout:g}s: killed", file=sys.stderr, flush=True)
        return ended

    def close_listener(self) -> None:
        """This process's handle on the gateways' socket: the socket itself closes when the
        last gateway holding it does too."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None


@dataclass(frozen=True)
class Ended:
    """How a process of the stack ended: its exit status, after how many seconds of the
    stop, and whether it had to be killed."""

    status: int
    seconds: float
    killed: bool = False

    @property
    def clean(self) -> bool:
        return self.status == 0 and not self.killed
