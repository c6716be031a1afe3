"""``portalctl``: operate the portal platform.

portalctl run       start every service and the gateway (``make run``)
portalctl seed      seed the demo data into a running stack and print sign-in links
portalctl rebuild   replay the event store into a fresh projection generation, switch to it
portalctl status    projection generation, checkpoint and lag; the relay's checkpoint
portalctl parked    projection events parked after failing (``--retry`` re-applies them)
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from kernel.config import load_config
from kernel.eventstore import open_event_store
from portalctl import projections
from portalctl.demo import Demo
from portalctl.stack import PROCESSES, REPOSITORY, Stack

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


def run(_args: argparse.Namespace) -> None:
    env = local_secrets()
    config = {**load_config(), **env}
    store_was_empty = open_event_store(config).head_position() == 0
    stack = Stack(env=env, log_dir=REPOSITORY / "var" / "logs")
    # SIGTERM stops the services like Ctrl-C does, instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stack.start()
    try:
        stack.wait_ready()
        demo = Demo(stack.base_url, config["PORTAL_ADMIN_TOKEN"], config["PORTAL_IDENTITY_SECRET"])
        with_demo = os.environ.get("PORTAL_DEMO", "1") != "0"
        if with_demo and store_was_empty:
            print("seeding demo data into the empty store", flush=True)
            demo.seed()
        print(f"\nThe portal is up at {stack.base_url}/")
        print(f"Admin token (Authorization: Bearer ...): {config['PORTAL_ADMIN_TOKEN']}")
        if with_demo:
            print("Sign in as a demo user:")
            for who, link in demo.links():
                print(f"  {who}:\n    {link}")
        print(f"Logs: {stack.log_dir}/<service>.log   Stop: Ctrl-C\n", flush=True)
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        stack.stop()


def seed(_args: argparse.Namespace) -> None:
    """Seed the demo into the stack ``make run`` started (once), and print its sign-in links."""
    config = {**load_config(), **local_secrets()}
    base_url = f"http://{config['WEB_SERVER_ADDRESS']}"
    demo = Demo(base_url, config["PORTAL_ADMIN_TOKEN"], config["PORTAL_IDENTITY_SECRET"])
    if demo.seeded():
        print("the demo data is already there")
    else:
        demo.seed()
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portalctl", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole platform locally").set_defaults(handler=run)
    commands.add_parser("seed", help="seed demo data into a running stack").set_defaults(
        handler=seed
    )
    checking = commands.add_parser("health", help="check one service (exit status)")
    checking.add_argument("service", choices=sorted(PROCESSES))
    checking.set_defaults(handler=health)
    projections.register(commands, load_config)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
