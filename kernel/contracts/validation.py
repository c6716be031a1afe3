"""Cerberus validation with the platform's rules and one error shape.

:func:`validate` returns the normalized document or raises :class:`ValidationFailed` whose
``fields`` maps a dotted path (``attributes.0.name``) to the first problem found there.
Unknown fields are always rejected, so ``{"$gt": ""}`` where a string belongs, or an extra
key, never slips through to storage.
"""

from __future__ import annotations

import re
from typing import Any

import cerberus
from cerberus.utils import TypeDefinition

from kernel.errors import ValidationFailed

# C0 control characters other than tab, newline and carriage return, plus DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PlatformValidator(cerberus.Validator):
    # JSON has no integer/boolean overlap: `true` is never a number here.
    types_mapping = {
        **cerberus.Validator.types_mapping,
        "integer": TypeDefinition("integer", (int,), (bool,)),
        "float": TypeDefinition("float", (float, int), (bool,)),
        "number": TypeDefinition("number", (float, int), (bool,)),
    }

    def _check_with_plain_text(self, field: str, value: Any) -> None:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            self._error(field, "must not contain control characters")

    def _check_with_one_line(self, field: str, value: Any) -> None:
        if isinstance(value, str) and (
            "\n" in value or "\r" in value or CONTROL_CHARACTERS.search(value)
        ):
            self._error(field, "must be a single line without control characters")


def flatten_errors(errors: dict, prefix: str = "") -> dict[str, str]:
    """Turn Cerberus' nested error tree into ``{"a.0.b": "message"}``."""
    flat: dict[str, str] = {}
    for key, problems in errors.items():
        path = f"{prefix}{key}"
        for problem in problems:
            if isinstance(problem, dict):
                flat.update(flatten_errors(problem, f"{path}."))
            else:
                message = str(problem)
                if message.startswith("value does not match regex"):
                    message = "has an invalid format"
                flat.setdefault(path, message)
    return flat


# One validator per schema (building one checks the schema itself, which is slow). Schemas
# are module constants, so this stays small; the schema is kept beside its validator so an
# id can never be reused by another dict while cached.
_VALIDATORS: dict[int, tuple[dict, PlatformValidator]] = {}


def validator_for(schema: dict) -> PlatformValidator:
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _VALIDATORS[id(schema)] = (schema, PlatformValidator(schema))
    return cached[1]


def validate(schema: dict, document: Any, what: str) -> dict:
    """Validate ``document`` against ``schema`` (a module-level constant); ``what`` names it
    in the error message."""
    if not isinstance(document, dict):
        raise ValidationFailed(f"{what} must be a JSON object", {"": "must be an object"})
    validator = validator_for(schema)
    if not validator.validate(document, normalize=False):
        fields = flatten_errors(validator.errors)
        first = next(iter(fields.items()))
        raise ValidationFailed(f"invalid {what}: {first[0]} {first[1]}", fields)
    return validator.document
