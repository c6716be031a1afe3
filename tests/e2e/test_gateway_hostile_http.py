"""Hostile HTTP clients against the gateway of a real stack, over raw loopback sockets:
stalled and trickled requests hold no worker and are cut at their deadline, framing a proxy
could read otherwise is refused, bodies over the limit are refused unread, and every answer
the server gives itself has the JSON error shape and the security headers."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
import uuid

import pytest

from services.gateway.inputs import MAX_BODY_BYTES
from tests.e2e.test_gateway_http import assert_security_headers
from tests.support.api import api_stack
from tests.support.stack import ADMIN_TOKEN, service_log

# Short deadlines so the tests that wait for them stay short; the defaults are 10 s.
HEAD_TIMEOUT = 4
BODY_TIMEOUT = 4
ADMIN = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
ADMIN_JSON = ADMIN + "Content-Type: application/json\r\n"
STALLED_HEADERS = b"POST /api/portal/session HTTP/1.1\r\nHost: gateway\r\nContent-Type: appl"
STALLED_BODY = (
    b"POST /api/portal/session HTTP/1.1\r\nHost: gateway\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    b'{"user_id": "'
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """The stack's gateway address (host, port), a client of its API, and the stack."""
    root = tmp_path_factory.mktemp("gateway_hostile_http")
    with api_stack(
        root, HTTP_HEAD_TIMEOUT=str(HEAD_TIMEOUT), HTTP_BODY_TIMEOUT=str(BODY_TIMEOUT)
    ) as (stack, api):
        host, port = stack.env["WEB_SERVER_ADDRESS"].rsplit(":", 1)
        yield (host, int(port)), api, stack


def connect(address: tuple[str, int], data: bytes = b"") -> socket.socket:
    connection = socket.create_connection(address, timeout=30)
    if data:
        connection.sendall(data)
    return connection


def read_answer(connection: socket.socket) -> tuple[http.client.HTTPResponse, bytes]:
    answer = http.client.HTTPResponse(connection, method="POST")
    answer.begin()
    return answer, answer.read()


def exchange(address: tuple[str, int], data: bytes) -> tuple[http.client.HTTPResponse, bytes]:
    """Send ``data`` as written on a new connection; the answer, once the server hung up."""
    with connect(address, data) as connection:
        answer, body = read_answer(connection)
        assert hung_up(connection)
    return answer, body


def hung_up(connection: socket.socket) -> bool:
    """Whether the server has closed the connection (waits for it, up to the socket's
    timeout)."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def still_open(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    return not readable


def request(method: str, path: str, headers: str = "", body: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: gateway\r\n{headers}\r\n".encode() + body


def company_body(company_id: str) -> bytes:
    return json.dumps({"id": company_id, "name": "Smuggled"}).encode()


def assert_refused(answer: http.client.HTTPResponse, body: bytes, status: int, code: str):
    """An answer the server gave itself: the JSON error shape, the headers of every other
    answer, and the connection closed."""
    assert answer.status == status, body
    assert answer.getheader("Content-Type") == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert_security_headers(answer.headers)
    assert answer.getheader("Cache-Control") == "no-store"
    assert uuid.UUID(answer.getheader("X-Request-ID"))
    assert answer.getheader("Connection") == "close"


# slowloris ----------------------------------------------------------------------------------


class Slowloris:
    """Keeps ``count`` connections of each kind stalled on the gateway, some in their headers
    and some in a 100 KB body they announced, opening a new one whenever the server closes
    one, until stopped."""

    def __init__(self, address: tuple[str, int], count: int):
        self.address = address
        self.stalls = [STALLED_HEADERS, STALLED_BODY] * count
        self.connections = [connect(address, stall) for stall in self.stalls]
        self.reopened = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.keep_stalling, daemon=True)
        self.thread.start()

    def keep_stalling(self) -> None:
        while not self.stopped.wait(0.1):
            for index, connection in enumerate(self.connections):
                if not still_open(connection):
                    connection.close()
                    self.connections[index] = connect(self.address, self.stalls[index])
                    self.reopened += 1

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in self.connections:
            connection.close()


def test_stalled_clients_do_not_stop_the_gateway_answering_others(gateway):
    """Twenty clients stalled in their headers and twenty in an announced 100 KB body (twice
    the gateway's workers), kept up past the deadlines: everyone else is still answered,
    health checks, reads and writes alike, while the attack goes on."""
    address, api, _ = gateway
    attack = Slowloris(address, count=20)
    try:
        until = time.monotonic() + HEAD_TIMEOUT + 2
        answered = 0
        while time.monotonic() < until:
            company_id = f"busy-{uuid.uuid4().hex[:8]}"
            for method, path, options, status in [
                ("GET", "/healthz", {}, 200),
                ("GET", "/api/admin/portal/settings", {"as_admin": True}, 200),
                (
                    "POST",
                    "/api/admin/companies",
                    {"as_admin": True, "json": {"id": company_id, "name": "Busy"}},
                    201,
                ),
                ("GET", "/api/portal/me", {}, 401),
            ]:
                answer = api.call(method, path, **options)
                assert answer.status_code == status, (path, answer.text)
                answered += 1
        assert answered >= 4
        assert attack.reopened >= 40, "the attack was not kept up past the deadlines"
    finally:
        attack.stop()


def test_a_request_is_cut_at_its_deadline_however_slowly_it_trickles(gateway):
    """Stalled headers and stalled bodies are answered 408 at their deadline; a request
    that trickles a byte at a time is cut at the same deadline, not kept alive by it; an
    idle connection, fresh or kept alive after an answer, is closed without one."""
    address, _, _ = gateway
    started = time.monotonic()
    stalled_headers = connect(address, STALLED_HEADERS)
    stalled_body = connect(address, STALLED_BODY)
    idle = connect(address)
    kept_alive = connect(address, request("GET", "/healthz"))
    answer, _ = read_answer(kept_alive)
    assert answer.status == 200 and not answer.will_close
    trickled = connect(address, b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")
    # 30 s of headers at this pace: far past the deadline.
    for byte in b"X-Slow: " + b"z" * 70 + b"\r\n\r\n":
        readable, _, _ = select.select([trickled], [], [], 0.4)
        if readable or time.monotonic() - started > HEAD_TIMEOUT + 4:
            break
        trickled.sendall(bytes([byte]))
    assert time.monotonic() - started < HEAD_TIMEOUT + 4, "the trickle was never cut"

    for connection, deadline in [
        (stalled_headers, HEAD_TIMEOUT),
        (trickled, HEAD_TIMEOUT),
        (stalled_body, BODY_TIMEOUT),
    ]:
        answer, body = read_answer(connection)
        assert_refused(answer, body, 408, "request_timeout")
        assert f"{deadline} seconds" in json.loads(body)["error"]["message"]
        assert hung_up(connection)
    assert hung_up(idle) and hung_up(kept_alive)
    for connection in (stalled_headers, stalled_body, idle, kept_alive, trickled):
        connection.close()


def test_keep_alive_and_a_chunked_body_still_work(gateway):
    address, api, _ = gateway
    company_id = f"chunked-{uuid.uuid4().hex[:8]}"
    body = company_body(company_id)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with connect(address) as connection:
        connection.sendall(request("GET", "/healthz"))
        first, _ = read_answer(connection)
        connection.sendall(
            request(
                "POST",
                "/api/admin/companies",
                ADMIN_JSON + "Transfer-Encoding: chunked\r\n",
                chunked,
            )
        )
        second, created = read_answer(connection)
    assert first.status == 200
    assert second.status == 201, created
    assert api.admin("GET", f"/api/admin/companies/{company_id}").status_code == 200


def test_expect_100_continue_is_honoured(gateway):
    address, _, _ = gateway
    company_id = f"continue-{uuid.uuid4().hex[:8]}"
    body = company_body(company_id)
    headers = (
        ADMIN + "Content-Type: application/json\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    with connect(address, request("POST", "/api/admin/companies", headers)) as connection:
        interim = connection.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        connection.sendall(body)
        answer, created = read_answer(connection)
    assert answer.status == 201, created


# bodies over the limit --------------------------------------------------------------------


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(gateway):
    """Nothing of the body is sent: had the server waited for it, this would be a 408."""
    address, _, _ = gateway
    answer, body = exchange(
        address,
        request(
            "POST",
            "/api/admin/companies",
            ADMIN_JSON + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n",
        ),
    )
    assert_refused(answer, body, 413, "payload_too_large")


def test_expect_100_continue_over_the_limit_is_refused_without_a_continue(gateway):
    address, _, _ = gateway
    headers = f"Expect: 100-continue\r\nContent-Length: {10 * MAX_BODY_BYTES}\r\n"
    answer, body = exchange(address, request("POST", "/api/admin/companies", headers))
    assert_refused(answer, body, 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_refused(gateway):
    address, _, _ = gateway
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17)) + b"0\r\n\r\n"
    headers = ADMIN_JSON + "Transfer-Encoding: chunked\r\n"
    answer, body = exchange(address, request("POST", "/api/admin/companies", headers, chunks))
    assert_refused(answer, body, 413, "payload_too_large")


# framing ------------------------------------------------------------------------------------


def smuggling_attempts() -> list:
    """Headers (after the admin token and the JSON content type) and a body that would
    create the company ``smuggled`` if the server read them as some proxy might."""
    body = company_body("smuggled")
    length = len(body)
    return [
        pytest.param(f"Content-Length: {length}\r\nContent-Length: 5\r\n", body, id="two-lengths"),
        pytest.param(
            f"Content-Length: {length}\r\nContent-Length: {length}\r\n", body, id="same-twice"
        ),
        pytest.param(f"Content-Length: {length}, {length}\r\n", body, id="length-list"),
        pytest.param(f"Content-Length: +{length}\r\n", body, id="signed-length"),
        pytest.param(f"Content-Length: {length // 10}_{length % 10}\r\n", body, id="underscore"),
        pytest.param(f"Content-Length: {length:#x}\r\n", body, id="hex-length"),
        pytest.param("Content-Length: -1\r\n", body, id="negative-length"),
        pytest.param(
            f"Content-Length: {length}\r\nTransfer-Encoding: chunked\r\n",
            b"%x\r\n%s\r\n0\r\n\r\n" % (length, body),
            id="length-and-chunked",
        ),
        pytest.param("Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n", id="gzip-chunked"),
        pytest.param(
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            b"0\r\n\r\n",
            id="chunked-twice",
        ),
        pytest.param("Transfer-Encoding: xchunked\r\n", body, id="unknown-coding"),
        pytest.param(f"Content-Length : {length}\r\n", body, id="space-before-colon"),
        pytest.param(f"Content-Length:\r\n {length}\r\n", body, id="folded-header"),
        pytest.param(f"X-Note no colon\r\nContent-Length: {length}\r\n", body, id="no-colon"),
        pytest.param(f": no name\r\nContent-Length: {length}\r\n", body, id="empty-name"),
    ]


@pytest.mark.parametrize(("headers", "body"), smuggling_attempts())
def test_framing_a_proxy_could_read_otherwise_is_refused_and_nothing_is_done(
    gateway, headers, body
):
    address, api, _ = gateway
    answer, answer_body = exchange(
        address, request("POST", "/api/admin/companies", ADMIN_JSON + headers, body)
    )
    assert_refused(answer, answer_body, 400, "bad_request")
    assert api.admin("GET", "/api/admin/companies/smuggled").status_code == 404


def test_a_malformed_chunk_is_a_400_and_logged(gateway):
    address, _, stack = gateway
    headers = ADMIN_JSON + "Transfer-Encoding: chunked\r\n"
    answer, body = exchange(
        address, request("POST", "/api/admin/companies", headers, b"zz\r\nabc\r\n0\r\n\r\n")
    )
    assert_refused(answer, body, 400, "bad_request")
    assert json.loads(body)["error"]["message"] == "the chunked body is malformed"
    correlation_id = answer.getheader("X-Request-ID")
    logged = [
        json.loads(line)
        for line in service_log(stack, "gateway").splitlines()
        if correlation_id in line
    ]
    assert [(line["event"], line["status"], line["code"]) for line in logged] == [
        ("http request refused", 400, "bad_request")
    ]


# what the server answers itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param(
            request("GET", "/healthz", "X-Long: " + "a" * 9000 + "\r\n"),
            431,
            "headers_too_large",
            id="header-line-over-8kb",
        ),
        pytest.param(
            request("GET", "/healthz", "".join(f"X-{n}: {'a' * 1000}\r\n" for n in range(70))),
            431,
            "headers_too_large",
            id="headers-over-64kb",
        ),
        pytest.param(
            request("GET", "/healthz", "".join(f"X-{n}: a\r\n" for n in range(101))),
            431,
            "headers_too_large",
            id="over-100-headers",
        ),
        pytest.param(
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long", id="long-line"
        ),
        pytest.param(b"GARBAGE\r\n\r\n", 400, "bad_request", id="garbage-line"),
        pytest.param(b"GET /healthz HTTP/x.y\r\n\r\n", 400, "bad_request", id="bad-version"),
        pytest.param(
            b"GET /healthz HTTP/2.0\r\n\r\n", 505, "http_version_not_supported", id="http2"
        ),
    ],
)
def test_the_servers_own_errors_are_json_with_the_security_headers(gateway, raw, status, code):
    address, _, _ = gateway
    answer, body = exchange(address, raw)
    assert_refused(answer, body, status, code)
    assert b"GARBAGE" not in body
