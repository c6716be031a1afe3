"""The one mapping from exceptions to HTTP answers: platform errors keep their status and
message, routing errors become JSON, and nothing unexpected ever shows its details."""

from __future__ import annotations

import json

import pytest
from nameko.exceptions import MethodNotFound, RemoteError
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as NoSuchRoute

from kernel import errors
from services.gateway.entrypoints import error_response, route


def body_of(response) -> dict:
    return json.loads(response.get_data())


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.BadRequest("unreadable"), 400, "bad_request"),
        (errors.Unauthenticated("who are you"), 401, "unauthenticated"),
        (errors.AccessDenied("not you"), 403, "forbidden"),
        (errors.NoPortalAccess("no access", {"missing": ["email"]}), 403, "no_portal_access"),
        (errors.NotFound("nothing"), 404, "not_found"),
        (errors.Conflict("taken"), 409, "conflict"),
        (errors.ConcurrencyConflict("raced"), 409, "concurrency_conflict"),
        (errors.ValidationFailed("bad", {"title": "required field"}), 422, "validation_failed"),
        (errors.ServiceUnavailable("down"), 503, "service_unavailable"),
        (errors.UpstreamTimeout("slow"), 504, "upstream_timeout"),
        (NoSuchRoute(), 404, "not_found"),
        (MethodNotAllowed(["GET"]), 405, "method_not_allowed"),
        (RequestEntityTooLarge(), 413, "payload_too_large"),
    ],
)
def test_each_error_type_has_its_status_and_code(error, status, code):
    response = error_response(error)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = body_of(response)
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code


def test_a_platform_error_keeps_its_message_and_fields():
    error = errors.ValidationFailed("invalid ticket: title required field", {"title": "required"})
    assert body_of(error_response(error))["error"] == {
        "code": "validation_failed",
        "message": "invalid ticket: title required field",
        "fields": {"title": "required"},
    }


def test_a_401_asks_for_a_bearer_token_and_a_405_says_what_is_allowed():
    assert error_response(errors.Unauthenticated("x")).headers["WWW-Authenticate"] == "Bearer"
    allowed = error_response(MethodNotAllowed(["GET", "POST"])).headers["Allow"]
    assert allowed == "GET, POST"


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("database password is hunter2"),
        KeyError("internal_key"),
        RemoteError("ValueError", "stack of the tickets service: hunter2"),
        MethodNotFound("tickets.hunter2"),
    ],
)
def test_an_unexpected_error_answers_500_without_any_detail(error):
    response = error_response(error)
    assert response.status_code == 500
    assert body_of(response)["error"] == {
        "code": "internal_error",
        "message": "the server could not answer this request",
        "fields": {},
    }
    assert b"hunter2" not in response.get_data() and b"internal_key" not in response.get_data()


def test_a_handler_that_raises_is_answered_by_the_mapping():
    class Service:
        @route("GET", "/boom")
        def boom(self, request):
            raise ValueError("secret detail")

        @route("GET", "/missing")
        def missing(self, request):
            raise errors.NotFound("ticket 7 does not exist")

    crashed = Service().boom(None)
    assert crashed.status_code == 500 and b"secret detail" not in crashed.get_data()
    missing = Service().missing(None)
    assert missing.status_code == 404
    assert body_of(missing)["error"]["message"] == "ticket 7 does not exist"
