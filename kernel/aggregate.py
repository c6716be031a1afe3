"""Running a command against the event store: load, decide, append, retry on conflict.

Services keep their rules in pure ``decide`` functions that return decisions, ``(event
type, payload)`` pairs; this module is the only code that turns them into events and talks
to the store on a command's behalf. A command retried with the same idempotency key is
answered from what its first attempt stored, without deciding again.

* :func:`execute` changes an existing stream (or one whose id the command names).
* :func:`create` starts a new stream whose id is decided at creation (a random id, the next
  free number), trying the next candidate when another writer took one first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import takewhile
from typing import NamedTuple, TypeVar

from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.dependencies import WorkerEventLog
from kernel.errors import ConcurrencyConflict

Decide = Callable[[list[RecordedEvent]], list[Decision]]
Id = TypeVar("Id")


class Outcome(NamedTuple):
    """The stream after the command, and the events the command wrote to it (empty when
    it decided nothing; on a retry, what its first attempt wrote)."""

    history: list[RecordedEvent]
    written: list[RecordedEvent]


def _earlier_outcome(log: WorkerEventLog) -> Outcome | None:
    earlier = log.earlier_attempt()
    if earlier is None:
        return None
    history = log.read_stream(earlier.stream_id)
    # One attempt's events are appended together and share its causation id (its key).
    written = takewhile(
        lambda event: event.causation_id == earlier.causation_id,
        history[earlier.stream_version - 1 :],
    )
    return Outcome(history, list(written))


def execute(log: WorkerEventLog, stream_id: str, decide: Decide, attempts: int = 5) -> Outcome:
    """Apply a command to ``stream_id``.

    ``decide`` sees the stream's history and returns the decisions (or none). When another
    writer appends first, the history is re-read and ``decide`` runs again, up to
    ``attempts`` times; then the :class:`ConcurrencyConflict` reaches the caller.
    """
    earlier = _earlier_outcome(log)
    if earlier is not None:
        return earlier
    attempt = 1
    while True:
        history = log.read_stream(stream_id)
        log.restart()
        decisions = decide(history)
        if not decisions:
            return Outcome(history, [])
        version = history[-1].stream_version if history else 0
        try:
            written = log.append(stream_id, log.new_events(decisions), version)
            return Outcome(history + written, written)
        except ConcurrencyConflict:
            if attempt >= attempts:
                raise
            attempt += 1


def create(
    log: WorkerEventLog,
    candidates: Iterable[Id],
    stream_of: Callable[[Id], str],
    decide: Callable[[Id], list[Decision]],
) -> list[RecordedEvent]:
    """Start a new stream and return its events.

    ``candidates`` are the ids the new stream may get, in order of preference; it is only
    iterated when the command has no earlier attempt, so a generator may look the store up
    lazily. ``decide(id)`` returns the new stream's first decisions. When another writer
    created the candidate's stream first, the next candidate is tried; after the last one
    the :class:`ConcurrencyConflict` reaches the caller.
    """
    earlier = _earlier_outcome(log)
    if earlier is not None:
        return earlier.history
    conflict = ConcurrencyConflict("no id was left to create the stream with")
    for candidate in candidates:
        log.restart()
        decisions = decide(candidate)
        try:
            return log.append(stream_of(candidate), log.new_events(decisions), 0)
        except ConcurrencyConflict as taken:
            conflict = taken
    raise conflict
