"""Rebuild of every projection from the 1,000,000-event set, counted honestly: ``portalctl
rebuild`` as an operator runs it (every event checked against its contract and folded into
a fresh generation, the search index built, the generation left as a snapshot), then what a
serving portal_query does when it notices the switch (it takes the generation from that
snapshot and catches up), each in its own process on a fresh copy of the store. The figure
is the sum: the time until the rebuilt generation serves.

Each step's wall time runs from launch to exit (interpreter start included); peak resident
memory is the kernel's count (``wait4``'s ``ru_maxrss``). ``python -m bench.rebuild --load
DIR`` is the second step on its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.context import REPOSITORY, Context, log
from bench.measure import Row, Stat, check
from kernel.eventstore.sqlite import SqliteEventStore

# Seconds of rebuilding after which no further run starts: keeps `make bench` within its
# 20 minutes when a rebuild is slow (a slow rebuild is then reported from fewer runs).
TIME_BUDGET = 240
# The figure before it counted validation and the load that serves (bench/results/full.json
# of the commit before): the ratio says what honesty costs.
BEFORE = 23.6


def timed(command: list[str], data_dir: Path, log_path: Path) -> tuple[float, float]:
    """``(seconds, peak RSS in MiB)`` of one process of this repository on ``data_dir``."""
    env = {
        **os.environ,
        "PORTAL_DATA_DIR": str(data_dir),
        "MONGO_URI": "",
        "LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPOSITORY,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log_path.read_text(errors="replace")[-600:]
        raise RuntimeError(f"{' '.join(command)} exited {code}: {tail}")
    return elapsed, usage.ru_maxrss / 1024


def rebuild_once(ctx: Context, size: str, run: int) -> tuple[float, float, float, float, int]:
    """``(rebuild s, its peak MiB, serving process s, its peak MiB, events)``."""
    folder = ctx.scratch(f"rebuild-{run}")
    path = ctx.dataset_copy(size, folder / "data")
    store = SqliteEventStore(path)
    events = store.head_position()
    store.close()
    rebuilt = timed(["-m", "portalctl", "rebuild"], path.parent, folder / "rebuild.log")
    served = timed(["-m", "bench.rebuild", "--load"], path.parent, folder / "load.log")
    return *rebuilt, *served, events


def run(ctx: Context) -> tuple[list[Row], list[str]]:
    size = "small" if ctx.smoke else "large"
    ctx.dataset(size)
    runs = min(ctx.runs, 3)
    log(f"rebuild: {runs} rebuilds of the {size} data set")
    results = []
    notes = []
    try:
        for run in range(runs):
            results.append(rebuild_once(ctx, size, run))
            spent = sum(r[0] + r[2] for r in results)
            if run + 1 < runs and spent > TIME_BUDGET:
                notes.append(f"rebuild: {len(results)} runs, not {runs}: they took {spent:.0f} s")
                break
    except (RuntimeError, OSError) as error:
        log(f"rebuild: not measured: {error}")
        return [], [f"rebuild could not be measured: {error}"]
    events = results[0][4]
    section = f"rebuild of every projection ({events:,} events)"
    serves = Row(
        section,
        "until the rebuilt generation serves (rebuild, then the serving process takes it), "
        "beside the figure before, which left out validation, the index and the load",
        "s",
        Stat.of(r[0] + r[2] for r in results),
        {"before": Stat.of([BEFORE])} if size == "large" else {},
        higher_is_better=False,
    )
    return [
        check(serves, serves.platform.median < 60, "under 60 s"),
        Row(
            section,
            "rebuild (validate, fold, index, write the snapshot)",
            "s",
            Stat.of(r[0] for r in results),
            higher_is_better=False,
        ),
        Row(
            section,
            "the serving process takes the rebuilt generation",
            "s",
            Stat.of(r[2] for r in results),
            higher_is_better=False,
        ),
        Row(
            section,
            "throughput until it serves",
            "events/s",
            Stat.of(events / (r[0] + r[2]) for r in results),
        ),
        Row(
            section,
            "peak RSS, rebuild",
            "MiB",
            Stat.of(r[1] for r in results),
            higher_is_better=False,
        ),
        Row(
            section,
            "peak RSS, the serving process",
            "MiB",
            Stat.of(r[3] for r in results),
            higher_is_better=False,
        ),
    ], notes


def load_as_served() -> None:
    """What portal_query does when a rebuild switched generations: take it (from the
    rebuild's snapshot, or from storage and index it) and catch up; then it serves. The
    snapshot a serving process writes when it stops is not part of it."""
    from kernel.config import load_config
    from services.portal_query.dependencies import LiveProjection

    live = LiveProjection(load_config())  # as the service: config.yml and the environment
    live._reload()
    live.store.close()
    live.storage.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__)
    parser.add_argument("--load", action="store_true", required=True)
    parser.parse_args()
    load_as_served()
