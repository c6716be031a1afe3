"""What every benchmark gets: the run's settings, a scratch folder and the data sets.

Data sets are generated once per ``(size, seed, month, generator source)`` into
``var/bench/datasets/`` and reused by later runs: generation validates every event through
the store's append path and takes minutes for the large sets. A benchmark that writes to a
store works on a copy (:meth:`Context.dataset_copy`).
"""

from __future__ import annotations

import dataclasses
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


def size_of(name: str) -> datagen.DatasetSize:
    """A data set size by name. ``medium-x4`` is the medium set grown four times the way a
    help desk grows: four times the companies, tickets and parts, its largest company the
    same."""
    base, _, times = name.partition("-x")
    size = datagen.SIZES[base]
    if not times:
        return size
    factor = int(times)
    return dataclasses.replace(
        size,
        name=name,
        companies=size.companies * factor,
        tickets=size.tickets * factor,
        parts=size.parts * factor,
    )


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
    scale: int = 1  # the portal's data set: the medium one, or this many times it

    @property
    def portal_size(self) -> str:
        """The data set the platform's parts (search, memory, start, freshness) run on."""
        if self.smoke:
            return "small"
        return "medium" if self.scale == 1 else f"medium-x{self.scale}"

    def dataset(self, size_name: str) -> Path:
        """The event store file of a generated data set (generated on first use)."""
        size = size_of(size_name)
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
        size = size_of(size_name)
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
