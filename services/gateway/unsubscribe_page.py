"""The two small pages of a one-click unsubscribe link (RFC 8058). Opening the link (GET)
changes nothing, so a mail scanner that follows links unsubscribes nobody: it shows a
button that POSTs back to the same address, as a mail client's one-click does."""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

LISTS = {
    "my_tickets": "e-mails about the tickets you created or take part in",
    "company_tickets": "e-mails about your company's tickets",
}


def _page(title: str, body: str) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/portal.css">'
        f'</head><body><main class="unsubscribe"><h1>{escape(title)}</h1>{body}</main>'
        "</body></html>"
    )
    return Response(html, mimetype="text/html")


def confirm_page(token: str) -> Response:
    return _page(
        "Stop these e-mails?",
        '<form method="post" action="/notifications/unsubscribe?token='
        f'{escape(token, quote=True)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        '<p><a href="/">Back to the portal</a></p>',
    )


def done_page(which: str) -> Response:
    return _page(
        "You are unsubscribed",
        f"<p>You will no longer receive {escape(LISTS[which])}. You can turn them on again "
        'in the portal\'s notification settings.</p><p><a href="/">Open the portal</a></p>',
    )
