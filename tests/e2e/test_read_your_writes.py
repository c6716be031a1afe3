"""Read-your-writes: after a portal user's own write, their next read shows it.

Here nothing else ever brings the read side up to date: no relay publishes events (no bus
prompts) and portal_query re-reads the store only once an hour. Only the position a write
answers (``Portal-Position``), sent back with the next read, can make that read show it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portalctl.stack import PROCESSES
from tests.support.api import Api, stored_events
from tests.support.broker import BROKER_URI
from tests.support.stack import running_stack

# Also run on two copies of every service by `make test` (PORTAL_REPLICAS=2).

POSITION = "Portal-Position"
CONTACTS = {"ann": "ann@acme.example", "bob": "bob@acme.example"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    without_relay = [name for name in PROCESSES if name != "event_relay"]
    root = tmp_path_factory.mktemp("read_your_writes")
    with running_stack(root, BROKER_URI, without_relay, CATCH_UP_INTERVAL="3600") as stack:
        api = Api(stack)
        api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
        for user, email in CONTACTS.items():
            api.admin_ok("POST", "/api/admin/contacts", json={"id": user, "email": email})
            api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": user})
        ticket = api.ticket_from_conversation("ann", "Help!", type="Bug", title="Export fails")
        sessions = {user: api.sign_in(user, email) for user, email in CONTACTS.items()}
        # The setup so far, shown by naming the store's head as the position to wait for.
        head = {POSITION: str(stored_events(stack))}
        listed = api.call("GET", "/api/portal/tickets", session=sessions["ann"], headers=head)
        assert [item["id"] for item in listed.json()["items"]] == [ticket["id"]]
        yield {"api": api, "ticket": ticket, "sessions": sessions}


def read(world: dict, user: str, path: str, position: str | None = None, **params) -> dict:
    headers = {POSITION: position} if position else {}
    answer = world["api"].call(
        "GET", path, session=world["sessions"][user], headers=headers, params=params
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def reply(world: dict, user: str, body: str):
    conversation_id = world["ticket"]["conversation_id"]
    return world["api"].call(
        "POST",
        f"/api/messenger/conversations/{conversation_id}/messages",
        session=world["sessions"][user],
        json={"body": body},
    )


def bodies(conversation: dict) -> list[str]:
    return [part["body"] for part in conversation["parts"]]


def test_a_reply_shows_in_the_next_read_that_sends_its_position_back(world):
    path = f"/api/messenger/conversations/{world['ticket']['conversation_id']}"
    answer = reply(world, "ann", "Still failing")
    assert answer.status_code == 201
    position = answer.headers[POSITION]
    assert int(position) > 0
    assert "Still failing" in bodies(read(world, "ann", path, position))
    found = read(world, "ann", "/api/portal/tickets", position, q="still failing")
    assert [item["id"] for item in found["items"]] == [world["ticket"]["id"]]


def test_without_the_position_the_read_side_is_not_prompted(world):
    """The control: the same read without the position shows the projection as it was."""
    path = f"/api/messenger/conversations/{world['ticket']['conversation_id']}"
    answer = reply(world, "ann", "Any news")
    assert "Any news" not in bodies(read(world, "ann", path))
    assert "Any news" in bodies(read(world, "ann", path, answer.headers[POSITION]))


def test_a_join_shows_in_the_next_read_that_sends_its_position_back(world):
    ticket = world["ticket"]
    assert read(world, "bob", "/api/messenger/tickets")["items"] == []
    answer = world["api"].call(
        "POST", f"/api/portal/tickets/{ticket['id']}/join", session=world["sessions"]["bob"]
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["joined"] is True
    space = read(world, "bob", "/api/messenger/tickets", answer.headers[POSITION])
    assert [item["id"] for item in space["items"]] == [ticket["id"]]


def test_a_position_the_store_does_not_have_is_not_waited_for(world):
    """It can be no write of the reader's: the read answers what there is, not a 503."""
    far_ahead = str(10**15)
    assert read(world, "ann", "/api/portal/me", far_ahead)["user"]["id"] == "ann"


def test_a_position_that_is_not_a_number_is_refused(world):
    answer = world["api"].call(
        "GET", "/api/portal/me", session=world["sessions"]["ann"], headers={POSITION: "-1"}
    )
    assert answer.status_code == 400
    assert POSITION in answer.json()["error"]["fields"]
