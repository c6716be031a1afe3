"""Every event of the platform: its stream category, owning service and payload schema.

Events are keyed by ``(type, schema_version)``. A change to a payload's shape gets a new
version here; stored events keep the version they were written with. Streams are named
``<category>-<id>``; each category belongs to exactly one service, which alone may append to
it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from kernel.contracts import fields as f

CATEGORY_OWNERS = {
    "contact": "identity",
    "session": "identity",
    "portal_settings": "identity",
    "company": "companies",
    "ticket": "tickets",
    "ticket_type": "tickets",
    "conversation": "messenger_bridge",
    "notification_preferences": "notifications",
    "portal_partition": "portal_query",
}

# The portal settings are one per workspace: a single stream.
PORTAL_SETTINGS_STREAM = "portal_settings-workspace"


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    category: str
    schema: dict


def _required(schema: dict) -> dict:
    """Every payload field is required unless the rule says otherwise."""
    return {key: {"required": True, **rule} for key, rule in schema.items()}


_CONTACT_STATE = _required(
    {
        "contact_id": f.entity_id(),
        "email": f.email(nullable=True),
        "name": f.one_line(f.MAX_NAME, nullable=True),
        "attributes": f.CONTACT_ATTRIBUTES,
    }
)

_TICKET_CREATED = _required(
    {
        "ticket_id": f.ticket_id(),
        "ticket_type": f.TICKET_TYPE,
        "state": {"type": "string", "allowed": list(f.TICKET_STATES)},
        "title": f.one_line(f.MAX_TITLE),
        "description": f.text(),
        "attributes": f.TICKET_ATTRIBUTES,
        "creator_id": f.entity_id(),
        "participant_ids": f.id_list(),
        "company_id": f.entity_id(nullable=True),
        "conversation_id": f.entity_id(nullable=True),
    }
)

# Version 2 of TicketCreated and TicketCompanyAssigned records whether a teammate chose the
# company (or "No company"); a version 1 event counts as the automatic rule's.
_COMPANY_CHOSEN = {"company_chosen": {"type": "boolean", "required": True}}

# Version 3 of TicketCreated keeps the form a customer filled in (``None``: a teammate's
# ticket): the type's id and version, and the fields as they were then, so a later change
# to the type leaves the ticket's form as it was.
_FORM = {
    "form": {
        "type": "dict",
        "nullable": True,
        "required": True,
        "schema": _required(
            {
                "type_id": f.entity_id(),
                "type_version": {"type": "integer", "min": 1},
                "attributes": f.FORM_ATTRIBUTES,
            }
        ),
    }
}

_TICKET_STATE_CHANGED = _required(
    {
        "ticket_id": f.ticket_id(),
        "state": {"type": "string", "allowed": list(f.TICKET_STATES)},
        "previous_state": {"type": "string", "allowed": list(f.TICKET_STATES)},
    }
)
# Version 2 of TicketStateChanged names who changed the state: a teammate (the teammate API
# carries no teammate id, so ``author_id`` is null) or a portal user resolving or reopening.
_STATE_AUTHOR = _required(
    {
        "author_type": {"type": "string", "allowed": list(f.AUTHOR_TYPES)},
        "author_id": f.entity_id(nullable=True),
    }
)

# A ticket type in full, as each of its events leaves it; its stream version is its version.
_TICKET_TYPE_STATE = _required(
    {
        "ticket_type_id": f.entity_id(),
        "name": f.TICKET_TYPE,
        "description": f.text(),
        "customer_creatable": {"type": "boolean"},
        "attributes": f.FORM_ATTRIBUTES,
    }
)

_TICKET_COMPANY_ASSIGNED = _required(
    {
        "ticket_id": f.ticket_id(),
        "company_id": f.entity_id(nullable=True),
        "previous_company_id": f.entity_id(nullable=True),
    }
)

_PORTAL_SETTINGS = _required(
    {"preview_enabled": {"type": "boolean"}, "visibility_conditions": f.VISIBILITY_CONDITIONS}
)
# Version 2 records whether the portal is on; a version 1 event leaves it on (the portal was
# always on before teammates could turn it off).
_PORTAL_SWITCH = {"portal_enabled": {"type": "boolean", "required": True}}

_EVENTS = [
    # identity
    EventType("ContactCreated", 1, "contact", _CONTACT_STATE),
    EventType("ContactUpdated", 1, "contact", _CONTACT_STATE),
    EventType(
        "PortalSessionStarted",
        1,
        "session",
        _required(
            {
                "session_id": f.uuid(),
                "contact_id": f.entity_id(),
                "method": {"type": "string", "allowed": list(f.SESSION_METHODS)},
                "expires_at": f.timestamp(),
            }
        ),
    ),
    EventType(
        "PortalSessionRevoked",
        1,
        "session",
        _required({"session_id": f.uuid(), "contact_id": f.entity_id()}),
    ),
    # On the contact's stream: every session of the contact started before this event (by
    # position) is revoked. session_count: the live sessions known when it was decided.
    EventType(
        "PortalSessionsRevoked",
        1,
        "contact",
        _required({"contact_id": f.entity_id(), "session_count": {"type": "integer", "min": 1}}),
    ),
    EventType("PortalSettingsChanged", 1, "portal_settings", _PORTAL_SETTINGS),
    EventType(
        "PortalSettingsChanged", 2, "portal_settings", {**_PORTAL_SETTINGS, **_PORTAL_SWITCH}
    ),
    # companies
    EventType(
        "CompanyCreated",
        1,
        "company",
        _required({"company_id": f.entity_id(), "name": f.one_line(f.MAX_NAME)}),
    ),
    EventType(
        "CompanyRenamed",
        1,
        "company",
        _required({"company_id": f.entity_id(), "name": f.one_line(f.MAX_NAME)}),
    ),
    EventType(
        "CompanyMemberAdded",
        1,
        "company",
        _required({"company_id": f.entity_id(), "contact_id": f.entity_id()}),
    ),
    EventType(
        "CompanyMemberRemoved",
        1,
        "company",
        _required({"company_id": f.entity_id(), "contact_id": f.entity_id()}),
    ),
    # tickets
    EventType("TicketCreated", 1, "ticket", _TICKET_CREATED),
    EventType("TicketCreated", 2, "ticket", {**_TICKET_CREATED, **_COMPANY_CHOSEN}),
    EventType("TicketCreated", 3, "ticket", {**_TICKET_CREATED, **_COMPANY_CHOSEN, **_FORM}),
    EventType("TicketStateChanged", 1, "ticket", _TICKET_STATE_CHANGED),
    EventType("TicketStateChanged", 2, "ticket", {**_TICKET_STATE_CHANGED, **_STATE_AUTHOR}),
    EventType(
        "TicketEdited",
        1,
        "ticket",
        {
            "ticket_id": f.ticket_id(required=True),
            "title": f.one_line(f.MAX_TITLE),
            "description": f.text(),
        },
    ),
    EventType(
        "TicketAttributesChanged",
        1,
        "ticket",
        _required({"ticket_id": f.ticket_id(), "attributes": f.TICKET_ATTRIBUTES}),
    ),
    EventType("TicketCompanyAssigned", 1, "ticket", _TICKET_COMPANY_ASSIGNED),
    EventType(
        "TicketCompanyAssigned", 2, "ticket", {**_TICKET_COMPANY_ASSIGNED, **_COMPANY_CHOSEN}
    ),
    EventType(
        "TicketConversationLinked",
        1,
        "ticket",
        _required(
            {
                "ticket_id": f.ticket_id(),
                "conversation_id": f.entity_id(),
                "participant_ids": f.id_list(),
            }
        ),
    ),
    EventType("TicketTypeCreated", 1, "ticket_type", _TICKET_TYPE_STATE),
    EventType("TicketTypeChanged", 1, "ticket_type", _TICKET_TYPE_STATE),
    # notifications: a contact's e-mail preferences, changed on the portal or by a one-click
    # unsubscribe from an e-mail (source).
    EventType(
        "NotificationPreferencesChanged",
        1,
        "notification_preferences",
        _required(
            {
                "contact_id": f.entity_id(),
                "my_tickets": {"type": "boolean"},
                "company_tickets": {"type": "boolean"},
                "source": {"type": "string", "allowed": list(f.PREFERENCE_SOURCES)},
            }
        ),
    ),
    # portal_query's partitions: one step of moving a company (kernel/partitions.py)
    EventType(
        "CompanyPartitionAssigned",
        1,
        "portal_partition",
        _required(
            {
                "company_id": f.entity_id(),
                "partition": {"type": "integer", "min": 0},
                "step": {"type": "string", "allowed": ["copy", "switch", "drop"]},
            }
        ),
    ),
    # messenger_bridge
    EventType(
        "ConversationStarted",
        1,
        "conversation",
        _required({"conversation_id": f.entity_id(), "contact_id": f.entity_id()}),
    ),
    EventType(
        "ConversationPartAdded",
        1,
        "conversation",
        _required(
            {
                "conversation_id": f.entity_id(),
                "part_id": f.entity_id(),
                "author_type": {"type": "string", "allowed": list(f.AUTHOR_TYPES)},
                "author_id": f.entity_id(),
                "author_name": f.one_line(f.MAX_NAME, nullable=True),
                "body": f.text(minlength=1),
                "internal": {"type": "boolean"},
            }
        ),
    ),
    # A teammate removed the contact from the conversation: they no longer take part in it
    # (docs/conversations.md says who keeps a conversation).
    EventType(
        "ConversationParticipantRemoved",
        1,
        "conversation",
        _required({"conversation_id": f.entity_id(), "contact_id": f.entity_id()}),
    ),
    EventType(
        "ConversationParticipantJoined",
        1,
        "conversation",
        _required(
            {
                "conversation_id": f.entity_id(),
                "contact_id": f.entity_id(),
                "ticket_id": f.ticket_id(nullable=True),
            }
        ),
    ),
]

EVENT_TYPES: dict[tuple[str, int], EventType] = {(e.name, e.version): e for e in _EVENTS}
LATEST_VERSION: dict[str, int] = {}
for _event in _EVENTS:
    LATEST_VERSION[_event.name] = max(LATEST_VERSION.get(_event.name, 0), _event.version)


def category_of(stream_id: str) -> str:
    return stream_id.split("-", 1)[0]


# A conversation is linked to at most one ticket. The TicketConversationLinked event that
# links it has an id derived from the conversation id, so the store's unique event ids refuse
# a second link (even from concurrent writers) and its writer can find the link by that id.
CONVERSATION_LINK_NAMESPACE = uuid.UUID("8e1f0c3a-5b7d-4f2e-a6c9-2d4b8f1e7a30")


def conversation_link_event_id(conversation_id: str) -> str:
    return str(uuid.uuid5(CONVERSATION_LINK_NAMESPACE, conversation_id))


def unique_event_id(event_type: str, payload: dict) -> str | None:
    """The id an event of a kind that may exist only once must have, whoever writes it."""
    if event_type == "TicketConversationLinked":
        return conversation_link_event_id(payload["conversation_id"])
    return None
