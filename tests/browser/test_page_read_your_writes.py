"""The page carries the position of the user's last write: ``api()`` keeps the highest
``Portal-Position`` a write answered and sends it back with the next requests, so the read
after a reply shows the reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Portal, sign_in

pytestmark = pytest.mark.browser


def test_the_read_after_a_reply_sends_back_its_position_and_shows_it(page: Page, portal: Portal):
    conversation_id = portal.admin.conversation("ann", "Is the page fresh?")
    sign_in(page, portal, "ann", "ann@acme.test")
    sent: dict[str, str | None] = {}
    page.on(
        "request",
        lambda request: sent.update({request.method: request.headers.get("portal-position")}),
    )
    path = f"/api/messenger/conversations/{conversation_id}"
    answer = page.evaluate(
        "async (path) => {"
        " const m = await import('/static/js/api.js');"
        " await m.api(`${path}/messages`, {method: 'POST', body: {body: 'Fresh from the page'}});"
        " const kept = sessionStorage.getItem('portal-position');"
        " const read = await m.api(path);"
        " return {kept, last: read.parts.at(-1).body}; }",
        path,
    )
    assert answer["last"] == "Fresh from the page"
    assert answer["kept"] and int(answer["kept"]) > 0
    assert sent["GET"] == answer["kept"]
