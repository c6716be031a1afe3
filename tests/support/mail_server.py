"""A real SMTP server for the e-mail tests: aiosmtpd in a process of its own, keeping each
message it accepts in a Maildir, stopped and started again on the same port to play an
outage. The test reads what a recipient's mail store would hold."""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from tests.support.stack import free_port
from tests.support.waiting import eventually


def _read(file) -> EmailMessage:
    return email.message_from_binary_file(file, policy=email.policy.default)


class MailServer:
    def __init__(self, root: Path):
        self.maildir = root / "maildir"
        self.port = free_port()
        self.log = root / "mail_server.log"
        self._process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"),
                    *("-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        eventually(self._answers, timeout=20)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                return connection.recv(3) == b"220"
        except OSError:
            time.sleep(0.1)
            return False

    def messages(self) -> list[EmailMessage]:
        """Every message accepted so far (a message accepted twice is here twice)."""
        if not self.maildir.exists():
            return []
        store = mailbox.Maildir(self.maildir, factory=_read, create=False)
        return list(store)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["X-RcptTo"] == address]
