"""How soon every gateway process refuses a session that ended: ``python -m bench.revocation``.

Two gateway processes run beside the rest of the platform (default settings). Each round
signs a user in through the first gateway and checks the session works on both; then ends
it, alternately by logging out through the first gateway (``DELETE /api/portal/session``)
and by identity's ``revoke_sessions`` (the "revoke every session" a teammate's tool calls).
The figure is the time from the ending call's answer until *both* gateways answer 401 (each
polled every 2 ms); the promise is 1 s at p99.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nameko.standalone.rpc import ClusterRpcProxy

from bench.http import Client, portal_session
from bench.measure import percentile
from bench.platform import free_port
from portalctl.stack import PROCESSES, Stack
from tests.support.broker import BROKER_URI, fresh_vhost

POLL_INTERVAL = 0.002
GIVE_UP = 10.0
USER, EMAIL = "ann", "ann@acme.example"


@contextlib.contextmanager
def two_gateways(root: Path) -> Iterator[tuple[Stack, str, str, str]]:
    """The platform with a second gateway; ``(stack, admin token, identity secret, second
    gateway's base URL)``."""
    admin_token, identity_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with fresh_vhost(BROKER_URI, prefix="portal_bench") as vhost_uri:
        stack = Stack(
            env={
                "AMQP_URI": vhost_uri,
                "PORTAL_DATA_DIR": str(root / "data"),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                "PORTAL_ADMIN_TOKEN": admin_token,
                "PORTAL_IDENTITY_SECRET": identity_secret,
                "PORTAL_SESSION_SECRET": secrets.token_urlsafe(24),
                "LOG_LEVEL": "WARNING",
            },
            log_dir=root / "logs",
        )
        second = f"127.0.0.1:{free_port()}"
        stack.commands["gateway-2"] = PROCESSES["gateway"]
        try:
            stack.start()
            stack.start("gateway-2", extra_env={"WEB_SERVER_ADDRESS": second})
            stack.wait_ready()
            Stack(env={"WEB_SERVER_ADDRESS": second}, log_dir=root / "logs").wait_ready()
            yield stack, admin_token, identity_secret, f"http://{second}"
        finally:
            stack.stop()


def portal_user(admin: Client) -> None:
    """A contact who may use the portal (an email, a company, a ticket)."""
    admin.ok("POST", "/api/admin/contacts", {"id": USER, "email": EMAIL})
    admin.ok("POST", "/api/admin/companies", {"id": "acme", "name": "Acme"})
    admin.ok("POST", "/api/admin/companies/acme/members", {"user_id": USER})
    admin.ok("POST", "/api/admin/tickets", {"type": "Bug", "title": "Hi", "creator_id": USER})


def refused_by_all(gateways: list[Client]) -> float:
    """Milliseconds until every gateway answers 401 (``GIVE_UP`` at most)."""
    started = time.perf_counter()
    waiting = list(gateways)
    while waiting:
        waiting = [g for g in waiting if g.call("GET", "/api/portal/me")[0] != 401]
        if not waiting or time.perf_counter() - started > GIVE_UP:
            break
        time.sleep(POLL_INTERVAL)
    return (time.perf_counter() - started) * 1000


def measure(count: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"logout": [], "revoke every session": []}
    with (
        tempfile.TemporaryDirectory(prefix="portal-revocation-") as scratch,
        two_gateways(Path(scratch)) as (stack, admin_token, identity_secret, second_url),
    ):
        admin = Client(stack.base_url, admin_token)
        portal_user(admin)
        rpc_config = {"AMQP_URI": stack.env["AMQP_URI"]}
        with ClusterRpcProxy(rpc_config, timeout=10) as rpc:
            for round_number in range(count):
                token = portal_session(stack.base_url, USER, EMAIL, identity_secret)
                gateways = [Client(stack.base_url, token), Client(second_url, token)]
                deadline = time.monotonic() + GIVE_UP  # the read side may be starting
                while any(g.call("GET", "/api/portal/me")[0] != 200 for g in gateways):
                    if time.monotonic() > deadline:
                        raise RuntimeError("a fresh session is not accepted")
                    time.sleep(POLL_INTERVAL)
                if round_number % 2 == 0:
                    gateways[0].ok("DELETE", "/api/portal/session")
                    timings["logout"].append(refused_by_all(gateways))
                else:
                    rpc.identity.revoke_sessions(USER)
                    timings["revoke every session"].append(refused_by_all(gateways))
                for gateway in gateways:
                    gateway.close()
        admin.close()
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.revocation", description=__doc__)
    parser.add_argument("--count", type=int, default=200, help="sessions ended (200)")
    args = parser.parse_args(argv)
    timings = measure(args.count)
    print("time from the ending call's answer until both gateways refuse the token (ms)")
    every = [value for values in timings.values() for value in values]
    for kind, values in [*timings.items(), ("all", every)]:
        print(
            f"{kind:>22}: n={len(values)} p50={percentile(values, 50):.1f} "
            f"p99={percentile(values, 99):.1f} max={max(values):.1f}"
        )


if __name__ == "__main__":
    main()
