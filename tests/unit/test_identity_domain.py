"""Identity domain core: given events, when a command, then events or an error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kernel.contracts.envelope import RecordedEvent
from kernel.errors import Unauthenticated, ValidationFailed
from services.identity import domain

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LATER = (NOW + timedelta(hours=1)).isoformat()
EARLIER = (NOW - timedelta(seconds=1)).isoformat()
SID = "0b8a6c1e-8c1a-4a57-9b4e-3f3e3c1f0a11"


def recorded(event_type: str, payload: dict, position: int = 1, version: int = 1):
    event_id = str(uuid.uuid4())
    return RecordedEvent(
        position,
        event_id,
        "stream-x",
        version,
        event_type,
        1,
        NOW.isoformat(),
        None,
        None,
        payload,
        {},
    )


def contact_created(**overrides):
    payload = {
        "contact_id": "ann",
        "email": "ann@acme.example",
        "name": "Ann",
        "attributes": {"role": "admin"},
    }
    return recorded("ContactCreated", {**payload, **overrides})


def session_started(position=10, expires_at=LATER, contact_id="ann"):
    payload = {
        "session_id": SID,
        "contact_id": contact_id,
        "method": "user_hash",
        "expires_at": expires_at,
    }
    return recorded("PortalSessionStarted", payload, position)


# contacts ---------------------------------------------------------------------------------


def test_the_first_save_creates_the_contact_with_defaults():
    assert domain.save_contact(None, {"id": "ann"}) == [
        (
            "ContactCreated",
            {"contact_id": "ann", "email": None, "name": None, "attributes": {}},
        )
    ]


def test_a_later_save_keeps_what_it_leaves_out_and_records_the_full_state():
    contact = domain.fold_contact([contact_created()])

    events = domain.save_contact(contact, {"id": "ann", "attributes": {"role": "member"}})

    assert events == [
        (
            "ContactUpdated",
            {
                "contact_id": "ann",
                "email": "ann@acme.example",
                "name": "Ann",
                "attributes": {"role": "member"},
            },
        )
    ]


def test_null_clears_the_email():
    contact = domain.fold_contact([contact_created()])

    [(_, payload)] = domain.save_contact(contact, {"id": "ann", "email": None})

    assert payload["email"] is None


def test_a_save_that_changes_nothing_records_nothing():
    contact = domain.fold_contact([contact_created()])

    assert (
        domain.save_contact(contact, {"id": "ann", "name": "Ann", "email": "ann@acme.example"})
        == []
    )


def test_the_contact_is_its_last_state_and_ignores_session_revocations():
    history = [
        contact_created(),
        recorded("PortalSessionsRevoked", {"contact_id": "ann", "session_count": 1}, 2, 2),
        recorded("ContactUpdated", {**contact_created().payload, "name": "Ann A."}, 3, 3),
    ]

    assert domain.fold_contact(history).to_dict() == {
        "id": "ann",
        "email": "ann@acme.example",
        "name": "Ann A.",
        "attributes": {"role": "admin"},
    }


def test_a_stream_with_only_a_session_revocation_is_no_contact():
    revoked = recorded("PortalSessionsRevoked", {"contact_id": "ann", "session_count": 1})

    assert domain.fold_contact([revoked]) is None
    assert domain.save_contact(None, {"id": "ann"})[0][0] == "ContactCreated"


@pytest.mark.parametrize(
    ("contact", "email"),
    [
        (None, "anyone@example.com"),  # a verified user who is not a contact yet
        (domain.fold_contact([contact_created(email=None)]), "new@example.com"),
        (domain.fold_contact([contact_created()]), "ANN@Acme.Example"),
        (domain.fold_contact([contact_created()]), None),
    ],
)
def test_hand_off_emails_that_are_accepted(contact, email):
    domain.check_hand_off_email(contact, email)


def test_a_hand_off_email_that_differs_from_the_contacts_is_refused():
    with pytest.raises(Unauthenticated) as refused:
        domain.check_hand_off_email(domain.fold_contact([contact_created()]), "eve@evil.example")
    assert refused.value.fields == {"email": "does not match"}


# sessions ---------------------------------------------------------------------------------


def test_starting_a_session_records_who_how_and_until_when():
    assert domain.start_session(SID, "ann", "jwt", LATER) == [
        (
            "PortalSessionStarted",
            {"session_id": SID, "contact_id": "ann", "method": "jwt", "expires_at": LATER},
        )
    ]


def test_a_started_session_is_live():
    session = domain.fold_session([session_started()])

    assert domain.live_sessions([session], 0, NOW) == [session]
    assert session.started_at_position == 10


def test_a_session_started_after_the_contacts_revocation_is_live():
    contact_history = [
        contact_created(),
        recorded("PortalSessionsRevoked", {"contact_id": "ann", "session_count": 2}, 7, 2),
    ]
    revoked_before = domain.sessions_revoked_before(contact_history)

    assert revoked_before == 7
    session = domain.fold_session([session_started(position=8)])
    assert domain.live_sessions([session], revoked_before, NOW) == [session]


def test_ending_a_live_session_revokes_it_once():
    session = domain.fold_session([session_started()])
    ended = domain.fold_session(
        [
            session_started(),
            recorded("PortalSessionRevoked", {"session_id": SID, "contact_id": "ann"}, 11, 2),
        ]
    )

    assert domain.end_session(session, NOW) == [
        ("PortalSessionRevoked", {"session_id": SID, "contact_id": "ann"})
    ]
    assert domain.end_session(ended, NOW) == []
    assert domain.end_session(domain.fold_session([session_started(expires_at=EARLIER)]), NOW) == []


def test_live_sessions_leave_out_ended_revoked_and_expired_ones():
    live = domain.fold_session([session_started(position=20)])
    revoked_with_contact = domain.fold_session([session_started(position=3)])
    expired = domain.fold_session([session_started(position=21, expires_at=EARLIER)])

    assert domain.live_sessions([live, revoked_with_contact, expired], 5, NOW) == [live]


def test_revoking_sessions_records_one_event_only_when_some_are_live():
    assert domain.revoke_sessions("ann", 0) == []
    assert domain.revoke_sessions("ann", 3) == [
        ("PortalSessionsRevoked", {"contact_id": "ann", "session_count": 3})
    ]


# portal settings --------------------------------------------------------------------------

MEMBERS = [{"attribute": "role", "operator": "eq", "value": "member"}]


def test_settings_default_to_the_portal_on_preview_on_and_no_conditions():
    assert domain.fold_settings([]) == {
        "portal_enabled": True,
        "preview_enabled": True,
        "visibility_conditions": [],
    }


def test_a_settings_change_is_partial_and_records_the_full_settings():
    settings = domain.fold_settings([])

    events = domain.change_settings(settings, {"visibility_conditions": MEMBERS})

    on = {"portal_enabled": True, "preview_enabled": True}
    assert events == [("PortalSettingsChanged", {**on, "visibility_conditions": MEMBERS})]
    changed = domain.fold_settings([recorded(*events[0])])
    assert domain.change_settings(changed, {"preview_enabled": False}) == [
        (
            "PortalSettingsChanged",
            {**on, "preview_enabled": False, "visibility_conditions": MEMBERS},
        )
    ]


def test_the_portal_switch_is_recorded_and_a_version_1_change_leaves_the_portal_on():
    off = domain.change_settings(domain.fold_settings([]), {"portal_enabled": False})
    assert off == [
        (
            "PortalSettingsChanged",
            {"portal_enabled": False, "preview_enabled": True, "visibility_conditions": []},
        )
    ]
    assert domain.fold_settings([recorded(*off[0])])["portal_enabled"] is False
    before_the_switch = recorded(
        "PortalSettingsChanged",
        {"preview_enabled": False, "visibility_conditions": MEMBERS},
    )
    assert domain.fold_settings([recorded(*off[0]), before_the_switch]) == {
        "portal_enabled": True,
        "preview_enabled": False,
        "visibility_conditions": MEMBERS,
    }


def test_a_settings_change_that_changes_nothing_records_nothing():
    assert domain.change_settings(domain.fold_settings([]), {"preview_enabled": True}) == []
    assert domain.change_settings(domain.fold_settings([]), {}) == []


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        (
            {"attribute": "role", "operator": "in", "value": "member"},
            "visibility_conditions.0.value",
        ),
        (
            {"attribute": "role", "operator": "eq", "value": ["a", "b"]},
            "visibility_conditions.0.value",
        ),
    ],
)
def test_a_value_that_does_not_suit_its_operator_is_refused(condition, field):
    with pytest.raises(ValidationFailed) as refused:
        domain.change_settings(domain.fold_settings([]), {"visibility_conditions": [condition]})
    assert list(refused.value.fields) == [field]
