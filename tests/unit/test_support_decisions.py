"""The domain tests' history helper builds envelopes a store could hold, however long."""

from __future__ import annotations

from datetime import datetime

from tests.support.decisions import history


def test_a_long_history_has_valid_increasing_timestamps():
    events = history("ticket-1", *[("TicketEdited", {"ticket_id": 1})] * 40)
    times = [datetime.fromisoformat(event.occurred_at) for event in events]
    assert times == sorted(set(times))
    assert [event.stream_version for event in events] == list(range(1, 41))
