"""Who is calling: a portal user by session token (cookie or bearer), with CSRF rules for
cookie-authenticated writes. The teammates' token check lives with its dependency."""

from __future__ import annotations

from werkzeug.wrappers import Request

from kernel.contracts import commands
from kernel.errors import AccessDenied, Unauthenticated
from services.gateway.responses import SESSION_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A session or admin token is never longer than a session token may be.
MAX_TOKEN_LENGTH = commands.SESSION_TOKEN["token"]["maxlength"]
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token


def session_token(request: Request) -> str:
    """The portal session token, from ``Authorization: Bearer`` or the session cookie.

    A request authenticated by the cookie alone that changes state must show it comes from
    the portal page itself: it must carry ``Content-Type: application/json`` (which a form on
    another site, even a sibling subdomain SameSite lets through, cannot send), and when the
    browser says where it comes from (``Sec-Fetch-Site``) that must be this origin."""
    token = bearer_token(request)
    if token:
        return token
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("sign in to the portal first")
    if request.method not in SAFE_METHODS:
        if request.mimetype != "application/json":
            raise AccessDenied(
                "a cookie-authenticated change must be sent with Content-Type: application/json",
                {"Content-Type": "must be application/json"},
            )
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
            raise AccessDenied(
                "cross-site requests may not change anything",
                {"Sec-Fetch-Site": "must be same-origin"},
            )
    return token
