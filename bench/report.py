"""Results of one run: ``bench/results/<name>.json`` (every sample) and ``<name>.md`` (the
table: each figure beside its peers, with the ratio and the target).

    python -m bench.report [bench/results/full.json]

prints the summary table the README and docs/performance.md quote, generated from a
results file, with the commit it was measured at.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.measure import Row, human, show

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("nameko", "eventlet", "pika", "eventsourcing", "tantivy", "cerberus", "werkzeug")


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"model name\s*:\s*(.+)", text)
    return match.group(1).strip() if match else "unknown"


def _disk(path: Path) -> str:
    """The file system and whether its device spins, for the folder the stores live in."""
    try:
        usage = psutil.disk_usage(str(path))
        device = next(
            (p for p in psutil.disk_partitions(all=False) if str(path).startswith(p.mountpoint)),
            None,
        )
        kind = ""
        if device is not None:
            name = Path(device.device).name.rstrip("0123456789")
            rotational = Path(f"/sys/block/{name}/queue/rotational")
            if rotational.exists():
                kind = "rotational" if rotational.read_text().strip() == "1" else "non-rotational"
        fstype = device.fstype if device else "?"
        return f"{fstype}, {kind or 'unknown type'}, {usage.total / 2**30:.0f} GiB"
    except OSError:
        return "unknown"


def _rabbitmq_version() -> str:
    try:
        answer = requests.get(
            "http://127.0.0.1:15672/api/overview", auth=("guest", "guest"), timeout=5
        )
        overview = answer.json()
        return f"{overview.get('rabbitmq_version')} (Erlang {overview.get('erlang_version')})"
    except (requests.RequestException, ValueError):
        return "unknown"


# Files a run writes or quotes: changes to them do not change what was measured.
NOT_MEASURED = ("bench/results/", "docs/", "README.md")


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=RESULTS.parent
        ).stdout
    except OSError:
        return ""


def commit_measured() -> dict[str, Any]:
    """The commit the code was at, and whether files that change what is measured had
    uncommitted changes (then the commit alone does not reproduce the figures)."""
    changed = [line[3:] for line in _git("status", "--porcelain").splitlines()]
    return {
        "commit": _git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted_changes": sorted(
            path for path in changed if not path.startswith(NOT_MEASURED) and path != "var/"
        ),
    }


def machine(data_dir: Path) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory.total / 2**30, 1),
        "disk": _disk(data_dir),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "rabbitmq": _rabbitmq_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **commit_measured(),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _lines_of(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Rows as table lines: a ``…: p50`` row and the ``…: p99`` row after it share one."""
    lines: list[tuple[str, list[Row]]] = []
    for row in rows:
        label, _, quantile = row.measure.rpartition(": ")
        previous = lines[-1][1] if lines else []
        if (
            quantile == "p99"
            and len(previous) == 1
            and previous[0].section == row.section
            and previous[0].measure == f"{label}: p50"
        ):
            lines[-1] = (f"{label}: p50 / p99", [*previous, row])
        else:
            lines.append((row.measure, [row]))
    return lines


def _figures(rows: list[Row], pick) -> str:
    return " / ".join(show(pick(row), row.unit) for row in rows)


def markdown(name: str, info: dict[str, Any], rows: list[Row], notes: list[str]) -> str:
    """The targets first, then one table per section: each peer on its own line under the
    platform's figure; p50 and p99 of the same measure share a line."""
    machine = info["machine"]
    lines = [
        f"# Benchmark results: {name}",
        "",
        f"{info['started_at']} · {info['seconds']:.0f} s · {info['runs']} runs per figure "
        "(median, min-max in brackets) · ratio = platform ÷ peer, by medians",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"disk {machine['disk']}; Python {machine['python']}, SQLite {machine['sqlite']}, "
        f"RabbitMQ {machine['rabbitmq']}; {measured_at(machine)}",
    ]
    if any(row.met is not None for row in rows):
        lines += [
            "",
            "## Targets",
            "",
            "| section | measure | platform | target | met |",
            "|---|---|---|---|---|",
        ]
    for row in rows:
        if row.met is not None:
            met = "yes" if row.met else "**no**"
            lines.append(
                f"| {row.section} | {row.measure} | {show(row.platform, row.unit)} "
                f"{'' if row.unit in ('ms', 's') else row.unit} | {row.target} | {met} |"
            )
    order = {
        section: index for index, section in reversed(list(enumerate(r.section for r in rows)))
    }
    section = None
    for label, group in _lines_of(sorted(rows, key=lambda row: order[row.section])):
        head = group[0]
        if head.section != section:
            section = head.section
            lines += [
                "",
                f"## {section}",
                "",
                "| measure | platform | peer | peer figure | ratio | target | met |",
                "|---|---|---|---|---|---|---|",
            ]
        targets = [row for row in group if row.met is not None]
        peers = list(head.peers) or [None]
        for index, peer in enumerate(peers):
            first = index == 0
            ratios = [row.ratio(peer) for row in group] if peer else []
            cells = [
                (label if head.unit in ("ms", "s") else f"{label} ({head.unit})") if first else "",
                _figures(group, lambda row: row.platform) if first else "",
                peer or "",
                _figures(group, lambda row, p=peer: row.peers.get(p)) if peer else "",
                " / ".join(human(r, "x") for r in ratios if r is not None),
                "; ".join(row.target for row in targets) if first else "",
                "; ".join("yes" if row.met else "**no**" for row in targets) if first else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    notes = notes + [f"{row.section} / {row.measure}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "## Notes", ""] + [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(
    name: str, info: dict[str, Any], rows: list[Row], notes: list[str], table: str | None = None
) -> Path:
    """Every sample to ``<name>.json``; ``table`` (the suite's tables by default) to
    ``<name>.md``."""
    RESULTS.mkdir(exist_ok=True)
    document = {**info, "notes": notes, "rows": [row.to_dict() for row in rows]}
    for suffix, text in (
        ("json", json.dumps(document, indent=2, ensure_ascii=False) + "\n"),
        ("md", table or markdown(name, info, rows, notes)),
    ):
        partial = RESULTS / f"{name}.{suffix}.tmp"
        partial.write_text(text, encoding="utf-8")
        partial.replace(RESULTS / f"{name}.{suffix}")
    return RESULTS / f"{name}.md"


def measured_at(machine: dict[str, Any]) -> str:
    changes = machine.get("uncommitted_changes")
    text = f"commit `{machine['commit']}`"
    return text + (f" (with uncommitted changes to {', '.join(changes)})" if changes else "")


# The summary: (label, section prefix, pattern the measures match in full), in file order.
SUMMARY = (
    ("event store append, 1 event per append", "event store", "append, 1 event per append"),
    ("event store append, 100 per append", "event store", "append, 100 events per append"),
    ("read-all, payloads decoded", "event store", r"read-all, payloads decoded \(json.loads\)"),
    ("bus: the relay publishing with confirms", "bus", "publish with confirms, .*"),
    *(
        (f"over HTTP, {who}: {case}, p50 / p99", "portal search and list (HTTP, 1 ", pattern)
        for who in ("largest company", "small company")
        for case, pattern in (
            ("search, common term", f"{who}: common term: p(50|99)"),
            ("search, one-letter prefix", f"{who}: one-letter prefix: p(50|99)"),
            ("list, newest updated first", f"{who}: list, newest updated first: p(50|99)"),
        )
    ),
    *(
        (
            f"inside portal_query, largest company: {case}, p50 / p99",
            "search inside the process",
            pattern,
        )
        for case in (
            "common term",
            "rare term",
            "one-letter prefix",
            "two words, the last a prefix",
        )
        for pattern in (f"largest company: {case}: p(50|99)",)
    ),
    *(
        (
            f"over HTTP, 20 clients, {who}: mixed searches and lists",
            "portal search and list (HTTP, 20",
            pattern,
        )
        for who in ("largest company", "small company")
        for pattern in (f"{who}: mixed searches and lists: (throughput|p50|p99)",)
    ),
    *(
        (f"freshness, {kind}, {phase}, p50 / p99", "freshness", f"{kind}, {phase}: p(50|99)")
        for phase in ("idle", "under 50 writes/s")
        for kind in ("ticket edit → detail", "new reply → search")
    ),
    # Labelled by its section, which names the events ("wall time": results before it was
    # counted until the rebuilt generation serves).
    ("", "rebuild", "wall time|until the rebuilt generation serves.*"),
    ("portal_query at rest, beside before", "memory", "portal_query, beside.*"),
    ("portal_query at rest after a restart", "memory", "portal_query after a restart.*"),
    ("portal_query per 1,000 tickets, beside their text", "memory", "portal_query per .* tickets"),
    ("portal_query per 1,000 parts, beside their text", "memory", "portal_query per .* parts"),
    ("portal_query start until it serves, beside before", "start", ".*"),
)


def _pick(rows: list[dict], section: str, pattern: str) -> list[dict]:
    return [
        row
        for row in rows
        if row["section"].startswith(section) and re.fullmatch(pattern, row["measure"])
    ]


def _median(stat: dict | None, unit: str) -> str:
    return human(stat["median"], unit) if stat else "-"


def _summary_line(label: str, rows: list[dict]) -> str:
    """One table line; a throughput row brings the latencies after it."""
    head = rows[0]
    unit = head["unit"]
    if unit in ("ms", "s"):
        figure = " / ".join(_median(row["platform"], unit) for row in rows)
    else:
        figure = f"{_median(head['platform'], unit)} {unit}"
        latencies = [row for row in rows[1:] if row["unit"] == "ms"]
        if latencies:
            figure += ", p50 / p99 " + " / ".join(_median(r["platform"], "ms") for r in latencies)
    peers = "; ".join(
        f"{name} "
        + " / ".join(_median(row["peers"].get(name), unit) for row in rows if row["unit"] == unit)
        for name in head["peers"]
    )
    ratios = "; ".join(
        " / ".join(human(row["peers"][name]["ratio"], "x") for row in rows if name in row["peers"])
        for name in head["peers"]
    )
    judged = [row for row in rows if row["met"] is not None]
    target = "; ".join(row["target"] for row in judged)
    met = "; ".join("yes" if row["met"] else "**no**" for row in judged)
    return f"| {label} | {figure} | {peers} | {ratios} | {target} | {met} |"


def summary(document: dict[str, Any]) -> str:
    """The README's table: the headline figures of a results file, each beside its peers
    with the ratio (platform ÷ peer, by medians), and the commit they were measured at."""
    rows = document["rows"]
    lines = [
        f"Measured by `{'make bench-smoke' if document['smoke'] else 'make bench'}` at "
        f"{measured_at(document['machine'])}, "
        f"{document['started_at'][:16].replace('T', ' ')} UTC "
        f"(`bench/results/{document['name']}.md`); medians of {document['runs']} runs:",
        "",
        "| what | platform | peers | platform ÷ peer | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for label, section, measure in SUMMARY:
        picked = _pick(rows, section, measure)
        if picked:
            lines.append(_summary_line(label or picked[0]["section"], picked))
    memory = [
        row
        for row in rows
        if row["section"].startswith("memory")
        and not row["measure"].startswith(
            ("portal_query,", "portal_query per", "portal_query after")
        )
    ]
    if memory:
        figures = ", ".join(f"{row['measure']} {_median(row['platform'], '')}" for row in memory)
        lines.append(f"| memory at rest (RSS, MiB) | {figures} | | | | |")
    lost = [row for row in rows if row.get("required")]
    if lost:
        total = sum(row["platform"]["median"] for row in lost)
        met = "yes" if all(row["met"] for row in lost) else "**no**"
        lines.append(
            f"| freshness: changes never visible (10 s bound) | {total:.0f} | | | none | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "full.json")
    args = parser.parse_args(argv)
    print(summary(json.loads(args.results.read_text())), end="")


if __name__ == "__main__":
    main()
