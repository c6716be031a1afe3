"""The benchmark data generator: deterministic, valid platform events, a skewed shape."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.datagen import SIZES, DatasetSize, Generator, apportion, company_sizes, load
from kernel.contracts.envelope import check_new_event
from kernel.eventstore.sqlite import SqliteEventStore

END = datetime(2026, 1, 1, tzinfo=UTC)
TINY = DatasetSize("tiny", companies=8, tickets=300, parts=1_500, largest_company=60)


def events_of(size: DatasetSize, seed: int = 7) -> list[tuple[str, str, str, str, dict]]:
    return [
        (stream_id, e.event_id, e.type, e.occurred_at, e.payload)
        for stream_id, batch in Generator(size, seed, END).streams()
        for e in batch
    ]


def test_the_same_seed_gives_the_same_events_ids_and_times():
    assert events_of(TINY) == events_of(TINY)


def test_another_seed_gives_other_data():
    first, second = events_of(TINY, seed=1), events_of(TINY, seed=2)
    assert [e[1] for e in first] != [e[1] for e in second]
    assert [e[4] for e in first if e[2] == "TicketCreated"] != [
        e[4] for e in second if e[2] == "TicketCreated"
    ]


def test_every_event_is_valid_and_the_store_accepts_every_stream(tmp_path):
    for stream_id, batch in Generator(TINY, 3, END).streams():
        for event in batch:
            check_new_event(stream_id, event)
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    summary = load(store, TINY, 3, END)
    assert store.head_position() == summary.events == len(events_of(TINY, 3))
    assert summary.streams == len({e[0] for e in events_of(TINY, 3)})


def test_counts_match_the_size():
    counts = Counter(e[2] for e in events_of(TINY))
    assert counts["TicketCreated"] == TINY.tickets
    assert counts["ConversationStarted"] == TINY.tickets
    assert counts["TicketConversationLinked"] == TINY.tickets
    assert counts["ConversationPartAdded"] == TINY.parts
    assert counts["CompanyCreated"] == TINY.companies
    assert counts["TicketStateChanged"] > 0


def test_tickets_are_numbered_in_creation_order_and_streams_follow_time():
    events = events_of(TINY)
    created = [e for e in events if e[2] == "TicketCreated"]
    assert [e[4]["ticket_id"] for e in created] == list(range(1, TINY.tickets + 1))
    assert [e[3] for e in created] == sorted(e[3] for e in created)
    by_stream: dict[str, list[str]] = {}
    for stream_id, _id, _type, occurred_at, _payload in events:
        by_stream.setdefault(stream_id, []).append(occurred_at)
    assert all(times == sorted(times) for times in by_stream.values())
    assert min(e[3] for e in events) >= "2023-12"
    assert max(e[3] for e in events) < END.isoformat()


def test_conversations_mix_customer_replies_teammate_replies_and_internal_notes():
    parts = [e[4] for e in events_of(TINY) if e[2] == "ConversationPartAdded"]
    notes = [p for p in parts if p["internal"]]
    assert notes and all(p["author_type"] == "teammate" for p in notes)
    assert {p["author_type"] for p in parts if not p["internal"]} == {"user", "teammate"}


def test_text_has_accents_and_mixed_case():
    text = " ".join(
        e[4]["title"] + " " + e[4]["description"]
        for e in events_of(TINY)
        if e[2] == "TicketCreated"
    )
    assert any(ch in text for ch in "éüøçñ")
    assert "iOS" in text or "macOS" in text or "PDF" in text


def test_members_of_a_company_exist_before_its_tickets():
    events = events_of(TINY)
    created_at = {e[4]["contact_id"]: e[3] for e in events if e[2] == "ContactCreated"}
    joined = {
        (e[4]["company_id"], e[4]["contact_id"]): e[3]
        for e in events
        if e[2] == "CompanyMemberAdded"
    }
    assert all(created_at[contact] < at for (_company, contact), at in joined.items())
    for e in events:
        if e[2] == "TicketCreated" and e[4]["company_id"]:
            assert joined[(e[4]["company_id"], e[4]["creator_id"])] < e[3]


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_company_sizes_are_skewed_with_one_fixed_large_company(name):
    size = SIZES[name]
    sizes = company_sizes(size)
    assert sum(sizes) == size.tickets and len(sizes) == size.companies
    assert sizes[0] == size.largest_company == max(sizes)
    assert min(sizes) >= 1
    assert sorted(sizes)[len(sizes) // 2] * 5 < size.largest_company  # most are small


def test_apportion_adds_up_exactly():
    assert apportion(10, [1, 1, 1]) in ([4, 3, 3], [3, 4, 3], [3, 3, 4])
    assert sum(apportion(1_000, [0.3, 2.5, 7.1], minimum=5)) == 1_000
