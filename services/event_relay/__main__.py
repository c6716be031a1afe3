"""``python -m services.event_relay``: run the relay until SIGTERM or SIGINT.

Either signal, however often it arrives (a Ctrl-C or a kill of the process group reaches the
relay and its supervisor, which then sends SIGTERM too), asks for one stop: the relay
publishes what writers still append while they finish their requests, saves its checkpoint
and exits 0. A relay standing by (another one holds the publisher lock) exits at once."""

from __future__ import annotations

import os
import signal


def _exit_before_starting(_signum: int, _frame) -> None:
    os._exit(0)


# Until the relay runs, a stop signal ends the process at once: it has published nothing
# yet, and Python's default for a Ctrl-C would print a KeyboardInterrupt traceback.
if __name__ == "__main__":
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, _exit_before_starting)

from kernel.config import load_config  # noqa: E402
from kernel.eventstore import open_event_store  # noqa: E402
from kernel.logging import configure_logging, get_logger  # noqa: E402
from services.event_relay.relay import EventRelay  # noqa: E402


def main() -> None:
    config = load_config()
    configure_logging("event_relay", config.get("LOG_LEVEL", "INFO"))
    relay = EventRelay(open_event_store(config), config["AMQP_URI"])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: relay.stop())
    get_logger(__name__).info("relay starting")
    relay.run()


if __name__ == "__main__":
    main()
