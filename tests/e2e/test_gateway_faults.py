"""The gateway when a service is missing or stopped (503/504, named by /healthz, nothing
carried out later), and when it is started without its admin token (it refuses)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from portalctl.stack import PROCESSES, REPOSITORY
from tests.support.api import api_stack_without, error_of, stored_events
from tests.support.broker import BROKER_URI, fresh_vhost
from tests.support.stack import platform_env as stack_platform_env
from tests.support.waiting import eventually

RPC_TIMEOUT = 2
MISSING = "messenger_bridge"


def platform_env(root, amqp_uri: str, **overrides: str) -> dict[str, str]:
    return stack_platform_env(root, amqp_uri, RPC_TIMEOUT=str(RPC_TIMEOUT), **overrides)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Every process but messenger_bridge, which never started (its queue does not exist)."""
    root = tmp_path_factory.mktemp("gateway_faults")
    with api_stack_without(root, MISSING, RPC_TIMEOUT=str(RPC_TIMEOUT)) as (stack, api):
        yield stack, api


def test_a_service_that_is_not_running_is_a_503_named_by_healthz(platform):
    stack, api = platform
    health = api.call("GET", "/healthz")
    assert health.status_code == 503
    assert health.json()["services"][MISSING]["status"] == "service_unavailable"
    api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@example.com"})
    session = api.sign_in("ann", "ann@example.com")
    before = stored_events(stack)
    for answer in [
        api.admin("POST", "/api/admin/conversations", json={"user_id": "ann", "body": "Hello"}),
        api.admin("GET", "/api/admin/conversations/conv-1"),
        api.call("GET", "/api/messenger/tickets", session=session),
        api.call("POST", "/api/portal/tickets/1/join", session=session),
    ]:
        assert answer.status_code == 503, answer.text
        error = error_of(answer)
        assert error["code"] == "service_unavailable"
        assert MISSING in error["message"]
    assert stored_events(stack) == before


def test_a_stopped_service_is_a_504_and_its_requests_are_not_carried_out_later(platform):
    stack, api = platform
    api.admin_ok("POST", "/api/admin/contacts", json={"id": "bob", "email": "bob@example.com"})
    stack.stop(*stack.copies_of("tickets"))
    before = stored_events(stack)
    for answer in [
        api.admin(
            "POST",
            "/api/admin/tickets",
            json={"type": "Bug", "title": "Lost?", "creator_id": "bob"},
        ),
        api.admin("GET", "/api/admin/tickets/1"),
    ]:
        assert answer.status_code == 504, answer.text
        assert error_of(answer)["code"] == "upstream_timeout"
    health = api.call("GET", "/healthz")
    assert health.status_code == 503
    assert set(health.json()["failing"]) == {"tickets", MISSING}
    assert health.json()["services"]["tickets"]["status"] == "upstream_timeout"

    stack.start(*stack.copies_of("tickets"))
    eventually(lambda: "tickets" not in api.call("GET", "/healthz").json()["failing"], timeout=60)
    time.sleep(RPC_TIMEOUT)  # any request still queued would have been carried out by now
    assert stored_events(stack) == before
    assert api.admin("GET", "/api/admin/tickets/1").status_code == 404


def test_the_gateway_refuses_to_start_without_an_admin_token(tmp_path):
    with fresh_vhost(BROKER_URI) as amqp_uri:
        env = platform_env(tmp_path, amqp_uri, PORTAL_ADMIN_TOKEN="")
        log = tmp_path / "gateway.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, *PROCESSES["gateway"]],
                cwd=REPOSITORY,
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                returncode = process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        assert returncode != 0
        assert "PORTAL_ADMIN_TOKEN" in log.read_text()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{env['WEB_SERVER_ADDRESS']}/healthz", timeout=2)
