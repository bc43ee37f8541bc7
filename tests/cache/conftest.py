"""Fixtures for the run cache tests: a tiny report format read by a counting fake loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.model import KernelNaming, ReportFormat, Run, RunInfo


def run_from_text(path: Path) -> Run:
    """A Run whose every kind of column (and NA marker) depends on the file's text."""
    text = Path(path).read_text()
    kernels = pd.DataFrame(
        {
            "time_pct": [60.0, 40.0, np.nan],
            "total_ns": np.array([len(text), 2, 1], dtype="int64"),
            "name": pd.Series([text, "k2", "k3"], dtype="str"),
            "demangled_name": pd.Series([text, None, pd.NA], dtype=object),
            "base_name": pd.Series([float("nan"), "b", "c"], dtype=object),
            "grid": pd.Series([pd.NA, pd.NA, pd.NA], dtype=object),
            "count": pd.Series([1, None, 3], dtype="Int64"),
            "label": pd.Series(["x", None, "z"], dtype="string"),
        }
    )
    base = kernels.iloc[::-1].reset_index(drop=True)
    return Run(
        path=Path(path),
        format=ReportFormat.STATS_TEXT,
        summaries={reports.KERNELS: kernels, reports.API: kernels.iloc[:0]},
        skipped={reports.MEM_TIME: "does not contain GPU memory data."},
        info=RunInfo(nsys_version=text[:10], gpus=["GPU A", "GPU B"], span_ns=12, notes=["n"]),
        kernel_variants={KernelNaming.BASE: base},
    )


class CountingLoader:
    """``run_from_text`` that counts its calls, to tell a cache hit from a read."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> Run:
        self.calls += 1
        return run_from_text(path)


@pytest.fixture
def loader() -> CountingLoader:
    """A fresh counting loader."""
    return CountingLoader()


def _assert_same_run(a: Run, b: Run) -> None:
    """Two runs hold the same frames (dtypes and NA markers included) and facts."""
    assert a.path == b.path
    assert a.format == b.format
    assert a.skipped == b.skipped
    assert a.info == b.info
    assert list(a.summaries) == list(b.summaries)
    for name in a.summaries:
        pd.testing.assert_frame_equal(a.summaries[name], b.summaries[name], check_exact=True)
        for column in a.summaries[name].columns:
            if a.summaries[name][column].dtype == object:
                left = [type(v) for v in a.summaries[name][column]]
                right = [type(v) for v in b.summaries[name][column]]
                assert left == right, column
    assert list(a.kernel_variants) == list(b.kernel_variants)
    for naming in a.kernel_variants:
        pd.testing.assert_frame_equal(a.kernel_variants[naming], b.kernel_variants[naming])


@pytest.fixture
def assert_same_run():
    """Checks that two runs are equal, frames exactly (dtypes, NA markers) and facts."""
    return _assert_same_run


@pytest.fixture
def make_run():
    """Builds the fake loader's Run for a file without counting."""
    return run_from_text
