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

    def __init_subclass__(cls, code: str | None = None, status: int | None = None, **kwargs):
        """``class NotFound(PortalError, code="not_found", status=404)``: the subclass gets
        its code and status (or its parent's) and, when it is built from ``(message,
        fields)`` like this class, is registered with Nameko (a subclass with arguments of
        its own could not be rebuilt from them on the caller's side)."""
        super().__init_subclass__(**kwargs)
        cls.code = code or cls.code
        cls.status = status or cls.status
        if cls.__init__ is PortalError.__init__:
            deserialize_to_instance(cls)

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class BadRequest(PortalError, code="bad_request", status=400):
    """The request could not be read at all (malformed JSON, invalid UTF-8, bad parameter)."""


class ValidationFailed(PortalError, code="validation_failed", status=422):
    """Readable input that breaks a schema or a domain rule; ``fields`` names each problem."""


class Unauthenticated(PortalError, code="unauthenticated", status=401): ...


class AccessDenied(PortalError, code="forbidden", status=403): ...


class NoPortalAccess(AccessDenied, code="no_portal_access"):
    """A verified user who does not meet the portal's requirements.

    ``fields['missing']`` lists which: ``email``, ``company``, ``ticket``."""


class PortalDisabled(AccessDenied, code="portal_disabled"):
    """The teammates turned the customer portal off."""


class NotFound(PortalError, code="not_found", status=404): ...


class Conflict(PortalError, code="conflict", status=409): ...


class ConcurrencyConflict(Conflict, code="concurrency_conflict"):
    """Another writer appended to the stream first; reload and decide again."""


class ServiceUnavailable(PortalError, code="service_unavailable", status=503): ...


class UpstreamTimeout(PortalError, code="upstream_timeout", status=504): ...


# The fields of a :class:`ServiceUnavailable` from a read side copy still loading its
# projection: its callers may ask again (another copy may serve), unlike a read that timed out
# waiting for a position.
PROJECTION_LOADING = {"projection": "loading"}
