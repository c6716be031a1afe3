"""HTTP entrypoints: parse, authenticate, call a service, answer JSON."""

from __future__ import annotations

import functools
import hmac
import json
import time

from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from kernel.dependencies import RequestContext, TimedRpcProxy
from kernel.errors import BadRequest, PortalError, Unauthenticated
from kernel.logging import get_logger

log = get_logger(__name__)


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def read_json(request: Request):
    try:
        return json.loads(request.get_data(cache=False).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadRequest("the body is not valid JSON", {"body": str(error)[:200]}) from error


def endpoint(handler):
    """Answer a handler's result as JSON, a :class:`PortalError` as its JSON error, and log
    one line per request."""

    @functools.wraps(handler)
    def wrapper(self, request: Request, *args, **kwargs) -> Response:
        started = time.perf_counter()
        try:
            response = handler(self, request, *args, **kwargs)
        except PortalError as error:
            response = json_response({"error": error.to_dict()}, error.status)
        log.info(
            "http request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response

    return wrapper


class GatewayService:
    name = "gateway"

    context = RequestContext()
    tickets = TimedRpcProxy("tickets")
    portal_query = TimedRpcProxy("portal_query")

    def _admin(self, request: Request) -> None:
        expected = self.tickets.worker_ctx.container.config.get("PORTAL_ADMIN_TOKEN") or ""
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise Unauthenticated("a valid admin token is required")

    @http("GET", "/healthz")
    def health(self, request: Request) -> Response:
        """200 when every service answers its ``health`` RPC in time, else 503 naming them."""
        proxies = {"tickets": self.tickets, "portal_query": self.portal_query}
        report = {}
        for name, proxy in proxies.items():
            try:
                report[name] = proxy.health()
            except PortalError as error:
                report[name] = {"status": error.code}
        healthy = all(r.get("status") == "ok" for r in report.values())
        return json_response({"services": report}, 200 if healthy else 503)

    @http("POST", "/api/admin/tickets")
    @endpoint
    def create_ticket(self, request: Request) -> Response:
        self._admin(request)
        return json_response(self.tickets.create_ticket(read_json(request)), 201)

    @http("GET", "/api/admin/tickets")
    @endpoint
    def list_tickets(self, request: Request) -> Response:
        self._admin(request)
        return json_response(self.portal_query.admin_list_tickets())
