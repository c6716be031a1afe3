"""Structured logging: one JSON object per line, for our code and for every library.

Each line carries the service name and, while a worker runs, the correlation id of the
request that caused it (bound by :class:`kernel.dependencies.RequestContext`). Values under
keys that look like credentials are redacted before rendering, so a secret never reaches a
log.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog

SECRET_KEY = re.compile(r"token|secret|password|user_hash|authorization|cookie", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_secrets(_logger: Any, _method: str, event_dict: dict) -> dict:
    for key in event_dict:
        if SECRET_KEY.search(key):
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging (nameko, kombu, pika) through one JSON renderer."""

    def add_service(_logger: Any, _method: str, event_dict: dict) -> dict:
        event_dict.setdefault("service", service)
        return event_dict

    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        redact_secrets,
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
