"""Plain SMTP to ``SMTP_URI`` (``smtp://host:port``) with the standard library's smtplib:
one connection for a round of sending, one ``MAIL FROM``/``RCPT TO``/``DATA`` per message."""

from __future__ import annotations

import smtplib
from urllib.parse import urlsplit

from kernel.config import ConfigurationError

SMTP_TIMEOUT = 10.0  # seconds for connecting and for each reply of the server


class MailRejected(Exception):
    """The server refused this message for good (a 5xx reply): sending it again would not
    help."""


class SmtpSession:
    """An open connection to the SMTP server."""

    def __init__(self, smtp: smtplib.SMTP, sender: str):
        self._smtp = smtp
        self._sender = sender

    def send(self, recipient: str, message: bytes) -> None:
        """Hand the message over; returns once the server has accepted it (its 250 to
        ``DATA``). :class:`MailRejected` for a permanent refusal; any other error (the
        server gone, a 4xx) means: try again later."""
        try:
            self._smtp.sendmail(self._sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as error:
            code = next(iter(error.recipients.values()))[0]
            if code >= 500:
                raise MailRejected(f"recipient refused with {code}") from error
            raise
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500:
                raise MailRejected(f"message refused with {error.smtp_code}") from error
            raise

    def close(self) -> None:
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()


class Mailer:
    """Where mail goes. ``uri`` empty: nowhere yet, so mail waits in the outbox."""

    def __init__(self, uri: str, sender_address: str):
        self.uri = uri
        self.sender_address = sender_address
        if uri:
            parts = urlsplit(uri)
            if parts.scheme != "smtp" or not parts.hostname:
                raise ConfigurationError(f"SMTP_URI must look like smtp://host:port, not {uri!r}")
            self.host, self.port = parts.hostname, parts.port or 25

    @property
    def configured(self) -> bool:
        return bool(self.uri)

    def connect(self) -> SmtpSession:
        smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        try:
            smtp.ehlo_or_helo_if_needed()
        except BaseException:
            smtp.close()
            raise
        return SmtpSession(smtp, self.sender_address)
