"""The published figures are the generated ones: README.md and docs/performance.md quote
the summary ``python -m bench.report`` makes from the committed results of ``make bench``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import RESULTS, summary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", ["README.md", "docs/performance.md"])
def test_the_page_quotes_the_summary_of_the_committed_bench_results(page):
    table = summary(json.loads((RESULTS / "full.json").read_text()))
    assert table in (ROOT / page).read_text(), f"{page}: paste `python -m bench.report`"
