"""Who may see a ticket in the portal and open a conversation in the Messenger.

portal_query answers reads with this rule and messenger_bridge decides replies and joins
with it, each from facts it folds itself from the same events, so the two cannot disagree:

* a user sees a ticket when they have an email, the ticket has a company they are a member
  of and, when the visibility conditions restrict them (:func:`kernel.visibility.restricts`),
  they created it;
* a conversation opens for its participants and for whoever sees its linked ticket.

A ticket or conversation a user may not see is answered exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kernel.visibility import restricts


class TicketOwnership(Protocol):
    """What the rule reads of a ticket."""

    company_id: str | None
    creator_id: str


@dataclass(frozen=True)
class PortalUser:
    """What the rule reads of a user: their contact's email and attributes (``None`` and
    empty when they are no contact) and the companies they are a member of."""

    id: str
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    companies: Collection[str] = ()

    @classmethod
    def of(cls, user_id: str, contact: Any, companies: Collection[str]) -> PortalUser:
        """The user from their contact (anything with ``email`` and ``attributes``), or
        from their id alone when they are no contact."""
        if contact is None:
            return cls(user_id, companies=companies)
        return cls(user_id, contact.email, contact.attributes, companies)


def restricted(user: PortalUser, conditions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the user sees only the tickets they created."""
    return restricts(conditions, user.attributes)


def may_see(
    user: PortalUser, conditions: Sequence[Mapping[str, Any]], ticket: TicketOwnership
) -> bool:
    """Whether the portal shows ``ticket`` to the user."""
    return not (
        not user.email
        or ticket.company_id is None
        or ticket.company_id not in user.companies
        or (restricted(user, conditions) and ticket.creator_id != user.id)
    )


def may_open(
    user: PortalUser,
    conditions: Sequence[Mapping[str, Any]],
    participant_ids: Collection[str],
    linked_ticket: TicketOwnership | None,
) -> bool:
    """Whether a conversation with these participants and linked ticket opens for the user."""
    if user.id in participant_ids:
        return True
    return linked_ticket is not None and may_see(user, conditions, linked_ticket)
