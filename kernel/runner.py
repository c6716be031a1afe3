"""Run one Nameko service: ``python -m kernel.runner services.tickets.service:TicketsService``.

Does what ``nameko run`` does (monkey-patch, start the service), plus the platform's own
start-up (configuration through :func:`kernel.config.load_config`, JSON logging named after
the service) and its own stop.

Stopping. SIGTERM and SIGINT both start one graceful stop, however many of them arrive: a
Ctrl-C or a kill of the process group reaches this process and its supervisor at once, and
the supervisor then sends SIGTERM too (``nameko run`` started a second, concurrent stop on
the second signal, and the two deadlocked inside nameko, so the process never exited). The
stop, from the first signal:

1. an HTTP server stops taking connections at once (the listening socket closes, each open
   connection closes after its next answer);
2. a service keeps answering the RPC calls and HTTP requests that still reach it until its
   callers are done: a call arriving now belongs to a request taken before the stop, whose
   caller is waiting for it; a request on a connection accepted before is answered too.
   It stops taking them once none has arrived or run for ``STOP_QUIET`` seconds, at most
   ``STOP_DRAIN`` seconds after the signal;
3. Nameko's stop: the consumers are cancelled, running workers finish, resources close;
4. exit 0 at once. Past ``STOP_DEADLINE`` seconds the process exits 1 without waiting
   further (an unreachable broker, say, leaves Nameko's consumer unable to cancel), logged,
   still inside the 10 s a supervisor allows before it kills.
"""

from __future__ import annotations

import os
import signal


def _exit_before_starting(_signum: int, _frame) -> None:
    os._exit(0)


# Until the service runs, a stop signal ends the process at once: nothing has been taken or
# opened that could be left half done, importing alone takes seconds on a busy machine, and
# Python's default for a Ctrl-C would print a KeyboardInterrupt traceback. Only when this is
# the program: a process importing the module keeps its own signal handling.
if __name__ == "__main__":
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, _exit_before_starting)

import warnings  # noqa: E402

# eventlet announces its maintenance mode on import; nameko 2.x needs it regardless.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import errno  # noqa: E402
import functools  # noqa: E402
import importlib  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

from eventlet.event import Event  # noqa: E402
from kombu.mixins import ConsumerMixin  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko.messaging import QueueConsumer  # noqa: E402
from nameko.rpc import Rpc  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402
from nameko.web.handlers import HttpRequestHandler  # noqa: E402
from nameko.web.server import WebServer  # noqa: E402

from kernel.config import load_config  # noqa: E402
from kernel.logging import configure_logging, get_logger  # noqa: E402

log = get_logger(__name__)

STOP_QUIET = 1.0
STOP_DRAIN = 3.0
STOP_DEADLINE = 8.0

# Nameko's consumer loop waits for the broker in turns of kombu's `safety_interval` (1 s) and
# notices a cancelled consumer only between two turns; a stop cancels in three steps (the
# entrypoints, the RPC reply listener, the connection), so it took 3 s doing nothing. Turns
# of 0.25 s cost an idle process 0.15% of a core instead of 0.05% (0.1 s: 0.35%).
CONSUMER_TURN = 0.25


# Entrypoints whose work a caller waits for. Events are not among them: an event not taken
# stays in its durable queue for the next start.
ANSWERING = (Rpc, HttpRequestHandler)


class ServiceProcessContainer(ServiceContainer):
    """Nameko's container, noting when it last took a call or request, so a stop can tell
    when its callers are done."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_call = time.monotonic()

    @property
    def answers_calls(self) -> bool:
        return any(isinstance(entrypoint, ANSWERING) for entrypoint in self.entrypoints)

    def spawn_worker(self, entrypoint, *args, **kwargs):
        if isinstance(entrypoint, ANSWERING):
            self.last_call = time.monotonic()
        return super().spawn_worker(entrypoint, *args, **kwargs)

    def quiet_since(self) -> float:
        """When the last call or request arrived, or now while one runs."""
        running = any(isinstance(ctx.entrypoint, ANSWERING) for ctx in self._worker_threads)
        return time.monotonic() if running else self.last_call


class ServiceProcess:
    """One Nameko service in this process, stopped once, gracefully, on the first signal."""

    def __init__(self, service: type, config: dict):
        self.runner = ServiceRunner(config)
        self.runner.container_cls = ServiceProcessContainer
        self.runner.add_service(service)
        self.started = Event()
        self.stop_requested: float | None = None
        # Numbers the stop signals: taking one is a single C call, so a signal whose handler
        # interrupts another's (a Ctrl-C and the supervisor's SIGTERM a moment apart) still
        # gets a number of its own, and only the first starts the stop.
        self._signals = itertools.count()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        self.runner.start()
        self.started.send(None)
        # A signal that arrives while the main greenlet waits interrupts it with EINTR; the
        # wait itself runs in a greenlet of its own, so it survives that (as in ``nameko run``).
        waiting = eventlet.spawn(self.runner.wait)
        while True:
            try:
                waiting.wait()
            except OSError as error:
                if error.errno != errno.EINTR:
                    raise
            else:
                return 0

    def _on_signal(self, signum: int, _frame) -> None:
        # Runs in whichever greenlet the signal interrupted, possibly the hub's: only spawning
        # is safe here (no logging, no waiting).
        if next(self._signals) == 0:
            self.stop_requested = time.monotonic()
            eventlet.spawn_n(self._stop, signal.Signals(signum).name)
        else:
            eventlet.spawn_n(log.info, "already stopping", signal=signal.Signals(signum).name)

    def _stop(self, signal_name: str) -> None:
        log.info("stop requested", signal=signal_name)
        deadline = self.stop_requested + STOP_DEADLINE
        eventlet.spawn_after(deadline - time.monotonic(), self._stop_overdue)
        self.started.wait()
        containers = list(self.runner.containers)
        for container in containers:
            stop_taking_connections(container)
        drained = self._drain(containers)
        self.runner.stop()
        log.info(
            "stopped",
            drained_s=round(drained, 2),
            took_s=round(time.monotonic() - self.stop_requested, 2),
        )

    def _drain(self, containers: list[ServiceProcessContainer]) -> float:
        """Keep answering calls until none arrived or ran for ``STOP_QUIET`` seconds (at most
        ``STOP_DRAIN`` seconds after the signal); how long it took."""
        answering = [container for container in containers if container.answers_calls]
        until = self.stop_requested + STOP_DRAIN
        while answering and time.monotonic() < until:
            last = max(self.stop_requested, *(c.quiet_since() for c in answering))
            if time.monotonic() - last >= STOP_QUIET:
                break
            eventlet.sleep(0.05)
        return time.monotonic() - self.stop_requested

    def _stop_overdue(self) -> None:
        log.error(
            "the graceful stop did not finish in time; exiting without waiting",
            deadline_s=STOP_DEADLINE,
        )
        logging.shutdown()
        os._exit(1)


def stop_taking_connections(container: ServiceContainer) -> None:
    """An HTTP server of ``container`` stops accepting and closes each open connection after
    its current answer. Nameko would only close the listening socket after every worker has
    finished, serving new requests meanwhile."""
    for extension in container.subextensions:
        if isinstance(extension, WebServer) and extension._serv is not None:
            extension._is_accepting = False
            extension._gt.kill()
            extension._sock.close()
            extension._serv.keepalive = False


def import_service(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("service", help="module:Class of the Nameko service")
    parser.add_argument("--config", help="YAML config (default: PORTAL_CONFIG or config.yml)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    service = import_service(args.service)
    # A service whose name comes from the configuration (a portal_query partition).
    named_for = getattr(service, "named_for", None)
    if named_for is not None:
        service = named_for(config)
    configure_logging(service.name, config.get("LOG_LEVEL", "INFO"))
    QueueConsumer.consume = functools.partialmethod(
        ConsumerMixin.consume, safety_interval=CONSUMER_TURN
    )
    log.info("service starting", amqp_uri=_without_password(config["AMQP_URI"]))
    status = ServiceProcess(service, config).run()
    # Everything is closed by now. The interpreter's own teardown (every module, every
    # object) would add up to a second or two on a busy machine, doing nothing useful.
    logging.shutdown()
    os._exit(status)


def _without_password(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    if "@" not in rest:
        return uri
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


if __name__ == "__main__":
    main()
