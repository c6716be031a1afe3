"""Services write only through ``kernel.aggregate`` (``execute``, ``create``), which owns
"earlier attempt, decide, append, retry": no service appends to the event log or store
itself, answers an idempotency key's earlier attempt itself, or reaches into the store."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.code import parsed_files

# What only kernel.aggregate may call on a worker's event log.
AGGREGATE_ONLY = {"earlier_attempt", "restart"}


def receiver_name(node: ast.expr) -> str:
    """The last name of what a method is called on: ``self.event_log`` -> ``event_log``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def is_event_log(node: ast.expr) -> bool:
    name = receiver_name(node).lower()
    return "event_log" in name or "store" in name


def write_problems(path: Path, tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            # A list's append takes one argument; the store's takes stream, events, version.
            if method == "append" and (is_event_log(receiver) or len(node.args) > 1):
                problems.append(f"{path}:{node.lineno} appends directly (use kernel.aggregate)")
            if method in AGGREGATE_ONLY:
                problems.append(f"{path}:{node.lineno} calls {method} (use kernel.aggregate)")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("store", "_store")
            and receiver_name(node.value) == "event_log"
        ):
            problems.append(f"{path}:{node.lineno} reaches into the event log's store")
    return problems


def test_no_service_writes_around_the_kernel():
    problems = [p for path, tree in parsed_files("services") for p in write_problems(path, tree)]
    assert problems == []


def test_the_check_finds_what_it_looks_for():
    hidden = ast.parse(
        "self.event_log.append(stream, events, 0)\n"
        "event_log.append(stream, events, 0)\n"
        "store.append(stream, events, version)\n"
        "log.append(stream, events, 0)\n"
        "if self.event_log.earlier_attempt() is None:\n    event_log.restart()\n"
        "self.event_log.store.get_events([event_id])\n"
        "decisions.append(('TicketEdited', {}))\n"
    )
    assert len(write_problems(Path("services/x.py"), hidden)) == 7
