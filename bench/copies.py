"""Portal throughput with one copy and with two copies of every service, in one run:
``python -m bench.copies``.

Each configuration runs the load scenario of ``tests/load`` (50 portal users searching,
paging and opening tickets, teammates writing 50 changes/s) on a fresh stack and store, one
after the other, and reports the portal requests (every ``portal *`` kind together): the
rate served, p50 and p99, errors, and the ratios of two copies to one. ``--profile`` also
records the gateway and portal_query processes of the two-copy run with py-spy and prints
where their time goes (``bench/profile.py``'s summary).

A portal request is one hop in both configurations: the gateway checks the session itself
and makes one RPC to portal_query. The two-hop path (a session check RPC to identity first)
no longer exists, so it cannot be measured beside them any more.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.measure import percentile
from bench.profile import spy, summarize
from tests.load.scenario import LoadPlan, Measurements, run
from tests.support.broker import BROKER_URI
from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET, running_stack

PROFILED = ("gateway", "portal_query")


def portal_figures(seen: Measurements) -> dict[str, float]:
    """Every portal request of a run together: rate, p50 and p99 (ms), errors."""
    latencies = [
        value
        for kind, values in seen.latencies.items()
        if kind.startswith("portal")
        for value in values
    ]
    errors = sum(len(values) for kind, values in seen.errors.items() if kind.startswith("portal"))
    seconds = seen.finished - seen.started
    return {
        "per_second": len(latencies) / seconds,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "errors": errors,
        "writes_per_second": sum(
            len(values) for kind, values in seen.latencies.items() if not kind.startswith("portal")
        )
        / seconds,
    }


def measure(copies: int, plan: LoadPlan, profile_dir: Path | None) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="portal-copies-") as scratch,
        running_stack(Path(scratch), BROKER_URI, copies=copies, LOG_LEVEL="WARNING") as stack,
    ):
        spies = []

        def record() -> None:
            for name in [n for service in PROFILED for n in stack.copies_of(service)]:
                out = profile_dir / f"{name}.raw"
                spies.append((out, spy(stack.processes[name].pid, plan.seconds, out)))

        seen, _accepted = run(
            stack.base_url,
            ADMIN_TOKEN,
            IDENTITY_SECRET,
            plan,
            on_seeded=record if profile_dir is not None else None,
        )
        for _out, process in spies:
            process.wait()
    if profile_dir is not None:
        for out, _process in spies:
            print(summarize(out, top=15))
    return portal_figures(seen)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.copies", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="load per configuration")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--writes", type=float, default=50, help="teammates' changes/s")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles into this folder")
    args = parser.parse_args(argv)
    plan = LoadPlan(users=args.users, changes_per_second=args.writes, seconds=args.seconds)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    figures = {
        copies: measure(copies, plan, args.profile if copies == 2 else None) for copies in (1, 2)
    }
    print(
        f"portal requests with {args.users} users and {args.writes:g} writes/s, "
        f"{args.seconds:g} s each (a portal request is one hop in both)"
    )
    for copies, row in figures.items():
        print(
            f"  {copies} cop{'y' if copies == 1 else 'ies'}: {row['per_second']:6.1f} req/s  "
            f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  "
            f"errors {row['errors']}  writes {row['writes_per_second']:.1f}/s"
        )
    one, two = figures[1], figures[2]
    print(
        f"  2 copies / 1 copy: req/s x{two['per_second'] / one['per_second']:.2f}, "
        f"p50 x{two['p50_ms'] / one['p50_ms']:.2f}, p99 x{two['p99_ms'] / one['p99_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
