"""The gateway's HTTP server: eventlet's, with every request read whole, in bounded time,
before it may take one of the service's workers.

Nameko runs each connection in a green thread of its own, but a handler reads the body
inside a worker (``MAX_WORKERS``, 10 by default): ten clients that announced a body and
never sent it used to hold every worker, and the gateway answered nobody. Here the
connection's own green thread reads the request first, each part against a deadline:

* the request line and headers within ``HTTP_HEAD_TIMEOUT`` seconds of the connection being
  opened, or of the previous answer on a kept-alive connection (an idle connection is
  closed then, without an answer);
* the body within ``HTTP_BODY_TIMEOUT`` seconds after the headers, at most
  :data:`~services.gateway.inputs.MAX_BODY_BYTES`; a larger ``Content-Length`` is refused
  before a byte of the body is read;
* framing that a proxy in front could read another way is refused: a repeated or
  non-numeric ``Content-Length``, a ``Transfer-Encoding`` other than one ``chunked``, both
  at once, a malformed header or chunk.

Only then does the application see the request, its body in memory. Every refusal is an
answer in the gateway's JSON error shape with the headers of its other answers, and closes
the connection: what follows on it cannot be trusted to be a request.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email import errors as email_errors
from http import HTTPStatus
from typing import Any

import eventlet
from eventlet import wsgi
from eventlet.green import socket as green_socket
from nameko.web.server import HttpOnlyProtocol, WebServer

from kernel.dependencies import REQUEST_ID_HEADER
from kernel.logging import get_logger
from services.gateway.inputs import MAX_BODY_BYTES

log = get_logger(__name__)

DEFAULT_HEAD_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 10.0
# How long a refused client may go on sending before the connection is closed anyway.
LINGER_SECONDS = 2.0
READ_SIZE = 64 * 1024
_DIGITS = re.compile(r"[0-9]{1,19}")
# RFC 9110 field names: a token, so no whitespace before the colon.
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A header line without a colon (the parser takes it and what follows for a body), or an
# empty field name: the parser drops what a proxy may have read. (The parser's complaints
# about a multipart Content-Type without a body are no reason to refuse.)
_HEADER_DEFECTS = (email_errors.MissingHeaderBodySeparatorDefect, email_errors.InvalidHeaderDefect)
# What the standard library's parser sends an error page for, answered in the JSON shape.
_PARSER_ERRORS = {
    HTTPStatus.BAD_REQUEST: ("bad_request", "the request line is malformed"),
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        "headers_too_large",
        "the request headers are too large or too many",
    ),
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: (
        "http_version_not_supported",
        "only HTTP/1.0 and HTTP/1.1 are served",
    ),
}


@dataclass(frozen=True)
class HttpLimits:
    head_seconds: float = DEFAULT_HEAD_TIMEOUT
    body_seconds: float = DEFAULT_BODY_TIMEOUT
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpLimits:
        return cls(
            head_seconds=float(config.get("HTTP_HEAD_TIMEOUT") or DEFAULT_HEAD_TIMEOUT),
            body_seconds=float(config.get("HTTP_BODY_TIMEOUT") or DEFAULT_BODY_TIMEOUT),
        )


class Refusal(Exception):
    """A request the server answers itself, with an error, and then hangs up."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


class ClientGone(Exception):
    """The client closed its side before its request was complete: nothing to answer."""


class BoundedHttpProtocol(HttpOnlyProtocol):
    """Eventlet's HTTP/1.1 protocol, with the reading of a request bounded as described
    above and its own error pages replaced by JSON refusals."""

    server: BoundedHttpServer

    def setup(self) -> None:
        """Each connection without Nagle's algorithm: an answer over one segment would
        otherwise wait for the client's delayed ACK (~40 ms per large answer, measured).
        Set on the connection itself: one accepted from a socket another process bound
        (handed over by socket activation) was measured without it."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_request_line(self) -> str | bytes:
        # Cancelled once the headers are in (parse_request), or here when there is no
        # request to parse.
        self._head_deadline = eventlet.Timeout(self.server.limits.head_seconds)
        try:
            line = super()._read_request_line()
        except eventlet.Timeout as timeout:
            if timeout is not self._head_deadline:
                raise
            return ""  # idle, or a request line too slow to be worth an answer: hang up
        if not line:
            self._head_deadline.cancel()
        elif len(line) >= self.server.url_length_limit:
            self._head_deadline.cancel()
            self._refuse(Refusal(414, "uri_too_long", "the request line is too long"))
            return ""
        return line

    def parse_request(self) -> bool:
        try:
            if not super().parse_request():
                return False  # answered by send_error
            self._check_framing()
            return True
        except eventlet.Timeout as timeout:
            if timeout is not self._head_deadline:
                raise
            self._refuse(
                Refusal(
                    408,
                    "request_timeout",
                    f"the request headers did not arrive within "
                    f"{self.server.limits.head_seconds:g} seconds",
                )
            )
        except (wsgi.HeaderLineTooLong, wsgi.HeadersTooLarge):
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        except Refusal as refusal:
            self._refuse(refusal)
        finally:
            self._head_deadline.cancel()
        return False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """The standard library's error page for a request it cannot parse, as JSON (its
        message quotes the request line: not echoed back)."""
        status = HTTPStatus(code)
        error_code, text = _PARSER_ERRORS.get(
            status, (status.phrase.lower().replace(" ", "_"), status.phrase)
        )
        self._refuse(Refusal(int(status), error_code, text))

    def _check_framing(self) -> None:
        """Refuse any header a proxy in front could read otherwise than this server does."""
        headers = self.headers
        if any(isinstance(defect, _HEADER_DEFECTS) for defect in headers.defects) or any(
            not _FIELD_NAME.fullmatch(name) or "\n" in value or "\r" in value
            for name, value in headers.items()
        ):
            raise Refusal(400, "bad_request", "the request headers are malformed")
        lengths = headers.get_all("Content-Length") or []
        codings = headers.get_all("Transfer-Encoding") or []
        if len(lengths) > 1:
            raise Refusal(
                400,
                "bad_request",
                "the request has more than one Content-Length",
                {"Content-Length": "must be given once"},
            )
        if lengths and not _DIGITS.fullmatch(lengths[0].strip(" \t")):
            raise Refusal(
                400,
                "bad_request",
                "the Content-Length is not a number",
                {"Content-Length": "must be a decimal number of bytes"},
            )
        if lengths and codings:
            raise Refusal(
                400,
                "bad_request",
                "a request may not have both a Content-Length and a Transfer-Encoding",
                {"Transfer-Encoding": "must not be sent with Content-Length"},
            )
        if codings and [coding.strip(" \t").lower() for coding in codings] != ["chunked"]:
            raise Refusal(
                400,
                "bad_request",
                "the only Transfer-Encoding accepted is chunked",
                {"Transfer-Encoding": "must be chunked"},
            )

    def handle_one_response(self) -> None:
        """Read the whole body in this connection's green thread, then let the application
        answer from memory."""
        try:
            body = self._read_body()
        except Refusal as refusal:
            self._refuse(refusal)
            return
        except ClientGone:
            self.close_connection = 1
            return
        self.environ["wsgi.input"] = io.BytesIO(body)
        self.environ["CONTENT_LENGTH"] = str(len(body))
        self.environ.pop("HTTP_TRANSFER_ENCODING", None)
        super().handle_one_response()

    def _read_body(self) -> bytes:
        request_input = self.environ["eventlet.input"]
        limits = self.server.limits
        too_large = Refusal(
            413, "payload_too_large", f"the body is larger than {limits.max_body_bytes} bytes"
        )
        if not request_input.chunked_input:
            if request_input.content_length > limits.max_body_bytes:
                raise too_large
            if request_input.content_length == 0:
                return b""
        pieces: list[bytes] = []
        received = 0
        deadline = eventlet.Timeout(limits.body_seconds)
        try:
            # In pieces: memory grows with what arrives, not with what was announced.
            while piece := request_input.read(min(READ_SIZE, limits.max_body_bytes + 1 - received)):
                pieces.append(piece)
                received += len(piece)
                if received > limits.max_body_bytes:
                    raise too_large
        except eventlet.Timeout as timeout:
            if timeout is not deadline:
                raise
            raise Refusal(
                408,
                "request_timeout",
                f"the body did not arrive within {limits.body_seconds:g} seconds",
            ) from None
        except wsgi.ChunkReadError:
            raise Refusal(400, "bad_request", "the chunked body is malformed") from None
        except OSError as error:  # the connection ended, or the socket timed out
            raise ClientGone() from error
        finally:
            deadline.cancel()
        if not request_input.chunked_input and received < request_input.content_length:
            raise ClientGone()
        return b"".join(pieces)

    def _refuse(self, refusal: Refusal) -> None:
        """Answer ``refusal`` in the gateway's error shape, then hang up."""
        self.close_connection = 1
        correlation_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "error": {
                    "code": refusal.code,
                    "message": refusal.message,
                    "fields": refusal.fields,
                }
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Date": wsgi.format_date_time(time.time()),
            "Connection": "close",
            **self.server.answer_headers,
            "Cache-Control": "no-store",
            REQUEST_ID_HEADER: correlation_id,
        }
        head = f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        log.info(
            "http request refused",
            status=refusal.status,
            code=refusal.code,
            correlation_id=correlation_id,
        )
        try:
            self.wfile.write(head.encode("latin-1") + b"\r\n" + body)
            self.wfile.flush()
            self._drain_before_closing()
        except OSError:
            pass  # the client is gone: nothing more to do

    def _drain_before_closing(self) -> None:
        """Half-close, then read and drop what the client still sends, for a moment: a
        socket closed with unread data resets the connection, which can destroy the answer
        before the client has read it."""
        self.connection.shutdown(socket.SHUT_WR)
        with eventlet.Timeout(LINGER_SECONDS, False):
            while self.connection.recv(65536):
                pass


class BoundedHttpServer(wsgi.Server):
    def __init__(
        self, *args: Any, limits: HttpLimits, answer_headers: Mapping[str, str], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.answer_headers = dict(answer_headers)


class BoundedWebServer(WebServer):
    """Nameko's web server on :class:`BoundedHttpProtocol`. ``answer_headers`` go on the
    answers the server gives itself (the application decorates its own)."""

    answer_headers: Mapping[str, str] = {}

    def start(self):
        """Nameko's start, on the listening socket the supervisor handed over if there is
        one (:func:`inherited_listener`), else on a socket bound with ``SO_REUSEPORT``:
        every gateway copy binds the same port and the kernel spreads new connections over
        them."""
        if not self._starting:
            self._starting = True
            self._sock = inherited_listener() or eventlet.listen(self.bind_addr, reuse_port=True)
            self._sock.settimeout(None)  # as Nameko: kombu issue 838
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def get_wsgi_server(self, sock, wsgi_app, protocol=BoundedHttpProtocol, debug=False):
        """Without eventlet's access log (the application logs each request itself). A
        client that stops reading an answer is dropped when the longer of the two
        deadlines has passed without progress."""
        limits = HttpLimits.from_config(self.container.config)
        return BoundedHttpServer(
            sock,
            sock.getsockname(),
            wsgi_app,
            protocol=protocol,
            debug=debug,
            log_output=False,
            socket_timeout=max(limits.head_seconds, limits.body_seconds),
            limits=limits,
            answer_headers=self.answer_headers,
        )


# systemd's socket activation: the first handed-over descriptor, and the variables naming
# how many there are and which process they are for.
LISTEN_FDS_START = 3


def inherited_listener() -> green_socket.socket | None:
    """The listening socket handed over by systemd's socket activation protocol
    (``LISTEN_FDS`` descriptors from 3, for the process ``LISTEN_PID``), as systemd and
    ``portalctl run`` do. Every gateway copy then accepts from one queue, which outlives
    any copy: a connection waiting there when a copy is killed or stops is taken by
    another, never reset with it. The variables are removed, so nothing this process
    starts takes them for its own."""
    count, pid = os.environ.pop("LISTEN_FDS", ""), os.environ.pop("LISTEN_PID", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if pid != str(os.getpid()) or count != "1":
        return None
    sock = green_socket.socket(fileno=LISTEN_FDS_START)
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise RuntimeError("the socket handed over (LISTEN_FDS) is not listening")
    return sock
