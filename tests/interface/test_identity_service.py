"""The identity service through nameko on the real RabbitMQ and the embedded event store."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from structlog.testing import capture_logs

from kernel.config import ConfigurationError
from kernel.errors import NotFound, Unauthenticated, ValidationFailed
from services.gateway.sessions import LiveSessions, SessionCheck
from services.identity.service import IdentityService
from services.identity.verification import user_hash
from tests.support.interface import IDENTITY_SECRET, SESSION_SECRET, invalid_fields, refused

TTL = 3600
ANN = {
    "id": "ann",
    "email": "ann@acme.example",
    "name": "Ann Archer",
    "attributes": {"role": "admin"},
}


@pytest.fixture
def config(config):
    """The shared settings, with the session lifetime the tests check."""
    return {**config, "PORTAL_SESSION_TTL_SECONDS": TTL}


def authenticate(store, token: str) -> str:
    """Whose live session the token is, as a gateway decides it from identity's events."""
    return SessionCheck(SESSION_SECRET.encode(), LiveSessions(store)).user_of(token)


def session_id_of(token: str) -> str:
    return jwt.decode(token, SESSION_SECRET, algorithms=["HS256"])["sid"]


@pytest.fixture
def identity(container_factory, config):
    container_factory(IdentityService, config).start()
    with ServiceRpcProxy("identity", config, timeout=10) as proxy:
        yield proxy


def hashed(user_id: str, email: str | None = "ann@acme.example") -> dict:
    credentials = {"user_id": user_id, "user_hash": user_hash(IDENTITY_SECRET.encode(), user_id)}
    return {**credentials, "email": email} if email else credentials


def hand_off(key=IDENTITY_SECRET, algorithm="HS256", **claims) -> dict:
    full = {"sub": "ann", "email": "ann@acme.example", "exp": int(time.time()) + 300, **claims}
    return {"token": jwt.encode({k: v for k, v in full.items() if v is not None}, key, algorithm)}


def refused_sign_in(identity, unchanged, credentials) -> Unauthenticated:
    """What signing Ann in with ``credentials`` raises, which appends nothing."""
    identity.save_contact(ANN)
    with unchanged:
        return refused(Unauthenticated, identity.start_session, credentials)


UNSIGNED_TOKEN = jwt.encode({"sub": "ann", "email": "a@b.example", "exp": 9999999999}, None, "none")


def rs256_token() -> str:
    def part(value: dict | bytes) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"sub": "ann", "email": "ann@acme.example", "exp": int(time.time()) + 300}
    return ".".join([part({"alg": "RS256", "typ": "JWT"}), part(claims), part(b"s" * 256)])


def test_health(identity):
    assert identity.health() == {"service": "identity", "status": "ok"}


# contacts ---------------------------------------------------------------------------------


def test_a_saved_contact_is_created_then_updated_partially(identity, store):
    assert identity.save_contact(ANN) == ANN
    assert identity.get_contact("ann") == ANN

    updated = identity.save_contact({"id": "ann", "attributes": {"role": "member"}})

    assert updated == {**ANN, "attributes": {"role": "member"}}
    assert [e.type for e in store.read_stream("contact-ann")] == [
        "ContactCreated",
        "ContactUpdated",
    ]
    assert store.read_stream("contact-ann")[1].payload["email"] == "ann@acme.example"


def test_a_contact_may_have_no_email(identity):
    assert identity.save_contact({"id": "erin", "name": "Erin"}) == {
        "id": "erin",
        "email": None,
        "name": "Erin",
        "attributes": {},
    }


def test_saving_the_same_contact_again_appends_nothing(identity, unchanged):
    identity.save_contact(ANN)

    with unchanged:
        assert identity.save_contact(ANN) == ANN
        assert identity.save_contact({"id": "ann"}) == ANN


def test_get_contacts_answers_the_ids_that_exist(identity):
    identity.save_contact(ANN)
    identity.save_contact({"id": "bob"})

    answer = identity.get_contacts(["ann", "nobody", "bob", "ann"])

    assert sorted(answer) == ["ann", "bob"]
    assert answer["ann"] == ANN
    assert identity.get_contacts([]) == {}


def test_an_unknown_contact_is_not_found(identity):
    assert refused(NotFound, identity.get_contact, "nobody").fields == {"contact_id": "not found"}


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({**ANN, "email": {"$gt": ""}}, "email"),
        ({**ANN, "id": {"$gt": ""}}, "id"),
        ({**ANN, "name": {"$ne": None}}, "name"),
        ({**ANN, "admin": True}, "admin"),
        ({**ANN, "attributes": ["role", "admin"]}, "attributes"),
        ({**ANN, "attributes": {"$where": "1"}}, "attributes.$where"),
        ({**ANN, "attributes": {"role": {"$gt": ""}}}, "attributes.role"),
        ({**ANN, "name": "x" * 201}, "name"),
        ({**ANN, "name": "Ann\nArcher"}, "name"),
        ({**ANN, "email": "not an email"}, "email"),
        ({**ANN, "id": "has spaces"}, "id"),
        ({**ANN, "id": "x" * 65}, "id"),
        ({**ANN, "attributes": {f"a{i}": i for i in range(51)}}, "attributes"),
        ({"email": "ann@acme.example"}, "id"),
    ],
)
def test_a_bad_contact_is_refused_naming_the_field_and_appends_nothing(
    identity, unchanged, command, field
):
    assert field in invalid_fields(unchanged, identity.save_contact, command)


@pytest.mark.parametrize(
    ("call", "args", "field"),
    [
        ("get_contact", [{"$gt": ""}], "contact_id"),
        ("get_contacts", ["ann"], "contact_ids"),
        ("get_contacts", [[{"$gt": ""}]], "contact_ids.0"),
        ("get_contacts", [["x"] * 1001], "contact_ids"),
        ("save_contact", ["ann"], ""),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(identity, call, args, field):
    assert field in refused(ValidationFailed, getattr(identity, call), *args).fields


# starting a session -----------------------------------------------------------------------


def test_a_valid_user_hash_starts_a_session_that_authenticates(identity, store):
    identity.save_contact(ANN)

    started = identity.start_session(hashed("ann"))

    assert started["user_id"] == "ann"
    assert authenticate(store, started["token"]) == "ann"
    [event] = store.read_stream(f"session-{session_id_of(started['token'])}")
    assert (event.type, event.payload["method"]) == ("PortalSessionStarted", "user_hash")
    assert event.payload["expires_at"] == started["expires_at"]


def test_the_session_lasts_the_configured_ttl(identity):
    before = int(time.time())

    started = identity.start_session(hashed("ann"))

    claims = jwt.decode(started["token"], SESSION_SECRET, algorithms=["HS256"])
    assert before + TTL <= claims["exp"] <= int(time.time()) + TTL
    assert claims["exp"] - claims["iat"] == TTL


def test_a_verified_user_who_is_not_a_contact_gets_a_session(identity, store):
    started = identity.start_session(hashed("newcomer", email=None))

    assert authenticate(store, started["token"]) == "newcomer"


def test_the_hand_off_email_is_compared_without_case(identity):
    identity.save_contact(ANN)

    assert identity.start_session(hashed("ann", email="ANN@acme.EXAMPLE"))["user_id"] == "ann"


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({**hashed("ann"), "user_hash": user_hash(IDENTITY_SECRET.encode(), "bob")}, "user_hash"),
        ({**hashed("ann"), "user_hash": user_hash(b"guessed-secret", "ann")}, "user_hash"),
        (hashed("ann", email="eve@evil.example"), "email"),
    ],
)
def test_hashes_that_do_not_verify_are_unauthenticated_and_append_nothing(
    identity, unchanged, credentials, field
):
    error = refused_sign_in(identity, unchanged, credentials)
    assert field in error.fields
    assert credentials["user_hash"] not in error.message


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"user_id": "ann", "user_hash": "abc"}, "user_hash"),
        ({"user_id": "ann", "user_hash": "g" * 64}, "user_hash"),
        ({"user_id": "ann", "user_hash": {"$gt": ""}}, "user_hash"),
        ({"user_id": {"$gt": ""}, "user_hash": "a" * 64}, "user_id"),
        ({"user_id": "ann"}, "user_hash"),
        ({**hashed("ann"), "admin": True}, "admin"),
        ({"token": {"$gt": ""}}, "token"),
        ({"token": "x" * 4097}, "token"),
        ({"token": ""}, "token"),
        ("ann", ""),
    ],
)
def test_malformed_credentials_are_refused_naming_the_field_and_append_nothing(
    identity, unchanged, credentials, field
):
    with unchanged:
        error = refused(Unauthenticated, identity.start_session, credentials)

    assert field in error.fields


def test_a_valid_identity_token_starts_a_session(identity, store):
    identity.save_contact(ANN)

    started = identity.start_session(hand_off())

    assert authenticate(store, started["token"]) == "ann"
    [event] = store.read_stream(f"session-{session_id_of(started['token'])}")
    assert (event.payload["contact_id"], event.payload["method"]) == ("ann", "jwt")


# Credentials are made when each test runs, so a token's expiry counts from then, not from
# when the suite was collected (minutes earlier in a full run).
@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (lambda: {"token": UNSIGNED_TOKEN}, "HS256"),
        (lambda: hand_off(algorithm="HS512"), "HS256"),
        (lambda: {"token": rs256_token()}, "HS256"),
        (lambda: hand_off(key="someone-elses-secret-".ljust(64, "z")), "invalid signature"),
        (lambda: hand_off(key=SESSION_SECRET), "invalid signature"),
        (lambda: hand_off(exp=int(time.time()) - 60), "expired"),
        (lambda: hand_off(exp=None), "lacks the exp claim"),
        (lambda: hand_off(email=None), "lacks the email claim"),
        (lambda: hand_off(sub="has spaces"), "claims are invalid"),
        (lambda: hand_off(email="eve@evil.example"), "email does not match"),
        (lambda: {"token": "not-a-jwt"}, "malformed"),
    ],
    ids=[
        "unsigned",
        "hs512",
        "rs256",
        "another-key",
        "session-key",
        "expired",
        "no-exp",
        "no-email",
        "bad-sub",
        "other-email",
        "malformed",
    ],
)
def test_identity_tokens_that_do_not_verify_are_unauthenticated_and_append_nothing(
    identity, unchanged, credentials, reason
):
    made = credentials()
    error = refused_sign_in(identity, unchanged, made)
    assert reason in error.message
    assert made["token"] not in json.dumps([error.message, error.fields])


def test_the_outcome_is_logged_without_the_credential(identity):
    credentials = hashed("ann", email=None)
    wrong = {**credentials, "user_hash": user_hash(b"guessed-secret", "ann")}

    with capture_logs() as logs:
        started = identity.start_session(credentials)
        refused(Unauthenticated, identity.start_session, wrong)
        refused(Unauthenticated, identity.start_session, hand_off(key=SESSION_SECRET))

    outcomes = [
        (e["event"], e.get("method"), e.get("user_id")) for e in logs if "session" in e["event"]
    ]
    assert outcomes == [
        ("session started", "user_hash", "ann"),
        ("session refused", "user_hash", "ann"),
        ("session refused", "jwt", None),
    ]
    written = json.dumps(logs, default=str)
    for secret in (started["token"], credentials["user_hash"], wrong["user_hash"], IDENTITY_SECRET):
        assert secret not in written


# ending and revoking sessions (checked as the gateway checks them) -------------------------


def resigned(token: str, **changes) -> str:
    claims = jwt.decode(token, SESSION_SECRET, algorithms=["HS256"])
    return jwt.encode({**claims, **changes}, SESSION_SECRET, "HS256")


def test_a_session_ended_by_logout_no_longer_authenticates(identity, store, unchanged):
    token = identity.start_session(hashed("ann"))["token"]
    session_id = session_id_of(token)
    assert authenticate(store, token) == "ann"

    assert identity.end_session(token) is None

    assert "ended" in refused(Unauthenticated, authenticate, store, token).message
    assert [e.type for e in store.read_stream(f"session-{session_id}")] == [
        "PortalSessionStarted",
        "PortalSessionRevoked",
    ]
    with unchanged:
        identity.end_session(token)


def test_logout_needs_a_token_we_signed(identity, store, unchanged):
    token = identity.start_session(hashed("ann"))["token"]
    forged = jwt.encode(
        jwt.decode(token, SESSION_SECRET, algorithms=["HS256"]), IDENTITY_SECRET, "HS256"
    )

    with unchanged:
        refused(Unauthenticated, identity.end_session, forged)
        refused(Unauthenticated, identity.end_session, resigned(token, sub="bob"))
    assert authenticate(store, token) == "ann"


def test_revoking_a_contacts_sessions_ends_every_live_one_and_no_other(identity, store):
    identity.save_contact(ANN)
    ann_first = identity.start_session(hashed("ann"))["token"]
    ann_second = identity.start_session(hand_off())["token"]
    ann_logged_out = identity.start_session(hashed("ann"))["token"]
    identity.end_session(ann_logged_out)
    bob = identity.start_session(hashed("bob", email=None))["token"]

    assert identity.revoke_sessions("ann") == {"revoked": 2}

    for token in (ann_first, ann_second):
        refused(Unauthenticated, authenticate, store, token)
    assert authenticate(store, bob) == "bob"
    assert store.read_stream("contact-ann")[-1].type == "PortalSessionsRevoked"
    assert identity.get_contact("ann") == ANN

    ann_again = identity.start_session(hashed("ann"))["token"]
    assert authenticate(store, ann_again) == "ann"
    assert identity.revoke_sessions("ann") == {"revoked": 1}
    refused(Unauthenticated, authenticate, store, ann_again)


def test_revoking_when_nothing_is_live_appends_nothing(identity, unchanged):
    identity.save_contact(ANN)

    with unchanged:
        assert identity.revoke_sessions("ann") == {"revoked": 0}
        assert identity.revoke_sessions("nobody") == {"revoked": 0}


def test_revoking_sessions_of_a_verified_user_who_is_not_a_contact(identity, store):
    token = identity.start_session(hashed("newcomer", email=None))["token"]

    assert identity.revoke_sessions("newcomer") == {"revoked": 1}

    refused(Unauthenticated, authenticate, store, token)
    refused(NotFound, identity.get_contact, "newcomer")
    assert identity.save_contact({"id": "newcomer"})["id"] == "newcomer"


def keyed_identity(config, key: str):
    """identity called as the gateway calls it for a request with an Idempotency-Key."""
    context = {"idempotency_key": key, "request_fingerprint": f"fp-{key}"}
    return ServiceRpcProxy("identity", config, context_data=context, timeout=10)


def test_a_retried_revoke_answers_what_the_first_attempt_revoked(identity, config, store):
    identity.start_session(hashed("ann", email=None))
    identity.start_session(hashed("ann", email=None))
    with keyed_identity(config, "revoke-1") as keyed:
        assert keyed.revoke_sessions("ann") == {"revoked": 2}
        head = store.head_position()
        assert keyed.revoke_sessions("ann") == {"revoked": 2}
    assert store.head_position() == head


def test_a_retried_sign_in_answers_the_session_it_opened(identity, config, store):
    with keyed_identity(config, "sign-in-1") as keyed:
        first = keyed.start_session(hashed("ann", email=None))
        head = store.head_position()
        again = keyed.start_session(hashed("ann", email=None))
    assert store.head_position() == head
    assert session_id_of(again["token"]) == session_id_of(first["token"])
    assert authenticate(store, again["token"]) == "ann"


def test_revoke_sessions_refuses_a_bad_contact_id(identity):
    assert "contact_id" in refused(ValidationFailed, identity.revoke_sessions, {"$gt": ""}).fields


# portal settings --------------------------------------------------------------------------

MEMBERS = [{"attribute": "role", "operator": "eq", "value": "member"}]


def test_portal_settings_default_to_the_portal_on_preview_on_and_no_conditions(identity):
    assert identity.get_portal_settings() == {
        "portal_enabled": True,
        "preview_enabled": True,
        "visibility_conditions": [],
    }


def test_portal_settings_change_partially(identity):
    assert identity.change_portal_settings({"visibility_conditions": MEMBERS}) == {
        "portal_enabled": True,
        "preview_enabled": True,
        "visibility_conditions": MEMBERS,
    }
    identity.change_portal_settings({"preview_enabled": False})
    identity.change_portal_settings({"portal_enabled": False})

    assert identity.get_portal_settings() == {
        "portal_enabled": False,
        "preview_enabled": False,
        "visibility_conditions": MEMBERS,
    }


def test_an_unchanged_setting_appends_nothing(identity, unchanged):
    identity.change_portal_settings({"visibility_conditions": MEMBERS})

    with unchanged:
        identity.change_portal_settings({"visibility_conditions": MEMBERS})
        identity.change_portal_settings({"preview_enabled": True})
        identity.change_portal_settings({})


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"preview_enabled": "yes"}, "preview_enabled"),
        ({"preview_enabled": {"$gt": ""}}, "preview_enabled"),
        ({"visibility_conditions": {"attribute": "role"}}, "visibility_conditions"),
        (
            {"visibility_conditions": [{**MEMBERS[0], "operator": "$where"}]},
            "visibility_conditions.0.operator",
        ),
        (
            {"visibility_conditions": [{**MEMBERS[0], "value": {"$gt": ""}}]},
            "visibility_conditions.0.value",
        ),
        (
            {"visibility_conditions": [{**MEMBERS[0], "attribute": "$where"}]},
            "visibility_conditions.0.attribute",
        ),
        (
            {"visibility_conditions": [{**MEMBERS[0], "operator": "in"}]},
            "visibility_conditions.0.value",
        ),
        ({"visibility_conditions": MEMBERS * 21}, "visibility_conditions"),
        ({"visibility_conditions": [{**MEMBERS[0], "extra": 1}]}, "visibility_conditions.0.extra"),
        ({"theme": "dark"}, "theme"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_append_nothing(
    identity, unchanged, command, field
):
    assert field in invalid_fields(unchanged, identity.change_portal_settings, command)


# configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"PORTAL_IDENTITY_SECRET": ""},
        {"PORTAL_SESSION_SECRET": None},
        {"PORTAL_SESSION_SECRET": IDENTITY_SECRET},
        {"PORTAL_SESSION_TTL_SECONDS": 0},
    ],
)
def test_the_service_refuses_to_start_without_sound_secrets(container_factory, config, changes):
    container = container_factory(IdentityService, {**config, **changes})

    with pytest.raises(ConfigurationError):
        container.start()
