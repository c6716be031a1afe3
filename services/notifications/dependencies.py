"""The notifier as a Nameko dependency: one per container, with the resources it owns
together (the event store it follows, the outbox it records to, the SMTP server it sends
to), and a greenthread that runs it when a bus message prompts it and at least every
``CATCH_UP_INTERVAL`` seconds, bus or no bus."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import time
import uuid
from collections.abc import Callable

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from nameko.extensions import DependencyProvider

from kernel.config import require
from kernel.eventstore import open_event_store
from kernel.logging import get_logger
from services.notifications.mailer import Mailer
from services.notifications.message import Composer, portal_base_url
from services.notifications.notifier import Notifier
from services.notifications.outbox import open_outbox
from services.notifications.unsubscribe import UnsubscribeSigner

log = get_logger(__name__)


def _every(count: int, action: Callable[[], None]) -> Callable[[], None]:
    """``action`` on every ``count``-th call: a long catch-up (the first start on a large
    store) yields to the hub now and then, so the service keeps answering meanwhile."""
    calls = itertools.count(1)
    return lambda: action() if next(calls) % count == 0 else None


class Notifications(DependencyProvider):
    """Hands workers the :class:`Notifier` (its outbox answers the status)."""

    def setup(self) -> None:
        config = self.container.config
        self.signer = UnsubscribeSigner(require(config, "PORTAL_SESSION_SECRET"))
        composer = Composer(portal_base_url(config), self.signer)
        mailer = Mailer(str(config.get("SMTP_URI") or ""), f"notifications@{composer.domain}")
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.notifier = Notifier(
            open_event_store(config),
            open_outbox(config),
            mailer,
            composer,
            holder,
            pause=_every(1000, lambda: eventlet.sleep(0)),
        )
        self.interval = float(config.get("CATCH_UP_INTERVAL") or 0.5)
        self._wake: LightQueue = LightQueue(maxsize=1)
        self._runner = None
        if not mailer.configured:
            log.warning("SMTP_URI is empty: e-mail is recorded and waits until it is set")

    def start(self) -> None:
        self._runner = eventlet.spawn(self._run)

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.kill()
            self._runner = None
            with contextlib.suppress(Exception):
                self.notifier.release()
        self.notifier.store.close()
        self.notifier.outbox.close()

    def kill(self) -> None:
        self.stop()

    def prompt(self) -> None:
        with contextlib.suppress(Full):  # already awake or about to be
            self._wake.put_nowait(None)

    def get_dependency(self, worker_ctx) -> Notifications:
        return self

    def status(self) -> dict:
        outbox = self.notifier.outbox
        return {
            "checkpoint": outbox.checkpoint(),
            "emails": outbox.counts(),
            "sender": outbox.lease_holder(time.time()),
            "smtp_configured": self.notifier.mailer.configured,
        }

    def _run(self) -> None:
        while True:
            try:
                self.notifier.tick()
            except Exception:
                log.exception("notifications round failed; retrying")
            with contextlib.suppress(Empty):
                self._wake.get(timeout=self.interval)
