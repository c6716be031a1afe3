"""Results of one run: ``bench/results/<name>.json`` (every sample) and ``<name>.md`` (the
table: each figure beside its peers, with the ratio and the target)."""

from __future__ import annotations

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


def machine(data_dir: Path) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=RESULTS.parent,
        ).stdout.strip()
    except OSError:
        commit = ""
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
        "commit": commit,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def markdown(name: str, info: dict[str, Any], rows: list[Row], notes: list[str]) -> str:
    """One table per section; each peer on its own line under the platform's figure."""
    lines = [
        f"# Benchmark results: {name}",
        "",
        f"{info['started_at']} · {info['seconds']:.0f} s · {info['runs']} runs per figure "
        "(median, min-max in brackets) · ratio = platform ÷ peer, by medians",
        "",
        f"Machine: {info['machine']['cpu']}, {info['machine']['cores']} cores, "
        f"{info['machine']['memory_gib']} GiB, disk {info['machine']['disk']}; Python "
        f"{info['machine']['python']}, SQLite {info['machine']['sqlite']}, RabbitMQ "
        f"{info['machine']['rabbitmq']}; commit {info['machine']['commit']}",
    ]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"## {section}",
                "",
                "| measure | platform | peer | peer figure | ratio | target | met |",
                "|---|---|---|---|---|---|---|",
            ]
        peers = list(row.peers.items()) or [(None, None)]
        for index, (peer, stat) in enumerate(peers):
            first = index == 0
            ratio = row.ratio(peer) if peer else None
            met = {True: "yes", False: "**no**", None: ""}[row.met] if first else ""
            cells = [
                (row.measure if row.unit in ("ms", "s") else f"{row.measure} ({row.unit})")
                if first
                else "",
                show(row.platform, row.unit) if first else "",
                peer or "",
                show(stat, row.unit) if peer else "",
                human(ratio, "x") if ratio is not None else "",
                row.target if first else "",
                met,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    notes = notes + [f"{row.section} / {row.measure}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "## Notes", ""] + [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(name: str, info: dict[str, Any], rows: list[Row], notes: list[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    document = {**info, "notes": notes, "rows": [row.to_dict() for row in rows]}
    for suffix, text in (
        ("json", json.dumps(document, indent=2, ensure_ascii=False) + "\n"),
        ("md", markdown(name, info, rows, notes)),
    ):
        partial = RESULTS / f"{name}.{suffix}.tmp"
        partial.write_text(text, encoding="utf-8")
        partial.replace(RESULTS / f"{name}.{suffix}")
    return RESULTS / f"{name}.md"
