"""``portalctl run`` (what ``make run`` runs) with ``WEB_SERVER_ADDRESS`` set: it waits for
readiness and seeds the demo at that address, and sends nothing to the default one, where a
stranger may be listening (it would be sent the admin token). Like ``make run``, it keeps its
secrets file under the repository's ``var/``; its logs go to the test's directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from portalctl.stack import REPOSITORY
from tests.support.broker import BROKER_URI, fresh_vhost
from tests.support.stack import (
    ADMIN_TOKEN,
    IDENTITY_SECRET,
    SESSION_SECRET,
    drop_store_database,
    free_port,
    store_database_env,
)

DEFAULT_ADDRESS = ("127.0.0.1", 8000)
READY_LINE = "Logs:"


class Stranger:
    """A server at the default address that accepts every connection and keeps what it is
    sent."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind(DEFAULT_ADDRESS)
        except OSError as error:
            self.socket.close()
            pytest.skip(f"the default address is in use here ({error})")
        self.socket.listen()
        self.socket.settimeout(0.1)
        self.received: list[bytes] = []
        self.listening = True
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self) -> None:
        while self.listening:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.received.append(connection.recv(65536))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self.listening = False
        self.thread.join()
        self.socket.close()


def output_until_ready(process: subprocess.Popen, timeout: float) -> str:
    """What ``portalctl run`` printed up to the end of its start-up banner."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not any(READY_LINE in line for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            reader.join(timeout=1)
            pytest.fail("portalctl run did not come up:\n" + "".join(lines))
        time.sleep(0.2)
    return "".join(lines)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, as a service manager stops it; its whole process group if that is not
    enough in time."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_make_run_waits_and_seeds_at_the_configured_address_and_nowhere_else(tmp_path):
    stranger = Stranger()
    store_env = store_database_env()
    address = f"127.0.0.1:{free_port()}"
    try:
        with fresh_vhost(BROKER_URI) as vhost_uri:
            process = subprocess.Popen(
                [sys.executable, "-m", "portalctl", "run", "--log-dir", str(tmp_path / "logs")],
                cwd=REPOSITORY,
                env={
                    **os.environ,
                    "AMQP_URI": vhost_uri,
                    "PORTAL_DATA_DIR": str(tmp_path / "data"),
                    "WEB_SERVER_ADDRESS": address,
                    "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN,
                    "PORTAL_IDENTITY_SECRET": IDENTITY_SECRET,
                    "PORTAL_SESSION_SECRET": SESSION_SECRET,
                    "PORTAL_DEMO": "1",
                    **store_env,
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            try:
                output = output_until_ready(process, timeout=120)
                seeded = requests.get(
                    f"http://{address}/api/admin/companies/acme",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    timeout=30,
                )
            finally:
                stop(process)
    finally:
        stranger.close()
        drop_store_database(store_env)

    assert "seeding demo data into the empty store" in output
    assert f"The portal is up at http://{address}/" in output
    assert f"http://{address}/#user_id=ann" in output
    catcher = "a local catcher at smtp://127.0.0.1:"
    assert catcher in output and f"{tmp_path / 'data' / 'mail'}/new/" in output
    assert seeded.status_code == 200, seeded.text
    assert stranger.received == []
