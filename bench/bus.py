"""Bus: the platform's publish path beside raw pika on the same broker and messages.

* platform: :class:`services.event_relay.relay.EventRelay` as production runs it (defaults:
  window 1000, batches of 500) publishing events already in a store, publisher confirms on.
  Its time includes reading the store, encoding each envelope as JSON and saving its
  checkpoint.
* pika, one by one: ``BlockingConnection`` with confirms, each publish waits for its ack.
* pika, windowed: ``SelectConnection``, async confirms, at most 500 unconfirmed.

Both pika variants send the very bodies and properties the relay builds (``message_for``),
pre-encoded, to the same exchanges and routing keys. A durable queue bound to every
exchange makes each persistent message really land (and get fsynced) in every case; it is
purged between runs. Every timing starts before the connection opens, so all include it.
"""

from __future__ import annotations

import threading
import time

import pika

from bench.context import Context, log
from bench.measure import Row, Stat, check
from kernel.eventstore.sqlite import SqliteEventStore
from services.event_relay.relay import EventRelay, exchange_for, message_for, pika_url
from tests.support.broker import fresh_vhost

SINK = "bench.sink"
WINDOW = 500


def prepare_store(ctx: Context, size: str, count: int) -> tuple[SqliteEventStore, list]:
    """A fresh store holding the first ``count`` events of a data set, and their messages."""
    source = SqliteEventStore(ctx.dataset(size))
    events = source.read_all(0, count)
    source.close()
    store = SqliteEventStore(ctx.scratch("bus") / "events.sqlite3")
    store._db.executemany(  # the recorded rows as they are; the relay only reads them
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", [tuple(e) for e in events]
    )
    messages = [(exchange_for(e.stream_id), e.type, *message_for(e)) for e in events]
    return store, messages


def declare_sink(url: str, exchanges: set[str]) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.queue_declare(SINK, durable=True)
        for exchange in exchanges:
            channel.exchange_declare(exchange, "topic", durable=True)
            channel.queue_bind(SINK, exchange, "#")


def purge_sink(url: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        connection.channel().queue_purge(SINK)


def relay_rate(store: SqliteEventStore, amqp_uri: str, run: int) -> float:
    head = store.head_position()
    relay = EventRelay(store, amqp_uri, name=f"bench_relay_{run}")
    started = time.perf_counter()
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    while relay.confirmed < head:
        time.sleep(0.0005)
        if not thread.is_alive():
            raise RuntimeError("the relay stopped before publishing everything")
    elapsed = time.perf_counter() - started
    relay.stop()
    thread.join(30)
    return head / elapsed


def one_by_one_rate(url: str, messages: list) -> float:
    started = time.perf_counter()
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for exchange, key, body, properties in messages:
            channel.basic_publish(exchange, key, body, properties)
    return len(messages) / (time.perf_counter() - started)


def windowed_rate(url: str, messages: list, window: int = WINDOW) -> float:
    """Async confirms: keep up to ``window`` messages unconfirmed, stop at the last ack."""
    state = {"sent": 0, "unconfirmed": set(), "done": None, "error": None}
    started = time.perf_counter()

    def pump(channel) -> None:
        while state["sent"] < len(messages) and len(state["unconfirmed"]) < window:
            exchange, key, body, properties = messages[state["sent"]]
            channel.basic_publish(exchange, key, body, properties)
            state["sent"] += 1
            state["unconfirmed"].add(state["sent"])

    def on_confirm(frame, channel, connection) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            state["error"] = "nack"
            connection.close()
            return
        if method.multiple:
            state["unconfirmed"] = {t for t in state["unconfirmed"] if t > method.delivery_tag}
        else:
            state["unconfirmed"].discard(method.delivery_tag)
        if state["sent"] == len(messages) and not state["unconfirmed"]:
            state["done"] = time.perf_counter()
            connection.close()
        else:
            pump(channel)

    def on_channel(channel, connection) -> None:
        channel.confirm_delivery(
            lambda frame: on_confirm(frame, channel, connection),
            callback=lambda _frame: pump(channel),
        )

    connection = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=lambda ch: on_channel(ch, c)),
        on_open_error_callback=lambda c, error: state.update(error=str(error)) or c.ioloop.stop(),
        on_close_callback=lambda c, _reason: c.ioloop.stop(),
    )
    connection.ioloop.start()
    if state["error"] or state["done"] is None:
        raise RuntimeError(f"windowed publishing failed: {state['error']}")
    return len(messages) / (state["done"] - started)


def run(ctx: Context) -> list[Row]:
    count, single = (3_000, 1_000) if ctx.smoke else (20_000, 3_000)
    store, messages = prepare_store(ctx, "small" if ctx.smoke else "medium", count)
    size = sum(len(m[2]) for m in messages) / len(messages)
    log(f"bus: {len(messages):,} events of {size:.0f} bytes on average")
    samples: dict[str, list[float]] = {"platform": [], "one_by_one": [], "windowed": []}
    with fresh_vhost(ctx.amqp_uri, prefix="portal_bench") as vhost_uri:
        url = pika_url(vhost_uri)
        declare_sink(url, {m[0] for m in messages})
        for run_number in range(ctx.runs):
            samples["platform"].append(relay_rate(store, vhost_uri, run_number))
            purge_sink(url)
            samples["windowed"].append(windowed_rate(url, messages))
            purge_sink(url)
            samples["one_by_one"].append(one_by_one_rate(url, messages[:single]))
            purge_sink(url)
    store.close()
    row = Row(
        "bus",
        f"publish with confirms, {size:.0f}-byte events",
        "msg/s",
        Stat.of(samples["platform"]),
        {
            f"pika windowed (async confirms, window {WINDOW})": Stat.of(samples["windowed"]),
            "pika one by one (confirm each)": Stat.of(samples["one_by_one"]),
        },
        note=f"{len(messages):,} events per run ({single:,} for one by one)",
    )
    windowed = row.ratio(f"pika windowed (async confirms, window {WINDOW})")
    return [check(row, windowed >= 0.5, "at least half of windowed pika")]
