"""Rebuild of every projection from the 1,000,000-event set: ``portalctl rebuild`` as an
operator runs it, on a fresh copy of the store each time. Wall time from launch to exit
(interpreter start included), events per second over the store's events, and the peak
resident memory of the process as the kernel counted it (``wait4``'s ``ru_maxrss``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.context import REPOSITORY, Context, log
from bench.measure import Row, Stat, check
from kernel.eventstore.sqlite import SqliteEventStore

# Seconds of rebuilding after which no further run starts: keeps `make bench` within its
# 20 minutes when a rebuild is slow (a slow rebuild is then reported from fewer runs).
TIME_BUDGET = 240


def rebuild_once(ctx: Context, size: str, run: int) -> tuple[float, float, int]:
    """``(seconds, peak RSS in MiB, events)`` of one ``portalctl rebuild``."""
    folder = ctx.scratch(f"rebuild-{run}")
    path = ctx.dataset_copy(size, folder / "data")
    store = SqliteEventStore(path)
    events = store.head_position()
    store.close()
    output = (folder / "rebuild.log").open("wb")
    env = {
        **os.environ,
        "PORTAL_DATA_DIR": str(path.parent),
        "MONGO_URI": "",
        "LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "portalctl", "rebuild"],
        cwd=REPOSITORY,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output.close()
    if process.returncode != 0:
        tail = (folder / "rebuild.log").read_text(errors="replace")[-600:]
        raise RuntimeError(f"portalctl rebuild exited {process.returncode}: {tail}")
    return elapsed, usage.ru_maxrss / 1024, events


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
            spent = sum(r[0] for r in results)
            if run + 1 < runs and spent > TIME_BUDGET:
                notes.append(f"rebuild: {len(results)} runs, not {runs}: they took {spent:.0f} s")
                break
    except (RuntimeError, OSError) as error:
        log(f"rebuild: not measured: {error}")
        return [], [f"rebuild could not be measured: {error}"]
    events = results[0][2]
    section = f"rebuild of every projection ({events:,} events)"
    seconds = Row(section, "wall time", "s", Stat.of(r[0] for r in results), higher_is_better=False)
    return [
        check(seconds, seconds.platform.median < 60, "under 60 s"),
        Row(section, "throughput", "events/s", Stat.of(events / r[0] for r in results)),
        Row(section, "peak RSS", "MiB", Stat.of(r[1] for r in results), higher_is_better=False),
    ], notes
