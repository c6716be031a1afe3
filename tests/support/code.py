"""For the tests that read the platform's own code: its Python files, parsed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from portalctl.stack import REPOSITORY


def parsed_files(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    """``(path relative to the repository, syntax tree)`` of every ``.py`` file below the
    folders; at least one, so a moved folder cannot make a test pass on nothing."""
    paths = [path for folder in folders for path in sorted((REPOSITORY / folder).rglob("*.py"))]
    assert paths, f"no Python files below {folders}"
    for path in paths:
        relative = path.relative_to(REPOSITORY)
        yield relative, ast.parse(path.read_text(), str(relative))
