"""``python -m tests.load``: the load test at full size, with its figures printed.

Starts the whole platform on a fresh vhost and a temporary embedded store, seeds it, runs
50 portal users searching and paging while teammates write 50 changes/s for 2 minutes
(options change each), then checks that every accepted change is in the projection.
Exits non-zero on any error or lost change, or when fewer than 90% of the planned changes
per second were accepted.

``--json`` also writes the figures (the parameters, requests per second, p50 and p99 per
kind, errors, changes accepted and lost, the commit and the date) to
``bench/results/load.json`` and the table to ``load.md`` (or to the path given).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from tests.load.scenario import Client, LoadPlan, lost_changes, run
from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET, running_stack

RESULTS = report.RESULTS / "load.json"
MIN_WRITE_SHARE = 0.9  # of the planned changes per second, accepted


def markdown(document: dict[str, Any]) -> str:
    """The load table the docs quote: per kind, then the changes and where they come from."""
    plan, changes = document["parameters"], document["changes"]
    lines = [
        f"`python -m tests.load --json` at {report.measured_at(document['machine'])}, "
        f"{document['started_at'][:16].replace('T', ' ')} UTC: {plan['users']} portal users, "
        f"{plan['changes_per_second']:g} changes/s for {plan['seconds']:g} s "
        f"(load average {document['machine']['load_average_at_start'][0]:g} at the start)",
        "",
        "| kind | requests | per s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in document["kinds"].items():
        lines.append(
            f"| {kind} | {row['requests']:,} | {row['per_second']} | {row['p50_ms']} | "
            f"{row['p99_ms']} | {row['errors']} |"
        )
    lines += [
        f"| all | {document['requests']:,} | {document['per_second']} | | | {document['errors']} |",
        "",
        f"{changes['offered']:,} changes offered, {changes['accepted']:,} accepted "
        f"({changes['accepted_per_second']}/s), {len(changes['lost']):,} lost; projection lag "
        f"{document['projection']['lag_events']} events, {document['projection']['parked']} "
        f"parked; over {document['seconds']} s.",
    ]
    return "\n".join(lines) + "\n"


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
    parser.add_argument(
        "--json",
        type=Path,
        nargs="?",
        const=RESULTS,
        metavar="FILE",
        help="also write the figures to FILE (default bench/results/load.json)"
        " and the table beside it as .md",
    )
    args = parser.parse_args(argv)
    plan = LoadPlan(args.users, args.rate, args.seconds, args.tickets, args.think)
    started_at = datetime.now(UTC)
    machine = report.machine(Path(tempfile.gettempdir())) if args.json else {}
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
    accepted_rate = round(len(accepted) / plan.seconds, 1)
    slow = accepted_rate < MIN_WRITE_SHARE * plan.changes_per_second
    if slow:
        print(
            f"accepted {accepted_rate}/s, under {MIN_WRITE_SHARE:.0%} of the planned "
            f"{plan.changes_per_second:g}/s"
        )
    if args.json:
        document = {
            "command": " ".join(
                ["python -m tests.load", *(argv if argv is not None else sys.argv[1:])]
            ),
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine,
            "parameters": dataclasses.asdict(plan),
            **summary,
            "changes": {
                "offered": offered,
                "accepted": len(accepted),
                "accepted_per_second": accepted_rate,
                "lost": lost,
            },
            "projection": {"parked": status["parked"], "lag_events": status["lag_events"]},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        args.json.with_suffix(".md").write_text(markdown(document))
        print(f"figures written to {args.json} and {args.json.with_suffix('.md')}")
    return 1 if summary["errors"] or lost or status["parked"] or slow else 0


if __name__ == "__main__":
    sys.exit(main())
