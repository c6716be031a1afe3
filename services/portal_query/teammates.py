"""Answers only teammates get from the read model: the companies and their members, the
inbox's filter choices, and how many portal users visibility conditions would restrict
before a teammate saves them.

Pure functions of the view, like :mod:`services.portal_query.queries`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kernel.errors import NotFound
from kernel.visibility import matches, restricts
from services.portal_query.queries import View, facets


def companies(view: View) -> dict[str, Any]:
    """Every company by name, with how many members and tickets it has."""
    model, partitions = view.model, view.index.partitions
    items = [
        {
            "id": company_id,
            "name": name,
            "members": len(model.members.get(company_id, ())),
            "tickets": len(partitions[company_id]) if company_id in partitions else 0,
        }
        for company_id, name in model.companies.items()
    ]
    return {"items": sorted(items, key=lambda c: (c["name"].casefold(), c["id"]))}


def company_members(view: View, company_id: str) -> dict[str, Any]:
    """A company profile's members, by name, with what the portal needs of them."""
    model = view.model
    if company_id not in model.companies:
        raise NotFound(f"company {company_id} does not exist")
    members = []
    for contact_id in model.members.get(company_id, ()):
        contact = model.contacts.get(contact_id)
        members.append(
            {
                "id": contact_id,
                "name": contact.name if contact else None,
                "email": contact.email if contact else None,
                "attributes": dict(contact.attributes) if contact else {},
            }
        )
    members.sort(key=lambda m: ((m["name"] or m["email"] or m["id"]).casefold(), m["id"]))
    return {"id": company_id, "name": model.companies[company_id], "members": members}


def inbox_facets(view: View) -> dict[str, Any]:
    """The inbox filters' choices: over every ticket, "No company" ones included."""
    partitions = view.index.partitions
    answer = facets(view.model, [(p, p.live) for p in partitions.values()])
    return {**answer, "no_company": None in partitions and len(partitions[None]) > 0}


def restricted_counts(view: View, conditions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Of the portal's users (contacts who are members of a company), how many each
    condition matches and how many all of them together restrict to their own tickets."""
    model = view.model
    users = [
        model.contacts[contact_id].attributes
        for contact_id, companies_of in model.companies_of.items()
        if companies_of and contact_id in model.contacts
    ]
    return {
        "users": len(users),
        "restricted": sum(1 for attributes in users if restricts(conditions, attributes)),
        "conditions": [
            sum(1 for attributes in users if matches(condition, attributes or {}))
            for condition in conditions
        ],
    }
