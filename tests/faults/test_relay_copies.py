"""Two relays on one store: one publishes (it holds the RabbitMQ single-active-consumer lock),
the other stands by and takes over when the first stops or dies. Events reach consumers in
position order; a stop hands over without a duplicate, a kill -9 at most repeats the last
unsaved stretch, once, in order (consumers follow the store by position and take the bus as
a prompt, so a repeat changes nothing)."""

from __future__ import annotations

import itertools
import signal
import threading
import time

import pytest

from kernel.contracts.envelope import NewEvent
from portalctl.stack import Stack
from tests.faults.test_no_loss_between_append_and_publish import listener  # noqa: F401
from tests.support.stack import event_store_at, store_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults
EVENTS = 3000
LOCK_TAKEN = "relay took the publisher lock"


def two_relays(tmp_path, vhost) -> Stack:
    stack = Stack(
        env={"AMQP_URI": vhost, **store_env(tmp_path)},
        log_dir=tmp_path / "logs",
        names=["event_relay"],
        replicas=2,
    )
    stack.start("event_relay")
    eventually(lambda: took_the_lock(stack, "event_relay"), timeout=60)
    stack.start("event_relay.2")
    return stack


def took_the_lock(stack: Stack, name: str) -> bool:
    log = stack.log_dir / f"{name}.log"
    return log.exists() and LOCK_TAKEN in log.read_text()


def appending(tmp_path, count: int = EVENTS) -> threading.Thread:
    """A writer appending ``count`` company events over a few seconds, in the background."""
    store = event_store_at(tmp_path)

    def write() -> None:
        for index in range(count):
            event = NewEvent("CompanyCreated", {"company_id": f"c{index}", "name": "Relayed"})
            store.append(f"company-c{index}", [event], 0)
            if index % 100 == 0:
                time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def runs(positions: list[int]) -> int:
    """How many ascending runs the positions make (1: strictly in order, no repeat)."""
    return 1 + sum(1 for before, after in itertools.pairwise(positions) if after <= before)


@pytest.mark.parametrize(
    ("signum", "most_runs"), [(signal.SIGTERM, 1), (signal.SIGKILL, 2)], ids=["stop", "kill"]
)
def test_the_standby_relay_takes_over_in_order(tmp_path, vhost, listener, signum, most_runs):  # noqa: F811
    stack = two_relays(tmp_path, vhost)
    try:
        writer = appending(tmp_path)
        store = event_store_at(tmp_path)
        eventually(lambda: store.get_checkpoint("event_relay") > EVENTS // 4, timeout=60)
        stack.signal("event_relay", signum)
        eventually(lambda: took_the_lock(stack, "event_relay.2"), timeout=30)
        writer.join()
        messages = listener(EVENTS)
    finally:
        ended = stack.stop()

    positions = [m["position"] for m in messages]
    assert set(positions) == set(range(1, EVENTS + 1)), "every appended event reaches the broker"
    assert runs(positions) <= most_runs
    assert eventually(lambda: store.get_checkpoint("event_relay") == EVENTS)
    assert all(end.clean for end in ended.values())


def test_only_one_of_two_relays_publishes(tmp_path, vhost, listener):  # noqa: F811
    stack = two_relays(tmp_path, vhost)
    try:
        appending(tmp_path, 500).join()
        messages = listener(500)
        time.sleep(0.5)  # anything a second publisher sent would be there by now
        messages += listener(1, timeout=0.5)
    finally:
        stack.stop()

    assert [m["position"] for m in messages] == list(range(1, 501))
    assert not took_the_lock(stack, "event_relay.2")
