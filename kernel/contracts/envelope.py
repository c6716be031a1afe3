"""The event envelope: what a service proposes (:class:`NewEvent`) and what the store keeps
(:class:`RecordedEvent`, with its stream version and global position).

Validation happens at every edge: :func:`check_new_event` before an append,
:func:`check_envelope` when an event arrives from the bus.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from kernel.contracts import fields as f
from kernel.contracts.events import EVENT_TYPES, LATEST_VERSION, category_of
from kernel.contracts.validation import validate
from kernel.errors import ValidationFailed

STREAM_ID_PATTERN = r"[a-z_]+-" + f.ID_PATTERN
# Identifies events derived from an idempotency key: uuid5(namespace, f"{key}:{index}").
EVENT_ID_NAMESPACE = uuid.UUID("3f6c1a52-8d0e-4b8e-9a77-5b1de0c7a0f4")

# The envelope's fields, in the order of RecordedEvent and of the stores' columns: the one
# list every codec of the envelope spells them from.
ENVELOPE_FIELDS = (
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "type",
    "schema_version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "payload",
    "metadata",
)
# The fields a writer supplies; the store assigns the others.
NEW_EVENT_FIELDS = tuple(f for f in ENVELOPE_FIELDS if f not in ("position", "stream_version"))

# What a domain core decides: ``(event type, payload)``, made into a NewEvent by the kernel.
Decision = tuple[str, dict[str, Any]]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def derived_event_id(command_id: str, index: int) -> str:
    """The id of the ``index``-th event a command produces; stable across retries."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{command_id}:{index}"))


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    payload: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    schema_version: int = 0  # 0: the latest version of ``type``
    occurred_at: str = field(default_factory=utc_now)
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.schema_version:
            object.__setattr__(self, "schema_version", LATEST_VERSION.get(self.type, 1))


class RecordedEvent(NamedTuple):
    """A stored event. Payload and metadata may be kept encoded and are decoded on access."""

    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    occurred_at: str
    correlation_id: str | None
    causation_id: str | None
    raw_payload: str | dict
    raw_metadata: str | dict

    @property
    def payload(self) -> dict[str, Any]:
        raw = self.raw_payload
        return json.loads(raw) if isinstance(raw, str) else raw

    @property
    def metadata(self) -> dict[str, Any]:
        raw = self.raw_metadata
        return json.loads(raw) if isinstance(raw, str) else raw

    def to_dict(self) -> dict[str, Any]:
        """The envelope with its payload and metadata decoded, keyed by ENVELOPE_FIELDS."""
        values = (*self[:-2], self.payload, self.metadata)
        return dict(zip(ENVELOPE_FIELDS, values, strict=True))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordedEvent:
        """An envelope already checked against ENVELOPE_SCHEMA (optional fields may be
        missing)."""
        return cls(*(data.get(name) for name in ENVELOPE_FIELDS[:-1]), data.get("metadata") or {})


def recorded(event: NewEvent, stream_id: str, stream_version: int, position: int) -> RecordedEvent:
    """``event`` as a store keeps it at ``position``: the one place every backend turns a new
    event into a stored one."""
    placed = {"position": position, "stream_id": stream_id, "stream_version": stream_version}
    return RecordedEvent(
        *(placed[name] if name in placed else getattr(event, name) for name in ENVELOPE_FIELDS)
    )


_OPTIONAL_TRACE = {"type": "string", "nullable": True, "maxlength": 128, "check_with": "one_line"}

ENVELOPE_SCHEMA = {
    "position": {"type": "integer", "min": 1, "required": True},
    "event_id": {"type": "string", "required": True, "regex": f.UUID_PATTERN + r"\Z"},
    "stream_id": {"type": "string", "required": True, "regex": STREAM_ID_PATTERN + r"\Z"},
    "stream_version": {"type": "integer", "min": 1, "required": True},
    "type": {"type": "string", "required": True, "maxlength": 64, "check_with": "one_line"},
    "schema_version": {"type": "integer", "min": 1, "required": True},
    "occurred_at": f.timestamp(required=True),
    "correlation_id": _OPTIONAL_TRACE,
    "causation_id": _OPTIONAL_TRACE,
    "payload": {"type": "dict", "required": True},
    "metadata": {"type": "dict"},
}

NEW_EVENT_SCHEMA = {name: ENVELOPE_SCHEMA[name] for name in NEW_EVENT_FIELDS}


def check_payload(stream_id: str, event_type: str, schema_version: int, payload: Any) -> None:
    """Raise :class:`ValidationFailed` unless ``payload`` is a valid ``event_type`` of
    the stream's category."""
    kind = EVENT_TYPES.get((event_type, schema_version))
    if kind is None:
        raise ValidationFailed(
            f"unknown event type {event_type!r} version {schema_version}",
            {"type": "unknown event type"},
        )
    if category_of(stream_id) != kind.category:
        raise ValidationFailed(
            f"{event_type} does not belong in stream {stream_id!r}",
            {"stream_id": f"must be a {kind.category} stream"},
        )
    validate(kind.schema, payload, f"{event_type} payload")


def check_new_event(stream_id: str, event: NewEvent) -> None:
    document = {
        name: stream_id if name == "stream_id" else getattr(event, name)
        for name in NEW_EVENT_FIELDS
    }
    validate(NEW_EVENT_SCHEMA, document, "event envelope")
    check_payload(stream_id, event.type, event.schema_version, event.payload)


def check_envelope(data: Any) -> RecordedEvent:
    """Validate an envelope received from outside the store (the bus) and return it."""
    document = validate(ENVELOPE_SCHEMA, data, "event envelope")
    check_payload(
        document["stream_id"], document["type"], document["schema_version"], document["payload"]
    )
    return RecordedEvent.from_dict(document)
