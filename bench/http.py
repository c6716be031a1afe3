"""A lean HTTP client for timing the gateway: one keep-alive connection per client, so a
measured request is the request, not a TCP handshake or a client library's overhead."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from typing import Any
from urllib.parse import urlencode, urlsplit


class Client:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None):
        """``(status, decoded JSON)``; reconnects once if the server closed the connection."""
        if params:
            path = f"{path}?{urlencode(params)}"
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self._connection.request(method, path, payload, self.headers)
                response = self._connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, json.loads(data) if data else None
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        status, data = self.call(method, path, body, params)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data}")
        return data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def user_hash(user_id: str, identity_secret: str) -> str:
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def portal_session(base_url: str, user_id: str, email: str, identity_secret: str) -> str:
    """A portal session token for ``user_id``, signed in the way the help center does."""
    client = Client(base_url)
    try:
        answer = client.ok(
            "POST",
            "/api/portal/session",
            {"user_id": user_id, "email": email, "user_hash": user_hash(user_id, identity_secret)},
        )
    finally:
        client.close()
    return answer["token"]
