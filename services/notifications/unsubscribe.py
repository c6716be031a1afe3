"""Signed one-click unsubscribe links (RFC 8058): the token names a contact and the list an
e-mail came on, signed with a key derived from ``PORTAL_SESSION_SECRET`` for this one use,
so only the platform can make one and nobody can turn off another contact's mail by
guessing. The token never expires: an unsubscribe link must keep working as long as the
e-mail is kept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from kernel.contracts import fields as f
from kernel.contracts.validation import validate
from kernel.errors import NotFound

_PURPOSE = b"notifications:unsubscribe:v1"
_CLAIMS = {
    "sub": {**f.entity_id(), "required": True},
    "list": {"type": "string", "allowed": list(f.NOTIFICATION_LISTS), "required": True},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeSigner:
    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()

    def _signature(self, claims: str) -> str:
        return _b64(hmac.new(self._key, claims.encode(), hashlib.sha256).digest())

    def token(self, contact_id: str, reason: str) -> str:
        claims = _b64(json.dumps({"sub": contact_id, "list": reason}, sort_keys=True).encode())
        return f"{claims}.{self._signature(claims)}"

    def read(self, token: str) -> tuple[str, str]:
        """``(contact_id, list)`` of a token this platform signed; :class:`NotFound` for
        anything else (a link that was never sent is as absent as a wrong address)."""
        claims, _, signature = token.partition(".")
        if not hmac.compare_digest(self._signature(claims), signature):
            raise NotFound("this unsubscribe link is not valid", {"token": "not valid"})
        try:
            data = validate(_CLAIMS, json.loads(_unb64(claims)), "unsubscribe token")
        except ValueError as error:  # a signed token always decodes; this is defence only
            raise NotFound("this unsubscribe link is not valid", {"token": "not valid"}) from error
        return data["sub"], data["list"]
