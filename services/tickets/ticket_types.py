"""Ticket types and their submission forms: pure rules, commands in, events out.

A ticket type belongs to the tickets service because a ticket is checked against it when it
is created and keeps a copy of its form (``TicketCreated.form``): the check and the copy are
taken from the type's own stream in the same service that appends the ticket, with no
other service in between. A type's stream version is its version; each event holds the type
in full, so the form a ticket was created with is named by ``(type_id, type_version)``.

A customer sees only the types marked ``customer_creatable`` and, of each, only the fields
``visible_to_customer``; their answers are checked here, field by field, against what the
form says (required, type, the options of a select).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.errors import Conflict, NotFound, ValidationFailed

DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class TicketType:
    """A ticket type folded from its stream; ``version`` is the stream's."""

    ticket_type_id: str
    name: str
    description: str
    customer_creatable: bool
    attributes: tuple[dict, ...]
    version: int

    def to_dict(self) -> dict:
        return {
            "id": self.ticket_type_id,
            "name": self.name,
            "description": self.description,
            "customer_creatable": self.customer_creatable,
            "attributes": [dict(field) for field in self.attributes],
            "version": self.version,
        }

    def customer_fields(self) -> list[dict]:
        return [dict(field) for field in self.attributes if field["visible_to_customer"]]

    def customer_view(self) -> dict:
        """The type as a customer's form shows it: only the fields they may fill in."""
        return {
            "id": self.ticket_type_id,
            "name": self.name,
            "description": self.description,
            "attributes": self.customer_fields(),
        }


def stream_of(ticket_type_id: str) -> str:
    return f"ticket_type-{ticket_type_id}"


def fold(history: Iterable[RecordedEvent]) -> TicketType | None:
    """The type as its last event describes it; ``None`` before it is created."""
    ticket_type = None
    for event in history:
        data = event.payload
        ticket_type = TicketType(
            ticket_type_id=data["ticket_type_id"],
            name=data["name"],
            description=data["description"],
            customer_creatable=data["customer_creatable"],
            attributes=tuple(data["attributes"]),
            version=event.stream_version,
        )
    return ticket_type


def existing_type(history: Iterable[RecordedEvent], ticket_type_id: str) -> TicketType:
    ticket_type = fold(history)
    if ticket_type is None:
        raise NotFound(
            f"ticket type {ticket_type_id} does not exist", {"ticket_type_id": "no such type"}
        )
    return ticket_type


# Defining a type -----------------------------------------------------------------------------


def _form_fields(fields: list[dict]) -> list[dict]:
    """The form's fields, each with ``options`` (empty unless a select), after checking
    that keys are unique and that a select, and only a select, has distinct options."""
    problems = {}
    keys = [field["key"] for field in fields]
    for index, field in enumerate(fields):
        options = field.get("options", [])
        where = f"attributes.{index}.options"
        if keys.count(field["key"]) > 1:
            problems[f"attributes.{index}.key"] = f"key {field['key']} is used more than once"
        elif field["type"] == "select" and not options:
            problems[where] = "a select needs at least one option"
        elif field["type"] != "select" and options:
            problems[where] = "only a select has options"
        elif len(set(options)) != len(options):
            problems[where] = "options must be distinct"
    if problems:
        raise ValidationFailed("the form's fields are not valid", problems)
    return [{**field, "options": list(field.get("options", []))} for field in fields]


def define_type(command: dict, existing: TicketType | None) -> list[Decision]:
    if existing is not None:
        raise Conflict(
            f"ticket type {command['id']} exists already", {"id": "a ticket type has this id"}
        )
    return [
        (
            "TicketTypeCreated",
            {
                "ticket_type_id": command["id"],
                "name": command["name"],
                "description": command.get("description", ""),
                "customer_creatable": command.get("customer_creatable", False),
                "attributes": _form_fields(command.get("attributes", [])),
            },
        )
    ]


def change_type(ticket_type: TicketType, command: dict) -> list[Decision]:
    """The type with the command's fields replaced; nothing when nothing changes. Tickets
    created before keep the form they were created with."""
    current = {
        "ticket_type_id": ticket_type.ticket_type_id,
        "name": ticket_type.name,
        "description": ticket_type.description,
        "customer_creatable": ticket_type.customer_creatable,
        "attributes": [dict(field) for field in ticket_type.attributes],
    }
    changed = {**current, **command}
    changed["attributes"] = _form_fields(changed["attributes"])
    return [] if changed == current else [("TicketTypeChanged", changed)]


# A customer's submission ---------------------------------------------------------------------


def creatable_type(ticket_type: TicketType | None, type_id: str) -> TicketType:
    """The type a customer asked for, if customers may create it; unknown and uncreatable
    are answered alike, so a customer learns nothing of the teammates' own types."""
    if ticket_type is None or not ticket_type.customer_creatable:
        raise ValidationFailed(
            f"there is no ticket type {type_id} a customer may create",
            {"type": "no ticket type a customer may create has this id"},
        )
    return ticket_type


def _value_problem(field: Mapping[str, Any], value: Any) -> str | None:
    """What is wrong with ``value`` for the field, or ``None``."""
    kind = field["type"]
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "number":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if number and math.isfinite(value) else "must be a number"
    if not isinstance(value, str):
        return "must be text"
    if kind == "select" and value not in field["options"]:
        return "must be one of: " + ", ".join(field["options"])
    if kind == "date" and not _is_date(value):
        return "must be a date (YYYY-MM-DD)"
    return None


def _is_date(value: str) -> bool:
    try:
        return bool(DATE.match(value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def answered_attributes(ticket_type: TicketType, answers: Mapping[str, Any]) -> list[dict]:
    """The ticket attributes a customer's answers make, in the form's order, or one
    :class:`ValidationFailed` naming every field at fault (``attributes.<key>``). An empty
    or null answer to an optional field is no answer."""
    fields = {field["key"]: field for field in ticket_type.customer_fields()}
    problems = {
        f"attributes.{key}": "not a field of this ticket type's form"
        for key in answers
        if key not in fields
    }
    attributes = []
    for key, field in fields.items():
        value = answers.get(key)
        if _missing(value):
            if field["required"]:
                problems[f"attributes.{key}"] = f"{field['label']} is required"
            continue
        problem = _value_problem(field, value)
        if problem:
            problems[f"attributes.{key}"] = problem
            continue
        attributes.append({"name": key, "value": value, "visible_to_customer": True})
    if problems:
        raise ValidationFailed("the form's answers are not valid", problems)
    return attributes


def form_snapshot(ticket_type: TicketType) -> dict:
    """The form a customer's ticket keeps: the type's version and its fields then."""
    return {
        "type_id": ticket_type.ticket_type_id,
        "type_version": ticket_type.version,
        "attributes": [dict(field) for field in ticket_type.attributes],
    }
