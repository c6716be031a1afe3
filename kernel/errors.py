"""Typed errors shared by every service and understood across RPC.

Each error has a stable ``code`` and the HTTP ``status`` the gateway answers with, and is
registered with Nameko so that an RPC caller receives the same type the callee raised
(not a generic ``RemoteError``). Arguments are JSON-safe: ``(message, fields)``.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class PortalError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


@deserialize_to_instance
class BadRequest(PortalError):
    """The request could not be read at all (malformed JSON, invalid UTF-8, bad parameter)."""

    code, status = "bad_request", 400


@deserialize_to_instance
class ValidationFailed(PortalError):
    """Readable input that breaks a schema or a domain rule; ``fields`` names each problem."""

    code, status = "validation_failed", 422


@deserialize_to_instance
class Unauthenticated(PortalError):
    code, status = "unauthenticated", 401


@deserialize_to_instance
class AccessDenied(PortalError):
    code, status = "forbidden", 403


@deserialize_to_instance
class NoPortalAccess(AccessDenied):
    """A verified user who does not meet the portal's requirements.

    ``fields['missing']`` lists which: ``email``, ``company``, ``ticket``."""

    code = "no_portal_access"


@deserialize_to_instance
class NotFound(PortalError):
    code, status = "not_found", 404


@deserialize_to_instance
class Conflict(PortalError):
    code, status = "conflict", 409


@deserialize_to_instance
class ConcurrencyConflict(Conflict):
    """Another writer appended to the stream first; reload and decide again."""

    code = "concurrency_conflict"


@deserialize_to_instance
class ServiceUnavailable(PortalError):
    code, status = "service_unavailable", 503


@deserialize_to_instance
class UpstreamTimeout(PortalError):
    code, status = "upstream_timeout", 504
