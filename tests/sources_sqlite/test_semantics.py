"""nsys stats semantics on self-made exports: rounding, medians, ties, names, odd schemas."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sources_sqlite.export_fixtures import MODERN_SCHEMA

from llamaprof import reports
from llamaprof.model import KernelNaming, ReportFormat
from llamaprof.sources.sqlite_export import read_sqlite


def _runtime(rows: list[tuple[int, int, int]]) -> str:
    """INSERTs for RUNTIME rows given as (nameId, start, end)."""
    values = ", ".join(f"({s}, {e}, 0, 1, NULL, {n}, 0, NULL)" for n, s, e in rows)
    return f"INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES {values};"


def _kernels(rows: list[tuple[int, int, int, int, int | None]]) -> str:
    """INSERTs for KERNEL rows given as (demangled, short, start, end, mangled)."""
    values = ", ".join(
        f"({s}, {e}, 0, 1, 7, NULL, 1, {d}, {b}, {'NULL' if m is None else m}, 1, 1, 1, 32, 1, 1)"
        for d, b, s, e, m in rows
    )
    return f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES {values};"


def _durations(name_id: int, durations: list[int], start: int = 0) -> list[tuple[int, int, int]]:
    rows, t = [], start
    for d in durations:
        rows.append((name_id, t, t + d))
        t += d + 1000
    return rows


def _row(frame: pd.DataFrame, i: int) -> dict:
    return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[i].to_dict().items()}


def _values(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    return [[None if pd.isna(v) else v for v in row] for row in frame[columns].values.tolist()]


def test_time_values_round_half_away_from_zero(build_export):
    """avg 1.25 and 1.25 % print as 1.3 (SQLite round), where Python's round gives 1.2."""
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'cudaA_v1000'), (2, 'cudaB_v1000');"
        + _runtime(_durations(1, [1, 1, 1, 2]) + _durations(2, [395], start=10_000))
    )
    api = read_sqlite(path).summaries[reports.API]
    assert api.to_dict("records") == [
        {"time_pct": 98.8, "total_ns": 395, "count": 1, "avg_ns": 395.0, "med_ns": 395.0,
         "min_ns": 395, "max_ns": 395, "stddev_ns": 0.0, "name": "cudaB"},
        {"time_pct": 1.3, "total_ns": 5, "count": 4, "avg_ns": 1.3, "med_ns": 1.0,
         "min_ns": 1, "max_ns": 2, "stddev_ns": 0.5, "name": "cudaA"},
    ]  # fmt: skip
    assert round(1.25, 1) == 1.2  # what a naive implementation would print


def test_point_15_rounds_up_like_sqlite(build_export):
    """An average of 0.15 (binary 0.1499…) prints 0.2 as SQLite's round does, not 0.1."""
    durations = [0] * 17 + [1] * 3
    rows = [(10, 11, i * 100, i * 100 + d, None) for i, d in enumerate(durations)]
    path = build_export("INSERT INTO StringIds VALUES (10, 'k'), (11, 'k');" + _kernels(rows))
    kern = read_sqlite(path).summaries[reports.KERNELS]
    assert _row(kern, 0) | {} == {
        "time_pct": 100.0, "total_ns": 3, "count": 20, "avg_ns": 0.2, "med_ns": 0.0,
        "min_ns": 0, "max_ns": 1, "stddev_ns": 0.4, "name": "k", "demangled_name": "k",
        "base_name": "k", "mangled_name": None, "grid": None, "block": None,
    }  # fmt: skip
    assert round(0.15, 1) == 0.1


def test_even_count_median_and_single_call_stddev(build_export):
    """Even counts take the mean of the two middle values; one call has stddev 0.0."""
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'cudaFree'), (2, 'cudaMalloc_v3020');"
        + _runtime(_durations(1, [41, 10, 30, 20]) + _durations(2, [7], start=50_000))
    )
    api = read_sqlite(path).summaries[reports.API]
    free, malloc = _row(api, 0), _row(api, 1)
    assert (free["med_ns"], free["avg_ns"], free["min_ns"], free["max_ns"]) == (25.0, 25.3, 10, 41)
    # sample stddev: sqrt(sum((x - 25.25)^2) / 3)
    assert free["stddev_ns"] == round(math.sqrt((15.25**2 + 5.25**2 + 15.75**2 + 4.75**2) / 3), 1)
    assert free["stddev_ns"] == 13.3
    assert (malloc["name"], malloc["count"], malloc["med_ns"], malloc["stddev_ns"]) == (
        "cudaMalloc",
        1,
        7.0,
        0.0,
    )


def test_api_ties_keep_name_id_order_and_same_names_stay_separate(build_export):
    """Equal totals keep nameId order (not name order); two ids cut to one name are two rows."""
    path = build_export(
        "INSERT INTO StringIds VALUES (4, 'zeta'), (9, 'alpha'), (2, 'cudaMalloc_v3020'),"
        " (3, 'cudaMalloc'), (5, 'cudaGetDeviceProperties_v2_v12000'), (6, 'cuMemAlloc_v2'),"
        " (7, 'cudaGetDriverEntryPoint_v11030');"
        + _runtime(
            _durations(9, [100])
            + _durations(4, [100], start=5000)
            + _durations(2, [30], start=9000)
            + _durations(3, [10], start=9500)
            + _durations(5, [3], start=9900)
            + _durations(6, [2], start=9950)
            + _durations(7, [1], start=9990)
        )
    )
    api = read_sqlite(path).summaries[reports.API]
    assert api["name"].tolist() == [
        "zeta", "alpha", "cudaMalloc", "cudaMalloc",
        "cudaGetDeviceProperties_v2_v12000", "cuMemAlloc_v2", "cudaGetDriverEntryPoint_v11030",
    ]  # fmt: skip
    assert api["total_ns"].tolist() == [100, 100, 30, 10, 3, 2, 1]


def test_kernel_ties_order_by_instances_then_name(build_export):
    """2024+ order: total DESC, instances ASC, name ASC, whatever the string ids."""
    path = build_export(
        "INSERT INTO StringIds VALUES (10, 'k_c'), (11, 'k_b'), (12, 'k_a');"
        + _kernels(
            [
                (12, 12, 0, 50, None),
                (12, 12, 100, 150, None),
                (10, 10, 200, 300, None),
                (11, 11, 400, 500, None),
                (10, 10, 600, 610, None),
            ]
        )
    )
    kern = read_sqlite(path).summaries[reports.KERNELS]
    assert kern[["name", "total_ns", "count"]].values.tolist() == [
        ["k_c", 110, 2], ["k_b", 100, 1], ["k_a", 100, 2],
    ]  # fmt: skip
    path = build_export(
        "INSERT INTO StringIds VALUES (10, 'k_c'), (11, 'k_b'), (12, 'k_a');"
        + _kernels(
            [
                (12, 12, 0, 50, None),
                (12, 12, 100, 150, None),
                (10, 10, 200, 300, None),
                (11, 11, 400, 500, None),
            ]
        ),
        name="ties.sqlite",
    )
    kern = read_sqlite(path).summaries[reports.KERNELS]
    assert kern["name"].tolist() == ["k_b", "k_c", "k_a"]


def test_kernel_namings_group_by_base_and_mangled_names(build_export):
    """:base merges templates sharing a short name; :mangled falls back to demangled on NULL."""
    path = build_export(
        "INSERT INTO StringIds VALUES (20, 'void k<1>(int)'), (21, 'void k<2>(int)'), (22, 'k'),"
        " (23, '_Z1kILi1EEvi'), (24, '_Z1kILi2EEvi'), (30, 'plain'), (31, 'plain_short');"
        + _kernels(
            [
                (20, 22, 0, 10, 23),
                (20, 22, 100, 130, 23),
                (21, 22, 200, 220, 24),
                (30, 31, 300, 305, None),
            ]
        )
    )
    run = read_sqlite(path)
    default = run.summaries[reports.KERNELS]
    assert _values(default, ["name", "total_ns", "count", "base_name", "mangled_name"]) == [
        ["void k<1>(int)", 40, 2, "k", "_Z1kILi1EEvi"],
        ["void k<2>(int)", 20, 1, "k", "_Z1kILi2EEvi"],
        ["plain", 5, 1, "plain_short", None],
    ]
    base = run.kernels(KernelNaming.BASE)
    assert _row(base, 0) == {
        "time_pct": 92.3, "total_ns": 60, "count": 3, "avg_ns": 20.0, "med_ns": 20.0,
        "min_ns": 10, "max_ns": 30, "stddev_ns": 10.0, "name": "k",
        "demangled_name": "void k<1>(int)", "base_name": "k", "mangled_name": "_Z1kILi1EEvi",
        "grid": None, "block": None,
    }  # fmt: skip
    assert base["name"].tolist() == ["k", "plain_short"]
    mangled = run.kernels(KernelNaming.MANGLED)
    assert mangled["name"].tolist() == ["_Z1kILi1EEvi", "_Z1kILi2EEvi", "plain"]
    assert list(default.columns) == reports.COLUMNS[reports.KERNELS]


def test_memops_labels_ties_and_raw_sizes(build_export):
    """Memcpy and memset share one % total; equal totals are ordered by label; sizes unrounded."""
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'x');"
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES"
        " (0, 50, 0, 1, 7, NULL, 1, 1000, 1), (100, 150, 0, 1, 7, NULL, 1, 10, 2),"
        " (200, 201, 0, 1, 7, NULL, 1, 1, 2), (300, 301, 0, 1, 7, NULL, 1, 2, 2),"
        " (400, 448, 0, 1, 7, NULL, 1, 5, 99);"  # copyKind 99: not in the ENUM table
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (500, 550, 0, 1, 7, NULL, 1, 0, 4096, 1);"
    )
    run = read_sqlite(path)
    time = run.summaries[reports.MEM_TIME]
    assert time[["operation", "op", "total_ns", "count", "time_pct"]].values.tolist() == [
        ["[CUDA memcpy Device-to-Host]", "DtoH", 52, 3, 34.2],
        ["[CUDA memcpy Host-to-Device]", "HtoD", 50, 1, 32.9],
        ["[CUDA memset]", "memset", 50, 1, 32.9],
    ]
    size = run.summaries[reports.MEM_SIZE]
    assert size.columns.tolist() == reports.COLUMNS[reports.MEM_SIZE]
    assert size["operation"].tolist()[:2] == ["[CUDA memset]", "[CUDA memcpy Host-to-Device]"]
    assert _row(size, 2) == {
        "total_bytes": 13, "count": 3, "avg_bytes": 13 / 3, "med_bytes": 2.0, "min_bytes": 1,
        "max_bytes": 10, "stddev_bytes": math.sqrt(((10 - 13 / 3) ** 2 + (1 - 13 / 3) ** 2
                                                     + (2 - 13 / 3) ** 2) / 2),
        "operation": "[CUDA memcpy Device-to-Host]", "op": "DtoH",
    }  # fmt: skip
    assert run.info.notes == ["1 memcpy rows with an unknown copyKind were left out, as nsys does."]


def test_missing_tables_are_skipped_with_nsys_reasons(build_export):
    """A file with only runtime calls skips the kernel and memory reports as nsys words it."""
    schema = MODERN_SCHEMA.split("CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL")[0]
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'cudaFree');" + _runtime([(1, 0, 5)]), schema=schema
    )
    run = read_sqlite(path)
    assert list(run.summaries) == [reports.API]
    assert run.skipped == {
        reports.KERNELS: "does not contain CUDA kernel data.",
        reports.MEM_TIME: "does not contain GPU memory data.",
        reports.MEM_SIZE: "does not contain GPU memory data.",
    }
    assert run.kernel_variants == {}
    assert run.info.gpu_busy_ns is None
    assert run.info.span_ns == 5


def test_memset_only_export(build_export):
    """Memory reports come from MEMSET alone when there is no MEMCPY table."""
    schema = """
    CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
    CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (start INTEGER, end INTEGER, bytes INTEGER);
    """
    path = build_export(
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (10, 1482, 4608), (2000, 2100, 8);",
        schema=schema,
    )
    run = read_sqlite(path)
    assert set(run.skipped) == {reports.API, reports.KERNELS}
    assert run.summaries[reports.MEM_TIME][["operation", "total_ns", "count"]].values.tolist() == [
        ["[CUDA memset]", 1572, 2]
    ]
    assert run.summaries[reports.MEM_SIZE]["total_bytes"].tolist() == [4616]
    assert (run.info.span_ns, run.info.gpu_busy_ns) == (2090, 1572)


def test_old_schema_short_labels_and_no_mangled_names(build_export):
    """2020-2021 exports (no ENUM table, no mangledName) get the old labels; :mangled = default."""
    schema = """
    CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
    CREATE TABLE TARGET_INFO_GPU (vmId INTEGER, deviceId INTEGER, name TEXT, busLocation TEXT);
    CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL,
        deviceId INTEGER, demangledName INTEGER NOT NULL, shortName INTEGER NOT NULL);
    CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER NOT NULL, end INTEGER NOT NULL,
        bytes INTEGER NOT NULL, copyKind INTEGER NOT NULL);
    """
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'kmeans_235_gpu');"
        "INSERT INTO TARGET_INFO_GPU VALUES (1, 1, 'GPU one ', 'b'), (1, 0, 'GPU zero', 'a');"
        "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (0, 10, 0, 1, 1);"
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (20, 30, 8, 1), (40, 45, 8, 2),"
        " (50, 52, 8, 8), (60, 61, 8, 11), (70, 79, 8, 14);",
        schema=schema,
    )
    run = read_sqlite(path)
    time = run.summaries[reports.MEM_TIME]
    assert time[["operation", "op"]].values.tolist() == [
        ["[CUDA memcpy HtoD]", "HtoD"],
        ["[CUDA memcpy DtoH]", "DtoH"],
        ["[CUDA memcpy DtoD]", "DtoD"],
        ["[CUDA Unified Memory memcpy HtoD]", "UM HtoD"],
    ]  # copyKind 14 is outside the hard-coded list: dropped
    kern = run.summaries[reports.KERNELS]
    assert kern["mangled_name"].isna().all()
    pd.testing.assert_frame_equal(run.kernels(KernelNaming.MANGLED), kern)
    assert run.info.gpus == ["GPU zero", "GPU one"]
    assert run.info.nsys_version is None
    assert run.format is ReportFormat.SQLITE


def test_columns_are_picked_by_name_not_position(build_export):
    """Shuffled columns plus DLProf/pipit-style extra columns give the same summaries."""
    rows = "INSERT INTO StringIds VALUES (1, 'kern'), (2, 'k');"
    plain = read_sqlite(build_export(rows + _kernels([(1, 2, 0, 10, None), (1, 2, 50, 75, None)])))
    schema = """
    CREATE TABLE StringIds (value TEXT, id INTEGER PRIMARY KEY, extra TEXT);
    CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (kernel_name TEXT, shortName INTEGER,
        long_kernel_name TEXT, end INTEGER, mangledName INTEGER, start INTEGER,
        demangledName INTEGER, name TEXT);
    """
    edited = read_sqlite(
        build_export(
            "INSERT INTO StringIds VALUES ('kern', 1, 'x'), ('k', 2, 'y');"
            "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES ('a', 2, 'b', 10, NULL, 0, 1, 'c'),"
            " ('a', 2, 'b', 75, NULL, 50, 1, 'c');",
            name="edited.sqlite",
            schema=schema,
        )
    )
    pd.testing.assert_frame_equal(
        edited.summaries[reports.KERNELS], plain.summaries[reports.KERNELS]
    )
    assert edited.summaries[reports.KERNELS]["total_ns"].tolist() == [35]


def test_null_and_non_integer_rows_are_left_out_with_a_note(build_export):
    """Rows with NULL or text where nsys writes integers are dropped, and the run says so."""
    schema = """
    CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
    CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER, end INTEGER, nameId INTEGER);
    CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER, end INTEGER,
        demangledName INTEGER, shortName INTEGER, mangledName INTEGER);
    """
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'cudaFree'), (2, 'k');"
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (0, 10, 1), (20, NULL, 1), (30, 'abc', 1),"
        " (40, 47, NULL), (50, 52.5, 1), (60, 64, 1);"
        "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (0, 5, 2, 2, 2), (10, 20, NULL, 2, 2);",
        schema=schema,
    )
    run = read_sqlite(path)
    api = run.summaries[reports.API]
    assert api[["name", "total_ns", "count"]].values.tolist() == [["cudaFree", 14, 2]]
    assert run.summaries[reports.KERNELS][["name", "total_ns"]].values.tolist() == [["k", 5]]
    assert run.info.warnings == [
        "4 rows of CUPTI_ACTIVITY_KIND_RUNTIME with a missing or non-integer value left out.",
        "1 row of CUPTI_ACTIVITY_KIND_KERNEL with a missing or non-integer value left out.",
    ]


def test_busy_time_is_the_union_of_gpu_intervals(build_export):
    """Overlapping kernels, memcpy and memset count once; the span covers API calls too."""
    path = build_export(
        "INSERT INTO StringIds VALUES (1, 'k'), (2, 'cudaFree');"
        + _kernels([(1, 1, 0, 10, None), (1, 1, 5, 15, None), (1, 1, 20, 30, None)])
        + "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (25, 40, 0, 1, 7, NULL, 1, 8, 1);"
        "INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (100, 101, 0, 1, 7, NULL, 1, 0, 8, 1);"
        + _runtime([(2, -10, 3)])
    )
    info = read_sqlite(path).info
    assert info.gpu_busy_ns == 15 + 20 + 1
    assert info.span_ns == 111
    assert info.gpu_busy_share == pytest.approx(36 / 111)


def test_empty_activity_tables_give_empty_summaries(build_export):
    """Tables that exist but hold no rows give empty summaries with the right columns."""
    run = read_sqlite(build_export(""))
    assert run.skipped == {}
    for report, frame in run.summaries.items():
        assert frame.empty
        assert frame.columns.tolist() == reports.COLUMNS[report]
    assert (run.info.span_ns, run.info.gpu_busy_ns) == (None, 0)
