"""What a portal user presents, checked: the help desk's identity hand-off and our sessions.

* ``user_hash``: the hex HMAC-SHA256 of the user id keyed with the identity secret,
  compared in constant time.
* Identity token: a JWT the help desk signs with the identity secret (HS256 only), with
  ``sub``, ``email`` and ``exp``.
* Session token: a JWT we sign with the session secret (HS256 only), with ``sid``, ``sub``,
  ``iat`` and ``exp``; it only proves who and until when, the session's stream says
  whether it is still live.

Failures raise :class:`Unauthenticated` with a fixed reason; nothing here echoes a secret,
a token or a hash, and JWT algorithms are pinned so ``alg: none`` or a swapped algorithm
never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt

from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.errors import Unauthenticated, ValidationFailed

ALGORITHMS = ["HS256"]
IDENTITY_CLAIMS = ["sub", "email", "exp"]
SESSION_CLAIMS = ["sid", "sub", "iat", "exp"]
# Registered claims that are times (RFC 7519 "NumericDate"): PyJWT reads "9999999999" as a
# number, the RFC does not.
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
# The help desk's clock may run a little ahead of or behind ours.
HAND_OFF_CLOCK_SKEW_SECONDS = 10


def user_hash(identity_secret: bytes, user_id: str) -> str:
    return hmac.new(identity_secret, user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(identity_secret: bytes, user_id: str, supplied: str) -> None:
    expected = user_hash(identity_secret, user_id)
    if not hmac.compare_digest(expected, supplied.lower()):
        raise Unauthenticated("the user hash does not match", {"user_hash": "does not match"})


def _reason(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "has expired"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"lacks the {error.claim} claim"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "must be signed with HS256"
    if isinstance(error, jwt.InvalidSignatureError):
        return "has an invalid signature"
    return "is malformed"


def _require_numeric_dates(claims: dict[str, Any], what: str) -> None:
    """Refuse a time claim that is not a JSON number (a string, a boolean, ...)."""
    for claim in NUMERIC_DATE_CLAIMS:
        value = claims.get(claim)
        if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            reason = f"has an {claim} claim that is not a number"
            raise Unauthenticated(f"the {what} token {reason}", {"token": reason})


def verify_identity_token(identity_secret: bytes, token: str) -> dict[str, Any]:
    """The verified ``{"user_id", "email"}`` of a hand-off token."""
    try:
        claims = jwt.decode(
            token,
            identity_secret,
            algorithms=ALGORITHMS,
            options={"require": IDENTITY_CLAIMS},
            leeway=HAND_OFF_CLOCK_SKEW_SECONDS,
        )
    except jwt.InvalidTokenError as error:
        reason = _reason(error)
        raise Unauthenticated(f"the identity token {reason}", {"token": reason}) from None
    _require_numeric_dates(claims, "identity")
    try:
        identity = validate(
            commands.IDENTITY_TOKEN_CLAIMS,
            {"sub": claims["sub"], "email": claims["email"]},
            "identity token claims",
        )
    except ValidationFailed as error:
        fields = {f"token.{name}": problem for name, problem in error.fields.items()}
        raise Unauthenticated("the identity token's claims are invalid", fields) from None
    return {"user_id": identity["sub"], "email": identity["email"]}


def issue_session_token(
    session_secret: bytes, session_id: str, user_id: str, issued_at: int, expires_at: int
) -> str:
    claims = {"sid": session_id, "sub": user_id, "iat": issued_at, "exp": expires_at}
    return jwt.encode(claims, session_secret, algorithm=ALGORITHMS[0])


def read_session_token(session_secret: bytes, token: str, verify_exp: bool = True) -> dict:
    """The claims of a session token we signed; ``verify_exp=False`` for a logout."""
    try:
        claims = jwt.decode(
            token,
            session_secret,
            algorithms=ALGORITHMS,
            options={"require": SESSION_CLAIMS, "verify_exp": verify_exp},
        )
    except jwt.InvalidTokenError as error:
        reason = _reason(error)
        raise Unauthenticated(f"the session token {reason}", {"token": reason}) from None
    _require_numeric_dates(claims, "session")
    return claims
