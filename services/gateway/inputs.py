"""Reading what a caller sends: JSON bodies, ticket list queries, path ids, headers.

Everything here is strict and cheap: a body is read only up to :data:`MAX_BODY_BYTES`,
nesting is measured before the JSON parser sees the text (so no input can make it recurse
deeply), and a query parameter that is unknown, repeated or malformed is a 400 naming it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from kernel.contracts import commands
from kernel.contracts import fields as f
from kernel.contracts.validation import validate
from kernel.errors import BadRequest, NotFound, ValidationFailed

# Documented in openapi.yaml: the largest body the gateway reads, and the deepest JSON it
# parses. A ticket at every limit of kernel/contracts/fields.py (70,350 characters of text)
# fits even when each character is an astral one sent as a \uXXXX\uXXXX escape (12 bytes).
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 16
MAX_IDEMPOTENCY_KEY = 128
MAX_TICKET_ID = f.ticket_id()["max"]

_ENTITY_ID = re.compile(f.ID_PATTERN)
_TICKET_NUMBER = re.compile(r"[1-9][0-9]{0,15}")
_COUNT = re.compile(r"[0-9]{1,9}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The offset within a day, as openapi.yaml's QueryMoment says (Python alone takes "-00:60").
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?"
)
# A JSON string (closing quote optional, so an unterminated one is consumed in one pass) or
# a bracket: enough to measure nesting without parsing.
_JSON_NESTING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_DATE_PARAMETERS = ("created_from", "created_to", "updated_from", "updated_to")
_COUNT_PARAMETERS = ("page", "per_page")


def read_body(request: Request) -> bytes:
    """The raw body, at most :data:`MAX_BODY_BYTES` (413 beyond), read once and cached.

    The HTTP server (``http_server.py``) has read every body whole, chunked ones included,
    and states its length; the limit here is a second guard."""
    if "portal.body" not in request.environ:
        request.environ["portal.body"] = request.get_data(cache=False)
    return request.environ["portal.body"]


def _is_json(request: Request) -> bool:
    return request.mimetype == "application/json"


def require_json_content_type(request: Request) -> None:
    """Writes must say they are JSON: a cross-site HTML form cannot send this content type,
    and a cross-origin script can only after a CORS preflight the gateway never grants."""
    if not _is_json(request):
        raise BadRequest(
            "the body must be JSON, sent with Content-Type: application/json",
            {"Content-Type": "must be application/json"},
        )


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    document = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key[:64]!r}")
        document[key] = value
    return document


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (strings skipped), in one pass."""
    depth = deepest = 0
    for token in _JSON_NESTING_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    return deepest


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, nesting at most :data:`MAX_JSON_DEPTH`, no duplicate keys, no
    NaN or Infinity. Anything else is a :class:`BadRequest` (400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            "the body is not valid UTF-8", {"body": f"invalid byte at offset {error.start}"}
        ) from error
    if json_depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(
            "the body nests too deeply", {"body": f"nests deeper than {MAX_JSON_DEPTH} levels"}
        )
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except ValueError as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise BadRequest("the body is not valid JSON", {"body": detail[:200]}) from error


def read_json(request: Request) -> Any:
    """The request's JSON body (a JSON content type is required)."""
    require_json_content_type(request)
    return parse_json(read_body(request))


def read_optional_json_object(request: Request) -> Any:
    """A body that may be left out (then ``{}``); when present it must be JSON."""
    if not read_body(request).strip():
        return {}
    return read_json(request)


def idempotency_key_of(request: Request) -> str | None:
    """The ``Idempotency-Key`` header: absent, or 1-128 printable ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not (key.isascii() and key.isprintable()):
        raise BadRequest(
            "the Idempotency-Key header is malformed",
            {"Idempotency-Key": f"must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters"},
        )
    return key


def ticket_number(text: str) -> int:
    """A ticket id from the path; anything that cannot be one is simply not found."""
    if _TICKET_NUMBER.fullmatch(text) and int(text) <= MAX_TICKET_ID:
        return int(text)
    raise NotFound(f"ticket {text[:32]} does not exist")


def entity_id(text: str, what: str) -> str:
    """A contact, company or conversation id from the path; a malformed one names nothing."""
    if _ENTITY_ID.fullmatch(text):
        return text
    raise NotFound(f"{what} {text[:64]} does not exist")


def _epoch_seconds(name: str, value: str) -> float:
    """ISO 8601 date or date-time as epoch seconds; naive times are UTC. A date alone means
    the whole day: its start for ``*_from``, its last microsecond for ``*_to``."""
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            if name.endswith("_to"):
                moment += timedelta(days=1) - timedelta(microseconds=1)
            return moment.timestamp()
        if _DATETIME.fullmatch(value):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    except ValueError:
        pass
    raise BadRequest(
        f"query parameter {name} is not an ISO 8601 date or date-time",
        {name: "must be an ISO 8601 date (2024-05-31) or date-time (2024-05-31T17:00:00Z)"},
    )


def parse_ticket_query(args: MultiDict) -> dict:
    """The list query of ``GET .../tickets`` as ``TICKET_QUERY``: every parameter known,
    given at most once, typed; an empty value counts as not given."""
    query: dict[str, Any] = {}
    for name in args:
        values = args.getlist(name)
        if name not in commands.TICKET_QUERY:
            raise BadRequest(f"unknown query parameter {name[:64]}", {name: "is not a parameter"})
        if len(values) > 1:
            raise BadRequest(f"query parameter {name} is repeated", {name: "must be given once"})
        value = values[0]
        if value == "":
            continue
        if name in _DATE_PARAMETERS:
            query[name] = _epoch_seconds(name, value)
        elif name in _COUNT_PARAMETERS:
            if not _COUNT.fullmatch(value):
                raise BadRequest(
                    f"query parameter {name} is not a number", {name: "must be an integer"}
                )
            query[name] = int(value)
        else:
            query[name] = value
    try:
        return validate(commands.TICKET_QUERY, query, "ticket query")
    except ValidationFailed as error:
        raise BadRequest(error.message, error.fields) from error
