"""Fixtures of the render tests: the seed's tables, parsed independently of llamaprof."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from shared_data import SEED_TEXT

# ---------------------------------------------------------------------------
# A parser of nsys's 2023+ column layout, for the tests only: cells by the dash runs.

_FIELDS = {
    "Time (%)": "time_pct",
    "Total Time (ns)": "total_ns",
    "Num Calls": "count",
    "Instances": "count",
    "Count": "count",
    "Avg (ns)": "avg_ns",
    "Med (ns)": "med_ns",
    "Min (ns)": "min_ns",
    "Max (ns)": "max_ns",
    "StdDev (ns)": "stddev_ns",
    "Name": "name",
    "Operation": "operation",
}
_INTS = {"total_ns", "count", "min_ns", "max_ns"}
_TITLE = re.compile(r"^ \*\* .* \((\w+)\):$")


def parse_column_tables(text: str) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each table of an nsys 2023+ column output: its DataFrame and its exact text block
    (title line to last row, each line ending in a newline)."""
    lines = text.split("\n")
    frames: dict[str, pd.DataFrame] = {}
    blocks: dict[str, str] = {}
    for i, line in enumerate(lines):
        match = _TITLE.match(line)
        if not match:
            continue
        report = match.group(1)
        header, dashes = lines[i + 2], lines[i + 3]
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]
        fields = [_FIELDS[header[a:b].strip()] for a, b in spans]
        rows = []
        j = i + 4
        while j < len(lines) and lines[j].strip():
            rows.append([lines[j][a:b].strip() for a, b in spans])
            j += 1
        blocks[report] = "\n".join(lines[i:j]) + "\n"
        frame = pd.DataFrame(rows, columns=fields)
        for field in fields:
            if field in ("name", "operation"):
                continue
            numbers = frame[field].str.replace(",", "", regex=False)
            frame[field] = numbers.astype("int64") if field in _INTS else numbers.astype(float)
        frames[report] = frame
    return frames, blocks


@pytest.fixture(scope="session")
def seed() -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The seed's tables: DataFrames (model columns) and exact text blocks, by report."""
    path = SEED_TEXT  # the shared file, or the same bytes shipped in reports/
    return parse_column_tables(path.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _run_cache_in_tmp(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands cache the runs they read: keep that cache in the test's folder."""
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
