"""End to end: two real SQLite exports (nsys-ai's before/after pair) read and compared.

Every delta is checked against sums computed here straight from the SQLite tables.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS, compare_runs, view_frames
from llamaprof.analyze.overview import overview_table
from llamaprof.sources.sqlite_export import read_sqlite

from shared_data import shared_file

BEFORE = "sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite"
AFTER = "sqlite/GindaChen__nsys-ai__mfu_2gpu_after.sqlite"

KERNEL_SQL = """
    SELECT s.value, sum(k.end - k.start) FROM CUPTI_ACTIVITY_KIND_KERNEL k
    JOIN StringIds s ON s.id = k.demangledName GROUP BY s.value
"""
# nsys strips a "_v" + 4 characters ABI suffix from API names (nsys-stats-semantics.md §2).
API_SQL = """
    SELECT CASE substr(s.value, -6, 2) WHEN '_v' THEN substr(s.value, 1, length(s.value) - 6)
           ELSE s.value END, sum(r.end - r.start)
    FROM CUPTI_ACTIVITY_KIND_RUNTIME r JOIN StringIds s ON s.id = r.nameId GROUP BY 1
"""
BYTES_SQL = """
    SELECT copyKind, sum(bytes) FROM CUPTI_ACTIVITY_KIND_MEMCPY GROUP BY copyKind
    UNION ALL SELECT -1, sum(bytes) FROM CUPTI_ACTIVITY_KIND_MEMSET
"""


def sql_totals(path: Path, query: str) -> dict[str, int]:
    """Totals by key, straight from the export."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return {str(key): int(total) for key, total in con.execute(query)}


def sql_bytes(path: Path) -> dict[str, int]:
    """Bytes by canonical direction (copyKind index into MEMCPY_SHORT; memset)."""
    totals = sql_totals(path, BYTES_SQL)
    return {
        reports.MEMSET if kind == "-1" else reports.MEMCPY_SHORT[int(kind)]: total
        for kind, total in totals.items()
    }


def sql_deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """after - before for every key of either, absent keys as 0."""
    return {key: after.get(key, 0) - before.get(key, 0) for key in before.keys() | after.keys()}


@pytest.fixture(scope="module")
def paths() -> tuple[Path, Path]:
    """The before and after exports (skips without ../shared)."""
    return shared_file(BEFORE), shared_file(AFTER)


@pytest.fixture(scope="module")
def runs(paths):
    """Both exports, read by llamaprof."""
    before, after = paths
    return {"before": read_sqlite(before), "after": read_sqlite(after)}


def deltas_of(runs, view: str) -> dict[str, int]:
    """The after-run deltas compare_runs gives for ``view``."""
    spec = VIEWS[view]
    long = compare_runs(view_frames(runs, view), "before", key=spec.key, value=spec.value)
    after = long[long["run"] == "after"]
    return dict(zip(after["name"], after["delta"].astype(int), strict=True))


def test_kernel_deltas_match_the_sqlite_tables(runs, paths):
    """Every kernel's delta equals the difference of its summed durations in the two files."""
    before, after = (sql_totals(p, KERNEL_SQL) for p in paths)
    assert deltas_of(runs, "kernels") == sql_deltas(before, after)


def test_api_deltas_match_the_sqlite_tables(runs, paths):
    """Every API call's delta equals the difference of its summed durations."""
    before, after = (sql_totals(p, API_SQL) for p in paths)
    assert deltas_of(runs, "api") == sql_deltas(before, after)


def test_memory_byte_deltas_match_the_sqlite_tables(runs, paths):
    """Bytes by direction: DtoD shrinks by 850,757,632 B, HtoD by 16 B, memset by 108 B."""
    before, after = (sql_bytes(p) for p in paths)
    assert deltas_of(runs, "memops_size") == sql_deltas(before, after)
    assert sql_deltas(before, after) == {"DtoD": -850_757_632, "HtoD": -16, "memset": -108}


def test_a_few_exact_rows(runs):
    """Spot checks with the numbers written out: one kernel, one direction, statuses."""
    spec = VIEWS["kernels"]
    long = compare_runs(view_frames(runs, "kernels"), "before", key=spec.key, value=spec.value)
    nvjet = long[long["name"] == "nvjet_tst_192x192_64x4_2x1_v_bz_coopB_bias_TNN"]
    assert nvjet[["run", "value", "delta", "status", "count"]].to_dict("records") == [
        {"run": "before", "value": 38_226_009, "delta": 0, "status": "same", "count": 235},
        {
            "run": "after",
            "value": 34_831_673,
            "delta": -3_394_336,
            "status": "changed",
            "count": 212,
        },
    ]
    assert nvjet["delta_pct"].round(4).tolist() == [0.0, -8.8797]
    assert set(long["status"]) == {"same", "changed"}  # both captures ran the same kernels

    sizes = VIEWS["memops_size"]
    long = compare_runs(
        view_frames(runs, "memops_size"), "before", key=sizes.key, value=sizes.value
    )
    after = long[long["run"] == "after"]
    before = long[long["run"] == "before"]
    assert after["name"].tolist() == before["name"].tolist() == ["DtoD", "memset", "HtoD"]
    assert before["value"].tolist() == [8_046_134_272, 1_076, 272]
    assert after[["value", "delta", "status"]].values.tolist() == [
        [7_195_376_640, -850_757_632, "changed"],
        [968, -108, "changed"],
        [256, -16, "changed"],
    ]
    assert after["delta_pct"].tolist() == pytest.approx([-10.5735, -10.0372, -5.8824], abs=5e-5)


def test_overview_of_the_real_pair(runs, paths):
    """The overview's totals match the SQL sums of the tables."""
    before_path, _ = paths
    table = overview_table(runs)
    kernel_total = sum(sql_totals(before_path, KERNEL_SQL).values())
    assert table.loc[0, "kernel_time_ns"] == kernel_total == 535_200_650
    assert table["bytes_dtod"].tolist() == [8_046_134_272, 7_195_376_640]
    assert table["bytes_other"].tolist() == [1_076, 968]  # memset
