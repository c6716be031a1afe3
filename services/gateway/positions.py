"""Read-your-writes for a portal user: the store position of their last write travels with
them. A write answers it in the ``Portal-Position`` header; the page sends the highest one
it has seen back with each read, and the read is answered once the projection shows it.

A position is only a lower bound for the reader's own view, so a client can gain nothing by
sending another: one the store does not have yet is not waited for (see portal_query)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from kernel.errors import BadRequest
from services.gateway.responses import json_response

POSITION_HEADER = "Portal-Position"
MAX_POSITION_DIGITS = 18  # below 2**63: a store position, not a number to choke on


def read_position(request: Request) -> int:
    """The position the reader's view must show (0: none named)."""
    supplied = request.headers.get(POSITION_HEADER)
    if supplied is None:
        return 0
    supplied = supplied.strip()
    if not (supplied.isascii() and supplied.isdigit() and len(supplied) <= MAX_POSITION_DIGITS):
        raise BadRequest(
            f"the {POSITION_HEADER} header must be a store position",
            {POSITION_HEADER: "must be a non-negative integer"},
        )
    return int(supplied)


def answer_with_position(answer: dict, status: int = 200) -> Response:
    """A write RPC's answer as JSON, its store position moved to the header."""
    body = dict(answer)
    position = body.pop("position")
    response = json_response(body, status)
    response.headers[POSITION_HEADER] = str(position)
    return response
