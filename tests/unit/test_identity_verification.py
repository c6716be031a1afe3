"""Identity verification: HMAC user hashes, the help desk's JWT hand-off, session tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from kernel.errors import Unauthenticated
from services.identity import verification

IDENTITY_SECRET = b"identity-secret-for-unit-tests-".ljust(64, b"0")
SESSION_SECRET = b"session-secret-for-unit-tests-".ljust(64, b"0")
SID = "0b8a6c1e-8c1a-4a57-9b4e-3f3e3c1f0a11"


def hand_off(claims: dict | None = None, key=IDENTITY_SECRET, algorithm="HS256", drop=()) -> str:
    full = {"sub": "ann", "email": "ann@acme.example", "exp": int(time.time()) + 300}
    full.update(claims or {})
    for claim in drop:
        full.pop(claim)
    return jwt.encode(full, key, algorithm=algorithm)


def unsigned_with_header(header: dict) -> str:
    """A token claiming another algorithm, with a signature no key made."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    claims = {"sub": "ann", "email": "ann@acme.example", "exp": int(time.time()) + 300}
    return ".".join(
        [part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(b"x" * 256)]
    )


def refusal(call, *args) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as refused:
        call(*args)
    return refused.value


# user_hash --------------------------------------------------------------------------------


def test_the_hmac_of_the_user_id_verifies():
    digest = hmac.new(IDENTITY_SECRET, b"ann", hashlib.sha256).hexdigest()

    verification.verify_user_hash(IDENTITY_SECRET, "ann", digest)
    verification.verify_user_hash(IDENTITY_SECRET, "ann", digest.upper())


def test_another_users_hash_does_not_verify():
    bobs = verification.user_hash(IDENTITY_SECRET, "bob")

    error = refusal(verification.verify_user_hash, IDENTITY_SECRET, "ann", bobs)

    assert error.fields == {"user_hash": "does not match"}
    assert bobs not in error.message


def test_a_hash_made_with_another_secret_does_not_verify():
    forged = verification.user_hash(b"guessed", "ann")

    refusal(verification.verify_user_hash, IDENTITY_SECRET, "ann", forged)


# identity token (hand-off JWT) ------------------------------------------------------------


def test_a_valid_identity_token_gives_the_user_and_email():
    token = hand_off({"iat": int(time.time()), "name": "extra claims are ignored"})

    assert verification.verify_identity_token(IDENTITY_SECRET, token) == {
        "user_id": "ann",
        "email": "ann@acme.example",
    }


def test_an_identity_token_without_an_email_value_is_refused():
    error = refusal(verification.verify_identity_token, IDENTITY_SECRET, hand_off({"email": None}))

    assert error.fields == {"token": "lacks the email claim"}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (
            jwt.encode({"sub": "ann", "email": "a@b.example", "exp": 9999999999}, None, "none"),
            "HS256",
        ),
        (hand_off(algorithm="HS512"), "HS256"),
        (unsigned_with_header({"alg": "RS256", "typ": "JWT"}), "HS256"),
        (unsigned_with_header({"alg": "none", "typ": "JWT"}), "HS256"),
        (hand_off(key=b"someone-elses-secret-".ljust(64, b"0")), "invalid signature"),
        (hand_off({"exp": int(time.time()) - 60}), "has expired"),
        (hand_off(drop=["exp"]), "lacks the exp claim"),
        (hand_off(drop=["sub"]), "lacks the sub claim"),
        (hand_off(drop=["email"]), "lacks the email claim"),
        ("not.a.token", "malformed"),
        ("", "malformed"),
    ],
)
def test_identity_tokens_that_do_not_verify(token, reason):
    error = refusal(verification.verify_identity_token, IDENTITY_SECRET, token)

    assert reason in error.message
    if token:
        assert token not in error.message
        assert token not in json.dumps(error.fields)


def test_a_tampered_payload_breaks_the_signature():
    header, _, signature = hand_off().split(".")
    claims = base64.urlsafe_b64encode(
        json.dumps({"sub": "admin", "email": "x@y.example", "exp": 9999999999}).encode()
    )
    forged = ".".join([header, claims.rstrip(b"=").decode(), signature])

    assert (
        "invalid signature"
        in refusal(verification.verify_identity_token, IDENTITY_SECRET, forged).message
    )


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        ({"sub": {"$gt": ""}}, "token"),
        ({"sub": "has spaces"}, "token.sub"),
        ({"email": "not-an-email"}, "token.email"),
        ({"email": ["a@b.example"]}, "token.email"),
        ({"email": {"$gt": ""}}, "token.email"),
    ],
)
def test_a_signed_token_with_invalid_claims_is_refused(claims, field):
    error = refusal(verification.verify_identity_token, IDENTITY_SECRET, hand_off(claims))

    assert field in error.fields


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        ({"sub": "ann\ud800"}, "token.sub"),
        ({"email": "ann\udfff@acme.example"}, "token.email"),
        ({"email": "ann\x85@acme.example"}, "token.email"),
    ],
)
def test_claims_a_store_could_not_encode_are_refused_naming_them(claims, field):
    error = refusal(verification.verify_identity_token, IDENTITY_SECRET, hand_off(claims))

    assert field in error.fields


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": "9999999999"}, "has an exp claim that is not a number"),
        ({"iat": "1700000000"}, "has an iat claim that is not a number"),
        ({"nbf": "0"}, "has an nbf claim that is not a number"),
        ({"iat": True}, "has an iat claim that is not a number"),
        ({"nbf": None}, "is malformed"),
    ],
)
def test_a_time_claim_must_be_a_number(claims, reason):
    """RFC 7519 NumericDate: PyJWT alone reads the string "9999999999" as a time."""
    error = refusal(verification.verify_identity_token, IDENTITY_SECRET, hand_off(claims))

    assert error.fields == {"token": reason}


def test_time_claims_may_be_integers_or_fractions():
    now = time.time()
    token = hand_off({"exp": now + 300.5, "iat": int(now), "nbf": now - 1.25})

    assert verification.verify_identity_token(IDENTITY_SECRET, token)["user_id"] == "ann"


# session tokens ---------------------------------------------------------------------------


def session_token(issued_at=None, expires_at=None, secret=SESSION_SECRET) -> str:
    now = int(time.time())
    return verification.issue_session_token(
        secret, SID, "ann", issued_at or now, expires_at or now + 60
    )


def test_a_session_token_reads_back_its_claims():
    claims = verification.read_session_token(SESSION_SECRET, session_token())

    assert (claims["sid"], claims["sub"]) == (SID, "ann")
    assert claims["exp"] > claims["iat"]
    assert jwt.get_unverified_header(session_token())["alg"] == "HS256"


def test_an_expired_session_token_is_refused_unless_reading_it_for_a_logout():
    expired = session_token(issued_at=int(time.time()) - 120, expires_at=int(time.time()) - 60)

    assert "expired" in refusal(verification.read_session_token, SESSION_SECRET, expired).message
    assert verification.read_session_token(SESSION_SECRET, expired, verify_exp=False)["sid"] == SID


def test_a_session_token_signed_with_another_secret_is_refused():
    refusal(verification.read_session_token, SESSION_SECRET, session_token(secret=IDENTITY_SECRET))


def test_a_hand_off_token_is_no_session_token():
    hand_off_signed_with_session_secret = hand_off(key=SESSION_SECRET)

    error = refusal(
        verification.read_session_token, SESSION_SECRET, hand_off_signed_with_session_secret
    )
    assert "lacks the sid claim" in error.message


def test_a_session_token_claiming_alg_none_is_refused():
    claims = {"sid": SID, "sub": "ann", "iat": 1, "exp": 9999999999}

    refusal(verification.read_session_token, SESSION_SECRET, jwt.encode(claims, None, "none"))


def test_a_session_token_with_a_time_claim_that_is_not_a_number_is_refused():
    claims = {"sid": SID, "sub": "ann", "iat": 1, "exp": "9999999999"}
    token = jwt.encode(claims, SESSION_SECRET, "HS256")

    error = refusal(verification.read_session_token, SESSION_SECRET, token)
    assert error.fields == {"token": "has an exp claim that is not a number"}
