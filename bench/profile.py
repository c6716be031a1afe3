"""Where the time goes when a benchmark misses its target.

    python -m bench.profile append     pyinstrument over SqliteEventStore.append (100/append)
    python -m bench.profile portal     py-spy over every process under 20 portal clients
    python -m bench.profile rebuild    py-spy over ``portalctl rebuild`` of the large set

Profiles and a text summary (the functions with the most samples, inclusive and self) go to
``var/bench/profiles/``. ``--smoke`` uses the small data set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.context import REPOSITORY, Context, log

PROFILES = REPOSITORY / "var" / "bench" / "profiles"
PY_SPY = str(Path(sys.executable).with_name("py-spy"))


def summarize(raw: Path, top: int = 25) -> str:
    """A py-spy ``raw`` (collapsed stacks) file as the top functions by inclusive and by
    self samples, in percent of all samples."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return f"{raw.name}: no samples\n"
    lines = [f"{raw.name}: {total} samples", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def spy(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *(PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds))),
            *("--rate", "200", "--format", "raw", "--nonblocking", "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_append(ctx: Context, out: Path) -> None:
    from pyinstrument import Profiler

    from bench.store import batches, sample_events
    from kernel.eventstore.sqlite import SqliteEventStore

    plan = batches(sample_events(1_000 if ctx.smoke else 5_000), 100, 100)
    store = SqliteEventStore(ctx.scratch("profile-append") / "events.sqlite3")
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for batch in plan:
        store.append(batch.stream_id, batch.events, batch.version)
    profiler.stop()
    store.close()
    (out / "append.html").write_text(profiler.output_html())
    text = profiler.output_text(unicode=False, color=False)
    (out / "append.txt").write_text(text)
    print(text)


def profile_portal(ctx: Context, out: Path, seconds: float = 20.0) -> None:
    from bench.corpus import load_corpus
    from bench.platform import clients_run, mixed_queries, portal_users, running_platform
    from kernel.eventstore.sqlite import SqliteEventStore

    size = "small" if ctx.smoke else "medium"
    store = SqliteEventStore(ctx.dataset(size))
    corpus = load_corpus(store)
    store.close()
    with running_platform(ctx, size) as platform:
        largest, _small = portal_users(corpus, platform)
        queries = mixed_queries(corpus, largest, ctx.end)
        spies = {
            name: spy(process.pid, seconds, out / f"portal-{name}.txt")
            for name, process in platform.stack.processes.items()
        }
        stop = time.monotonic() + seconds
        served = 0

        def load() -> None:
            nonlocal served
            while time.monotonic() < stop:
                timings, _rate = clients_run(platform.stack.base_url, largest, queries, 20, 10)
                served += len(timings)

        worker = threading.Thread(target=load)
        worker.start()
        worker.join()
        for process in spies.values():
            process.wait(timeout=seconds + 60)
        log(f"profile: {served} requests served while sampling")
    for name in spies:
        raw = out / f"portal-{name}.txt"
        if raw.exists():
            summary = summarize(raw)
            (out / f"portal-{name}.summary.txt").write_text(summary)
            print(summary)


def profile_rebuild(ctx: Context, out: Path) -> None:
    size = "small" if ctx.smoke else "large"
    path = ctx.dataset_copy(size, ctx.scratch("profile-rebuild") / "data")
    env = {**os.environ, "PORTAL_DATA_DIR": str(path.parent), "MONGO_URI": ""}
    raw = out / "rebuild.txt"
    subprocess.run(
        [
            *(PY_SPY, "record", "--rate", "200", "--format", "raw", "--output", str(raw)),
            *("--", sys.executable, "-m", "portalctl", "rebuild"),
        ],
        cwd=REPOSITORY,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    summary = summarize(raw)
    (out / "rebuild.summary.txt").write_text(summary)
    print(summary)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", choices=("append", "portal", "rebuild"))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    out = PROFILES
    out.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    ctx = Context(smoke=args.smoke, runs=1, work_dir=work_dir, amqp_uri=amqp_uri)
    try:
        {"append": profile_append, "portal": profile_portal, "rebuild": profile_rebuild}[
            args.target
        ](ctx, out)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    log(f"profiles in {out}")


if __name__ == "__main__":
    main()
