"""Waiting for what the platform does asynchronously (the read side catching up, a second
process consuming), one loop for the whole suite. A readiness wait, not a timing assertion:
the timeout only bounds how long a broken run hangs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None],
    timeout: float = 10.0,
    tolerating: tuple[type[Exception], ...] = (),
    interval: float = 0.05,
) -> T:
    """The first truthy answer of ``probe``, asked every ``interval`` seconds (shorter to
    catch a moment that passes quickly). An error among ``tolerating`` (say, a NotFound
    while the read side has not seen the ticket yet) counts as no answer until the time is
    up; then it propagates."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = probe()
        except tolerating:
            if time.monotonic() > deadline:
                raise
        else:
            if answer:
                return answer
            if time.monotonic() > deadline:
                raise AssertionError(f"still {answer!r} after {timeout}s")
        time.sleep(interval)
