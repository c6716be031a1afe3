"""Talking to a running gateway in end-to-end tests: every answer is checked against
``services/gateway/openapi.yaml``, so each test also proves the document tells the truth."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from portalctl.stack import PROCESSES, REPOSITORY, Stack
from tests.support.broker import BROKER_URI, fresh_vhost
from tests.support.stack import (
    ADMIN_TOKEN,
    IDENTITY_SECRET,
    drop_store_database,
    event_store_of,
    platform_env,
    replicas_env,
    running_stack,
)
from tests.support.waiting import eventually

OPENAPI = OpenAPI.from_file_path(str(REPOSITORY / "services" / "gateway" / "openapi.yaml"))

# Seconds within which every gateway copy refuses an ended session (the promise to a user
# who logs out; the copy that ended it refuses it at once).
REVOCATION_BOUND = 1.0


@contextlib.contextmanager
def api_stack_without(root: Path, missing: str, **env: str) -> Iterator[tuple[Stack, Api]]:
    """Every process of the platform but ``missing`` (never started), once the gateway's
    health check names exactly that one as failing, and a client of it."""
    with fresh_vhost(BROKER_URI) as amqp_uri:
        stack = Stack(
            env=platform_env(root, amqp_uri, **env),
            log_dir=root / "logs",
            names=[name for name in PROCESSES if name != missing],
            replicas=replicas_env(),
        )
        stack.start()
        try:
            api = Api(stack)

            def only_the_missing_one_fails() -> bool:
                try:
                    return api.call("GET", "/healthz").json()["failing"] == [missing]
                except requests.RequestException:
                    return False

            eventually(only_the_missing_one_fails, timeout=60 * stack.replicas)
            yield stack, api
        finally:
            stack.stop()
            drop_store_database(stack.env)


@contextlib.contextmanager
def api_stack(root: Path, **env: str) -> Iterator[tuple[Stack, Api]]:
    """Every process of the platform on a fresh vhost and store, and a client of it."""
    with running_stack(root, BROKER_URI, **env) as stack:
        yield stack, Api(stack)


class Api:
    """A client of one stack's gateway. ``as_admin`` and ``session`` pick the credentials;
    ``conform=False`` skips the document check (for addresses the API does not have)."""

    def __init__(self, stack: Stack):
        self.base_url = stack.base_url

    def call(
        self,
        method: str,
        path: str,
        *,
        as_admin: bool = False,
        session: str | None = None,
        conform: bool = True,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> requests.Response:
        headers = dict(headers or {})
        if as_admin:
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        if session:
            headers["Authorization"] = f"Bearer {session}"
        response = requests.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=30, **options
        )
        if conform:
            OPENAPI.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        return response

    def admin(self, method: str, path: str, **options: Any) -> requests.Response:
        return self.call(method, path, as_admin=True, **options)

    def admin_ok(self, method: str, path: str, **options: Any) -> Any:
        """A teammate call that must succeed; its JSON answer."""
        response = self.admin(method, path, **options)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    def teammate_part(
        self, conversation_id: str, body: str, *, internal: bool = False, author_name: str = "Sam"
    ) -> dict:
        """A teammate's reply (or, ``internal``, note) on a conversation; it must be added."""
        return self.admin_ok(
            "POST",
            f"/api/admin/conversations/{conversation_id}/parts",
            json={
                "author_type": "teammate",
                "author_id": "sam",
                "author_name": author_name,
                "body": body,
                "internal": internal,
            },
        )

    def ticket_from_conversation(self, user_id: str, body: str, **ticket: Any) -> dict:
        """A user's opening message, converted by a teammate into a ticket; the ticket."""
        conversation = self.admin_ok(
            "POST", "/api/admin/conversations", json={"user_id": user_id, "body": body}
        )
        return self.admin_ok(
            "POST", f"/api/admin/conversations/{conversation['id']}/ticket", json=ticket
        )

    def sign_in(self, user_id: str, email: str | None = None) -> str:
        """A portal session token for a contact, by the user_hash hand-off."""
        body = {"user_id": user_id, "user_hash": user_hash(user_id)}
        if email:
            body["email"] = email
        response = self.call("POST", "/api/portal/session", json=body)
        assert response.status_code == 201, response.text
        return response.json()["token"]


def user_hash(user_id: str, secret: str = IDENTITY_SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def error_of(response: requests.Response) -> dict:
    """The ``error`` of a JSON error answer (the shape is checked by the document)."""
    return response.json()["error"]


def stored_events(stack: Stack) -> int:
    """How many events the stack's store holds: "nothing was appended" is this not moving."""
    store = event_store_of(stack)
    try:
        return store.head_position()
    finally:
        store.close()
