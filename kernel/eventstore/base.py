"""The event store's one interface, shared by every backend.

Guarantees (each is a test in ``tests/contract/test_event_store_contract.py``):

* append-only: there is no API to change or remove an event;
* optimistic concurrency on ``(stream, version)``: a stale ``expected_version`` raises
  :class:`ConcurrencyConflict` and writes nothing;
* idempotent retries: appending events whose ids are already stored returns the stored
  events instead of writing them twice;
* a total order by ``position``, assigned in commit order, so a reader that follows
  positions never passes an event that commits later with a smaller position;
* checkpoints for followers (the relay, projections) moved by compare-and-set, so two
  followers advancing one checkpoint are noticed (:class:`CheckpointMismatch`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

from kernel.contracts.envelope import NewEvent, RecordedEvent, check_new_event
from kernel.contracts.events import CATEGORY_OWNERS, category_of
from kernel.errors import AccessDenied, Conflict, ValidationFailed


class CheckpointMismatch(Conflict):
    """A follower's checkpoint is not where the follower left it: another process moved it.

    Two copies of one follower (say, two relays) both advancing it would otherwise go
    unnoticed."""

    def __init__(self, name: str, expected: int, actual: int):
        super().__init__(
            f"checkpoint {name!r} is at {actual}, not at {expected} where this follower left it",
            {"checkpoint": name, "expected": expected, "actual": actual},
        )


class EventStore(ABC):
    """Append-only event storage. ``writer`` (a service name) limits appends to its streams."""

    #: How often :meth:`wait_for_events` looks for new events, in seconds.
    poll_interval = 0.002

    def __init__(self, writer: str | None = None):
        self.writer = writer

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` if its current version is ``expected_version``
        (0: the stream must not exist yet). All or nothing."""
        if not events:
            raise ValidationFailed("nothing to append", {"events": "must not be empty"})
        if not isinstance(expected_version, int) or expected_version < 0:
            raise ValidationFailed(
                "expected_version must be a non-negative integer",
                {"expected_version": "must be >= 0"},
            )
        if self.writer is not None and CATEGORY_OWNERS.get(category_of(stream_id)) != self.writer:
            raise AccessDenied(
                f"{self.writer} may not append to {stream_id!r}",
                {"stream_id": "belongs to another service"},
            )
        for event in events:
            check_new_event(stream_id, event)
        if len({event.event_id for event in events}) != len(events):
            raise ValidationFailed("event ids must be unique", {"event_id": "duplicated"})
        return self._append(stream_id, list(events), expected_version)

    @staticmethod
    def _replayed(
        stream_id: str, events: Sequence[NewEvent], stored: dict[str, RecordedEvent]
    ) -> list[RecordedEvent]:
        """The answer to a retried append: all ids stored, in this stream, in this order,
        means it already happened; anything else is a different request reusing ids."""
        if len(stored) != len(events):
            raise Conflict(
                "some of these events are already stored and some are not",
                {"event_id": "partially appended before"},
            )
        replayed = [stored[event.event_id] for event in events]
        versions = [event.stream_version for event in replayed]
        if any(event.stream_id != stream_id for event in replayed) or versions != list(
            range(versions[0], versions[0] + len(versions))
        ):
            raise Conflict(
                f"these event ids are already stored, but not as this append to {stream_id!r}",
                {"event_id": "stored in another stream or order"},
            )
        return replayed

    @abstractmethod
    def _append(
        self, stream_id: str, events: list[NewEvent], expected_version: int
    ) -> list[RecordedEvent]: ...

    @abstractmethod
    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """The stream's events with a version above ``after_version``, in version order."""

    @abstractmethod
    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with a position above ``after_position``, in position order."""

    @abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event; 0 if the stream does not exist."""

    @abstractmethod
    def head_position(self) -> int:
        """The position of the last committed event; 0 when the store is empty."""

    @abstractmethod
    def get_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        """The stored events among ``event_ids``, by id."""

    @abstractmethod
    def get_checkpoint(self, name: str) -> int:
        """The position follower ``name`` has fully handled (0 if it never saved one)."""

    @abstractmethod
    def save_checkpoint(self, name: str, expected: int, position: int) -> None:
        """Move follower ``name`` from ``expected`` (0: never saved) to ``position``.

        Compare-and-set: if the stored checkpoint is neither ``expected`` nor already
        ``position`` (a retried save), another process moved it and
        :class:`CheckpointMismatch` is raised; nothing changes then."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""

    def iter_all(self, after_position: int = 0, batch_size: int = 5000) -> Iterator[RecordedEvent]:
        """Every event after ``after_position``, read in batches."""
        while True:
            batch = self.read_all(after_position, batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            after_position = batch[-1].position

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        """Wait (cooperatively) for an event past ``after_position``; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.head_position() <= after_position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)
        return True
