"""Rows whose end precedes their start: kept and summed like nsys; non-integer times left out.

nsys's SQL sums ``end - start`` whatever its sign, so an integer row with ``end < start`` counts
with its negative length. A TEXT start or end (only in an edited export) would read as 0 in
``end - start``: such a row is left out with a warning instead.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sources_sqlite.export_fixtures import MODERN_SCHEMA

from llamaprof import reports
from llamaprof.sources import sqlite_columns
from llamaprof.sources.sqlite_export import read_sqlite

STRINGS = (
    "INSERT INTO StringIds VALUES (1, 'cudaLaunchKernel_v7000'), (2, 'cudaMemcpyAsync_v3020'),"
    " (3, 'void k<1>(int)'), (4, 'k'), (5, '_Z1kILi1EEvi');"
)
KERNEL_COLUMNS = ["name", "total_ns", "count", "avg_ns", "med_ns", "min_ns", "max_ns"]
#: Loose column types, so that an edited export can hold TEXT times.
LOOSE_SCHEMA = MODERN_SCHEMA.replace("start INTEGER NOT NULL, end INTEGER NOT NULL", "start, end")


def _kernel(start: str, end: str) -> str:
    return (
        "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES "
        f"({start}, {end}, 0, 1, 7, NULL, 1, 3, 4, 5, 1, 1, 1, 32, 1, 1);"
    )


def _values(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    return frame[columns].values.tolist()


@pytest.mark.parametrize("chunk_rows", [1, 1000])
def test_kernel_ending_before_it_starts_is_summed_like_nsys(build_export, monkeypatch, chunk_rows):
    """Kernels of 50 ns and -10 ns: total 40 as nsys's SUM(end - start), no warning."""
    monkeypatch.setattr(sqlite_columns, "CHUNK_ROWS", chunk_rows)
    run = read_sqlite(build_export(STRINGS + _kernel("0", "50") + _kernel("100", "90")))
    kernels = run.summaries[reports.KERNELS]
    assert _values(kernels, KERNEL_COLUMNS) == [["void k<1>(int)", 40, 2, 20.0, 20.0, -10, 50]]
    assert kernels["time_pct"].tolist() == [100.0]
    assert run.info.warnings == []
    assert run.info.gpu_busy_ns == 50  # the backwards interval covers nothing


def test_api_call_ending_before_it_starts_is_summed_like_nsys(build_export):
    """API calls of 10 ns and -5 ns (packed layout falls back to plain): total 5, no warning."""
    sql = STRINGS + (
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME (start, end, eventClass, globalTid, "
        "correlationId, nameId, returnValue) VALUES (0, 10, 0, 1, 1, 1, 0), (30, 25, 0, 1, 2, 1, 0);"
    )
    run = read_sqlite(build_export(sql))
    api = run.summaries[reports.API]
    assert _values(api, ["name", "total_ns", "count", "min_ns", "max_ns"]) == [
        ["cudaLaunchKernel", 5, 2, -5, 10]
    ]
    assert run.info.warnings == []


def test_memset_ending_before_it_starts_is_summed_like_nsys(build_export):
    """A memset of -7 ns beside one of 20 ns: total 13 in the time summary."""
    sql = STRINGS + (
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (0, 20, 0, 1, 7, 1, 1, 0, 64, 1),"
        " (50, 43, 0, 1, 7, 2, 1, 0, 32, 1);"
    )
    run = read_sqlite(build_export(sql))
    mem = run.summaries[reports.MEM_TIME]
    assert _values(mem, ["operation", "total_ns", "count", "min_ns"]) == [
        ["[CUDA memset]", 13, 2, -7]
    ]
    assert run.info.gpu_busy_ns == 20
    assert run.info.warnings == []


@pytest.mark.parametrize(("start", "end"), [("100", "'late'"), ("'soon'", "150"), ("100", "150.5")])
def test_kernel_with_non_integer_time_is_left_out_with_a_warning(build_export, start, end):
    """A TEXT or REAL start/end is no time: the row is left out and the warning says so."""
    sql = STRINGS + _kernel("0", "50") + _kernel(start, end)
    run = read_sqlite(build_export(sql, schema=LOOSE_SCHEMA))
    kernels = run.summaries[reports.KERNELS]
    assert _values(kernels, KERNEL_COLUMNS) == [["void k<1>(int)", 50, 1, 50.0, 50.0, 50, 50]]
    assert run.info.warnings == [
        "1 row of CUPTI_ACTIVITY_KIND_KERNEL with a missing or non-integer value left out."
    ]
