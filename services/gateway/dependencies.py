"""The gateway's own resources: the teammates' admin token, the idempotency of portal
writes and the web page's files."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from nameko.extensions import DependencyProvider
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from kernel.config import require
from kernel.errors import Unauthenticated
from services.gateway.auth import bearer_token
from services.gateway.entrypoints import idempotency_context

WEB_ROOT = Path(__file__).resolve().parent / "web"
PAGE = "index.html"
CONSOLE = "admin.html"  # the teammates' console
# Explicit, so the answer does not depend on the machine's mime.types.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
}


class TeammateCheck:
    def __init__(self, token_digest: bytes):
        self._token_digest = token_digest

    def verify(self, request: Request) -> None:
        """Accept only ``Authorization: Bearer <admin token>``. Digests of equal length are
        compared in constant time, so neither the token nor its length leaks by timing."""
        supplied = bearer_token(request) or ""
        digest = hashlib.sha256(supplied.encode("utf-8", "surrogateescape")).digest()
        if not hmac.compare_digest(digest, self._token_digest):
            raise Unauthenticated("a valid teammate token is required (Authorization: Bearer)")


class TeammateAuthority(DependencyProvider):
    """Holds the admin token from ``PORTAL_ADMIN_TOKEN``; the gateway refuses to start
    without one rather than serve the teammate API unprotected."""

    def setup(self) -> None:
        token = str(require(self.container.config, "PORTAL_ADMIN_TOKEN"))
        self.token_digest = hashlib.sha256(token.encode()).digest()

    def get_dependency(self, worker_ctx) -> TeammateCheck:
        return TeammateCheck(self.token_digest)


class PortalWriteKeys:
    """The idempotency of one portal user's write."""

    def __init__(self, worker_ctx):
        self._worker_ctx = worker_ctx

    def scope_to(self, user_id: str) -> None:
        """From here on, the request's RPC calls carry its ``Idempotency-Key`` scoped to the
        user, so one user's key can neither replay nor block another user's request. The
        separator is a tab, which a key (printable ASCII) cannot contain, so no teammate's
        key can name a user's either."""
        request = next(arg for arg in self._worker_ctx.args if isinstance(arg, Request))
        self._worker_ctx.data.update(idempotency_context(request, f"portal-user\t{user_id}\t"))


class PortalIdempotency(DependencyProvider):
    """A portal write honours ``Idempotency-Key`` only once the gateway knows the user
    (teammates' writes get theirs from the request alone, see ``entrypoints``)."""

    def get_dependency(self, worker_ctx) -> PortalWriteKeys:
        return PortalWriteKeys(worker_ctx)


class WebFiles:
    """The portal page, the teammates' console and their static files, served from one
    folder and never outside it."""

    def __init__(self, root: Path):
        self.root = root

    def page(self, request: Request) -> Response:
        return self.static(request, PAGE)

    def console(self, request: Request) -> Response:
        return self.static(request, CONSOLE)

    def static(self, request: Request, path: str) -> Response:
        content_type = CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
        response = send_from_directory(self.root, path, request.environ)
        response.headers["Content-Type"] = content_type
        return response


class WebAssets(DependencyProvider):
    def setup(self) -> None:
        self.files = WebFiles(WEB_ROOT)

    def get_dependency(self, worker_ctx) -> WebFiles:
        return self.files
