"""``portalctl``: operate the portal platform.

portalctl run       start every service and the gateway (``make run``)
portalctl seed      seed the demo data into a running stack and print sign-in links
portalctl rebuild   replay the event store into a fresh projection generation, switch to it
portalctl status    projection generation, checkpoint and lag; relay checkpoint; portal on/off
portalctl parked    projection events parked after failing (``--retry`` re-applies them)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kernel.config import load_config, replicas
from kernel.eventstore import open_event_store
from portalctl import partitions, projections
from portalctl.demo import Demo
from portalctl.mail_catcher import MailCatcher
from portalctl.stack import PROCESSES, REPOSITORY, Ended, Stack, local_url

SECRETS_FILE = REPOSITORY / "var" / "secrets.env"
SECRET_NAMES = ("PORTAL_ADMIN_TOKEN", "PORTAL_IDENTITY_SECRET", "PORTAL_SESSION_SECRET")


def local_secrets(path: Path = SECRETS_FILE) -> dict[str, str]:
    """Secrets for a local stack: from the environment, else generated once into ``path``."""
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            stored[name] = value
    for name in SECRET_NAMES:
        stored.setdefault(name, secrets.token_urlsafe(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={stored[name]}\n" for name in SECRET_NAMES))
    path.chmod(0o600)
    return {name: os.environ.get(name) or stored[name] for name in SECRET_NAMES}


def data_dir(config: dict) -> Path:
    """``PORTAL_DATA_DIR`` as the services see it (they run in the repository)."""
    return REPOSITORY / (config.get("PORTAL_DATA_DIR") or "var/data")


class StopRequested(BaseException):
    """SIGTERM or SIGINT asked ``portalctl run`` to stop the platform. Not an ``Exception``,
    like ``KeyboardInterrupt``: an ``except Exception`` on the way must not swallow it."""


class StopSignals:
    """SIGTERM and SIGINT (Ctrl-C) ask for one stop, however many arrive: a Ctrl-C or a kill
    of the process group reaches every process of the platform at once, and each stops by
    itself. Inside :meth:`interrupting` the first one raises :class:`StopRequested` in the
    main thread; elsewhere (while processes start or stop: an exception there would lose
    one) it is only noted."""

    def __init__(self):
        self.received: str | None = None
        self._interrupting = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    @contextlib.contextmanager
    def interrupting(self) -> Iterator[None]:
        self._interrupting = True
        try:
            if self.received:
                raise StopRequested(self.received)
            yield
        finally:
            self._interrupting = False

    def _on_signal(self, signum: int, _frame) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
            if self._interrupting:
                raise StopRequested(self.received)


def run(args: argparse.Namespace) -> None:
    env = local_secrets()
    config = {**load_config(), **env}
    store_was_empty = open_event_store(config).head_position() == 0
    catcher = None
    if not config.get("SMTP_URI"):
        catcher = MailCatcher(data_dir(config) / "mail")
        catcher.start()
        env["SMTP_URI"] = config["SMTP_URI"] = catcher.smtp_uri
    # The configured address, given to the gateway and used for readiness and seeding alike.
    stack = Stack(
        env={**env, "WEB_SERVER_ADDRESS": str(config["WEB_SERVER_ADDRESS"])},
        log_dir=args.log_dir,
        replicas=args.replicas or replicas(config),
    )
    signals = StopSignals()
    stack.start()
    failure = None
    try:
        with signals.interrupting():
            start_and_watch(stack, config, store_was_empty, catcher)
        failure = ", ".join(f"{name} exited with status {c}" for name, c in stack.exited().items())
    except StopRequested:
        pass
    except (RuntimeError, TimeoutError) as error:  # the stack did not come up
        failure = str(error)
    finally:
        started = time.monotonic()
        ended = stack.stop()
        if catcher is not None:
            catcher.stop()
    if signals.received == "SIGINT" and sys.stdout.isatty():
        print()  # past the terminal's "^C"
    cause = f"on {signals.received}" if signals.received else f"because {failure}"
    print(f"portal stopped {cause} in {time.monotonic() - started:.1f}s: {outcome(ended)}")
    if failure or not all(end.clean for end in ended.values()):
        raise SystemExit(1)


def start_and_watch(
    stack: Stack, config: dict, store_was_empty: bool, catcher: MailCatcher | None
) -> None:
    """Wait until the started stack is ready, seed the demo, print how to use it (and where
    the mail ``catcher`` keeps e-mail); return when one of its processes exits."""
    stack.wait_ready()
    demo = Demo(stack.base_url, config["PORTAL_ADMIN_TOKEN"], config["PORTAL_IDENTITY_SECRET"])
    with_demo = os.environ.get("PORTAL_DEMO", "1") != "0"
    if with_demo and store_was_empty:
        print("seeding demo data into the empty store", flush=True)
        demo.seed(open_event_store(config))
    print(f"\nThe portal is up at {stack.base_url}/")
    print(f"Admin token (Authorization: Bearer ...): {config['PORTAL_ADMIN_TOKEN']}")
    if with_demo:
        print("Sign in as a demo user:")
        for who, link in demo.links():
            print(f"  {who}:\n    {link}")
    if catcher is not None:
        print(
            f"E-mail (SMTP_URI is empty): a local catcher at {catcher.smtp_uri} keeps every "
            f"message in {catcher.maildir}/new/ (a Maildir, one file per e-mail)"
        )
    if stack.replicas > 1:
        print(f"{stack.replicas} copies of every service (named <service>, <service>.2, ...)")
    print(f"Logs: {stack.log_dir}/<service>.log   Stop: Ctrl-C\n", flush=True)
    while not stack.exited():
        time.sleep(0.2)


def outcome(ended: dict[str, Ended]) -> str:
    """Every process that did not exit cleanly, else the slowest one."""
    unclean = [
        f"{name} killed after {end.seconds:.1f}s" if end.killed else f"{name} exited {end.status}"
        for name, end in ended.items()
        if not end.clean
    ]
    if unclean:
        return f"not cleanly: {', '.join(unclean)}"
    slowest = max(ended, key=lambda name: ended[name].seconds)
    return (
        f"all {len(ended)} processes exited cleanly, the slowest ({slowest}) "
        f"in {ended[slowest].seconds:.1f}s"
    )


def seed(_args: argparse.Namespace) -> None:
    """Seed the demo into the stack ``make run`` started (once), and print its sign-in links."""
    config = {**load_config(), **local_secrets()}
    demo = Demo(
        local_url(config["WEB_SERVER_ADDRESS"]),
        config["PORTAL_ADMIN_TOKEN"],
        config["PORTAL_IDENTITY_SECRET"],
    )
    if demo.seeded():
        print("the demo data is already there")
    else:
        demo.seed(open_event_store(config))
        print("demo data seeded")
    for who, link in demo.links():
        print(f"  {who}:\n    {link}")


def health(args: argparse.Namespace) -> None:
    """Exit 0 when ``args.service`` is healthy: an RPC service answers ``health`` in time, the
    gateway answers ``/healthz``, the relay is connected to the store and keeping up."""
    from portalctl.health import check

    problem = check(args.service, load_config())
    if problem:
        raise SystemExit(f"{args.service}: {problem}")


def positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portalctl", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run", help="start the whole platform locally")
    running.add_argument(
        "--log-dir", type=Path, default=REPOSITORY / "var" / "logs", help="where each process logs"
    )
    running.add_argument(
        "--replicas",
        type=positive,
        help="copies of every service, the gateway included (default: PORTAL_REPLICAS, 1)",
    )
    running.set_defaults(handler=run)
    commands.add_parser("seed", help="seed demo data into a running stack").set_defaults(
        handler=seed
    )
    checking = commands.add_parser("health", help="check one service (exit status)")
    checking.add_argument("service", choices=sorted(PROCESSES))
    checking.set_defaults(handler=health)
    projections.register(commands, load_config)
    partitions.register(commands, load_config)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
