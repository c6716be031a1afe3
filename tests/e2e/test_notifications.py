"""E-mail to customers, over a real SMTP conversation: the whole stack sends to an aiosmtpd
server the test runs, and the test reads what each recipient's mail store holds.

The world: Acme with Ann (follows every Acme ticket), Bob (restricted to his own tickets by a
visibility condition, follows Acme's tickets too), Carol (who opened the ticket) and Dan (a
member who follows nothing); Globex's Gus follows Globex's tickets."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest

from tests.support.api import Api, api_stack
from tests.support.mail_server import MailServer
from tests.support.waiting import eventually

CANARY = f"Canary{uuid.uuid4().hex}"
BASE_URL = "https://portal.example"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("notifications")
    mail = MailServer(root)
    mail.start()
    try:
        with api_stack(root, SMTP_URI=mail.uri, PORTAL_BASE_URL=BASE_URL) as (_stack, api):
            yield _seed(api), api, mail
    finally:
        mail.stop()


def _seed(api: Api) -> dict:
    for company in ("acme", "globex"):
        api.admin_ok("POST", "/api/admin/companies", json={"id": company, "name": company.title()})
    people = {
        "ann": ("acme", "admin"),
        "bob": ("acme", "member"),
        "carol": ("acme", "admin"),
        "dan": ("acme", "admin"),
        "gus": ("globex", "admin"),
    }
    for user, (company, role) in people.items():
        api.admin_ok(
            "POST",
            "/api/admin/contacts",
            json={
                "id": user,
                "email": f"{user}@example.com",
                "name": user.title(),
                "attributes": {"role": role},
            },
        )
        api.admin_ok("POST", f"/api/admin/companies/{company}/members", json={"user_id": user})
    api.admin_ok(
        "PUT",
        "/api/admin/portal/settings",
        json={
            "visibility_conditions": [{"attribute": "role", "operator": "eq", "value": "member"}]
        },
    )
    sessions = {user: api.sign_in(user, f"{user}@example.com") for user in people}
    for user in ("ann", "bob", "gus"):
        answer = api.call(
            "PUT",
            "/api/portal/notifications",
            session=sessions[user],
            json={"my_tickets": True, "company_tickets": True},
        )
        assert answer.json() == {"my_tickets": True, "company_tickets": True}
    ticket = api.ticket_from_conversation(
        "carol",
        "The printer <b>prints</b> nothing",
        type="Question",
        title="Printer <b>jam</b>",
        company_id="acme",
        attributes=[{"name": "Margin", "value": CANARY, "visible_to_customer": False}],
    )
    return {"ticket": ticket, "sessions": sessions}


def _about(mail: MailServer, address: str, text: str) -> list[EmailMessage]:
    return [m for m in mail.to(address) if text in m.get_content()]


def _wait_for(mail: MailServer, address: str, text: str, count: int = 1) -> list[EmailMessage]:
    return eventually(lambda: len(found := _about(mail, address, text)) >= count and found)


def test_a_teammate_reply_reaches_the_creator_and_the_company_followers_who_may_see_it(world):
    seeded, api, mail = world
    ticket = seeded["ticket"]
    reply = f"We replaced the toner {uuid.uuid4().hex[:8]}"
    api.teammate_part(ticket["conversation_id"], reply)

    [to_carol] = _wait_for(mail, "carol@example.com", reply)
    [to_ann] = _wait_for(mail, "ann@example.com", reply)
    # restricted Bob does not see Carol's ticket; Dan follows nothing; Gus is not in Acme
    for other in ("bob", "dan", "gus"):
        assert _about(mail, f"{other}@example.com", reply) == []

    assert to_carol["Subject"] == f"[#{ticket['id']}] New reply: Printer <b>jam</b>"
    assert f"{BASE_URL}/tickets/{ticket['id']}" in to_carol.get_content()
    assert to_carol.get_content_type() == "text/plain"
    assert to_carol["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        rf"<{BASE_URL}/notifications/unsubscribe\?token=[\w.-]+>", to_carol["List-Unsubscribe"]
    )
    assert to_carol["Message-ID"] != to_ann["Message-ID"]
    assert "because you created this ticket" in to_carol.get_content()
    assert "because you follow your company's tickets" in to_ann.get_content()


def test_a_state_change_is_told_and_an_internal_note_or_a_customer_message_is_not(world):
    seeded, api, mail = world
    ticket = seeded["ticket"]
    api.teammate_part(ticket["conversation_id"], f"{CANARY} margin is thin", internal=True)
    api.admin_ok("PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "in_progress"})
    carol = seeded["sessions"]["carol"]
    own = api.call(
        "POST",
        f"/api/messenger/conversations/{ticket['conversation_id']}/messages",
        session=carol,
        json={"body": "Customer says thanks"},
    )
    assert own.status_code == 201
    api.admin_ok(
        "PATCH", f"/api/admin/tickets/{ticket['id']}", json={"state": "waiting_on_customer"}
    )

    _wait_for(mail, "carol@example.com", "is now Waiting on you")
    [in_progress] = _wait_for(mail, "ann@example.com", "is now In progress")
    assert in_progress["Subject"] == f"[#{ticket['id']}] In progress: Printer <b>jam</b>"
    everything = [m.as_string() for m in mail.messages()]
    assert not any(CANARY in text for text in everything)
    assert not any("Customer says thanks" in text for text in everything)


def test_one_click_unsubscribe_turns_off_that_list_as_an_event(world):
    seeded, api, mail = world
    ticket, carol = seeded["ticket"], seeded["sessions"]["carol"]
    marker = f"Unsubscribe check {uuid.uuid4().hex[:8]}"
    api.teammate_part(ticket["conversation_id"], marker)
    [message] = _wait_for(mail, "carol@example.com", marker)
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    path = f"{link.path}?{link.query}"

    page = api.call("GET", path)  # opening the link changes nothing
    assert page.status_code == 200 and "<form" in page.text
    assert api.call("GET", "/api/portal/notifications", session=carol).json()["my_tickets"]
    forged = api.call("POST", path[:-3] + "AAA", data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 404
    done = api.call("POST", path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    assert api.call("GET", "/api/portal/notifications", session=carol).json() == {
        "my_tickets": False,
        "company_tickets": False,
    }

    after = f"After unsubscribing {uuid.uuid4().hex[:8]}"
    api.teammate_part(ticket["conversation_id"], after)
    _wait_for(mail, "ann@example.com", after)
    assert _about(mail, "carol@example.com", after) == []
    api.call(
        "PUT",
        "/api/portal/notifications",
        session=carol,
        json={"my_tickets": True, "company_tickets": False},
    )


def test_preferences_refuse_bad_input_naming_the_field(world):
    seeded, api, _ = world
    ann = seeded["sessions"]["ann"]
    answer = api.call(
        "PUT",
        "/api/portal/notifications",
        session=ann,
        json={"my_tickets": "yes", "company_tickets": True},
    )
    assert answer.status_code == 422
    assert "my_tickets" in answer.json()["error"]["fields"]
    assert (
        api.call(
            "PUT", "/api/portal/notifications", session=ann, json={"my_tickets": True}
        ).status_code
        == 422
    )
    assert api.call("GET", "/api/portal/notifications").status_code == 401
    assert api.call("GET", "/api/portal/notifications", session=ann).json() == {
        "my_tickets": True,
        "company_tickets": True,
    }


def test_every_recipient_gets_one_message_per_change(world):
    _, _, mail = world
    keys = [(m["X-RcptTo"], m["Message-ID"]) for m in mail.messages()]
    assert keys and len(keys) == len(set(keys))


def test_a_customer_resolving_is_not_told_of_their_own_change_and_the_others_are(world):
    seeded, api, mail = world
    ticket, carol = seeded["ticket"], seeded["sessions"]["carol"]
    resolved = api.call("POST", f"/api/portal/tickets/{ticket['id']}/resolve", session=carol)
    assert resolved.status_code == 200, resolved.text
    [told] = _wait_for(mail, "ann@example.com", "is now Resolved")
    assert told["Subject"] == f"[#{ticket['id']}] Resolved: Printer <b>jam</b>"
    marker = f"After resolving {uuid.uuid4().hex[:8]}"
    api.teammate_part(ticket["conversation_id"], marker)  # later mail to Carol still flows
    _wait_for(mail, "carol@example.com", marker)
    assert _about(mail, "carol@example.com", "is now Resolved") == []
