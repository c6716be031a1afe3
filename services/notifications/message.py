"""The e-mail a notice becomes: plain text, built with :class:`email.message.EmailMessage`
(its default policy refuses a header value with a line break, so no text of a ticket can add
a header), with the ticket's portal link and a signed one-click unsubscribe (RFC 8058).

Everything in it is fixed by the notice: the same notice always gives the same bytes, with a
``Message-ID`` derived from the event and the recipient, so a message sent twice (see
docs/notifications.md) is the same message, which mail stores collapse."""

from __future__ import annotations

import uuid
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from ipaddress import ip_address
from urllib.parse import urlencode, urlsplit

from services.notifications.notices import COMPANY_TICKETS, Notice
from services.notifications.unsubscribe import UnsubscribeSigner

# SMTP's CRLF line ends, and lines up to RFC 5322's 998 characters, so a long link in a
# header stays one plain token instead of an encoded word no mail client would follow.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
MESSAGE_ID_NAMESPACE = uuid.UUID("5d3c2b1a-9e8f-4a7b-8c6d-1e2f3a4b5c6d")
UNSUBSCRIBE_PATH = "/notifications/unsubscribe"
STATE_NAMES = {
    "submitted": "Submitted",
    "in_progress": "In progress",
    "waiting_on_customer": "Waiting on you",
    "resolved": "Resolved",
}
WHY = {
    "my_tickets": "you created this ticket or take part in it",
    COMPANY_TICKETS: "you follow your company's tickets",
}


def portal_base_url(config: dict) -> str:
    """``PORTAL_BASE_URL``, else the gateway's own address (``WEB_SERVER_ADDRESS``)."""
    configured = str(config.get("PORTAL_BASE_URL") or "").rstrip("/")
    if configured:
        return configured
    host, _, port = str(config.get("WEB_SERVER_ADDRESS") or "127.0.0.1:8000").rpartition(":")
    return f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{port}"  # noqa: S104


def message_id(notice: Notice, domain: str) -> str:
    return (
        f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, f'{notice.event_id}:{notice.contact_id}')}@{domain}>"
    )


class Composer:
    """Turns notices into messages for the portal at ``base_url``."""

    def __init__(self, base_url: str, signer: UnsubscribeSigner):
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        host = urlsplit(self.base_url).hostname or "localhost"
        self.domain = "localhost" if _is_ip(host) else host
        self.sender = formataddr(("Customer portal", f"notifications@{self.domain}"))

    def ticket_url(self, ticket_id: int) -> str:
        return f"{self.base_url}/tickets/{ticket_id}"

    def unsubscribe_url(self, notice: Notice) -> str:
        token = self.signer.token(notice.contact_id, notice.reason)
        return f"{self.base_url}{UNSUBSCRIBE_PATH}?{urlencode({'token': token})}"

    def compose(self, notice: Notice) -> EmailMessage:
        message = EmailMessage(policy=MAIL_POLICY)
        message["From"] = self.sender
        message["To"] = formataddr((notice.name or "", notice.email))
        message["Subject"] = self._subject(notice)
        message["Date"] = format_datetime(datetime.fromisoformat(notice.occurred_at))
        message["Message-ID"] = message_id(notice, self.domain)
        message["Auto-Submitted"] = "auto-generated"
        message["List-Unsubscribe"] = f"<{self.unsubscribe_url(notice)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(self._body(notice))
        return message

    @staticmethod
    def _subject(notice: Notice) -> str:
        if notice.kind == "reply":
            return f"[#{notice.ticket_id}] New reply: {notice.title}"
        return f"[#{notice.ticket_id}] {STATE_NAMES[notice.state]}: {notice.title}"

    def _body(self, notice: Notice) -> str:
        if notice.kind == "reply":
            who = notice.author_name or "Our team"
            told = f"{who} replied to your ticket #{notice.ticket_id}:\n\n{notice.body}\n"
        else:
            state = STATE_NAMES[notice.state]
            told = f"Your ticket #{notice.ticket_id} is now {state}.\n"
        return (
            f"{notice.title}\n\n{told}\n"
            f"Open the ticket: {self.ticket_url(notice.ticket_id)}\n\n"
            f"You get this e-mail because {WHY[notice.reason]}.\n"
            f"Stop these e-mails: {self.unsubscribe_url(notice)}\n"
        )


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
