"""E-mail under faults, over a real SMTP conversation: the notifications service killed
(SIGKILL) between the SMTP server's acceptance and its record of it, the SMTP server down for
a while, and two copies of the service at once.

What is guaranteed (docs/notifications.md): every recipient's mail store ends up with exactly
one message per change, by Message-ID. The SMTP conversation itself is at least once: a
crash in the window after the server accepted a message and before the outbox marked it sent
hands that same message (same bytes, same Message-ID) to the server again on restart."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from portalctl.stack import PROCESSES, Stack
from services.notifications.outbox import Outbox, open_outbox
from tests.support.api import Api, api_stack
from tests.support.failpoint_runner import killing_after_send
from tests.support.mail_server import MailServer
from tests.support.stack import stack_config
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

RECIPIENTS = ("ann@example.com", "carol@example.com")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("notification_faults")
    mail = MailServer(root)
    mail.start()
    try:
        with api_stack(root, SMTP_URI=mail.uri) as (stack, api):
            yield stack, api, mail, _seed(api)
    finally:
        mail.stop()


def _seed(api: Api) -> dict:
    api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
    for user in ("ann", "carol"):
        api.admin_ok(
            "POST",
            "/api/admin/contacts",
            json={"id": user, "email": f"{user}@example.com", "name": user.title()},
        )
        api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": user})
    ann = api.sign_in("ann", "ann@example.com")
    api.call(
        "PUT",
        "/api/portal/notifications",
        session=ann,
        json={"my_tickets": True, "company_tickets": True},
    )
    return api.ticket_from_conversation(
        "carol", "Nothing prints", type="Question", title="Printer", company_id="acme"
    )


def _reply(api: Api, ticket: dict) -> str:
    marker = f"Reply {uuid.uuid4().hex}"
    api.teammate_part(ticket["conversation_id"], marker)
    return marker


def _received(mail: MailServer, marker: str) -> Counter:
    """How often each (recipient, Message-ID) carrying ``marker`` reached the server."""
    return Counter(
        (m["X-RcptTo"], m["Message-ID"]) for m in mail.messages() if marker in m.get_content()
    )


def _one_message_each(mail: MailServer, marker: str) -> Counter | None:
    received = _received(mail, marker)
    return received if sorted(r for r, _ in received) == sorted(RECIPIENTS) else None


def _as_sent(message) -> tuple:
    """The message without what the receiving server added (X-Peer, X-MailFrom, X-RcptTo)."""
    return [(k, v) for k, v in message.items() if not k.startswith("X-")], message.get_content()


@contextlib.contextmanager
def _outbox(stack: Stack) -> Iterator[Outbox]:
    """The stack's outbox, whichever backend it runs on."""
    outbox = open_outbox(stack_config(stack))
    try:
        yield outbox
    finally:
        outbox.close()


def _pending(stack: Stack) -> list:
    with _outbox(stack) as outbox:
        return outbox.due(now=math.inf)


def test_killed_between_the_smtp_acceptance_and_its_record_each_recipient_has_one_message(world):
    stack, api, mail, ticket = world
    stack.stop(*stack.copies_of("notifications"))  # the failpoint's process sends alone
    failpoint = Stack(
        env=stack.env,
        log_dir=stack.log_dir / "failpoint",
        names=["notifications"],
        commands={"notifications": killing_after_send(PROCESSES["notifications"])},
    )
    failpoint.start()
    crashing = failpoint.processes.pop("notifications")
    marker = _reply(api, ticket)
    assert crashing.wait(timeout=60) == -signal.SIGKILL
    [(first, message_id)] = _received(mail, marker)  # accepted, then the process died
    assert message_id in {m.message_id for m in _pending(stack)}  # never recorded as sent

    stack.start(*stack.copies_of("notifications"))
    received = eventually(lambda: _one_message_each(mail, marker), timeout=30)
    # one message per recipient; the one in flight at the crash reached the server twice,
    # as the very same message
    assert len(received) == len(RECIPIENTS)
    assert received[(first, message_id)] == 2
    copies = [_as_sent(m) for m in mail.messages() if m["Message-ID"] == message_id]
    assert copies[0] == copies[1]
    eventually(lambda: not _pending(stack))


def test_mail_waits_while_the_smtp_server_is_down_and_is_sent_once_when_it_is_back(world):
    stack, api, mail, ticket = world
    mail.stop()
    marker = _reply(api, ticket)

    eventually(lambda: len([m for m in _pending(stack) if m.attempts]) >= 2, timeout=30)
    assert _received(mail, marker) == Counter()
    mail.start()
    received = eventually(lambda: _one_message_each(mail, marker), timeout=60)
    assert set(received.values()) == {1}


def test_two_copies_send_each_message_once_and_one_takes_over_when_the_other_dies(world):
    stack, api, mail, ticket = world
    second = Stack(env=stack.env, log_dir=stack.log_dir / "second", names=["notifications"])
    second.start()
    try:
        markers = [_reply(api, ticket) for _ in range(5)]
        for marker in markers:
            received = eventually(lambda m=marker: _one_message_each(mail, m), timeout=30)
            assert set(received.values()) == {1}

        with _outbox(stack) as outbox:
            holder = outbox.lease_holder(time.time())
        pid = int(holder.split(":")[1])
        copies = {p.pid: (s, n) for s in (stack, second) for n, p in s.processes.items()}
        owner, name = copies[pid]
        os.kill(pid, signal.SIGKILL)
        owner.processes.pop(name).wait(timeout=30)

        marker = _reply(api, ticket)
        received = eventually(lambda: _one_message_each(mail, marker), timeout=30)
        assert set(received.values()) == {1}
    finally:
        second.stop()
        if "notifications" not in stack.processes:
            stack.start("notifications")
