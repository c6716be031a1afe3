"""Follows the event store by position and publishes each event to RabbitMQ with publisher
confirms; its checkpoint moves only past events the broker has confirmed.

Why a relay instead of publishing from the writer: a writer can die between its append and
its publish. Here nothing publishes from the write path; the store *is* the outbox. Whatever
is appended is published, at least once, in position order, as soon as this process runs.
Consumers are idempotent by position, so a republish after a crash is harmless.

Copies: any number of relays may run; one publishes. Each waits for the token of a RabbitMQ
queue with ``x-single-active-consumer`` (:data:`LOCK_QUEUE`): the broker delivers its
messages to one consumer only, and hands them to another when that one's connection goes.
The relay holding the token (never acknowledged) publishes; the others stand by, connected,
and the next one resumes from the saved checkpoint when the holder dies or stops. The
checkpoint's compare-and-set stays the last word: a relay that finds it moved under it
steps back to standby.

Messages follow Nameko's event conventions (exchange ``<owner>.events``, topic, durable;
routing key = event type; JSON body = the envelope), so any Nameko ``event_handler`` can
subscribe. Unroutable events are not an error: consumers catch up from the store.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.spec

from kernel.contracts.envelope import RecordedEvent
from kernel.contracts.events import CATEGORY_OWNERS, category_of
from kernel.eventstore import EventStore
from kernel.eventstore.base import CheckpointMismatch
from kernel.logging import get_logger

log = get_logger(__name__)

STOP_CHECK_EVERY = 0.05  # seconds between two looks at a stop request

# The lock: a single-active-consumer queue holding one token message (at most one ready:
# every relay that connects adds one, the oldest ready one is dropped). Not durable: the
# broker's restart ends every relay's connection anyway, and the next one adds a token.
LOCK_QUEUE = "event_relay.publisher"
LOCK_ARGUMENTS = {"x-single-active-consumer": True, "x-max-length": 1}


def pika_url(amqp_uri: str) -> str:
    """Kombu's ``pyamqp://`` URI as pika's ``amqp://`` URL (same host, vhost, credentials)."""
    parts = urlsplit(amqp_uri)
    scheme = "amqps" if parts.scheme.endswith("amqps") else "amqp"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def exchange_for(stream_id: str) -> str:
    return f"{CATEGORY_OWNERS[category_of(stream_id)]}.events"


def message_for(event: RecordedEvent) -> tuple[bytes, pika.BasicProperties]:
    headers = {"nameko.correlation_id": event.correlation_id} if event.correlation_id else {}
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=event.event_id,
        headers=headers,
    )
    return json.dumps(event.to_dict(), separators=(",", ":")).encode(), properties


class EventRelay:
    """At-least-once, in-order publishing of the store's events.

    ``window`` bounds the published-but-unconfirmed events; ``checkpoint_every`` is how
    often (seconds) the confirmed position is saved.
    """

    def __init__(
        self,
        store: EventStore,
        amqp_uri: str,
        name: str = "event_relay",
        window: int = 1000,
        batch_size: int = 500,
        checkpoint_every: float = 0.05,
        reconnect_delay: float = 1.0,
        stop_quiet: float = 1.0,
        stop_drain: float = 3.0,
        stop_confirm: float = 2.0,
    ):
        self.store = store
        self.name = name
        self.parameters = pika.URLParameters(pika_url(amqp_uri))
        self.window = window
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.reconnect_delay = reconnect_delay
        self.stop_quiet = stop_quiet
        self.stop_drain = stop_drain
        self.stop_confirm = stop_confirm
        self.confirmed = self.saved = self.sent = 0  # read when this relay takes the lock
        self._pending: dict[int, int] = {}  # delivery tag -> position, in publishing order
        self._next_tag = 1
        self._last_save = time.monotonic()
        self._last_read = time.monotonic()  # when the store last had something new
        self._connection: pika.SelectConnection | None = None
        self._channel = None
        self._declared = False  # the publishing channel is open and the exchanges declared
        self.active = False  # this relay holds the lock and publishes
        self._stop_requested: float | None = None
        self._sealed = False  # stopping: publish nothing new, wait for the confirms
        self._stopping = False  # closing now
        self.displaced = 0  # times another process moved the checkpoint under this relay

    # life cycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Publish until :meth:`stop`; reconnects to the broker by itself."""
        while not self._stopping:
            self._connection = pika.SelectConnection(
                self.parameters,
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_error,
                on_close_callback=self._on_connection_closed,
            )
            self._connection.ioloop.call_later(STOP_CHECK_EVERY, self._check_stop)
            self._connection.ioloop.start()
            reconnect_at = time.monotonic() + self.reconnect_delay
            while self._stop_requested is None and time.monotonic() < reconnect_at:
                time.sleep(STOP_CHECK_EVERY)
            self._stopping = self._stopping or self._stop_requested is not None
        log.info("relay stopped", checkpoint=self.saved, displaced=self.displaced)
        self.active = False

    def stop(self) -> None:
        """Thread- and signal-safe: only notes the request. The relay goes on publishing
        what writers still append (their in-flight requests finish during a stop too) until
        the store has had nothing new for ``stop_quiet`` seconds, at most ``stop_drain``
        seconds; then it publishes nothing new and waits (at most ``stop_confirm`` seconds)
        for the broker to confirm everything sent, saves its checkpoint and :meth:`run`
        returns. A relay standing by returns at once."""
        if self._stop_requested is None:
            self._stop_requested = time.monotonic()

    def _check_stop(self) -> None:
        requested = self._stop_requested
        if requested is not None and not self._stopping:
            now = time.monotonic()
            channel_open = self._channel is not None and self._channel.is_open
            quiet = now - max(requested, self._last_read) >= self.stop_quiet
            if quiet or now - requested >= self.stop_drain:
                # Publish nothing new; what was sent is confirmed before the checkpoint is
                # saved and the lock goes, so the next relay repeats none of it.
                self._sealed = True
            overdue = now - requested >= self.stop_drain + self.stop_confirm
            sealed_and_confirmed = self._sealed and not self._pending
            if not self.active or not channel_open or sealed_and_confirmed or overdue:
                log.info("relay stopping", unconfirmed=len(self._pending), confirmed=self.confirmed)
                self._close()
                return
        self._connection.ioloop.call_later(STOP_CHECK_EVERY, self._check_stop)

    def _close(self) -> None:
        self._stopping = True
        # Saved before the connection (and with it the lock) goes: the next relay resumes
        # from here rather than republish what this one had confirmed.
        self._save_checkpoint(force=True)
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        elif self._connection is not None and not self._connection.is_closing:
            self._connection.ioloop.stop()

    def _on_connection_open(self, connection) -> None:
        log.info("relay connected; waiting for the publisher lock")
        self.active = self._declared = False
        connection.channel(on_open_callback=self._on_channel_open)
        connection.channel(on_open_callback=self._on_lock_channel_open)

    def _on_connection_error(self, connection, error) -> None:
        log.warning("relay cannot reach the broker", error=str(error))
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, reason) -> None:
        self._channel = None
        self.active = self._declared = False
        if not self._stopping:
            log.warning("relay lost the broker", reason=str(reason))
        connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(
            self._on_confirm, callback=lambda _frame: self._declare(list(self._exchanges()))
        )

    def _on_lock_channel_open(self, channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)

        def consume(_frame) -> None:
            channel.basic_publish("", LOCK_QUEUE, b"publisher token")
            channel.basic_consume(LOCK_QUEUE, self._on_lock_granted, auto_ack=False)

        channel.queue_declare(
            LOCK_QUEUE,
            arguments=LOCK_ARGUMENTS,
            callback=lambda _frame: channel.basic_qos(prefetch_count=1, callback=consume),
        )

    def _on_lock_granted(self, _channel, _method, _properties, _body) -> None:
        """The token came: this relay publishes until its connection ends (the token goes
        back to the queue unacknowledged, for the next relay)."""
        if self.active:
            return
        self.active = True
        self.confirmed = self.saved = self.store.get_checkpoint(self.name)
        log.info("relay took the publisher lock", resume_after=self.confirmed)
        self._start_publishing()

    def _start_publishing(self) -> None:
        if not (self.active and self._declared):
            return
        # Resend everything not yet confirmed: on a new channel, tags start again at 1.
        self._pending.clear()
        self._next_tag = 1
        self.sent = self.confirmed
        self._pump()

    def _on_channel_closed(self, channel, reason) -> None:
        self._channel = None
        if self._connection is not None and self._connection.is_open:
            log.warning("relay channel closed", reason=str(reason))
            self._connection.close()

    @staticmethod
    def _exchanges() -> set[str]:
        return {f"{owner}.events" for owner in CATEGORY_OWNERS.values()}

    def _declare(self, exchanges: list[str]) -> None:
        if not exchanges:
            self._declared = True
            self._start_publishing()
            return
        self._channel.exchange_declare(
            exchange=exchanges[0],
            exchange_type="topic",
            durable=True,
            callback=lambda _frame: self._declare(exchanges[1:]),
        )

    # publishing -------------------------------------------------------------------------

    def _pump(self) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or self._sealed or not self.active:
            return
        room = self.window - len(self._pending)
        events = self.store.read_all(self.sent, min(room, self.batch_size)) if room > 0 else []
        if events:
            self._last_read = time.monotonic()
        for event in events:
            body, properties = message_for(event)
            channel.basic_publish(exchange_for(event.stream_id), event.type, body, properties)
            self._pending[self._next_tag] = event.position
            self._next_tag += 1
            self.sent = event.position
        self._save_checkpoint()
        busy = events and len(events) == min(room, self.batch_size)
        self._connection.ioloop.call_later(0 if busy else self.store.poll_interval, self._pump)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            log.warning("broker refused an event; resending from the last confirmed one")
            self._channel.close()
            return
        if method.multiple:
            for tag in [tag for tag in self._pending if tag <= method.delivery_tag]:
                del self._pending[tag]
        else:
            self._pending.pop(method.delivery_tag, None)
        self.confirmed = next(iter(self._pending.values())) - 1 if self._pending else self.sent

    def _save_checkpoint(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.active or self.confirmed <= self.saved:
            return
        if force or now - self._last_save >= self.checkpoint_every:
            try:
                self.store.save_checkpoint(self.name, self.saved, self.confirmed)
            except CheckpointMismatch as mismatch:
                # Another relay publishes from this checkpoint: two would publish everything
                # twice and each would skip what the other saved. This one steps back to
                # standby: a new connection, waiting for the lock again.
                log.error(
                    "relay checkpoint moved by another process; standing by", **mismatch.fields
                )
                self.displaced += 1
                self.active = False
                if self._connection is not None and self._connection.is_open:
                    self._connection.close()
                return
            self.saved, self._last_save = self.confirmed, now
