"""What every benchmark gets: the run's settings, a scratch folder and the data sets.

Data sets are generated once per ``(size, seed, month, generator source)`` into
``var/bench/datasets/`` and reused by later runs: generation validates every event through
the store's append path and takes minutes for the large sets. A benchmark that writes to a
store works on a copy (:meth:`Context.dataset_copy`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench import datagen, vocabulary
from kernel.eventstore import EVENTS_FILE
from kernel.eventstore.sqlite import SqliteEventStore

REPOSITORY = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generator_fingerprint() -> str:
    """Changes whenever the generator's code or word lists change."""
    digest = hashlib.sha256()
    for module in (datagen, vocabulary):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:10]


@dataclass
class Context:
    smoke: bool
    runs: int
    work_dir: Path
    amqp_uri: str
    seed: int = 42
    cache_dir: Path = REPOSITORY / "var" / "bench"
    end: datetime = field(default_factory=datagen.default_end)
    loads: dict[str, dict] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # each makes the run exit non-zero

    def dataset(self, size_name: str) -> Path:
        """The event store file of a generated data set (generated on first use)."""
        size = datagen.SIZES[size_name]
        path = self._path(size_name)
        name = path.parent.name
        summary_path = path.with_name("load.json")
        if not summary_path.exists():
            shutil.rmtree(path.parent, ignore_errors=True)
            partial = path.parent.with_name(name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            log(f"generating the {size.name} data set (once; cached in {path.parent})")
            store = SqliteEventStore(partial / EVENTS_FILE)
            summary = datagen.load(store, size, self.seed, self.end)
            store.close()
            (partial / "load.json").write_text(json.dumps(summary.__dict__))
            partial.rename(path.parent)
            log(f"  {summary.events:,} events in {summary.seconds:.0f} s")
        self.loads[size_name] = json.loads(summary_path.read_text())
        return path

    def prepare(self, size_names: set[str]) -> None:
        """Generate the missing data sets side by side, one process each, before anything
        is measured (a cold cache then costs the slowest set, not their sum)."""
        missing = [name for name in sorted(size_names) if not self._cached(name)]
        if len(missing) > 1:
            with ProcessPoolExecutor(len(missing)) as pool:
                list(pool.map(self.dataset, missing))
        for name in size_names:
            self.dataset(name)

    def _cached(self, size_name: str) -> bool:
        return self._path(size_name).with_name("load.json").exists()

    def _path(self, size_name: str) -> Path:
        size = datagen.SIZES[size_name]
        name = f"{size.name}-s{self.seed}-{self.end:%Y%m%d}-{generator_fingerprint()}"
        return self.cache_dir / "datasets" / name / EVENTS_FILE

    def dataset_copy(self, size_name: str, destination: Path) -> Path:
        """A private copy of a data set's store, for a benchmark that appends to it."""
        source = self.dataset(size_name)
        destination.mkdir(parents=True, exist_ok=True)
        target = destination / EVENTS_FILE
        with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
            origin.backup(copy)
        return target

    def scratch(self, name: str) -> Path:
        path = self.work_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path
