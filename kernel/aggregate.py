"""Running a command against one event stream: load, decide, append, retry on conflict.

Services keep their rules in pure ``decide`` functions (history in, new events out); this
is the only loop that talks to the store on their behalf.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel.contracts.envelope import NewEvent, RecordedEvent
from kernel.dependencies import WorkerEventLog
from kernel.errors import ConcurrencyConflict

Decide = Callable[[list[RecordedEvent]], list[NewEvent]]


def execute(
    log: WorkerEventLog, stream_id: str, decide: Decide, attempts: int = 5
) -> list[RecordedEvent]:
    """Apply a command to ``stream_id`` and return the stream's events afterwards.

    ``decide`` sees the stream's history and returns the new events (or none). When another
    writer appends first, the history is re-read and ``decide`` runs again, up to
    ``attempts`` times; then the :class:`ConcurrencyConflict` reaches the caller. A command
    retried with the same idempotency key returns the stream its first attempt wrote,
    without deciding again.
    """
    earlier = log.earlier_attempt()
    if earlier is not None:
        return log.read_stream(earlier.stream_id)
    attempt = 1
    while True:
        history = log.read_stream(stream_id)
        log.restart()
        new_events = decide(history)
        if not new_events:
            return history
        version = history[-1].stream_version if history else 0
        try:
            return history + log.append(stream_id, new_events, version)
        except ConcurrencyConflict:
            if attempt >= attempts:
                raise
            attempt += 1
