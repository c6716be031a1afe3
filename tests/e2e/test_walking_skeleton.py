"""The walking skeleton: a ticket created through the tickets service's RPC is appended,
relayed over RabbitMQ to portal_query, and returned by the gateway over HTTP."""

from __future__ import annotations

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, running_stack, service_log
from tests.support.waiting import eventually

# Also run on two copies of every service by `make test` (PORTAL_REPLICAS=2).


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("skeleton"), BROKER_URI) as stack:
        with ClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"]}, timeout=10) as rpc:
            rpc.identity.save_contact({"id": "ann", "email": "ann@acme.example", "name": "Ann"})
            rpc.companies.create_company({"id": "acme", "name": "Acme"})
            rpc.companies.add_member("acme", {"user_id": "ann"})
        yield stack


def test_a_ticket_created_over_rpc_is_served_over_http(stack):
    with ClusterRpcProxy({"AMQP_URI": stack.env["AMQP_URI"]}, timeout=10) as rpc:
        created = rpc.tickets.create_ticket(
            {"type": "Bug", "title": "Printer on fire", "creator_id": "ann", "company_id": "acme"}
        )

    def listed():
        answer = requests.get(
            f"{stack.base_url}/api/admin/tickets",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=5,
        ).json()
        return answer if answer["total"] else None

    items = eventually(listed)["items"]
    assert [(t["id"], t["title"]) for t in items] == [(created["id"], "Printer on fire")]


def test_correlation_id_travels_from_http_through_rpc_into_the_logs(stack):
    answer = requests.post(
        f"{stack.base_url}/api/admin/tickets",
        json={"type": "Bug", "title": "Traced", "creator_id": "ann"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-ID": "trace-me-42"},
        timeout=5,
    )
    assert answer.status_code == 201

    # Every partition of the read side (one process without partitions) is prompted.
    read_side = [name for name in stack.names if name.startswith("portal_query")]

    expected = {"gateway", "tickets", *read_side}

    def logged_by() -> set[str]:
        return {name for name in expected if "trace-me-42" in service_log(stack, name)}

    eventually(lambda: logged_by() == expected)
