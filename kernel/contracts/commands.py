"""Every command (an RPC call that changes state) and query a service accepts.

The gateway validates HTTP bodies against these before calling a service, and each service
validates again at its own RPC edge: a caller that bypasses the gateway gets the same
errors. Field names match the HTTP API (see ``services/gateway/openapi.yaml``).
"""

from __future__ import annotations

from kernel.contracts import fields as f


def _required(schema: dict, *optional: str) -> dict:
    return {key: {"required": key not in optional, **rule} for key, rule in schema.items()}


# identity ---------------------------------------------------------------------------------

SAVE_CONTACT = _required(
    {
        "id": f.entity_id(),
        "email": f.email(nullable=True),
        "name": f.one_line(f.MAX_NAME, nullable=True),
        "attributes": f.CONTACT_ATTRIBUTES,
    },
    "email",
    "name",
    "attributes",
)

START_SESSION_WITH_HASH = _required(
    {
        "user_id": f.entity_id(),
        "email": f.email(nullable=True),
        "user_hash": {"type": "string", "regex": r"[0-9a-fA-F]{64}\Z"},
    },
    "email",
)

START_SESSION_WITH_TOKEN = _required({"token": f.token()})

# The claims identity reads from a verified START_SESSION_WITH_TOKEN token (others ignored).
IDENTITY_TOKEN_CLAIMS = _required({"sub": f.entity_id(), "email": f.email()})

# Positional RPC arguments, checked at the edge like commands.
CONTACT_ID = _required({"contact_id": f.entity_id()})
CONTACT_IDS = _required({"contact_ids": f.id_list(maxlength=1000)})
SESSION_TOKEN = _required({"token": f.token()})

CHANGE_PORTAL_SETTINGS = _required(
    {
        "portal_enabled": {"type": "boolean"},
        "preview_enabled": {"type": "boolean"},
        "visibility_conditions": f.VISIBILITY_CONDITIONS,
    },
    "portal_enabled",
    "preview_enabled",
    "visibility_conditions",
)
# Conditions to count the users of, before they are saved.
COUNT_RESTRICTED = _required({"visibility_conditions": f.VISIBILITY_CONDITIONS})

# companies --------------------------------------------------------------------------------

CREATE_COMPANY = _required({"id": f.entity_id(), "name": f.one_line(f.MAX_NAME)})
RENAME_COMPANY = _required({"name": f.one_line(f.MAX_NAME)})
ADD_MEMBER = _required({"user_id": f.entity_id()})
COMPANY_ID = _required({"company_id": f.entity_id()})

# tickets ----------------------------------------------------------------------------------

_TICKET_FIELDS = {
    "type": f.TICKET_TYPE,
    "title": f.one_line(f.MAX_TITLE),
    "description": f.text(),
    "creator_id": f.entity_id(),
    "participant_ids": f.id_list(),
    # Absent: the automatic company rule. null: "No company".
    "company_id": f.entity_id(nullable=True),
    "attributes": f.TICKET_ATTRIBUTES,
    "state": {"type": "string", "allowed": list(f.TICKET_STATES)},
}

CREATE_TICKET = _required(
    {**_TICKET_FIELDS, "conversation_id": f.entity_id(nullable=True)},
    "description",
    "participant_ids",
    "company_id",
    "attributes",
    "state",
    "conversation_id",
)

# Converting a conversation: its starter is the default creator, its participants join.
CONVERT_CONVERSATION = _required(
    _TICKET_FIELDS,
    "description",
    "creator_id",
    "participant_ids",
    "company_id",
    "attributes",
    "state",
)

UPDATE_TICKET = _required(
    {
        key: _TICKET_FIELDS[key]
        for key in ("state", "title", "description", "company_id", "attributes")
    },
    "state",
    "title",
    "description",
    "company_id",
    "attributes",
)

LINK_CONVERSATION = _required({"conversation_id": f.entity_id()})

# Ticket types and their submission forms (teammates define them, customers fill them in).
_TICKET_TYPE_FIELDS = {
    "name": f.TICKET_TYPE,
    "description": f.text(),
    "customer_creatable": {"type": "boolean"},
    "attributes": f.FORM_ATTRIBUTES,
}
CREATE_TICKET_TYPE = _required(
    {"id": f.entity_id(), **_TICKET_TYPE_FIELDS}, "description", "customer_creatable", "attributes"
)
UPDATE_TICKET_TYPE = _required(_TICKET_TYPE_FIELDS, *_TICKET_TYPE_FIELDS)
TICKET_TYPE_ID = _required({"ticket_type_id": f.entity_id()})

# A portal user's new ticket: the type's id, and the form's answers by field key. Absent
# ``company_id``: the automatic company rule over the user's own companies.
SUBMIT_TICKET = _required(
    {
        "type": f.entity_id(),
        "title": f.one_line(f.MAX_TITLE),
        "description": f.text(),
        "attributes": f.FORM_ANSWERS,
        "company_id": f.entity_id(),
    },
    "description",
    "attributes",
    "company_id",
)
# A portal user resolves or reopens a ticket: the ticket is in the path, the user is the
# session's, so the body carries nothing.
CUSTOMER_STATE_BODY: dict = {}
CUSTOMER_STATE_ACTIONS = ("resolve", "reopen")
CUSTOMER_STATE_CHANGE = _required(
    {
        "ticket_id": f.ticket_id(),
        "user_id": f.entity_id(),
        "action": {"type": "string", "allowed": list(CUSTOMER_STATE_ACTIONS)},
    }
)

# Positional RPC arguments of tickets and messenger_bridge, checked at the edge like commands.
TICKET_ID = _required({"ticket_id": f.ticket_id()})
CONVERSATION_ID = _required({"conversation_id": f.entity_id()})
USER_ID = _required({"user_id": f.entity_id()})
JOIN_CONVERSATION = _required({"ticket_id": f.ticket_id(), "user_id": f.entity_id()})
# The HTTP body of a portal join carries nothing: the ticket is in the path, the user is the
# session's.
JOIN_BODY: dict = {}
# A portal user's reply in the Messenger: only its text (the author is the session's user,
# and a user never writes internal notes).
USER_REPLY = _required({"body": f.text(minlength=1)})

# messenger_bridge -------------------------------------------------------------------------

START_CONVERSATION = _required({"user_id": f.entity_id(), "body": f.text(minlength=1)})

ADD_PART = _required(
    {
        "author_type": {"type": "string", "allowed": list(f.AUTHOR_TYPES)},
        "author_id": f.entity_id(),
        "author_name": f.one_line(f.MAX_NAME, nullable=True),
        "body": f.text(minlength=1),
        "internal": {"type": "boolean"},
    },
    "author_name",
    "internal",
)

# notifications ----------------------------------------------------------------------------

# A portal user's e-mail preferences, whole (PUT): mail about tickets they created or take
# part in, and about every ticket of their companies they may see.
NOTIFICATION_PREFERENCES = _required(
    {"my_tickets": {"type": "boolean"}, "company_tickets": {"type": "boolean"}}
)
# The signed token of a one-click unsubscribe link (services/notifications/unsubscribe.py).
UNSUBSCRIBE = _required(
    {"token": {"type": "string", "maxlength": 512, "regex": r"[A-Za-z0-9_.-]+\Z"}}
)

# portal_query -----------------------------------------------------------------------------

SORT_COLUMNS = ("id", "type", "state", "created_at", "updated_at")
MAX_PER_PAGE = 100
MAX_PAGE = 100_000

TICKET_QUERY = _required(
    {
        "q": {"type": "string", "maxlength": 200, "check_with": "one_line"},
        "type": f.TICKET_TYPE,
        "state": {"type": "string", "allowed": list(f.TICKET_STATES)},
        "creator_id": f.entity_id(),
        "company_id": f.entity_id(),
        # Tickets without a company (the teammates' inbox filter "No company"). Like every
        # filter it narrows the others: with company_id it leaves nothing.
        "no_company": {"type": "string", "allowed": ["true"]},
        "created_from": {"type": "float"},
        "created_to": {"type": "float"},
        "updated_from": {"type": "float"},
        "updated_to": {"type": "float"},
        "sort": {"type": "string", "allowed": list(SORT_COLUMNS)},
        "order": {"type": "string", "allowed": ["asc", "desc"]},
        "page": {"type": "integer", "min": 1, "max": MAX_PAGE},
        "per_page": {"type": "integer", "min": 1, "max": MAX_PER_PAGE},
    },
    *(
        "q",
        "type",
        "state",
        "creator_id",
        "company_id",
        "no_company",
        "created_from",
        "created_to",
        "updated_from",
        "updated_to",
        "sort",
        "order",
        "page",
        "per_page",
    ),
)
