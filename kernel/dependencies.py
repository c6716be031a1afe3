"""Nameko dependency providers every service shares: one per external resource.

* :class:`RequestContext` carries the correlation id of the request that caused a worker,
  from an HTTP header through RPC calls and events, into every log line.
* :class:`EventLog` hands a worker the event store, stamping the events it writes with that
  correlation id and deriving stable event ids from an idempotency key.
* :class:`TimedRpcProxy` is an RPC proxy that gives up after ``RPC_TIMEOUT`` seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import eventlet
import structlog
from kombu.exceptions import OperationalError
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy
from werkzeug.wrappers import Request

from kernel.contracts.envelope import Decision, NewEvent, RecordedEvent, derived_event_id
from kernel.contracts.events import CATEGORY_OWNERS, category_of, unique_event_id
from kernel.errors import Conflict, ServiceUnavailable, UpstreamTimeout
from kernel.eventstore import EventStore, open_event_store

CORRELATION_KEY = "correlation_id"
IDEMPOTENCY_KEY = "idempotency_key"
FINGERPRINT_KEY = "request_fingerprint"
REQUEST_ID_HEADER = "X-Request-ID"


def _request_of(worker_ctx) -> Request | None:
    return next((arg for arg in worker_ctx.args if isinstance(arg, Request)), None)


def correlation_id_of(worker_ctx) -> str:
    """The worker's correlation id, decided once: from the incoming message's headers (RPC,
    events), else an HTTP request's ``X-Request-ID``, else new. Kept in ``worker_ctx.data``,
    which Nameko forwards as headers on every RPC call the worker makes."""
    data = worker_ctx.data
    if not data.get(CORRELATION_KEY):
        request = _request_of(worker_ctx)
        supplied = request.headers.get(REQUEST_ID_HEADER, "") if request else ""
        valid = 0 < len(supplied) <= 128 and supplied.isprintable()
        data[CORRELATION_KEY] = supplied if valid else str(uuid.uuid4())
    return data[CORRELATION_KEY]


class RequestContext(DependencyProvider):
    """Binds the worker's correlation id to every log line the worker writes."""

    def get_dependency(self, worker_ctx) -> str:
        return correlation_id_of(worker_ctx)

    def worker_setup(self, worker_ctx) -> None:
        structlog.contextvars.bind_contextvars(
            correlation_id=correlation_id_of(worker_ctx),
            entrypoint=worker_ctx.entrypoint.method_name,
        )

    def worker_teardown(self, worker_ctx) -> None:
        structlog.contextvars.clear_contextvars()


class WorkerEventLog:
    """The event store as one worker sees it: its streams to read, events stamped for this
    worker, and appends (through :mod:`kernel.aggregate`). Another service's facts are not
    looked up here: they come from that service, over RPC or as events."""

    def __init__(
        self,
        store: EventStore,
        service: str,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ):
        self._store = store
        self._service = service
        self.correlation_id = correlation_id
        self.idempotency_key = idempotency_key
        self.fingerprint = fingerprint
        # Scoped by service: one request's key must not make two services' events collide.
        self._command_id = f"{service}:{idempotency_key}" if idempotency_key else None
        self._produced = 0
        self._earlier: RecordedEvent | None = None
        self._looked_up = False

    def new_events(self, decisions: Iterable[Decision]) -> list[NewEvent]:
        """The events a domain core's decisions stand for, in order."""
        return [self._new_event(event_type, payload) for event_type, payload in decisions]

    def _new_event(self, event_type: str, payload: dict[str, Any]) -> NewEvent:
        """An event stamped with this worker's correlation id; with an idempotency key its id
        is derived from the key, so a retried command yields the same event ids. An event
        the contracts allow only once has their unique id instead."""
        if self._command_id:
            event_id = derived_event_id(self._command_id, self._produced)
            self._produced += 1
        else:
            event_id = str(uuid.uuid4())
        event_id = unique_event_id(event_type, payload) or event_id
        metadata = (
            {IDEMPOTENCY_KEY: self.idempotency_key, FINGERPRINT_KEY: self.fingerprint}
            if self.idempotency_key
            else {}
        )
        return NewEvent(
            event_type,
            payload,
            event_id=event_id,
            correlation_id=self.correlation_id,
            causation_id=self.idempotency_key or self.correlation_id,
            metadata=metadata,
        )

    def earlier_attempt(self) -> RecordedEvent | None:
        """The first event an earlier attempt of this idempotent command stored, if any.

        Only :mod:`kernel.aggregate` asks, once per command; the answer is kept for the
        worker all the same. Raises :class:`Conflict` when the key was used before for a
        different request."""
        if not self._command_id:
            return None
        if not self._looked_up:
            first = derived_event_id(self._command_id, 0)
            self._earlier = self._store.get_events([first]).get(first)
            self._looked_up = True
        recorded = self._earlier
        if recorded and recorded.metadata.get(FINGERPRINT_KEY) != self.fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used for a different request",
                {"Idempotency-Key": "reused with a different request"},
            )
        return recorded

    def restart(self) -> None:
        """Forget the events produced so far (a conflict made the worker decide again)."""
        self._produced = 0

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        return self._store.append(stream_id, events, expected_version)

    def read_stream(self, stream_id: str) -> list[RecordedEvent]:
        return self._store.read_stream(stream_id)

    def stream_version(self, stream_id: str) -> int:
        return self._store.stream_version(stream_id)

    def own_event(self, event_id: str) -> RecordedEvent | None:
        """The event with this id, if this service wrote it (an id the contracts derive,
        see :func:`kernel.contracts.events.unique_event_id`)."""
        event = self._store.get_events([event_id]).get(event_id)
        if event is None or CATEGORY_OWNERS.get(category_of(event.stream_id)) != self._service:
            return None
        return event


class EventLog(DependencyProvider):
    """Opens the event store once per service container; appends are limited to the
    streams the service owns."""

    def setup(self) -> None:
        self.store = open_event_store(self.container.config, writer=self.container.service_name)

    def stop(self) -> None:
        self.store.close()

    def get_dependency(self, worker_ctx) -> WorkerEventLog:
        return WorkerEventLog(
            self.store,
            self.container.service_name,
            correlation_id_of(worker_ctx),
            worker_ctx.data.get(IDEMPOTENCY_KEY),
            worker_ctx.data.get(FINGERPRINT_KEY),
        )


class TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout: float, **options):
        super().__init__(*args, **options)
        self.timeout = timeout

    def __call__(self, *args, **kwargs):
        try:
            reply = self._call(*args, **kwargs)
        except UnknownService as error:
            raise ServiceUnavailable(f"{self.service_name} is not running") from error
        except (OperationalError, OSError) as error:
            raise ServiceUnavailable("the message broker is unreachable") from error
        try:
            with eventlet.Timeout(self.timeout):
                return reply.result()
        except eventlet.Timeout as error:
            raise UpstreamTimeout(
                f"{self.service_name}.{self.method_name} did not answer within {self.timeout}s"
            ) from error


class TimedServiceProxy(ServiceProxy):
    def __getattr__(self, name: str) -> TimedMethodProxy:
        timeout = float(self.worker_ctx.container.config.get("RPC_TIMEOUT", 5))
        return TimedMethodProxy(
            self.worker_ctx,
            self.service_name,
            name,
            self.reply_listener,
            timeout=timeout,
            # A call nobody picked up before the caller gave up expires in the queue, so a
            # request answered "timed out" is not carried out later by a restarted service.
            **{"expiration": timeout, **self.options},
        )


class TimedRpcProxy(RpcProxy):
    """An RPC proxy whose calls fail with :class:`UpstreamTimeout` after ``RPC_TIMEOUT``
    seconds, and with :class:`ServiceUnavailable` when the service or broker is gone."""

    def get_dependency(self, worker_ctx) -> TimedServiceProxy:
        return TimedServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, **self.options
        )
