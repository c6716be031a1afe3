"""Companies domain core: a company (stream ``company-<id>``) and its members.

Pure functions: the company is folded from its events; a command and that state decide the
new events as ``(type, payload)`` pairs. Commands that would change nothing (renaming to
the same name, adding a member twice) decide no event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.errors import Conflict, NotFound


@dataclass(frozen=True)
class Company:
    """A company and who belongs to it."""

    company_id: str
    name: str
    member_ids: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.company_id, "name": self.name, "member_ids": sorted(self.member_ids)}


def stream_of(company_id: str) -> str:
    return f"company-{company_id}"


def fold(history: Iterable[RecordedEvent]) -> Company | None:
    company = None
    for event in history:
        data = event.payload
        if event.type == "CompanyCreated":
            company = Company(data["company_id"], data["name"], frozenset())
        elif company is None:
            continue
        elif event.type == "CompanyRenamed":
            company = replace(company, name=data["name"])
        elif event.type == "CompanyMemberAdded":
            company = replace(company, member_ids=company.member_ids | {data["contact_id"]})
        elif event.type == "CompanyMemberRemoved":
            company = replace(company, member_ids=company.member_ids - {data["contact_id"]})
    return company


def existing(company: Company | None, company_id: str) -> Company:
    """The company, or :class:`NotFound` when it was never created."""
    if company is None:
        raise NotFound(f"company {company_id} does not exist", {"company_id": "not found"})
    return company


def create_company(company: Company | None, command: dict[str, Any]) -> list[Decision]:
    if company is not None:
        raise Conflict(f"company {command['id']} already exists", {"id": "already exists"})
    return [("CompanyCreated", {"company_id": command["id"], "name": command["name"]})]


def rename_company(company: Company | None, company_id: str, name: str) -> list[Decision]:
    company = existing(company, company_id)
    if company.name == name:
        return []
    return [("CompanyRenamed", {"company_id": company_id, "name": name})]


def add_member(company: Company | None, company_id: str, contact_id: str) -> list[Decision]:
    company = existing(company, company_id)
    if contact_id in company.member_ids:
        return []
    return [("CompanyMemberAdded", {"company_id": company_id, "contact_id": contact_id})]


def remove_member(company: Company | None, company_id: str, contact_id: str) -> list[Decision]:
    company = existing(company, company_id)
    if contact_id not in company.member_ids:
        raise NotFound(
            f"{contact_id} is not a member of company {company_id}", {"user_id": "not a member"}
        )
    return [("CompanyMemberRemoved", {"company_id": company_id, "contact_id": contact_id})]
