"""Companies domain core: given events, when a command, then events or an error."""

from __future__ import annotations

import uuid

import pytest

from kernel.contracts.envelope import RecordedEvent, utc_now
from kernel.errors import Conflict, NotFound
from services.companies import domain


def recorded(version: int, event_type: str, payload: dict) -> RecordedEvent:
    event_id = str(uuid.uuid4())
    return RecordedEvent(
        version,
        event_id,
        "company-acme",
        version,
        event_type,
        1,
        utc_now(),
        None,
        None,
        payload,
        {},
    )


def given(*events: tuple[str, dict]) -> domain.Company | None:
    return domain.fold(recorded(v, *event) for v, event in enumerate(events, start=1))


CREATED = ("CompanyCreated", {"company_id": "acme", "name": "Acme"})


def member(event_type: str, contact_id: str) -> tuple[str, dict]:
    return (f"CompanyMember{event_type}", {"company_id": "acme", "contact_id": contact_id})


def test_creating_a_new_company():
    assert domain.create_company(None, {"id": "acme", "name": "Acme"}) == [CREATED]
    assert given(CREATED).to_dict() == {"id": "acme", "name": "Acme", "member_ids": []}


def test_creating_an_existing_company_is_a_conflict():
    with pytest.raises(Conflict) as refused:
        domain.create_company(given(CREATED), {"id": "acme", "name": "Other"})
    assert refused.value.fields == {"id": "already exists"}


def test_renaming_records_the_new_name_and_the_same_name_records_nothing():
    company = given(CREATED)

    assert domain.rename_company(company, "acme", "Acme Corp") == [
        ("CompanyRenamed", {"company_id": "acme", "name": "Acme Corp"})
    ]
    assert domain.rename_company(company, "acme", "Acme") == []
    renamed = given(CREATED, ("CompanyRenamed", {"company_id": "acme", "name": "Acme Corp"}))
    assert renamed.name == "Acme Corp"


def test_members_are_added_once_and_removed():
    company = given(CREATED, member("Added", "bob"), member("Added", "ann"))

    assert company.to_dict()["member_ids"] == ["ann", "bob"]
    assert domain.add_member(company, "acme", "ann") == []
    assert domain.add_member(company, "acme", "carol") == [member("Added", "carol")]
    assert domain.remove_member(company, "acme", "bob") == [member("Removed", "bob")]
    assert given(CREATED, member("Added", "bob"), member("Removed", "bob")).member_ids == set()


def test_removing_someone_who_is_not_a_member_is_not_found():
    with pytest.raises(NotFound) as refused:
        domain.remove_member(given(CREATED, member("Added", "ann")), "acme", "bob")
    assert refused.value.fields == {"user_id": "not a member"}


@pytest.mark.parametrize(
    "command",
    [
        lambda: domain.rename_company(None, "acme", "Acme"),
        lambda: domain.add_member(None, "acme", "ann"),
        lambda: domain.remove_member(None, "acme", "ann"),
    ],
)
def test_commands_on_a_company_that_does_not_exist_are_not_found(command):
    with pytest.raises(NotFound) as refused:
        command()
    assert refused.value.fields == {"company_id": "not found"}
