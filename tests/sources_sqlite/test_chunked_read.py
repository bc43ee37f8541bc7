"""The SQLite reader's fast paths: rowid chunks, packed columns and their fallbacks, numpy stats.

Every case is checked against literal values (or against the same export read in one piece),
so a chunk boundary, a packing overflow or a sparse rowid cannot change a summary.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from sources_sqlite.export_fixtures import MODERN_SCHEMA

from llamaprof import reports
from llamaprof.numeric import factorize, group_stats, union_length
from llamaprof.sources import sqlite_columns
from llamaprof.sources.sqlite_export import read_sqlite

API = ["name", "total_ns", "count", "avg_ns", "med_ns", "min_ns", "max_ns", "stddev_ns"]
KERNEL = ["name", "total_ns", "count", "med_ns", "min_ns", "max_ns", "mangled_name"]


def _runtime(rows: list[tuple[int, int, int]], rowids: list[int] | None = None) -> str:
    """INSERTs for RUNTIME rows (nameId, start, end), with explicit rowids when given."""
    ids = rowids or [None] * len(rows)
    values = ", ".join(
        f"({'NULL' if r is None else r}, {s}, {e}, 0, 1, NULL, {n}, 0, NULL)"
        for r, (n, s, e) in zip(ids, rows, strict=True)
    )
    return (
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME (rowid, start, end, eventClass, globalTid, "
        f"correlationId, nameId, returnValue, callchainId) VALUES {values};"
    )


def _kernels(rows: list[tuple[int, int, int, int, int | None]]) -> str:
    """INSERTs for KERNEL rows given as (demangled, short, start, end, mangled)."""
    values = ", ".join(
        f"({s}, {e}, 0, 1, 7, NULL, 1, {d}, {b}, {'NULL' if m is None else m}, 1, 1, 1, 32, 1, 1)"
        for d, b, s, e, m in rows
    )
    return f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES {values};"


def _values(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    return [[None if pd.isna(v) else v for v in row] for row in frame[columns].values.tolist()]


STRINGS = (
    "INSERT INTO StringIds VALUES (1, 'cudaLaunchKernel_v7000'), (2, 'cudaMemcpyAsync_v3020'),"
    " (3, 'void k<1>(int)'), (4, 'k'), (5, '_Z1kILi1EEvi');"
)
#: Seven API calls (two names) and five kernels: enough rows for 2- and 3-row chunks.
SEVEN_CALLS = [
    (1, 0, 10),
    (2, 5, 25),
    (1, 30, 33),
    (1, 40, 47),
    (2, 50, 51),
    (1, 60, 62),
    (1, 70, 90),
]
FIVE_KERNELS = [
    (3, 4, 0, 5, 5),
    (3, 4, 10, 14, 5),
    (3, 4, 12, 30, 5),
    (3, 4, 40, 41, 5),
    (3, 4, 50, 59, None),
]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 1000])
def test_chunk_boundaries_do_not_change_the_summaries(build_export, monkeypatch, chunk_rows):
    """Read in 1-, 2-, 3-row chunks or in one: same exact values, span and busy time."""
    monkeypatch.setattr(sqlite_columns, "CHUNK_ROWS", chunk_rows)
    run = read_sqlite(build_export(STRINGS + _runtime(SEVEN_CALLS) + _kernels(FIVE_KERNELS)))
    assert _values(run.summaries[reports.API], API) == [
        ["cudaLaunchKernel", 42, 5, 8.4, 7.0, 2, 20, 7.2],
        ["cudaMemcpyAsync", 21, 2, 10.5, 10.5, 1, 20, 13.4],
    ]
    assert _values(run.summaries[reports.KERNELS], KERNEL) == [
        ["void k<1>(int)", 37, 5, 5.0, 1, 18, "_Z1kILi1EEvi"],
    ]
    assert (run.info.span_ns, run.info.gpu_busy_ns) == (90, 5 + 20 + 1 + 9)
    assert run.info.notes == []


def test_sparse_rowids_are_squeezed_out(build_export, monkeypatch):
    """Deleted rows leave rowid gaps (empty chunks, part-filled chunks): only real rows count."""
    monkeypatch.setattr(sqlite_columns, "CHUNK_ROWS", 4)
    path = build_export(STRINGS + _runtime(SEVEN_CALLS, rowids=[1, 2, 9, 10, 11, 40, 41]))
    api = read_sqlite(path).summaries[reports.API]
    assert _values(api, ["name", "total_ns", "count", "min_ns", "max_ns"]) == [
        ["cudaLaunchKernel", 42, 5, 2, 20],
        ["cudaMemcpyAsync", 21, 2, 1, 20],
    ]


def test_far_apart_rowids_are_read_in_one_piece(build_export, monkeypatch):
    """Two rows with rowids 2**40 apart: not 2**40 empty chunks, the table in one query."""
    monkeypatch.setattr(sqlite_columns, "CHUNK_ROWS", 2)
    path = build_export(STRINGS + _runtime([(1, 0, 10), (1, 20, 23)], rowids=[1, 2**40]))
    api = read_sqlite(path).summaries[reports.API]
    assert _values(api, ["name", "total_ns", "count"]) == [["cudaLaunchKernel", 13, 2]]


def test_bad_row_in_one_chunk_leaves_the_other_chunks_on_the_fast_path(build_export, monkeypatch):
    """A NULL end in the third chunk: that row is left out and counted, the rest is exact."""
    monkeypatch.setattr(sqlite_columns, "CHUNK_ROWS", 2)
    sql = STRINGS + _runtime(SEVEN_CALLS)
    sql += "UPDATE CUPTI_ACTIVITY_KIND_RUNTIME SET end = NULL WHERE rowid = 5;"
    run = read_sqlite(
        build_export(sql, schema=MODERN_SCHEMA.replace("end INTEGER NOT NULL", "end INTEGER"))
    )
    assert _values(run.summaries[reports.API], ["name", "total_ns", "count"]) == [
        ["cudaLaunchKernel", 42, 5],
        ["cudaMemcpyAsync", 20, 1],
    ]
    assert run.info.warnings == [
        "1 row of CUPTI_ACTIVITY_KIND_RUNTIME with a missing or non-integer value left out."
    ]


def test_packed_runtime_overflow_falls_back_to_plain_columns(build_export):
    """(end - start) * B + nameId beyond 64 bits (SQLite turns it into a REAL): still exact."""
    huge = 3 * 10**18  # fits int64; times B = 7 it does not
    run = read_sqlite(build_export(STRINGS + _runtime([(1, 0, huge), (1, 10, 15), (2, 0, 4)])))
    assert _values(run.summaries[reports.API], ["name", "total_ns", "count", "min_ns"]) == [
        ["cudaLaunchKernel", huge + 5, 2, 5],
        ["cudaMemcpyAsync", 4, 1, 4],
    ]
    assert run.info.notes == []


def test_packed_kernel_overflow_falls_back_to_plain_columns(build_export):
    """A kernel so long that duration * B³ + key overflows 64 bits is read exactly."""
    long = 10**17  # B = 7, B³ = 343: 343e17 > 2**63
    run = read_sqlite(build_export(STRINGS + _kernels([(3, 4, 0, long, 5), (3, 4, 5, 8, 5)])))
    assert _values(run.summaries[reports.KERNELS], ["name", "total_ns", "count", "max_ns"]) == [
        ["void k<1>(int)", long + 3, 2, long],
    ]
    assert run.info.gpu_busy_ns == long


def test_name_id_beyond_string_ids_is_not_split_wrongly(build_export):
    """nameId 9 > max(StringIds.id): packing would misread it, so it is read plain."""
    run = read_sqlite(build_export(STRINGS + _runtime([(9, 0, 10), (1, 20, 23)])))
    assert _values(run.summaries[reports.API], ["name", "total_ns", "count"]) == [
        ["<missing StringIds 9>", 10, 1],
        ["cudaLaunchKernel", 3, 1],
    ]


@pytest.mark.parametrize("misfit", [(50, 4, 5), (3, 60, 5), (3, 4, 70), (-2, 4, 5)])
def test_kernel_name_ids_beyond_string_ids_keep_their_durations(build_export, misfit):
    """A kernel naming ids outside StringIds (an edited export) is re-read with the ids apart."""
    dem, short, mangled = misfit
    rows = [(dem, short, 0, 100, mangled), (3, 4, 200, 207, 5), (3, 4, 300, 302, 5)]
    run = read_sqlite(build_export(STRINGS + _kernels(rows)))
    kernels = run.summaries[reports.KERNELS]
    by_total = sorted(zip(kernels["total_ns"], kernels["count"], strict=True), reverse=True)
    # the misfit row's 100 ns stay 100 ns, alone or added to its name's other rows
    assert by_total in ([(100, 1), (9, 2)], [(109, 3)])
    assert int(kernels["total_ns"].sum()) == 109
    assert run.info.gpu_busy_ns == 109


def test_runtime_view_without_rowid_is_read_in_one_piece(build_export):
    """An activity table that is a view (no rowid) is still read."""
    schema = """
    CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
    CREATE TABLE calls (start INTEGER, end INTEGER, nameId INTEGER);
    CREATE VIEW CUPTI_ACTIVITY_KIND_RUNTIME AS SELECT start, end, nameId FROM calls;
    """
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'cudaFree');"
        "INSERT INTO calls VALUES (0, 10, 1), (20, 24, 1);",
        schema=schema,
    )
    api = read_sqlite(path).summaries[reports.API]
    assert _values(api, ["name", "total_ns", "count", "med_ns"]) == [["cudaFree", 14, 2, 7.0]]


def test_rowid_ranges_cover_dense_tables_and_refuse_views_empty_and_sparse_ones(tmp_path):
    """Ranges cover min..max rowid in chunk_rows steps; otherwise the table is one piece."""
    con = sqlite3.connect(tmp_path / "t.sqlite")
    con.executescript(
        "CREATE TABLE dense (x); CREATE TABLE empty (x); CREATE TABLE sparse (x);"
        "CREATE VIEW v AS SELECT x FROM dense;"
        "INSERT INTO dense (rowid, x) VALUES (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (9, 0);"
        "INSERT INTO sparse (rowid, x) VALUES (1, 0), (1000, 0);"
    )
    assert sqlite_columns.rowid_ranges(con, "dense", 3) == [(3, 5), (6, 8), (9, 9)]
    assert sqlite_columns.rowid_ranges(con, "dense", 100) == [(3, 9)]
    assert sqlite_columns.rowid_ranges(con, "sparse", 100) == [
        (1, 100),
        (101, 200),
        (201, 300),
        (301, 400),
        (401, 500),
        (501, 600),
        (601, 700),
        (701, 800),
        (801, 900),
        (901, 1000),
    ]
    assert sqlite_columns.rowid_ranges(con, "sparse", 10) == [None]  # 100 chunks for 2 rows
    assert sqlite_columns.rowid_ranges(con, "empty", 3) == [None]
    assert sqlite_columns.rowid_ranges(con, "v", 3) == [None]
    con.close()


# -- pure numpy statistics ----------------------------------------------------------------


def test_factorize_counts_small_ids_and_hashes_others():
    """Small ids (bincount) and huge or negative keys (hash) give the same sorted grouping."""
    keys, codes = factorize(np.array([7, 3, 7, 0, 3], dtype=np.int64))
    assert (keys.tolist(), codes.tolist()) == ([0, 3, 7], [2, 1, 2, 0, 1])
    keys, codes = factorize(np.array([2**40, -1, 2**40, 5], dtype=np.int64))
    assert (keys.tolist(), codes.tolist()) == ([-1, 5, 2**40], [2, 0, 2, 1])


def test_group_stats_medians_extremes_and_stddev():
    """Odd and even counts, a single value and unsorted rows: exact statistics per group."""
    codes = np.array([1, 0, 1, 2, 1, 0, 1, 0], dtype=np.int32)
    values = np.array([40, 5, 10, 7, 30, 1, 20, 3], dtype=np.int64)
    stats = group_stats(codes, 3, values)
    assert stats["total"].tolist() == [9, 100, 7]
    assert stats["count"].tolist() == [3, 4, 1]
    assert stats["med"].tolist() == [3.0, 25.0, 7.0]
    assert (stats["min"].tolist(), stats["max"].tolist()) == ([1, 10, 7], [5, 40, 7])
    assert stats["stddev"].round(6).tolist() == [2.0, 12.909944, 0.0]


def test_union_length_of_sorted_unsorted_and_small_sets():
    """Overlaps within and across tables, touching and empty intervals, unsorted rows."""
    kernels = (np.array([20, 0, 5, 40]), np.array([10, 10, 10, 0]))  # [20,30) [0,10) [5,15) [40,40)
    memcpy = (np.array([25, 100]), np.array([15, 1]))  # [25,40) [100,101)
    memset = (np.array([30]), np.array([5]))  # inside memcpy
    assert union_length([kernels]) == 25
    assert union_length([kernels, memcpy, memset]) == 15 + 20 + 1
    assert union_length([memset, (np.array([], dtype=np.int64),) * 2]) == 5
    assert union_length([]) == 0


def test_union_length_matches_counting_covered_points():
    """Random intervals in three tables: the union equals the number of covered integers."""
    rng = np.random.default_rng(7)
    parts = []
    for n in (300, 20, 5):
        starts = rng.integers(0, 2000, n)
        parts.append((starts, rng.integers(0, 40, n)))
    covered = set()
    for starts, durations in parts:
        for s, d in zip(starts.tolist(), durations.tolist(), strict=True):
            covered.update(range(s, s + d))
    assert union_length(parts) == len(covered)
