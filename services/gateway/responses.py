"""Answers the gateway sends: JSON documents and the session cookie."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

SESSION_COOKIE = "portal_session"


def json_response(body: Any, status: int = 200) -> Response:
    """``body`` as UTF-8 JSON. A lone surrogate (which validation keeps out of anything stored,
    but a caller's own text may carry back into an error) is written as its JSON escape
    ``\\udXXX``, never a failure to encode the answer."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(
        text.encode("utf-8", "backslashreplace"),
        status=status,
        mimetype="application/json",
    )


def is_https(request: Request) -> bool:
    """Directly or behind a proxy that says so (a forged header only makes the cookie
    stricter)."""
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session_cookie(response: Response, request: Request, token: str, expires_at: str) -> None:
    """The session as an HttpOnly, SameSite=Lax cookie for the whole site, expiring with it."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=datetime.fromisoformat(expires_at),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="Lax"
    )
