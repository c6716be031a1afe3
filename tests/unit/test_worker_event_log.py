"""What a worker's event log hands a service: its own events by id, never another's."""

from __future__ import annotations

from kernel.contracts.events import conversation_link_event_id
from kernel.dependencies import WorkerEventLog
from kernel.eventstore.sqlite import SqliteEventStore


def test_a_service_finds_its_own_event_by_id_and_not_another_services(tmp_path):
    store = SqliteEventStore(tmp_path / "events.db")
    try:
        tickets = WorkerEventLog(store, "tickets")
        link = (
            "TicketConversationLinked",
            {"ticket_id": 1, "conversation_id": "conv-1", "participant_ids": ["ann"]},
        )
        link_event = tickets.new_events([link])[0]
        assert link_event.event_id == conversation_link_event_id("conv-1")
        store.append("ticket-1", [link_event], 0)

        assert tickets.own_event(link_event.event_id).payload["ticket_id"] == 1
        assert WorkerEventLog(store, "messenger_bridge").own_event(link_event.event_id) is None
        assert not hasattr(tickets, "store")
    finally:
        store.close()
