"""Clean stops: ``portalctl run`` (what ``make run`` starts) in a process group of its own,
stopped the three ways it is stopped in practice: SIGTERM to portalctl alone, SIGTERM to the
whole process group (systemd, ``kill -- -PGID``) and SIGINT to the group (Ctrl-C).

Each time, a teammate's write is in flight when the signal comes: tickets, frozen (SIGSTOP),
holds it while the gateway waits. After the signal the gateway refuses new connections;
then tickets resumes, and the write is answered and stored once. Every process is gone
within 10 s of the signal, portalctl ends with status 0 and a one-line summary, and no
output or log holds a traceback. The stop times are printed."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from portalctl.stack import REPOSITORY, Stack
from tests.support.broker import BROKER_URI, fresh_vhost
from tests.support.stack import (
    ADMIN_TOKEN,
    drop_store_database,
    free_port,
    platform_env,
    replicas_env,
    tickets_titled,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

STOP_BOUND = 10.0  # seconds from the signal until every process is gone
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


@dataclass
class Platform:
    portalctl: subprocess.Popen
    env: dict[str, str]
    host: str
    port: int
    log_dir: Path
    output: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def layout(self) -> Stack:
        """The processes portalctl starts (a stack never started here): with
        ``PORTAL_PARTITIONS`` > 1 the read side is one process per partition, with
        ``PORTAL_REPLICAS`` > 1 every one of them as that many copies."""
        return Stack(env=self.env, log_dir=self.log_dir, replicas=replicas_env())

    @property
    def names(self) -> list[str]:
        return self.layout.copies

    def processes(self) -> dict[str, psutil.Process]:
        """portalctl's children by name, those already running the platform's code."""
        layout = self.layout
        children = psutil.Process(self.portalctl.pid).children()
        named = {child: name_of(child, layout) for child in children}
        return {name: child for child, name in named.items() if name}

    def texts(self) -> dict[str, str]:
        """portalctl's output and every process's log, by file name."""
        files = [self.output, *sorted(self.log_dir.glob("*.log"))]
        return {path.name: path.read_text(errors="replace") for path in files}


def name_of(process: psutil.Process, layout: Stack) -> str | None:
    """Which of the platform's processes ``process`` is (None before its exec): once its
    command line runs the platform's code, the log its output goes to (``<name>.log``),
    which tells copies and partitions apart."""
    command = " ".join(process.cmdline())
    if not any(" ".join(argv) in command for argv in layout.commands.values()):
        return None
    return Path(os.readlink(f"/proc/{process.pid}/fd/1")).stem


@contextlib.contextmanager
def portalctl_run(tmp_path: Path, wait_healthy: bool = True) -> Iterator[Platform]:
    """``portalctl run`` on a fresh vhost and store, in a session (so a process group) of its
    own, once it answers ``/healthz`` (or at once); whatever is left of its group is killed
    afterwards."""
    with fresh_vhost(BROKER_URI) as vhost:
        host, port = "127.0.0.1", free_port()
        env = platform_env(tmp_path, vhost, WEB_SERVER_ADDRESS=f"{host}:{port}", PORTAL_DEMO="0")
        output = tmp_path / "portalctl.out"
        with output.open("wb") as sink:
            portalctl = subprocess.Popen(
                [sys.executable, "-m", "portalctl", "run", "--log-dir", str(tmp_path / "logs")],
                cwd=REPOSITORY,
                env={**os.environ, **env},
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        platform = Platform(portalctl, env, host, port, tmp_path / "logs", output)
        try:
            if wait_healthy:
                eventually(lambda: healthy(platform), timeout=90)
            yield platform
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(portalctl.pid, signal.SIGKILL)
            portalctl.wait(timeout=10)
            drop_store_database(env)


def healthy(platform: Platform) -> bool:
    if platform.portalctl.poll() is not None:
        raise AssertionError(f"portalctl exited: {platform.output.read_text()}")
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{platform.base_url}/healthz", timeout=2).status_code == 200
    return False


def accepted_by(process: psutil.Process, client: socket.socket) -> bool:
    """Whether ``process`` has accepted the connection of ``client`` (holds its socket)."""
    client_port = client.getsockname()[1]
    return any(c.raddr and c.raddr.port == client_port for c in process.net_connections())


def refuses_connections(platform: Platform) -> bool:
    try:
        socket.create_connection((platform.host, platform.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def send_write(platform: Platform, title: str) -> http.client.HTTPConnection:
    """A teammate's ticket creation, sent whole on a connection of its own; the answer is
    the connection's to read."""
    connection = http.client.HTTPConnection(platform.host, platform.port, timeout=30)
    body = json.dumps({"type": "Bug", "title": title, "creator_id": "ann"})
    connection.request("POST", "/api/admin/tickets", body=body, headers=ADMIN)
    return connection


def answer_of(connection: http.client.HTTPConnection) -> tuple[int, bytes]:
    answer = connection.getresponse()
    return answer.status, answer.read()


def gone_times(processes: dict[str, psutil.Process], since: float) -> dict[str, float]:
    """Seconds from ``since`` until each process is gone (exited, reaped or not), waiting
    at most ``STOP_BOUND`` seconds and a little more; a process still there is missing."""
    gone: dict[str, float] = {}
    while len(gone) < len(processes) and time.monotonic() - since < STOP_BOUND + 2:
        for name, process in processes.items():
            if name not in gone and not alive(process):
                gone[name] = time.monotonic() - since
        time.sleep(0.02)
    return gone


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


STOPS = {
    "sigterm-to-portalctl": (signal.SIGTERM, os.kill),
    "sigterm-to-the-group": (signal.SIGTERM, os.killpg),
    "ctrl-c-to-the-group": (signal.SIGINT, os.killpg),
}


@pytest.mark.parametrize("how", list(STOPS))
def test_a_stop_ends_every_process_within_10s_cleanly_and_answers_the_write_in_flight(
    tmp_path, how
):
    signum, send = STOPS[how]
    with portalctl_run(tmp_path) as platform:
        contact = {"id": "ann", "email": "ann@acme.example"}
        created = requests.post(
            f"{platform.base_url}/api/admin/contacts", json=contact, headers=ADMIN, timeout=30
        )
        assert created.status_code in (200, 201), created.text
        processes = platform.processes()
        assert set(processes) == set(platform.names)

        title = f"In flight at the {how}"
        layout = platform.layout
        writers = [processes[name] for name in layout.copies_of("tickets")]
        gateways = [processes[name] for name in layout.copies_of("gateway")]
        for writer in writers:
            writer.suspend()
        try:
            in_flight = send_write(platform, title)
            eventually(lambda: any(accepted_by(g, in_flight.sock) for g in gateways))
            signalled = time.monotonic()
            send(platform.portalctl.pid, signum)
            # Nothing new is taken...
            eventually(lambda: refuses_connections(platform), timeout=5)
        finally:
            for writer in writers:
                writer.resume()
        # ...and what was taken before the signal is carried out and answered.
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(answer_of, in_flight)
            portalctl = psutil.Process(platform.portalctl.pid)
            gone = gone_times({**processes, "portalctl": portalctl}, signalled)
            status, body = answer.result(timeout=30)
        exit_status = platform.portalctl.wait(timeout=5)
        stored = tickets_titled(platform.env, title)
        texts = platform.texts()

    print(f"\nstop times after {how}:", ", ".join(f"{n} {s:.2f}s" for n, s in gone.items()))
    assert status == 201, body
    assert len(stored) == 1
    still = f"still running {STOP_BOUND}s after the signal"
    assert set(gone) == {*platform.names, "portalctl"}, still
    assert max(gone.values()) <= STOP_BOUND, gone
    assert exit_status == 0, texts[platform.output.name]
    summary = texts[platform.output.name].strip().splitlines()[-1]
    assert summary.startswith(f"portal stopped on {signal.Signals(signum).name} in "), summary
    assert f"all {len(platform.names)} processes exited cleanly" in summary
    assert [name for name, text in texts.items() if "Traceback" in text] == []


def catches(process: psutil.Process, signum: int) -> bool:
    """Whether ``process`` handles ``signum`` itself, as the platform's processes do from
    their first lines on (SIGTERM last)."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signum - 1)))


def test_a_ctrl_c_while_the_platform_starts_stops_it_cleanly_too(tmp_path):
    with portalctl_run(tmp_path, wait_healthy=False) as platform:
        portalctl = psutil.Process(platform.portalctl.pid)

        def all_started() -> dict[str, psutil.Process] | None:
            started = platform.processes()
            caught = all(catches(child, signal.SIGTERM) for child in started.values())
            return started if len(started) == len(platform.names) and caught else None

        processes = {**eventually(all_started), "portalctl": portalctl}
        signalled = time.monotonic()
        os.killpg(platform.portalctl.pid, signal.SIGINT)
        gone = gone_times(processes, signalled)
        exit_status = platform.portalctl.wait(timeout=5)
        texts = platform.texts()

    print(
        "\nstop times after a Ctrl-C while starting:",
        ", ".join(f"{n} {s:.2f}s" for n, s in gone.items()),
    )
    still = f"still running {STOP_BOUND}s after the signal"
    assert set(gone) == {*platform.names, "portalctl"}, still
    assert max(gone.values()) <= STOP_BOUND, gone
    assert exit_status == 0, texts[platform.output.name]
    summary = texts[platform.output.name].strip().splitlines()[-1]
    assert summary.startswith("portal stopped on SIGINT in "), summary
    assert [name for name, text in texts.items() if "Traceback" in text] == []


def test_a_process_that_exits_by_itself_stops_the_platform_with_status_1_and_no_traceback(
    tmp_path,
):
    with portalctl_run(tmp_path) as platform:
        processes = {**platform.processes(), "portalctl": psutil.Process(platform.portalctl.pid)}
        signalled = time.monotonic()
        processes["tickets"].terminate()  # a clean exit, but nobody asked the platform to stop
        gone = gone_times(processes, signalled)
        exit_status = platform.portalctl.wait(timeout=5)
        texts = platform.texts()

    still = f"still running {STOP_BOUND}s after the exit"
    assert set(gone) == {*platform.names, "portalctl"}, still
    assert exit_status == 1
    summary = texts[platform.output.name].strip().splitlines()[-1]
    assert summary.startswith("portal stopped because tickets exited with status 0 in "), summary
    assert [name for name, text in texts.items() if "Traceback" in text] == []
