"""kernels_by_name: nsys 2022.4 kernel rows split by grid/block merged into one row per name."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.analyze.merge import kernels_by_name
from llamaprof.sources.stats_text import parse_stats_text, read_stats_text

from shared_data import SEED_TEXT, shared_file

HEADER = """\
 ** CUDA GPU Kernel Summary (gpukernsum):

 Time (%)  Total Time (ns)  Instances  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)      GridXYZ          BlockXYZ      Name
 --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----------------  --------------  ----
"""


def _kernels(rows: str) -> pd.DataFrame:
    return parse_stats_text(HEADER + rows, Path("x")).summaries[reports.KERNELS]


def test_golden_pair_merge_matches_the_sqlite_by_name() -> None:
    """q1_3's 8 split rows merge into the 2 by-name rows the same run's SQLite export gives."""
    split = read_stats_text(
        shared_file("stats-text/Pandananana__python-hpc__q1_3.sh.stats.txt")
    ).summaries[reports.KERNELS]
    merged = kernels_by_name(split)
    db = sqlite3.connect(shared_file("sqlite/Pandananana__python-hpc__q1_3.sqlite"))
    try:
        expected = db.execute(
            "SELECT sum(end - start) AS total, count(*), min(end - start), max(end - start),"
            " round(avg(end - start), 1),"
            " round(sum(end - start) * 100.0 / (SELECT sum(end - start)"
            "   FROM CUPTI_ACTIVITY_KIND_KERNEL), 1)"
            " FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY demangledName ORDER BY total DESC"
        ).fetchall()
    finally:
        db.close()
    got = merged[["total_ns", "count", "min_ns", "max_ns", "avg_ns", "time_pct"]]
    assert [tuple(row) for row in got.itertuples(index=False)] == expected
    assert [tuple(row) for row in got.itertuples(index=False)] == [
        (227_935, 5, 4_224, 201_886, 45_587.0, 93.7),
        (15_455, 4, 2_976, 4_767, 3_863.8, 6.3),
    ]
    assert merged["med_ns"].isna().all() and merged["stddev_ns"].isna().all()
    assert merged["grid"].isna().all() and merged["block"].isna().all()
    assert merged["name"].tolist() == list(dict.fromkeys(split["name"]))
    assert list(merged.columns) == reports.COLUMNS[reports.KERNELS]
    assert merged.dtypes.equals(split.dtypes)


def test_unique_names_pass_through_unchanged() -> None:
    """A kernel summary already one row per name comes back equal, grid/block included."""
    kernels = read_stats_text(shared_file("stats-text/" + SEED_TEXT.name)).summaries[
        reports.KERNELS
    ]
    pd.testing.assert_frame_equal(kernels_by_name(kernels), kernels)
    one = _kernels(
        "    100.0             5000          2    2500.0    2500.0      2000      3000        707.1     1    1    1    32    1    1  k\n"
    )
    pd.testing.assert_frame_equal(kernels_by_name(one), one)
    assert kernels_by_name(one)["grid"].tolist() == ["   1    1    1"]


def test_avg_rounds_half_up_like_sqlite_and_order_breaks_ties_by_name() -> None:
    """Avg 100.25 prints 100.3 (SQLite), not 100.2 (Python); equal totals sort by name."""
    frame = _kernels(
        "     40.0             1005         10     100.5     100.0        90       110          5.0     2    1    1    32    1    1  b\n"
        "     40.0             1000         10     100.0     100.0        95       105          3.0     1    1    1    32    1    1  b\n"
        "     20.0             2005          1    2005.0    2005.0      2005      2005          0.0     1    1    1    64    1    1  a\n"
    )
    merged = kernels_by_name(frame)
    assert merged["name"].tolist() == ["a", "b"]
    a, b = merged.iloc[0].to_dict(), merged.iloc[1].to_dict()
    assert (b["total_ns"], b["count"], b["avg_ns"], b["min_ns"], b["max_ns"]) == (
        2005,
        20,
        100.3,
        90,
        110,
    )
    assert b["time_pct"] == 50.0 and np.isnan(b["med_ns"]) and np.isnan(b["stddev_ns"])
    # A name printed once keeps its statistics; its grid is dropped like every row's.
    assert (a["time_pct"], a["med_ns"], a["stddev_ns"]) == (20.0, 2005.0, 0.0)
    assert pd.isna(a["grid"]) and pd.isna(a["block"])


def test_merge_of_rows_printed_in_ms(data_dir: Path) -> None:
    """Float totals (text printed with --timeunit ms) are summed exactly as printed."""
    kernels = read_stats_text(data_dir / "nsys2022.4_timeunit_ms.txt").summaries[reports.KERNELS]
    merged = kernels_by_name(kernels)
    assert merged.iloc[0][["time_pct", "total_ns", "count", "avg_ns", "min_ns", "max_ns"]].tolist() == [
        100.0, 1_821_900.0, 640, 2_846.7, 2_400.0, 4_700.0,
    ]  # fmt: skip
    assert str(merged["total_ns"].dtype) == "float64"
