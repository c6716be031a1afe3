"""Field rules shared by every schema, with the documented limits.

Limits (also in the README): ids 1-64 characters of ``A-Z a-z 0-9 _ . @ : -``; names 200;
ticket titles 300; descriptions and message bodies 20,000; attribute values 1,000; at most
50 attributes, 50 participants and 20 visibility conditions.
"""

from __future__ import annotations

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}"
ATTRIBUTE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 _-]{0,63}"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# What no part of an e-mail address may hold: "@" out of its place, white space as Python
# and JSON Schema each define it (their \s differ, so the class is spelled out), control
# characters (C0, DEL, C1) and lone surrogates. openapi.yaml spells the same pattern, less the
# surrogates, which a JSON Schema string cannot hold.
NOT_IN_EMAIL = (
    r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ud800-\udfff"
)
EMAIL_PATTERN = rf"[^{NOT_IN_EMAIL}]+@[^{NOT_IN_EMAIL}]+\.[^{NOT_IN_EMAIL}]+"
# A JWT in compact form: base64url segments separated by dots.
JWT_PATTERN = r"[A-Za-z0-9_.=-]+"
TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})"

MAX_NAME = 200
MAX_TITLE = 300
MAX_TEXT = 20_000
MAX_ATTRIBUTE_VALUE = 1_000
MAX_ATTRIBUTES = 50
MAX_PARTICIPANTS = 50
MAX_CONDITIONS = 20
MAX_OPTIONS = 100

TICKET_STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
AUTHOR_TYPES = ("user", "teammate")
CONDITION_OPERATORS = ("eq", "neq", "in")
# The kinds of field a ticket type's submission form may have.
FORM_FIELD_TYPES = ("text", "number", "select", "date", "boolean")
SESSION_METHODS = ("user_hash", "jwt")
# The e-mail lists a contact may follow, and where a change of them came from.
NOTIFICATION_LISTS = ("my_tickets", "company_tickets")
PREFERENCE_SOURCES = ("portal", "unsubscribe")


def entity_id(**extra) -> dict:
    return {"type": "string", "regex": ID_PATTERN + r"\Z", **extra}


def ticket_id(**extra) -> dict:
    return {"type": "integer", "min": 1, "max": 2**53, **extra}


def uuid(**extra) -> dict:
    return {"type": "string", "regex": UUID_PATTERN + r"\Z", **extra}


def timestamp(**extra) -> dict:
    return {"type": "string", "regex": TIMESTAMP_PATTERN + r"\Z", **extra}


def one_line(maxlength: int, minlength: int = 1, **extra) -> dict:
    return {
        "type": "string",
        "minlength": minlength,
        "maxlength": maxlength,
        "check_with": "one_line",
        **extra,
    }


def text(maxlength: int = MAX_TEXT, minlength: int = 0, **extra) -> dict:
    return {
        "type": "string",
        "minlength": minlength,
        "maxlength": maxlength,
        "check_with": "plain_text",
        **extra,
    }


def email(**extra) -> dict:
    return {
        "type": "string",
        "maxlength": 254,
        "regex": EMAIL_PATTERN + r"\Z",
        **extra,
    }


def token(**extra) -> dict:
    return {"type": "string", "maxlength": 4096, "regex": JWT_PATTERN + r"\Z", **extra}


def id_list(maxlength: int = MAX_PARTICIPANTS, **extra) -> dict:
    return {"type": "list", "maxlength": maxlength, "schema": entity_id(), **extra}


SCALAR_VALUE = {
    "type": ["string", "integer", "float", "boolean"],
    "nullable": True,
    "maxlength": MAX_ATTRIBUTE_VALUE,
    "check_with": "one_line",
}

# Contact attributes: a flat map, keys safe as document keys in any store (no '$', no '.').
CONTACT_ATTRIBUTES = {
    "type": "dict",
    "maxlength": MAX_ATTRIBUTES,
    "keysrules": {"type": "string", "regex": ATTRIBUTE_NAME_PATTERN + r"\Z"},
    "valuesrules": SCALAR_VALUE,
}

# Ticket attributes: each one says whether the customer may see it.
TICKET_ATTRIBUTES = {
    "type": "list",
    "maxlength": MAX_ATTRIBUTES,
    "schema": {
        "type": "dict",
        "schema": {
            "name": {"type": "string", "required": True, "regex": ATTRIBUTE_NAME_PATTERN + r"\Z"},
            "value": {**SCALAR_VALUE, "required": True},
            "visible_to_customer": {"type": "boolean", "required": True},
        },
    },
}

TICKET_TYPE = one_line(50)

# A ticket type's form: each field becomes a ticket attribute named by its key.
FORM_ATTRIBUTES = {
    "type": "list",
    "maxlength": MAX_ATTRIBUTES,
    "schema": {
        "type": "dict",
        "schema": {
            "key": {"type": "string", "required": True, "regex": ATTRIBUTE_NAME_PATTERN + r"\Z"},
            "label": one_line(MAX_NAME, required=True),
            "type": {"type": "string", "required": True, "allowed": list(FORM_FIELD_TYPES)},
            "required": {"type": "boolean", "required": True},
            "visible_to_customer": {"type": "boolean", "required": True},
            "options": {
                "type": "list",
                "maxlength": MAX_OPTIONS,
                "schema": one_line(MAX_ATTRIBUTE_VALUE),
            },
        },
    },
}

# A customer's answers to a form: the value of each field by its key.
FORM_ANSWERS = {
    "type": "dict",
    "maxlength": MAX_ATTRIBUTES,
    "keysrules": {"type": "string", "regex": ATTRIBUTE_NAME_PATTERN + r"\Z"},
    "valuesrules": SCALAR_VALUE,
}

VISIBILITY_CONDITIONS = {
    "type": "list",
    "maxlength": MAX_CONDITIONS,
    "schema": {
        "type": "dict",
        "schema": {
            "attribute": {
                "type": "string",
                "required": True,
                "regex": ATTRIBUTE_NAME_PATTERN + r"\Z",
            },
            "operator": {"type": "string", "required": True, "allowed": list(CONDITION_OPERATORS)},
            "value": {
                "required": True,
                "anyof": [
                    SCALAR_VALUE,
                    {"type": "list", "maxlength": 50, "schema": SCALAR_VALUE},
                ],
            },
        },
    },
}
