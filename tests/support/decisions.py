"""Given/when/then helpers for the write-side domain cores whose decisions are
``(event type, payload)`` pairs: decisions checked against their event contracts, and
decisions stored as one stream's history for the core to fold."""

from __future__ import annotations

import uuid

from kernel.contracts.envelope import RecordedEvent, check_payload

Decision = tuple[str, dict]


def checked(stream_id: str, decisions: list[Decision]) -> list[Decision]:
    """``decisions``, each checked against its contract, so a test cannot pass on an event
    the store would refuse."""
    for event_type, payload in decisions:
        check_payload(stream_id, event_type, 1, payload)
    return decisions


def history(stream_id: str, *decisions: Decision) -> list[RecordedEvent]:
    """``decisions`` as the stream stored them: versions and positions from 1, a day apart."""
    return [
        RecordedEvent(
            version,
            str(uuid.uuid4()),
            stream_id,
            version,
            event_type,
            1,
            f"2026-03-0{version}T10:00:00.000000+00:00",
            None,
            None,
            payload,
            {},
        )
        for version, (event_type, payload) in enumerate(decisions, start=1)
    ]
