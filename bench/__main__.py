"""``python -m bench``: the benchmark suite, side by side with its peers.

    python -m bench                 everything, on the medium and 1,000,000-event data sets
    python -m bench --smoke         a one-minute version on the small data set
    python -m bench freshness       only the named parts (store bus search memory
                                    freshness rebuild), e.g. the read side's figures
    python -m bench memory --scale 4
                                    the read side's parts on four times the medium set
                                    (200,000 tickets, 1,000,000 parts; generated once,
                                    about 20 minutes), to check per-ticket figures hold

Results go to ``bench/results/<name>.json`` and ``<name>.md`` (name: ``full``, ``smoke``,
or the parts run, unless ``--name`` says otherwise). The run exits non-zero, after writing
them, when a part could not be measured or a required target was missed (a change that
never became visible).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import bus, platform, rebuild, report, store
from bench.context import Context, log
from bench.measure import Row, show

PARTS = ("store", "bus", "search", "memory", "freshness", "rebuild")


def datasets_for(parts: list[str], ctx: Context) -> set[str]:
    if ctx.smoke:
        return {"small"}
    needed = {ctx.portal_size} if set(parts) - {"rebuild"} else set()
    return needed | ({"large"} if "rebuild" in parts else set())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--smoke", action="store_true", help="small data, about a minute")
    parser.add_argument("--runs", type=int, help="runs per figure (5; smoke: 3)")
    parser.add_argument("--name", help="results file name")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--scale", type=int, default=1, help="the portal's parts on this many times the medium set"
    )
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    parts = args.parts or list(PARTS)
    name = args.name or ("smoke" if args.smoke else "full" if not args.parts else "-".join(parts))
    if args.scale != 1 and not args.name:
        name += f"-x{args.scale}"
    runs = args.runs or (3 if args.smoke else 5)
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    work_dir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    ctx = Context(
        smoke=args.smoke,
        runs=runs,
        work_dir=work_dir,
        amqp_uri=amqp_uri,
        seed=args.seed,
        scale=args.scale,
    )
    info = {
        "name": name,
        "started_at": started_at.isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "runs": runs,
        "parts": parts,
        "machine": report.machine(
            ctx.cache_dir.parent if ctx.cache_dir.parent.exists() else work_dir
        ),
    }
    rows: list[Row] = []
    notes: list[str] = []
    try:
        ctx.prepare(datasets_for(parts, ctx))
        if "store" in parts:
            rows += store.run(ctx)
        if "bus" in parts:
            rows += bus.run(ctx)
        if {"search", "memory", "freshness"} & set(parts):
            platform_rows, platform_notes = platform.run(ctx, parts)
            rows += platform_rows
            notes += platform_notes
        if "rebuild" in parts:
            rebuild_rows, rebuild_notes = rebuild.run(ctx)
            rows += rebuild_rows
            notes += rebuild_notes
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    info["seconds"] = time.perf_counter() - started
    info["datasets"] = ctx.loads
    notes += [
        f"data set {size}: {load['events']:,} events in {load['streams']:,} streams "
        f"(generated once in {load['seconds']:.0f} s, seed {load['seed']})"
        for size, load in ctx.loads.items()
    ]
    failures = ctx.failures + [
        f"{row.section} / {row.measure}: {show(row.platform, row.unit)}, required: {row.target}"
        for row in rows
        if row.required and not row.met
    ]
    info["failures"] = failures
    path = report.write(name, info, rows, notes)
    log(f"done in {info['seconds']:.0f} s: {path}")
    print(path.read_text())
    if failures:
        for failure in failures:
            log(f"FAILED: {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
