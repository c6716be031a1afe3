"""The gateway's HTTP entrypoint: one web server, one error mapping, one log line a request.

Nameko's stock ``http`` entrypoint answers unknown routes and failures with plain text (and
a failure's message). Here every answer is JSON with the platform's error shape, carries the
security headers, and is logged once with its route, status, duration and correlation id.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as NoSuchRoute
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from kernel.dependencies import (
    CORRELATION_KEY,
    FINGERPRINT_KEY,
    IDEMPOTENCY_KEY,
    REQUEST_ID_HEADER,
)
from kernel.errors import PortalError
from kernel.logging import get_logger
from services.gateway.http_server import BoundedWebServer
from services.gateway.inputs import MAX_BODY_BYTES, idempotency_key_of, read_body
from services.gateway.responses import json_response

log = get_logger(__name__)

# Strict: the page's own scripts and styles only, never inline; nothing may frame the page.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Teammate requests that change state honour an Idempotency-Key.
IDEMPOTENT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CORRELATION_ENVIRON_KEY = "portal.correlation_id"

# Routing and body-reading failures raised by werkzeug, as the platform's errors.
_HTTP_ERRORS: dict[type[HTTPException], tuple[int, str, str]] = {
    NoSuchRoute: (404, "not_found", "there is nothing at this address"),
    MethodNotAllowed: (405, "method_not_allowed", "this address does not accept that method"),
    RequestEntityTooLarge: (
        413,
        "payload_too_large",
        f"the body is larger than {MAX_BODY_BYTES} bytes",
    ),
}


# What a 503 tells a client to wait: a service starting or a read side catching up is
# usually ready again within a second.
RETRY_AFTER = "1"


def error_response(error: Exception) -> Response:
    """The one place an exception becomes an HTTP answer: its status, code and message.

    Platform errors keep their own status and message (written for callers); anything
    unexpected is logged with its traceback and answered without any internal detail."""
    if isinstance(error, PortalError):
        status, body = error.status, error.to_dict()
    elif type(error) in _HTTP_ERRORS:
        status, code, message = _HTTP_ERRORS[type(error)]
        body = {"code": code, "message": message, "fields": {}}
    elif isinstance(error, HTTPException) and error.code and 400 <= error.code < 500:
        status = error.code
        body = {"code": error.name.lower().replace(" ", "_"), "message": error.name, "fields": {}}
    else:
        log.error("unexpected error", error_type=type(error).__name__, exc_info=error)
        status = 500
        body = {
            "code": "internal_error",
            "message": "the server could not answer this request",
            "fields": {},
        }
    response = json_response({"error": body}, status)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER
    return response


def correlation_id_of(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane one, else a new id."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(supplied) <= 128 and supplied.isprintable():
        return supplied
    return str(uuid.uuid4())


def request_fingerprint(request: Request, body: bytes) -> str:
    """What makes two requests "the same" for an Idempotency-Key: method, path and body."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class GatewayRequest(Request):
    max_content_length = MAX_BODY_BYTES


class GatewayWsgiApp(WsgiApp):
    """Routes a request; answers, decorates and logs every outcome, routing errors too."""

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = GatewayRequest(environ, shallow=True)
        correlation_id = correlation_id_of(request)
        environ[CORRELATION_ENVIRON_KEY] = correlation_id
        adapter = self.url_map.bind_to_environ(environ)
        route = "unmatched"
        try:
            rule, values = adapter.match(return_rule=True)
            route = rule.rule
            request.path_values = values
            response = rule.endpoint.handle_request(request)
        except HTTPException as error:
            response = error_response(error)
        decorate(response, request, correlation_id)
        log.info(
            "http request",
            method=request.method,
            route=route,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            correlation_id=correlation_id,
        )
        return response(environ, start_response)


def decorate(response: Response, request: Request, correlation_id: str) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers[REQUEST_ID_HEADER] = correlation_id
    if request.path.startswith("/api/") or request.path == "/healthz":
        response.headers["Cache-Control"] = "no-store"
    else:
        response.headers.setdefault("Cache-Control", "no-cache")


class GatewayWebServer(BoundedWebServer):
    answer_headers = SECURITY_HEADERS

    def get_wsgi_app(self) -> GatewayWsgiApp:
        return GatewayWsgiApp(self)

    def make_url_map(self) -> Map:
        """Exact paths only: no redirects for doubled or trailing slashes, just 404."""
        url_map = Map(merge_slashes=False)
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map

    def context_data_from_headers(self, request: Request) -> dict:
        """The worker context every RPC call of the request carries: its correlation id
        and, for a teammate's write, an idempotency key and a fingerprint of the request,
        from which the write services derive their event ids.

        The key is the caller's ``Idempotency-Key``, else one of the request's own: RabbitMQ
        delivers a call again when the service died after its append but before its reply,
        and the second delivery must answer what the first stored, not write it twice."""
        data = {CORRELATION_KEY: request.environ[CORRELATION_ENVIRON_KEY]}
        if request.method in IDEMPOTENT_METHODS and request.path.startswith("/api/admin/"):
            data.update(idempotency_context(request))
        return data


def idempotency_context(request: Request, scope: str = "") -> dict:
    """The idempotency key (and fingerprint) a write's RPC calls carry: the caller's
    ``Idempotency-Key`` after ``scope``, else a key of the request's own, which nobody else
    can name, so no other request can reuse it."""
    key = idempotency_key_of(request)
    if key is None:
        return {IDEMPOTENCY_KEY: f"request-{uuid.uuid4()}"}
    return {
        IDEMPOTENCY_KEY: f"{scope}{key}",
        FINGERPRINT_KEY: request_fingerprint(request, read_body(request)),
    }


class HttpEntrypoint(HttpRequestHandler):
    server = GatewayWebServer()

    def response_from_exception(self, exc: Exception) -> Response:
        return error_response(exc)


def route(method: str, url: str):
    """Register a handler for ``method url``; any exception it raises is answered by
    :func:`error_response` inside the worker (so Nameko does not log it as a crash)."""

    def decorate_handler(handler):
        @functools.wraps(handler)
        def answer(self, request: Request, *args, **kwargs) -> Response:
            try:
                return handler(self, request, *args, **kwargs)
            except Exception as error:
                return error_response(error)

        return HttpEntrypoint.decorator(method, url)(answer)

    return decorate_handler
