"""The gateway as an HTTP server, through the real stack: security headers on every answer,
JSON 404/405, the web page and its files, /healthz, and one log line per request."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path

import pytest

from portalctl.stack import REPOSITORY
from services.gateway.dependencies import CONTENT_TYPES
from tests.support.api import error_of
from tests.support.stack import ADMIN_TOKEN, service_log

WEB_ROOT = REPOSITORY / "services" / "gateway" / "web"
SERVICES = {"identity", "companies", "tickets", "messenger_bridge", "portal_query", "notifications"}


def raw_get(stack, path: str) -> http.client.HTTPResponse:
    """A GET with the path sent exactly as written (HTTP clients normalise ``..``)."""
    host, port = stack.env["WEB_SERVER_ADDRESS"].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def assert_security_headers(headers) -> None:
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["Content-Security-Policy"].split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


# health -----------------------------------------------------------------------------------


def test_healthz_reports_every_service(api):
    answer = api.call("GET", "/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["services"]) == SERVICES
    assert all(report["status"] == "ok" for report in body["services"].values())


# security headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "admin"),
    [
        ("GET", "/healthz", 200, False),
        ("GET", "/api/admin/portal/settings", 200, True),
        ("GET", "/api/admin/portal/settings", 401, False),
        ("GET", "/api/portal/me", 401, False),
        ("GET", "/api/admin/tickets/999999", 404, True),
        ("GET", "/api/nothing-here", 404, False),
        ("DELETE", "/api/admin/tickets", 405, True),
        ("GET", "/", 200, False),
        ("GET", "/static/index.html", 200, False),
    ],
)
def test_every_answer_carries_the_security_headers(api, method, path, status, admin):
    answer = api.call(method, path, as_admin=admin, conform=False)
    assert answer.status_code == status
    assert_security_headers(answer.headers)
    if path.startswith("/api/") or path == "/healthz":
        assert answer.headers["Cache-Control"] == "no-store"


# routing errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nothing", "/api", "/api/portal/me/", "/api/admin/tickets/1/nothing"]
)
def test_an_unknown_address_is_a_json_404(api, path):
    answer = api.call("GET", path, conform=False)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert error_of(answer) == {
        "code": "not_found",
        "message": "there is nothing at this address",
        "fields": {},
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/admin/tickets", {"GET", "HEAD", "POST"}),
        ("DELETE", "/api/portal/me", {"GET", "HEAD"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("PATCH", "/api/portal/session", {"POST", "DELETE"}),
    ],
)
def test_a_method_the_address_does_not_accept_is_a_json_405(api, method, path, allowed):
    answer = api.call(method, path, as_admin=True, conform=False)
    assert answer.status_code == 405
    assert error_of(answer)["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) == allowed


def test_an_answer_never_shows_a_stack_trace(api):
    """Even a request the gateway cannot route or read answers in the error shape."""
    for method, path, body in [
        ("POST", "/api/admin/tickets", b"\x00\x01"),
        ("POST", "/api/admin/tickets/abc/conversation", b"{}"),
        ("GET", "/api/admin/tickets?page=" + "9" * 5000, None),
    ]:
        answer = api.call(
            method,
            path,
            as_admin=True,
            conform=False,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= answer.status_code < 500
        assert "Traceback" not in answer.text
        assert set(error_of(answer)) == {"code", "message", "fields"}


# the web page -------------------------------------------------------------------------------


def test_the_web_folder_holds_the_page():
    assert (WEB_ROOT / "index.html").is_file()


@pytest.mark.parametrize(
    "path", ["/", "/tickets/42", "/messenger", "/messenger/conversations/conv-1"]
)
def test_the_page_is_served_for_its_own_routes(api, path):
    answer = api.call("GET", path)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.content == (WEB_ROOT / "index.html").read_bytes()


def test_every_file_of_the_page_is_served_with_its_content_type(api):
    files = [path for path in WEB_ROOT.rglob("*") if path.is_file()]
    assert files
    for path in files:
        relative = path.relative_to(WEB_ROOT).as_posix()
        answer = api.call("GET", f"/static/{relative}", conform=False)
        assert answer.status_code == 200, relative
        assert answer.content == path.read_bytes(), relative
        expected = CONTENT_TYPES.get(Path(relative).suffix.lower(), "application/octet-stream")
        assert answer.headers["Content-Type"] == expected, relative
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_script_is_served_as_javascript(api):
    scripts = sorted(WEB_ROOT.rglob("*.js"))
    assert scripts, "the page has no scripts yet"
    relative = scripts[0].relative_to(WEB_ROOT).as_posix()
    answer = api.call("GET", f"/static/{relative}", conform=False)
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../service.py",
        "/static/../../../config.yml",
        "/static/%2e%2e/service.py",
        "/static/..%2fservice.py",
        "/static/js/../../service.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/..\\service.py",
        "/static/js",
        "/static/no-such-file.js",
    ],
)
def test_no_file_outside_the_web_folder_is_ever_served(platform, path):
    stack, _ = platform
    answer = raw_get(stack, path)
    assert answer.status == 404, (path, answer.body[:200])
    assert json.loads(answer.body)["error"]["code"] == "not_found"
    assert b"import" not in answer.body and b"root:" not in answer.body


# the request log ------------------------------------------------------------------------------


def test_each_request_is_logged_once_with_its_route_and_never_its_secrets(platform):
    stack, api = platform
    correlation_id = f"log-check-{uuid.uuid4().hex}"
    canary = f"canary-{uuid.uuid4().hex}"
    answer = api.admin(
        "POST",
        "/api/admin/companies",
        json={"id": f"log-{uuid.uuid4().hex[:8]}", "name": canary},
        headers={"X-Request-ID": correlation_id, "Cookie": f"portal_session={canary}"},
    )
    assert answer.status_code == 201
    assert answer.headers["X-Request-ID"] == correlation_id
    log_text = service_log(stack, "gateway")
    lines = [json.loads(line) for line in log_text.splitlines() if correlation_id in line]
    requests_logged = [line for line in lines if line["event"] == "http request"]
    assert len(requests_logged) == 1
    assert {
        key: requests_logged[0][key] for key in ("method", "route", "status", "correlation_id")
    } == {
        "method": "POST",
        "route": "/api/admin/companies",
        "status": 201,
        "correlation_id": correlation_id,
    }
    assert requests_logged[0]["duration_ms"] >= 0
    assert ADMIN_TOKEN not in log_text
    assert canary not in log_text


def test_a_request_without_an_id_gets_a_new_correlation_id(api):
    first = api.call("GET", "/healthz").headers["X-Request-ID"]
    second = api.call("GET", "/healthz").headers["X-Request-ID"]
    assert first != second
    assert uuid.UUID(first)
