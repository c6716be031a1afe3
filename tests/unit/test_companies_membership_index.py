"""The membership index follows the real embedded store by position."""

from __future__ import annotations

import pytest

from kernel.contracts.envelope import NewEvent
from kernel.eventstore.sqlite import SqliteEventStore
from services.companies.dependencies import MembershipIndex


@pytest.fixture
def store(tmp_path):
    store = SqliteEventStore(tmp_path / "events.sqlite3")
    yield store
    store.close()


def membership(store, company_id: str, *changes: tuple[str, str]) -> None:
    stream = f"company-{company_id}"
    events = [
        NewEvent(f"CompanyMember{kind}", {"company_id": company_id, "contact_id": contact_id})
        for kind, contact_id in changes
    ]
    if store.stream_version(stream) == 0:
        events.insert(0, NewEvent("CompanyCreated", {"company_id": company_id, "name": company_id}))
    store.append(stream, events, store.stream_version(stream))


def test_every_requested_contact_gets_its_sorted_companies(store):
    membership(store, "globex", ("Added", "carol"))
    membership(store, "acme", ("Added", "ann"), ("Added", "carol"))
    contact = {"contact_id": "ann", "email": None, "name": None, "attributes": {}}
    store.append("contact-ann", [NewEvent("ContactCreated", contact)], 0)  # not a company event

    answer = MembershipIndex(store).companies_of(["carol", "ann", "nobody"])

    assert answer == {"carol": ["acme", "globex"], "ann": ["acme"], "nobody": []}


def test_each_answer_catches_up_with_what_was_appended_since(store):
    index = MembershipIndex(store)
    membership(store, "acme", ("Added", "ann"))
    assert index.companies_of(["ann"]) == {"ann": ["acme"]}

    membership(store, "acme", ("Removed", "ann"))
    assert index.companies_of(["ann"]) == {"ann": []}

    membership(store, "acme", ("Added", "ann"))
    assert index.companies_of(["ann"]) == {"ann": ["acme"]}
    assert index.position == store.head_position()
