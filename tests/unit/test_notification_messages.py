"""The e-mail a notice becomes (services/notifications/message.py) and its signed
unsubscribe link (unsubscribe.py): plain text, no header a ticket's text could add, a
Message-ID fixed by the event and the recipient, a link that only this platform can sign."""

from __future__ import annotations

import email
import email.policy
from urllib.parse import parse_qs, urlsplit

import pytest

from kernel.errors import NotFound
from services.notifications.message import Composer, portal_base_url
from services.notifications.notices import Notice
from services.notifications.unsubscribe import UnsubscribeSigner

SIGNER = UnsubscribeSigner("test-session-secret")
COMPOSER = Composer("https://help.example.com/", SIGNER)


def notice(**changes) -> Notice:
    fields = {
        "event_id": "7d1c2b9a-0000-4000-8000-000000000001",
        "position": 9,
        "occurred_at": "2026-03-01T10:00:00.000000+00:00",
        "contact_id": "carol",
        "email": "carol@example.com",
        "name": "Carol",
        "reason": "my_tickets",
        "ticket_id": 42,
        "title": "Printer <b>jam</b>",
        "kind": "reply",
        "body": "Line one\n.\n<script>alert(1)</script>",
        "author_name": "Tess",
    }
    return Notice(**{**fields, **changes})


def sent(message) -> email.message.EmailMessage:
    """What the recipient's mail client reads."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_a_reply_is_plain_text_with_the_ticket_link_and_a_one_click_unsubscribe():
    message = sent(COMPOSER.compose(notice()))
    assert message["Subject"] == "[#42] New reply: Printer <b>jam</b>"
    assert message["To"] == "Carol <carol@example.com>"
    assert message["From"] == "Customer portal <notifications@help.example.com>"
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    body = message.get_content().replace("\r\n", "\n")
    assert "Tess replied to your ticket #42:\n\nLine one\n.\n<script>alert(1)</script>" in body
    assert "Open the ticket: https://help.example.com/tickets/42" in body
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    assert (link.scheme, link.netloc, link.path) == (
        "https",
        "help.example.com",
        "/notifications/unsubscribe",
    )
    assert SIGNER.read(parse_qs(link.query)["token"][0]) == ("carol", "my_tickets")
    assert message["Auto-Submitted"] == "auto-generated"


def test_a_state_change_names_the_new_state():
    message = sent(COMPOSER.compose(notice(kind="state", state="waiting_on_customer", body=None)))
    assert message["Subject"] == "[#42] Waiting on you: Printer <b>jam</b>"
    assert "Your ticket #42 is now Waiting on you." in message.get_content()


def test_the_same_notice_is_the_same_message_and_each_recipient_has_their_own_id():
    first, again = COMPOSER.compose(notice()), COMPOSER.compose(notice())
    other = COMPOSER.compose(notice(contact_id="ann", email="ann@example.com", name="Ann"))
    assert first.as_bytes() == again.as_bytes()
    assert first["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@help.example.com>")


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "Printer\r\nBcc: everyone@example.com"},
        {"name": "Carol\nBcc: everyone@example.com"},
    ],
)
def test_no_text_of_a_ticket_or_contact_can_add_a_header(changes):
    with pytest.raises(ValueError):
        COMPOSER.compose(notice(**changes)).as_bytes()


def test_an_unsubscribe_token_is_only_good_as_signed():
    token = SIGNER.token("carol", "company_tickets")
    assert SIGNER.read(token) == ("carol", "company_tickets")
    claims, _, signature = token.partition(".")
    for forged in (
        UnsubscribeSigner("another-secret").token("carol", "company_tickets"),
        f"{SIGNER.token('ann', 'my_tickets').partition('.')[0]}.{signature}",
        f"{claims}.{signature[:-2]}AA",
        "nonsense",
    ):
        with pytest.raises(NotFound):
            SIGNER.read(forged)


def test_the_portal_address_defaults_to_the_gateways():
    assert portal_base_url({"WEB_SERVER_ADDRESS": "0.0.0.0:8000"}) == "http://127.0.0.1:8000"
    assert portal_base_url(
        {"PORTAL_BASE_URL": "https://p.example/", "WEB_SERVER_ADDRESS": "x:1"}
    ) == ("https://p.example")
    assert Composer("http://127.0.0.1:8000", SIGNER).domain == "localhost"
