"""The local mail catcher ``portalctl run`` starts when ``SMTP_URI`` is empty: aiosmtpd's
SMTP server inside the ``portalctl`` process, keeping every message it is sent in a Maildir
(one file per e-mail under ``new/``), so a developer reads the portal's e-mail without any
mail server."""

from __future__ import annotations

import socket
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class MailCatcher:
    def __init__(self, maildir: Path):
        self.maildir = maildir
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(Mailbox(maildir), hostname=HOST, port=_free_port())

    @property
    def smtp_uri(self) -> str:
        return f"smtp://{HOST}:{self._controller.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
