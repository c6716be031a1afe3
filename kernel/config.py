"""Configuration: one YAML file, every value overridable from the environment.

The file uses Nameko's ``${VAR:default}`` syntax, so ``AMQP_URI=... make run`` overrides the
file without editing it. Nameko services, the relay and the ops CLI all load it through
:func:`load_config`, so they agree on every value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<default>[^}]*))?\}")
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yml"


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed; the process must not start."""


def _substitute(value: str) -> Any:
    def replace(match: re.Match) -> str:
        default = match.group("default")
        return os.environ.get(match.group("name"), default if default is not None else "")

    whole = ENV_REFERENCE.fullmatch(value)
    text = ENV_REFERENCE.sub(replace, value)
    # A value that is exactly one reference is typed like YAML would type it (ints, bools).
    return yaml.safe_load(text) if whole and text.strip() else text


def _resolve(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value) for value in node]
    if isinstance(node, str) and "${" in node:
        return _substitute(node)
    return node


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the YAML config at ``path`` (``PORTAL_CONFIG`` or the repository's config.yml)."""
    path = Path(path or os.environ.get("PORTAL_CONFIG") or DEFAULT_CONFIG_PATH)
    with path.open(encoding="utf-8") as handle:
        return _resolve(yaml.safe_load(handle) or {})


def require(config: dict[str, Any], key: str) -> Any:
    """Return ``config[key]``; refuse to run without it rather than fall back to a weak default."""
    value = config.get(key)
    if value in (None, ""):
        raise ConfigurationError(
            f"setting {key} is required (set it in config.yml or the environment)"
        )
    return value


def partition_count(config: Mapping[str, Any]) -> int:
    """``PORTAL_PARTITIONS`` (default 1), refused unless a whole number of at least 1."""
    value = config.get("PORTAL_PARTITIONS")
    count = 1 if value in (None, "") else value
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigurationError(f"PORTAL_PARTITIONS must be an integer >= 1, not {value!r}")
    return count


def own_partition(config: Mapping[str, Any]) -> int:
    """``PORTAL_PARTITION``: which partition this portal_query process is (default 0)."""
    value = config.get("PORTAL_PARTITION")
    number = 0 if value in (None, "") else value
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    count = partition_count(config)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < count:
        raise ConfigurationError(
            f"PORTAL_PARTITION must be an integer from 0 to {count - 1}, not {value!r}"
        )
    return number


def replicas(config: dict[str, Any]) -> int:
    """``PORTAL_REPLICAS``: how many copies of every service run (a whole number, 1 or more)."""
    value = config.get("PORTAL_REPLICAS", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"PORTAL_REPLICAS must be a whole number of 1 or more: {value!r}")
    return value
