"""Small hand-made runs for the comparison tests (summaries as nsys would print them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.model import ReportFormat, Run, RunInfo


def summary(report: str, rows: list[dict]) -> pd.DataFrame:
    """A summary frame of ``report`` with its columns; unspecified cells are NA."""
    return pd.DataFrame(rows).reindex(columns=reports.COLUMNS[report])


def memops(report: str, rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """A memops summary from (operation label, total, count); ``op`` is the canonical label."""
    value = "total_bytes" if report == reports.MEM_SIZE else "total_ns"
    return summary(
        report,
        [
            {value: total, "count": count, "operation": label, "op": reports.canonical_op(label)}
            for label, total, count in rows
        ],
    )


def build_run(
    name: str,
    *,
    api: list[tuple[str, int, int]] | None = None,
    kernels: list[tuple[str, int, int]] | None = None,
    mem_time: list[tuple[str, int, int]] | None = None,
    mem_size: list[tuple[str, int, int]] | None = None,
    info: RunInfo | None = None,
    fmt: ReportFormat = ReportFormat.SQLITE,
) -> Run:
    """A Run holding the given summaries (None: the source lacks that report)."""
    summaries: dict[str, pd.DataFrame] = {}
    if api is not None:
        summaries[reports.API] = summary(
            reports.API, [{"name": n, "total_ns": t, "count": c} for n, t, c in api]
        )
    if kernels is not None:
        summaries[reports.KERNELS] = summary(
            reports.KERNELS, [{"name": n, "total_ns": t, "count": c} for n, t, c in kernels]
        )
    if mem_time is not None:
        summaries[reports.MEM_TIME] = memops(reports.MEM_TIME, mem_time)
    if mem_size is not None:
        summaries[reports.MEM_SIZE] = memops(reports.MEM_SIZE, mem_size)
    return Run(path=Path(name), format=fmt, summaries=summaries, info=info or RunInfo())


@pytest.fixture
def make_run():
    """The ``build_run`` factory: ``make_run("a.sqlite", kernels=[(name, total_ns, count)])``."""
    return build_run
