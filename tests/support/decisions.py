"""Given/when/then helpers for the write-side domain cores whose decisions are
``(event type, payload)`` pairs: decisions checked against their event contracts, and
decisions stored as one stream's history for the core to fold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from kernel.contracts.envelope import ENVELOPE_SCHEMA, Decision, RecordedEvent, check_payload
from kernel.contracts.events import LATEST_VERSION
from kernel.contracts.validation import validate

FIRST_DAY = datetime(2026, 3, 1, 10, tzinfo=UTC)


def checked(stream_id: str, decisions: list[Decision]) -> list[Decision]:
    """``decisions``, each checked against its contract, so a test cannot pass on an event
    the store would refuse."""
    for event_type, payload in decisions:
        check_payload(stream_id, event_type, LATEST_VERSION[event_type], payload)
    return decisions


def history(stream_id: str, *decisions: Decision) -> list[RecordedEvent]:
    """``decisions`` as the stream stored them: versions and positions from 1, a day apart.
    Each envelope is checked like one from the bus, so the history is one a store could
    hold."""
    events = [
        RecordedEvent(
            version,
            str(uuid.uuid4()),
            stream_id,
            version,
            event_type,
            LATEST_VERSION[event_type],
            (FIRST_DAY + timedelta(days=version - 1)).isoformat(timespec="microseconds"),
            None,
            None,
            payload,
            {},
        )
        for version, (event_type, payload) in enumerate(decisions, start=1)
    ]
    for event in events:
        validate(ENVELOPE_SCHEMA, event.to_dict(), "event envelope")
    return events
