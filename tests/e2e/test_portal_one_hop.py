"""A portal request in one hop: the gateway checks the session itself, and every gateway
process learns from identity's events, each on a queue of its own, that a session ended.

The gateways here re-read the store only every 30 s, so only the bus prompt they each get
can make an ended session refused within the 1 s the tests allow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.config import partition_count
from kernel.partitions import hashed, service_name
from portalctl.stack import PROCESSES
from tests.support.api import REVOCATION_BOUND, Api, api_stack
from tests.support.stack import free_port, stack_config
from tests.support.waiting import eventually

# Also run on two copies of every service by `make test` (PORTAL_REPLICAS=2).

ANN_EMAIL = "ann@acme.example"


@pytest.fixture(scope="module")
def gateways(tmp_path_factory) -> Iterator[tuple[object, Api, Api]]:
    """The platform with a second gateway process on a port of its own."""
    root = tmp_path_factory.mktemp("one_hop")
    with api_stack(root, SESSION_CATCH_UP_INTERVAL="30") as (stack, first):
        stack.commands["gateway-2"] = PROCESSES["gateway"]
        address = f"127.0.0.1:{free_port()}"
        stack.start("gateway-2", extra_env={"WEB_SERVER_ADDRESS": address})
        second = Api(stack)
        second.base_url = f"http://{address}"
        eventually(lambda: _healthy(second), timeout=60)
        first.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": ANN_EMAIL})
        first.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
        first.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})
        first.admin_ok(
            "POST", "/api/admin/tickets", json={"type": "Bug", "title": "Hi", "creator_id": "ann"}
        )
        eventually(lambda: me(first, first.sign_in("ann", ANN_EMAIL)) == 200)
        yield stack, first, second


def _healthy(api: Api) -> bool:
    with contextlib.suppress(requests.RequestException):
        return api.call("GET", "/healthz", conform=False).status_code == 200
    return False


def me(api: Api, token: str) -> int:
    return api.call("GET", "/api/portal/me", session=token).status_code


@contextlib.contextmanager
def rpc_requests(amqp_uri: str) -> Iterator[list[str]]:
    """The ``service.method`` of every RPC request published on the vhost inside the block
    (a queue of the test's own bound to nameko's RPC exchange; replies are left out)."""
    calls: list[str] = []
    with Connection(amqp_uri.replace("pyamqp://", "amqp://")) as connection:
        queue = Queue(
            exclusive=True,
            exchange=Exchange("nameko-rpc", type="topic", durable=True),
            routing_key="*.*",
        )
        with connection.Consumer(
            queue,
            callbacks=[lambda body, message: calls.append(message.delivery_info["routing_key"])],
            accept=["json"],
        ):
            yield calls
            with contextlib.suppress(TimeoutError):
                while True:
                    connection.drain_events(timeout=0.5)


def test_a_portal_request_costs_exactly_one_rpc_per_partition_asked(gateways):
    stack, api, _ = gateways
    token = api.sign_in("ann", ANN_EMAIL)
    assert me(api, token) == 200  # this process has seen the session
    with rpc_requests(stack.env["AMQP_URI"]) as calls:
        assert me(api, token) == 200
    count = partition_count(stack_config(stack))
    if count == 1:
        assert calls == ["portal_query.portal_me"]
    else:  # the user's home partition routes, then the one serving Acme answers
        home = service_name(hashed("ann", count), count)
        owner = service_name(hashed("acme", count), count)
        assert calls == [f"{home}.portal_route", f"{owner}.portal_me"]


def test_a_session_started_through_one_gateway_works_at_once_on_the_other(gateways):
    _, first, second = gateways
    token = first.sign_in("ann", ANN_EMAIL)
    assert me(second, token) == 200


def test_a_logout_is_refused_by_every_gateway_within_the_bound(gateways):
    _, first, second = gateways
    token = first.sign_in("ann", ANN_EMAIL)
    assert (me(first, token), me(second, token)) == (200, 200)
    assert first.call("DELETE", "/api/portal/session", session=token).status_code == 204
    assert me(first, token) == 401
    eventually(lambda: me(second, token) == 401, timeout=REVOCATION_BOUND)


def test_revoking_every_session_is_refused_by_every_gateway_within_the_bound(gateways):
    stack, first, second = gateways
    tokens = [first.sign_in("ann", ANN_EMAIL), second.sign_in("ann", ANN_EMAIL)]
    assert all(me(api, token) == 200 for api in (first, second) for token in tokens)
    with ClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"]}, timeout=10) as rpc:
        assert rpc.identity.revoke_sessions("ann")["revoked"] >= 2
    for api in (first, second):
        for token in tokens:
            eventually(lambda api=api, token=token: me(api, token) == 401, timeout=REVOCATION_BOUND)
    later = second.sign_in("ann", ANN_EMAIL)
    assert (me(first, later), me(second, later)) == (200, 200)


def test_a_forged_or_expired_token_is_refused_without_asking_anyone(gateways):
    stack, api, _ = gateways
    with rpc_requests(stack.env["AMQP_URI"]) as calls:
        assert me(api, "not.a.token") == 401
    assert calls == []
