"""Tickets domain core: pure functions, commands in, events out, state folded from events.

The shell gathers what a rule needs from other services (which contacts exist, the companies
of the participants, the conversation being linked) and passes it in as plain data; nothing
here does I/O. Decisions are ``(event type, payload)`` pairs; errors are the kernel's types.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from kernel.contracts import fields as f
from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.errors import Conflict, NotFound, ValidationFailed

DEFAULT_STATE = "submitted"


@dataclass(frozen=True)
class Ticket:
    """A ticket folded from its stream; ``version`` is the stream's."""

    ticket_id: int
    ticket_type: str
    state: str
    title: str
    description: str
    attributes: tuple[dict, ...]
    creator_id: str
    participant_ids: tuple[str, ...]
    company_id: str | None
    # Whether a teammate chose the company (or "No company"): the automatic rule then no
    # longer applies to this ticket.
    company_chosen: bool
    conversation_id: str | None
    created_at: str
    updated_at: str
    version: int
    # The form a customer filled in (see ticket_types.form_snapshot); None: a teammate's.
    form: dict | None = None
    # Who made the last state change: {"type": "user" or "teammate", "id"}; None when no
    # change names its author (events written before authors were recorded).
    state_changed_by: dict | None = None

    def to_dict(self) -> dict:
        """The ticket as the RPC answers it: ``id`` and ``type`` name ``ticket_id`` and
        ``ticket_type``; tuples become lists."""
        return {
            "id": self.ticket_id,
            "type": self.ticket_type,
            "state": self.state,
            "title": self.title,
            "description": self.description,
            "attributes": [dict(attribute) for attribute in self.attributes],
            "creator_id": self.creator_id,
            "participant_ids": list(self.participant_ids),
            "company_id": self.company_id,
            "conversation_id": self.conversation_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "form": self.form,
            "state_changed_by": self.state_changed_by,
        }

    def customer_view(self) -> dict:
        """The ticket as its customer may see it: customer-visible attributes only, and
        nothing of the teammates' form."""
        return {
            **{key: value for key, value in self.to_dict().items() if key in CUSTOMER_FIELDS},
            "attributes": [dict(a) for a in self.attributes if a["visible_to_customer"]],
            "company_chosen": self.company_chosen,
        }


CUSTOMER_FIELDS = (
    "id",
    "type",
    "state",
    "title",
    "description",
    "creator_id",
    "company_id",
    "created_at",
    "updated_at",
)


def stream_of(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def _chosen(data: dict) -> dict:
    """Whether the event's company was a teammate's choice; an event written before this was
    recorded (schema version 1) counts as the automatic rule's."""
    return {"company_chosen": data.get("company_chosen", False)}


def _created(event: RecordedEvent) -> Ticket:
    """The ticket a TicketCreated describes: its payload names the ticket's own fields."""
    data = event.payload
    lists = {name: tuple(data[name]) for name in ("attributes", "participant_ids")}
    return Ticket(
        **{**data, **lists, **_chosen(data), "form": data.get("form")},
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
        version=event.stream_version,
    )


def _changes(event: RecordedEvent) -> dict:
    """The fields of a ticket an event after its creation sets."""
    data = event.payload
    if event.type == "TicketStateChanged":
        author = (
            {"type": data["author_type"], "id": data["author_id"]}
            if event.schema_version > 1
            else None
        )
        return {"state": data["state"], "state_changed_by": author}
    if event.type == "TicketEdited":
        return {key: data[key] for key in ("title", "description") if key in data}
    if event.type == "TicketAttributesChanged":
        return {"attributes": tuple(data["attributes"])}
    if event.type == "TicketCompanyAssigned":
        return {"company_id": data["company_id"], **_chosen(data)}
    if event.type == "TicketConversationLinked":
        return {
            "conversation_id": data["conversation_id"],
            "participant_ids": tuple(data["participant_ids"]),
        }
    return {}


def fold(history: Iterable[RecordedEvent]) -> Ticket | None:
    """The ticket as its events leave it; ``None`` before it is created."""
    ticket: Ticket | None = None
    for event in history:
        if event.type == "TicketCreated":
            ticket = _created(event)
        elif ticket is not None:
            ticket = replace(
                ticket,
                **_changes(event),
                updated_at=event.occurred_at,
                version=event.stream_version,
            )
    return ticket


def existing_ticket(history: Iterable[RecordedEvent], ticket_id: int) -> Ticket:
    ticket = fold(history)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist", {"ticket_id": "no such ticket"})
    return ticket


# Participants and contacts ----------------------------------------------------------------


def participants_of(creator_id: str, *groups: Iterable[str]) -> list[str]:
    """The creator first, then everyone in ``groups`` once, in the order given."""
    participants = [creator_id]
    for group in groups:
        participants.extend(p for p in group if p not in participants)
    if len(participants) > f.MAX_PARTICIPANTS:
        raise ValidationFailed(
            f"a ticket has at most {f.MAX_PARTICIPANTS} participants",
            {"participant_ids": f"at most {f.MAX_PARTICIPANTS} participants"},
        )
    return participants


def check_no_duplicates(participant_ids: list[str]) -> None:
    repeated = sorted({p for p in participant_ids if participant_ids.count(p) > 1})
    if repeated:
        raise ValidationFailed(
            f"participant_ids lists {', '.join(repeated)} more than once",
            {"participant_ids": f"duplicate ids: {', '.join(repeated)}"},
        )


def check_contacts_exist(
    creator_id: str, participant_ids: list[str], known: Collection[str]
) -> None:
    """Every participant must be an existing contact; the error names the unknown ids under
    the field that brought them in."""
    problems = {}
    if creator_id not in known:
        problems["creator_id"] = f"no contact {creator_id}"
    unknown = [p for p in participant_ids if p not in known and p != creator_id]
    if unknown:
        problems["participant_ids"] = f"no such contacts: {', '.join(unknown)}"
    if problems:
        raise ValidationFailed("unknown contacts: " + "; ".join(problems.values()), problems)


def check_attributes(attributes: list[dict]) -> None:
    names = [attribute["name"] for attribute in attributes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationFailed(
            f"attribute names must be unique: {', '.join(repeated)} repeated",
            {"attributes": f"duplicate names: {', '.join(repeated)}"},
        )


# The company rule --------------------------------------------------------------------------


def company_choices(participant_ids: Iterable[str], companies_of: Mapping[str, list]) -> list:
    """The companies of the ticket's participants: the options of the teammates' dropdown."""
    return sorted({c for p in participant_ids for c in companies_of.get(p, [])})


def automatic_company(choices: list[str]) -> str | None:
    """Exactly one choice is selected automatically; several or none mean "No company"."""
    return choices[0] if len(choices) == 1 else None


def chosen_company(command: dict, choices: list[str]) -> str | None:
    """``company_id`` absent: automatic; ``None``: No company; else it must be a choice."""
    if "company_id" not in command:
        return automatic_company(choices)
    company_id = command["company_id"]
    check_choice(company_id, choices)
    return company_id


def check_choice(company_id: str | None, choices: list[str]) -> None:
    """A teammate picks "No company" or one of the choices."""
    if company_id is not None and company_id not in choices:
        raise ValidationFailed(
            f"company {company_id} is not a company of the ticket's participants",
            {"company_id": f"must be one of: {', '.join(choices) or 'none (No company only)'}"},
        )


def _company_assigned(ticket: Ticket, company_id: str | None, chosen: bool) -> Decision:
    return (
        "TicketCompanyAssigned",
        {
            "ticket_id": ticket.ticket_id,
            "company_id": company_id,
            "previous_company_id": ticket.company_id,
            "company_chosen": chosen,
        },
    )


# Commands ----------------------------------------------------------------------------------


def open_ticket(
    ticket_id: int,
    command: dict,
    participant_ids: list[str],
    known_contacts: Collection[str],
    companies_of: Mapping[str, list],
    conversation_id: str | None = None,
    form: dict | None = None,
) -> list[Decision]:
    """A new ticket (created, or converted from a conversation when ``conversation_id`` is
    given). ``participant_ids`` is :func:`participants_of` the creator and everyone else;
    ``form`` is the form a customer filled in (``None``: a teammate's ticket)."""
    creator_id = participant_ids[0]
    check_contacts_exist(creator_id, participant_ids, known_contacts)
    attributes = command.get("attributes", [])
    check_attributes(attributes)
    company_id = chosen_company(command, company_choices(participant_ids, companies_of))
    decisions: list[Decision] = [
        (
            "TicketCreated",
            {
                "ticket_id": ticket_id,
                "ticket_type": command["type"],
                "state": command.get("state", DEFAULT_STATE),
                "title": command["title"],
                "description": command.get("description", ""),
                "attributes": attributes,
                "creator_id": creator_id,
                "participant_ids": participant_ids,
                "company_id": company_id,
                # Present in the command, even as null ("No company"): a teammate's choice.
                "company_chosen": "company_id" in command,
                "conversation_id": conversation_id,
                "form": form,
            },
        )
    ]
    if conversation_id is not None:
        decisions.append(_linked(ticket_id, conversation_id, participant_ids))
    return decisions


def _linked(ticket_id: int, conversation_id: str, participant_ids: list[str]) -> Decision:
    """Always emitted when a ticket gets its conversation: the shell gives this event the
    conversation's link id, which makes the link unique in the store."""
    return (
        "TicketConversationLinked",
        {
            "ticket_id": ticket_id,
            "conversation_id": conversation_id,
            "participant_ids": participant_ids,
        },
    )


def needs_company_choices(ticket: Ticket, command: dict) -> bool:
    """Whether an update must check its company against the choices: it picks a company
    other than the ticket's (clearing it, or keeping the current one, needs no check)."""
    company_id = command.get("company_id")
    return company_id is not None and company_id != ticket.company_id


def update_ticket(ticket: Ticket, command: dict, choices: list[str]) -> list[Decision]:
    """Only what changes: setting a field to its current value emits nothing, except that
    setting the company the automatic rule gave records it as the teammate's choice."""
    number = ticket.ticket_id
    decisions: list[Decision] = []
    if "state" in command and command["state"] != ticket.state:
        decisions.append(_state_changed(ticket, command["state"], "teammate", None))
    edits = {
        key: command[key]
        for key in ("title", "description")
        if key in command and command[key] != getattr(ticket, key)
    }
    if edits:
        decisions.append(("TicketEdited", {"ticket_id": number, **edits}))
    if "attributes" in command:
        check_attributes(command["attributes"])
        if command["attributes"] != list(ticket.attributes):
            decisions.append(
                (
                    "TicketAttributesChanged",
                    {"ticket_id": number, "attributes": command["attributes"]},
                )
            )
    if "company_id" in command:
        company_id = command["company_id"]
        if company_id != ticket.company_id:
            check_choice(company_id, choices)
        # Confirming the company the automatic rule gave makes it the teammate's choice.
        if company_id != ticket.company_id or not ticket.company_chosen:
            decisions.append(_company_assigned(ticket, company_id, chosen=True))
    return decisions


def _state_changed(ticket: Ticket, state: str, author_type: str, author_id: str | None) -> Decision:
    return (
        "TicketStateChanged",
        {
            "ticket_id": ticket.ticket_id,
            "state": state,
            "previous_state": ticket.state,
            "author_type": author_type,
            "author_id": author_id,
        },
    )


# A customer resolves a ticket that is not resolved yet, or reopens a resolved one; it goes
# back to the team ("in_progress"), as a customer's reply to a ticket does in the article's
# product, rather than to "submitted", which would lose that the team had it.
REOPENED_STATE = "in_progress"


def customer_state_change(ticket: Ticket, user_id: str, action: str) -> list[Decision]:
    """A portal user's resolve or reopen. Asking for the state the ticket is in already, or
    reopening one that is not resolved, is a :class:`Conflict` (nothing written)."""
    if action == "resolve":
        if ticket.state == "resolved":
            raise Conflict(
                f"ticket {ticket.ticket_id} is resolved already", {"state": "resolved already"}
            )
        return [_state_changed(ticket, "resolved", "user", user_id)]
    if ticket.state != "resolved":
        raise Conflict(
            f"ticket {ticket.ticket_id} is not resolved, so it cannot be reopened",
            {"state": f"{ticket.state}: only a resolved ticket can be reopened"},
        )
    return [_state_changed(ticket, REOPENED_STATE, "user", user_id)]


def linked_participants(ticket: Ticket, conversation_participants: Iterable[str]) -> list[str]:
    return participants_of(ticket.creator_id, ticket.participant_ids, conversation_participants)


def link_conversation(
    ticket: Ticket,
    conversation_id: str,
    conversation_participants: Iterable[str],
    companies_of: Mapping[str, list],
) -> list[Decision]:
    """Link a ticket to a conversation: its participants join the ticket's.

    A company (or "No company") a teammate chose stays. Otherwise the automatic rule is
    applied again over the united participants, so a ticket whose participants now make
    several companies goes back to "No company" until a teammate picks one. Linking again
    to the same conversation changes nothing; a ticket has at most one conversation."""
    if ticket.conversation_id == conversation_id:
        return []
    if ticket.conversation_id is not None:
        raise Conflict(
            f"ticket {ticket.ticket_id} is already linked to conversation {ticket.conversation_id}",
            {"conversation_id": f"ticket already linked to {ticket.conversation_id}"},
        )
    participants = linked_participants(ticket, conversation_participants)
    decisions = [_linked(ticket.ticket_id, conversation_id, participants)]
    if not ticket.company_chosen:
        company_id = automatic_company(company_choices(participants, companies_of))
        if company_id != ticket.company_id:
            decisions.append(_company_assigned(ticket, company_id, chosen=False))
    return decisions


def link_needs_companies(ticket: Ticket) -> bool:
    """Whether linking a (new) conversation applies the automatic rule, which needs the
    companies of the united participants."""
    return not ticket.company_chosen and ticket.conversation_id is None


def next_ticket_number(exists: Callable[[int], bool]) -> int:
    """The first unused display id. Ids are handed out without gaps (a create that loses
    the race for a number retries with the next), so "ticket n exists" is monotone and an
    exponential then binary search finds the end in O(log n) lookups."""
    high = 1
    while exists(high):
        high *= 2
    low = high // 2  # exists(low) unless low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if exists(middle):
            low = middle
        else:
            high = middle
    return high if low or exists(1) else 1
