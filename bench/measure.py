"""Measurement vocabulary of the suite: repeated samples, their median and range, and a row
that puts the platform's figure beside its peers' with the ratio.

The machine is shared and noisy, so every figure is the median of several runs, shown with
its min-max range, and peers are measured in the same run, interleaved with the platform,
so that noise hits both sides alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stat:
    """The median of ``samples`` with their range."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples) -> Stat:
        return cls(tuple(float(s) for s in samples))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "samples": list(self.samples),
        }


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate(count: int, work: Callable[[], Any]) -> float:
    """Run ``work`` once and answer ``count`` divided by its wall time (items per second)."""
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def human(value: float | None, unit: str = "") -> str:
    """A short figure: 12.3k, 1.52M, 0.42 ms."""
    if value is None or value != value:  # None or NaN
        return "-"
    if unit == "changes":  # a count
        return f"{value:.0f}"
    if unit in ("ms", "s", "x"):
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
        return f"{value:.{digits}f}{' ' + unit if unit != 'x' else 'x'}"
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
            return f"{scaled:.{digits}f}{suffix}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def show(stat: Stat | None, unit: str) -> str:
    if stat is None:
        return "-"
    if len(stat.samples) == 1:
        return human(stat.median, unit)
    return f"{human(stat.median, unit)} ({human(stat.low, unit)}-{human(stat.high, unit)})"


@dataclass
class Row:
    """One measured quantity: the platform's figure, each peer's, and the target.

    A ``required`` target fails the run when it is not met (a lost change is an error, not
    a slow figure). ``observations`` keeps the raw samples behind a figure taken over all
    of them rather than as a median of runs."""

    section: str
    measure: str
    unit: str
    platform: Stat | None
    peers: dict[str, Stat] = field(default_factory=dict)
    higher_is_better: bool = True
    target: str = ""
    met: bool | None = None
    note: str = ""
    required: bool = False
    observations: list[float] = field(default_factory=list)

    def ratio(self, peer: str) -> float | None:
        """Platform ÷ peer, by medians."""
        other = self.peers.get(peer)
        if self.platform is None or other is None or other.median == 0:
            return None
        return self.platform.median / other.median

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["platform"] = self.platform.to_dict() if self.platform else None
        data["peers"] = {
            name: {**stat.to_dict(), "ratio": self.ratio(name)} for name, stat in self.peers.items()
        }
        return data


def check(row: Row, met: bool, target: str) -> Row:
    row.met, row.target = met, target
    return row
