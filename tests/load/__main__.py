"""``python -m tests.load``: the load test at full size, with its figures printed.

Starts the whole platform on a fresh vhost and a temporary embedded store, seeds it, runs
50 portal users searching and paging while teammates write 50 changes/s for 2 minutes
(options change each), then checks that every accepted change is in the projection.
Exits non-zero on any error or lost change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.load.scenario import Client, LoadPlan, lost_changes, run
from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET, running_stack


def table(summary: dict) -> str:
    lines = [f"{'kind':<16}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    for kind, row in summary["kinds"].items():
        lines.append(
            f"{kind:<16}{row['requests']:>9}{row['per_second']:>8}"
            f"{row['p50_ms']:>9}{row['p99_ms']:>9}{row['errors']:>8}"
        )
    lines.append(
        f"{'all':<16}{summary['requests']:>9}{summary['per_second']:>8}"
        f"{'':>9}{'':>9}{summary['errors']:>8}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__)
    defaults = LoadPlan()
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--rate", type=float, default=defaults.changes_per_second)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--tickets", type=int, default=defaults.seed_tickets)
    parser.add_argument("--think", type=float, default=defaults.think_seconds)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    plan = LoadPlan(args.users, args.rate, args.seconds, args.tickets, args.think)
    with (
        tempfile.TemporaryDirectory(prefix="portal-load-") as root,
        running_stack(Path(root), BROKER_URI) as stack,
    ):
        print(
            f"seeding, then {plan.users} portal users and {plan.changes_per_second:g} "
            f"changes/s for {plan.seconds:g} s",
            flush=True,
        )
        seen, accepted = run(stack.base_url, ADMIN_TOKEN, IDENTITY_SECRET, plan)
        admin = Client(stack.base_url, ADMIN_TOKEN)
        lost = lost_changes(admin, Path(stack.env["PORTAL_DATA_DIR"]), accepted)
        status = admin.ok("GET", "/api/admin/portal/status")
    summary = seen.summary()
    offered = sum(row["requests"] for kind, row in summary["kinds"].items() if "portal" not in kind)
    print(table(summary))
    print(
        f"changes: {offered} offered, {len(accepted)} accepted, {len(lost)} lost; "
        f"projection parked {status['parked']}, lag {status['lag_events']} events"
    )
    for kind, errors in seen.errors.items():
        print(f"first errors of {kind}: {errors[:3]}")
    if args.json:
        args.json.write_text(
            json.dumps({**summary, "accepted": len(accepted), "lost": lost}, indent=2)
        )
    return 1 if summary["errors"] or lost or status["parked"] else 0


if __name__ == "__main__":
    sys.exit(main())
