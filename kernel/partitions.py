"""Which portal_query partition holds and serves each company, the same everywhere.

The read side is split into ``PORTAL_PARTITIONS`` partitions by company. A company belongs to
the partition a stable hash of its id names, unless the store says otherwise: a company is
moved by three ``CompanyPartitionAssigned`` events on one stream (``copy``: the target starts
holding it; ``switch``: the target serves it; ``drop``: the previous owner lets it go), so
every partition and every caller folds the same assignment from the same events. A ticket
without a company is held by the partition of its creator's id hash (its "home").

Each partition is its own Nameko service (``portal_query_p0``...), so its RPC queue is
``rpc-portal_query_p0`` and every copy of one partition competes on that queue. With one
partition the service keeps the name ``portal_query``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE = "portal_query"
ASSIGNMENT_STREAM = "portal_partition-companies"
ASSIGNED = "CompanyPartitionAssigned"
STEPS = ("copy", "switch", "drop")


def service_name(partition: int, count: int) -> str:
    """The Nameko service (and RPC queue ``rpc-<name>``) of a partition."""
    return SERVICE if count == 1 else f"{SERVICE}_p{partition}"


def hashed(key: str, count: int) -> int:
    """A stable hash of ``key`` (the same in every process and release) modulo ``count``."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass
class Assignment:
    """Where companies live, folded from the ``CompanyPartitionAssigned`` events."""

    count: int
    owners: dict[str, int] = field(default_factory=dict)  # switched away from the hash
    copying: dict[str, int] = field(default_factory=dict)  # copied, not switched yet
    leaving: dict[str, int] = field(default_factory=dict)  # switched, not dropped yet

    def owner(self, company_id: str) -> int:
        """The partition that serves the company (an assignment to a partition that no
        longer exists, after ``PORTAL_PARTITIONS`` shrank, falls back to the hash)."""
        owner = self.owners.get(company_id)
        return owner if owner is not None and owner < self.count else hashed(company_id, self.count)

    def home(self, user_id: str) -> int:
        """The partition holding the user's tickets without a company."""
        return hashed(user_id, self.count)

    def holders(self, company_id: str) -> set[int]:
        """Every partition that holds the company's tickets: its owner, and during a move
        the target (copied, not switched yet) or the previous owner (not dropped yet)."""
        held = {self.owner(company_id)}
        for moving in (self.copying, self.leaving):
            if moving.get(company_id, self.count) < self.count:
                held.add(moving[company_id])
        return held

    def ticket_holders(self, company_id: str | None, creator_id: str) -> set[int]:
        return {self.home(creator_id)} if company_id is None else self.holders(company_id)

    def serving(self, company_ids: Iterable[str]) -> list[int]:
        """The partitions that serve these companies, in order."""
        return sorted({self.owner(company) for company in company_ids})

    def apply(self, payload: Mapping[str, Any]) -> None:
        """One ``CompanyPartitionAssigned`` step."""
        company, partition, step = payload["company_id"], payload["partition"], payload["step"]
        if step == "copy":
            self.copying[company] = partition
        elif step == "switch":
            previous = self.owner(company)
            self.copying.pop(company, None)
            if partition == hashed(company, self.count):
                self.owners.pop(company, None)
            else:
                self.owners[company] = partition
            if previous != partition:
                self.leaving[company] = previous
        else:
            self.leaving.pop(company, None)


# Orders of the filter choices, shared by one partition's answer and the merge of several,
# total (ties broken by the exact text), so both give the same list whatever the order the
# names were gathered in (types differing only in case, such as "Bug" and "bug", included).


def type_order(name: str) -> tuple[str, str]:
    return name.casefold(), name


def creator_order(creator: Mapping[str, Any]) -> tuple[str, str]:
    return (creator["name"] or creator["id"]).casefold(), creator["id"]
