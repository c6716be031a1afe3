"""Structured logging: one JSON object per line, for our code and for every library.

Each line carries the service name and, while a worker runs, the correlation id of the
request that caused it (bound by :class:`kernel.dependencies.RequestContext`). Values under
keys that look like credentials are redacted before rendering, so a secret never reaches a
log.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import structlog

CREDENTIAL_WORDS = r"token|secret|password|user_hash|authorization|cookie"
SECRET_KEY = re.compile(CREDENTIAL_WORDS, re.IGNORECASE)
REDACTED = "[redacted]"
# In free text (a message, an exception, a repr): the value after a credential-named key
# ("user_hash=...", "'token': '...'", "Authorization: ..."), a bearer credential, a JWT, and
# the password of a URI's user part.
SECRET_IN_TEXT = (
    (re.compile(r"\b(bearer)\s+[\w.~+/=-]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (
        re.compile(
            rf"""((?:{CREDENTIAL_WORDS})\w*["']?\s*[:=]\s*(?:b?["'])?)(?!bearer\s)"""
            r"""[^\s"',;&)}\]]+""",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\beyJ[\w-]*\.[\w-]*\.[\w-]*"), REDACTED),
    (re.compile(r"(://[^:/@\s]+):[^@\s]+@"), rf"\1:{REDACTED}@"),
)
SHORTEST_KNOWN_SECRET = 8  # shorter values would redact ordinary words and numbers


def secrets_in_environment(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The values of credential-named variables (PORTAL_ADMIN_TOKEN, ..._SECRET): the
    process's own secrets, redacted wherever they appear."""
    return [value for name, value in environ.items() if SECRET_KEY.search(name)]


class Redactor:
    """A structlog processor that redacts secrets at any depth before rendering: values
    under credential-named keys in nested mappings and sequences, and credentials inside
    any text, the message and a formatted exception included. It runs last, after the
    exception is formatted, for our own lines and every library's alike."""

    def __init__(self, known_secrets: Iterable[str] = ()):
        values = sorted(
            {value for value in known_secrets if len(value) >= SHORTEST_KNOWN_SECRET},
            key=len,
            reverse=True,
        )
        self.known = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, _logger: Any, _method: str, event_dict: dict) -> dict:
        return self.mapping(event_dict)

    def mapping(self, mapping: Mapping) -> dict:
        return {
            key: REDACTED if SECRET_KEY.search(str(key)) else self.value(value)
            for key, value in mapping.items()
        }

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return self.mapping(value)
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item) for item in value]
        return self.text(repr(value))  # what the JSON renderer would write, redacted

    def text(self, text: str) -> str:
        if self.known:
            text = self.known.sub(REDACTED, text)
        for pattern, replacement in SECRET_IN_TEXT:
            text = pattern.sub(replacement, text)
        return text


def configure_logging(
    service: str,
    level: str = "INFO",
    stream: TextIO | None = None,
    known_secrets: Iterable[str] | None = None,
) -> None:
    """Route structlog and stdlib logging (nameko, kombu, pika) through one JSON renderer.
    ``known_secrets`` (by default those in the environment) are redacted wherever they
    appear."""

    def add_service(_logger: Any, _method: str, event_dict: dict) -> dict:
        event_dict.setdefault("service", service)
        return event_dict

    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            Redactor(secrets_in_environment() if known_secrets is None else known_secrets),
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Python's warnings would otherwise print raw text lines between the JSON ones.
    logging.captureWarnings(True)
    # Werkzeug's per-request access lines duplicate the gateway's own structured request log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
