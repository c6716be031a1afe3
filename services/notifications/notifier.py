"""The notifier: follows the event store like any projection and turns its changes into
e-mail through the outbox, in two steps that never overlap for one e-mail.

1. *Decide*: fold every event after the outbox's checkpoint into the :class:`Audience` and
   record the e-mails it calls for, with the new checkpoint, in one transaction. A crash
   before the commit decides them again; after it, never again.
2. *Send*: every pending e-mail, oldest first, over one SMTP connection; each is marked sent
   once the server accepted it. A crash between the server's acceptance and the mark sends
   that one e-mail again on the next start, as the same message (same bytes, same
   Message-ID): docs/notifications.md says what a recipient sees then.

Only the holder of the outbox's lease does either, so of several copies one sends at a time
and another takes over within ``LEASE_TTL`` seconds when it dies. When the SMTP server
cannot be reached, mail waits: each e-mail is tried again after a backoff that doubles up to
``MAX_BACKOFF`` seconds, and nothing is dropped.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

from kernel.eventstore import EventStore
from kernel.logging import get_logger
from services.notifications.mailer import Mailer, MailRejected
from services.notifications.message import Composer
from services.notifications.notices import Audience, Notice
from services.notifications.outbox import CheckpointMoved, LeaseLost, Mail, Outbox, PendingMail

log = get_logger(__name__)

LEASE_TTL = 5.0
RECORD_EVERY = 500  # events decided per transaction
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1))


class Notifier:
    def __init__(
        self,
        store: EventStore,
        outbox: Outbox,
        mailer: Mailer,
        composer: Composer,
        holder: str,
        clock: Callable[[], float] = time.time,
        pause: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.outbox = outbox
        self.mailer = mailer
        self.composer = composer
        self.holder = holder
        self.clock = clock
        self.pause = pause  # called between events of a long catch-up (lets others run)
        self.audience = Audience()

    def tick(self) -> None:
        """One round: when this copy holds the lease, decide, then send what is due."""
        if not self.outbox.hold_lease(self.holder, self.clock(), LEASE_TTL):
            return
        try:
            self.decide()
            self.send_due()
        except (LeaseLost, CheckpointMoved) as lost:
            log.info("another copy took over the outbox", reason=str(lost))
            self.audience = Audience()

    def release(self) -> None:
        self.outbox.release_lease(self.holder)

    # deciding ------------------------------------------------------------------------------

    def decide(self) -> None:
        """Record the mail of every event after the checkpoint."""
        checkpoint = self.outbox.checkpoint()
        if checkpoint is None:
            checkpoint = self._start()
        if self.audience.position > checkpoint:  # a record failed after the fold: start over
            self.audience = Audience()
        mails: list[Mail] = []
        decided = 0
        for event in self.store.iter_all(self.audience.position):
            notices = self.audience.apply(event)
            self.pause()
            if event.position <= checkpoint:
                continue  # decided before: only folded
            mails.extend(self._mail(notice) for notice in notices)
            decided += 1
            if decided % RECORD_EVERY == 0:
                checkpoint = self._record(checkpoint, mails)
                mails = []
        if self.audience.position > checkpoint:
            self._record(checkpoint, mails)

    def _start(self) -> int:
        """A new outbox starts at the store's head: e-mail tells of changes made from now
        on, never of a store's history (a first deployment onto a store of years, or a
        demo imported as past events, must not mail every customer about every change)."""
        head = self.store.head_position()
        self.outbox.record(self.holder, self.clock(), None, head, [])
        log.info("outbox started at the store's head", position=head)
        return head

    def _record(self, checkpoint: int, mails: list[Mail]) -> int:
        position = self.audience.position
        try:
            self.outbox.record(self.holder, self.clock(), checkpoint, position, mails)
        except BaseException:
            self.audience = Audience()  # folded past what is recorded: refold next time
            raise
        if mails:
            log.info("mail decided", up_to=position, emails=len(mails))
        return position

    def _mail(self, notice: Notice) -> Mail:
        message = self.composer.compose(notice)
        return Mail(
            notice.event_id,
            notice.contact_id,
            notice.position,
            message["Message-ID"],
            notice.email,
            message.as_bytes(),
        )

    # sending -------------------------------------------------------------------------------

    def send_due(self) -> None:
        if not self.mailer.configured:
            return
        due = self.outbox.due(self.clock())
        if not due:
            return
        try:
            session = self.mailer.connect()
        except (OSError, smtplib.SMTPException) as error:
            self._postpone(due, error)
            return
        try:
            for index, mail in enumerate(due):
                if not self.outbox.hold_lease(self.holder, self.clock(), LEASE_TTL):
                    raise LeaseLost("the lease expired while sending")
                if not self._send(session, mail):
                    self._postpone(due[index + 1 :], None)
                    return
        finally:
            session.close()

    def _send(self, session, mail: PendingMail) -> bool:
        """Send one e-mail; false when the server stopped answering (the rest waits)."""
        try:
            session.send(mail.recipient, mail.message)
        except MailRejected as refused:
            self.outbox.mark_rejected(mail, str(refused))
            log.warning("mail refused for good", message_id=mail.message_id, error=str(refused))
            return True
        except (OSError, smtplib.SMTPException) as error:
            self._postpone([mail], error)
            return False
        self.outbox.mark_sent(mail)
        log.info("mail sent", message_id=mail.message_id, contact_id=mail.contact_id)
        return True

    def _postpone(self, mails: list[PendingMail], error: Exception | None) -> None:
        now = self.clock()
        for mail in mails:
            self.outbox.retry_later(
                mail, now + backoff(mail.attempts + 1), str(error or "server unavailable")
            )
        if error is not None:
            log.warning("SMTP server unavailable; mail waits", error=str(error), waiting=len(mails))
