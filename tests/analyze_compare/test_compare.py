"""The comparison frames: compare_runs, top_n; the table people read (render)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.analyze.compare import (
    LONG_COLUMNS,
    VIEWS,
    compare_runs,
    rest_name,
    top_n,
    view_frames,
)
from llamaprof.analyze.comparison import ViewComparison
from llamaprof.model import ReportFormat, Run
from llamaprof.render.comparison import table

NAN = np.nan


def kernels(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """A minimal summary frame: name, total_ns, count."""
    return pd.DataFrame(rows, columns=["name", "total_ns", "count"])


@pytest.fixture
def three_runs() -> dict[str, pd.DataFrame]:
    """Baseline a; b changes k1, lacks k2, brings k4; c changes k1, lacks k3."""
    return {
        "a": kernels([("k3", 30, 1), ("k1", 100, 2), ("k2", 50, 1)]),
        "b": kernels([("k1", 150, 3), ("k3", 30, 1), ("k4", 20, 4)]),
        "c": kernels([("k2", 50, 1), ("k1", 80, 2)]),
    }


def long_frame(rows: list[tuple], *, std: float = 0.0) -> pd.DataFrame:
    """A literal compare_runs frame with its dtypes: runs alone (n 1, std and spread 0)."""
    frame = pd.DataFrame(rows, columns=LONG_COLUMNS[:9])
    frame["std"] = std
    frame["n"] = 1
    frame["spread"] = std
    frame["noise"] = False
    return frame.astype({"delta_pct": "float64"})


THREE_RUNS_LONG = [
    ("k1", "a", 100, 100, 0, 0.0, "same", 2, 150),
    ("k1", "b", 150, 100, 50, 50.0, "changed", 3, 150),
    ("k1", "c", 80, 100, -20, -20.0, "changed", 2, 150),
    ("k2", "a", 50, 50, 0, 0.0, "same", 1, 50),
    ("k2", "b", 0, 50, -50, -100.0, "missing", 0, 50),
    ("k2", "c", 50, 50, 0, 0.0, "same", 1, 50),
    ("k3", "a", 30, 30, 0, 0.0, "same", 1, 30),
    ("k3", "b", 30, 30, 0, 0.0, "same", 1, 30),
    ("k3", "c", 0, 30, -30, -100.0, "missing", 0, 30),
    ("k4", "a", 0, 0, 0, NAN, "absent", 0, 20),
    ("k4", "b", 20, 0, 20, NAN, "new", 4, 20),
    ("k4", "c", 0, 0, 0, NAN, "absent", 0, 20),
]


def test_compare_runs_statuses_deltas_and_order(three_runs):
    """Every key of any run gets a row per run: 0 where absent, statuses, impact order.

    A key's impact is the larger of its largest change and its largest value (k1: 150).
    """
    actual = compare_runs(three_runs, "a")
    pd.testing.assert_frame_equal(actual, long_frame(THREE_RUNS_LONG))


def test_compare_runs_keeps_the_given_run_order_within_a_key():
    """Runs within a key follow the order of the mapping, not the baseline first."""
    frames = {"new": kernels([("k", 300, 1)]), "old": kernels([("k", 200, 1)])}
    expected = long_frame(
        [
            ("k", "new", 300, 200, 100, 50.0, "changed", 1, 300),
            ("k", "old", 200, 200, 0, 0.0, "same", 1, 300),
        ]
    )
    pd.testing.assert_frame_equal(compare_runs(frames, "old"), expected)


def test_compare_runs_sums_rows_sharing_a_key():
    """Two rows with one name (API nameIds stripped alike, 2022.4 grid split) are summed."""
    frames = {
        "a": kernels([("cudaMalloc", 10, 1), ("cudaMalloc", 5, 2)]),
        "b": kernels([("cudaMalloc", 12, 3)]),
    }
    expected = long_frame(
        [
            ("cudaMalloc", "a", 15, 15, 0, 0.0, "same", 3, 15),
            ("cudaMalloc", "b", 12, 15, -3, -20.0, "changed", 3, 15),
        ]
    )
    pd.testing.assert_frame_equal(compare_runs(frames, "a"), expected)


def test_compare_runs_float_values_and_other_columns():
    """Values printed in ms by nsys (float ns) compare as float64; key/value are selectable."""
    frames = {
        "a": pd.DataFrame({"op": ["HtoD"], "total_bytes": [1.5e6], "count": [3]}),
        "b": pd.DataFrame({"op": ["HtoD", "DtoH"], "total_bytes": [3.0e6, 2.0], "count": [3, 1]}),
    }
    expected = long_frame(
        [
            ("HtoD", "a", 1.5e6, 1.5e6, 0.0, 0.0, "same", 3, 3.0e6),
            ("HtoD", "b", 3.0e6, 1.5e6, 1.5e6, 100.0, "changed", 3, 3.0e6),
            ("DtoH", "a", 0.0, 0.0, 0.0, NAN, "absent", 0, 2.0),
            ("DtoH", "b", 2.0, 0.0, 2.0, NAN, "new", 1, 2.0),
        ]
    )
    actual = compare_runs(frames, "a", key="op", value="total_bytes")
    pd.testing.assert_frame_equal(actual, expected)


def test_compare_runs_empty_frames_give_an_empty_comparison():
    """Runs lacking the report (empty frames) compare to an empty frame with every column."""
    empty = pd.DataFrame(columns=reports.COLUMNS[reports.KERNELS])
    actual = compare_runs({"a": empty, "b": empty}, "a")
    assert list(actual.columns) == LONG_COLUMNS
    assert len(actual) == 0


def test_compare_runs_a_run_without_the_report_has_everything_missing():
    """An empty frame for one run marks each baseline key missing there."""
    empty = pd.DataFrame(columns=reports.COLUMNS[reports.KERNELS])
    actual = compare_runs({"a": kernels([("k", 7, 1)]), "b": empty}, "a")
    expected = long_frame(
        [
            ("k", "a", 7, 7, 0, 0.0, "same", 1, 7),
            ("k", "b", 0, 7, -7, -100.0, "missing", 0, 7),
        ]
    )
    pd.testing.assert_frame_equal(actual, expected)


def test_compare_runs_rejects_an_unknown_baseline(three_runs):
    """A baseline that is not one of the runs is a ValueError naming the runs."""
    with pytest.raises(ValueError, match="baseline 'z' is not one of the runs: a, b, c"):
        compare_runs(three_runs, "z")


def test_every_key_of_every_run_in_impact_order(three_runs):
    """One row per (key, run), keys in impact order: value, Δ, Δ% (NaN where the baseline
    lacks the key) and status against the baseline."""
    long = compare_runs(three_runs, "a")
    assert list(dict.fromkeys(long["name"])) == ["k1", "k2", "k3", "k4"]
    rows = {
        (r.name, r.run): (r.value, r.delta, r.status)
        for r in long[["name", "run", "value", "delta", "status"]].itertuples(index=False)
    }
    assert rows == {
        ("k1", "a"): (100, 0, "same"), ("k1", "b"): (150, 50, "changed"),
        ("k1", "c"): (80, -20, "changed"),
        ("k2", "a"): (50, 0, "same"), ("k2", "b"): (0, -50, "missing"),
        ("k2", "c"): (50, 0, "same"),
        ("k3", "a"): (30, 0, "same"), ("k3", "b"): (30, 0, "same"),
        ("k3", "c"): (0, -30, "missing"),
        ("k4", "a"): (0, 0, "absent"), ("k4", "b"): (20, 20, "new"),
        ("k4", "c"): (0, 0, "absent"),
    }  # fmt: skip
    pct = long.set_index(["name", "run"])["delta_pct"]
    assert pct.loc[[("k1", "b"), ("k2", "b"), ("k1", "c"), ("k3", "c")]].tolist() == [
        50.0, -100.0, -20.0, -100.0,
    ]  # fmt: skip
    assert pct.loc[[("k4", "b"), ("k4", "c")]].isna().all()


def view_of(long: pd.DataFrame, columns: list[str], baseline: str, unit: str) -> ViewComparison:
    """A comparison of one (non-kernel) summary, without totals, as the renderer takes it."""
    return ViewComparison(
        name="api",
        title="CUDA API time",
        report=reports.API,
        by="name",
        long=long,
        columns=columns,
        baseline=baseline,
        unit=unit,
    )


def test_table_formats_for_people():
    """Values in human units, signed deltas, Δ% with new/missing marks, "—" where a run lacks a key."""
    frames = {
        "base": kernels([("gemm", 2_500_000, 10), ("copy", 1_200, 4)]),
        "fa": kernels([("gemm", 2_000_000, 10), ("norm", 45_000, 2)]),
    }
    view = view_of(compare_runs(frames, "base"), ["base", "fa"], "base", "ns")
    expected = pd.DataFrame(
        {
            "Name": ["gemm", "norm", "copy"],
            "base": ["2.50 ms", "—", "1.20 µs"],
            "fa": ["2.00 ms", "45.0 µs", "—"],
            "Δ fa": ["-500 µs", "+45.0 µs", "-1.20 µs"],
            "Δ% fa": ["-20.0%", "new", "missing"],
        }
    )
    pd.testing.assert_frame_equal(table(view), expected)


def test_table_marks_keys_neither_run_has_and_per_token_units():
    """A key only a third run has reads "—" in the baseline and the other run; units may be
    per token; compact drops the Δ columns of three runs or more."""
    frames = {
        "base": kernels([("gemm", 2_500, 10)]),
        "b": kernels([("gemm", 2_000, 10)]),
        "c": kernels([("gemm", 2_500, 10), ("norm", 45_000, 2)]),
    }
    view = view_of(compare_runs(frames, "base"), ["base", "b", "c"], "base", "ns/token")
    assert table(view).to_dict("records") == [
        {
            "Name": "norm",
            "base": "—",
            "b": "—",
            "c": "45.0 µs/token",
            "Δ b": "—",
            "Δ% b": "",
            "Δ c": "+45.0 µs/token",
            "Δ% c": "new",
        },
        {
            "Name": "gemm",
            "base": "2.50 µs/token",
            "b": "2.00 µs/token",
            "c": "2.50 µs/token",
            "Δ b": "-500 ns/token",
            "Δ% b": "-20.0%",
            "Δ c": "0 ns/token",
            "Δ% c": "0.0%",
        },
    ]
    assert list(table(view, compact=True).columns) == ["Name", "base", "b", "c", "Δ% b", "Δ% c"]


def test_table_bytes_and_unknown_unit():
    """Bytes read in decimal MB/GB as nsys; an unknown unit is a ValueError."""
    frames = {
        "a": pd.DataFrame({"op": ["DtoD"], "total_bytes": [8_046_134_272], "count": [986]}),
        "b": pd.DataFrame({"op": ["DtoD"], "total_bytes": [7_195_376_640], "count": [872]}),
    }
    long = compare_runs(frames, "a", key="op", value="total_bytes")
    actual = table(view_of(long, ["a", "b"], "a", "bytes"))
    assert actual.iloc[0].tolist() == ["DtoD", "8.05 GB", "7.20 GB", "-851 MB", "-10.6%"]
    with pytest.raises(ValueError, match="unknown unit 'us'"):
        table(view_of(long, ["a", "b"], "a", "us"))


def test_top_n_keeps_the_keys_of_highest_impact(three_runs):
    """The n keys of highest impact stay; the rest sum into one row named by its count."""
    actual = top_n(compare_runs(three_runs, "a"), 2)
    rest = long_frame(
        [
            (rest_name(2), "a", 30, 30, 0, 0.0, "same", 1, 50),
            (rest_name(2), "b", 50, 30, 20, 200 / 3, "changed", 5, 50),
            (rest_name(2), "c", 0, 30, -30, -100.0, "changed", 0, 50),
        ],
        std=NAN,
    )
    expected = pd.concat([long_frame(THREE_RUNS_LONG[:6]), rest], ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected)
    assert rest_name(2) == "(2 more)"


def test_top_n_of_one(three_runs):
    """k1 (impact 150) stays alone; k2, k3 and k4 sum into the rest row."""
    actual = top_n(compare_runs(three_runs, "a"), 1)
    rest = long_frame(
        [
            (rest_name(3), "a", 80, 80, 0, 0.0, "same", 2, 80),
            (rest_name(3), "b", 50, 80, -30, -37.5, "changed", 5, 80),
            (rest_name(3), "c", 50, 80, -30, -37.5, "changed", 1, 80),
        ],
        std=NAN,
    )
    expected = pd.concat([long_frame(THREE_RUNS_LONG[:3]), rest], ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected)


def test_top_n_adds_nothing_when_all_keys_fit(three_runs):
    """With n at least the number of keys (or 0) there is no rest row."""
    for n in (0, 4):
        actual = top_n(compare_runs(three_runs, "a"), n)
        assert list(dict.fromkeys(actual["name"])) == ["k1", "k2", "k3", "k4"]


def run_with(**summaries: pd.DataFrame) -> Run:
    """A Run read from nowhere, holding the given summaries (keys: report names)."""
    return Run(path=Path("x.sqlite"), format=ReportFormat.SQLITE, summaries=dict(summaries))


def size_frame(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """A cuda_gpu_mem_size_sum frame from (operation label, total bytes, count)."""
    frame = pd.DataFrame(
        {
            "total_bytes": [r[1] for r in rows],
            "count": [r[2] for r in rows],
            "operation": [r[0] for r in rows],
            "op": [reports.canonical_op(r[0]) for r in rows],
        }
    )
    return frame.reindex(columns=reports.COLUMNS[reports.MEM_SIZE])


def test_view_frames_gives_an_empty_frame_where_a_report_is_absent():
    """A run whose source lacks the report gets an empty frame with the report's columns."""
    runs = {
        "full": run_with(cuda_gpu_mem_size_sum=size_frame([("[CUDA memcpy HtoD]", 100, 1)])),
        "bare": run_with(),
    }
    frames = view_frames(runs, "memops_size")
    assert list(frames) == ["full", "bare"]
    assert frames["full"] is runs["full"].summaries[reports.MEM_SIZE]
    assert list(frames["bare"].columns) == reports.COLUMNS[reports.MEM_SIZE]
    assert frames["bare"].empty


def test_memops_of_different_nsys_versions_line_up_by_direction():
    """2022 "[CUDA memcpy HtoD]" and 2025 "[CUDA memcpy Host-to-Device]" compare as one key."""
    runs = {
        "old": run_with(cuda_gpu_mem_size_sum=size_frame([("[CUDA memcpy HtoD]", 1000, 2)])),
        "new": run_with(
            cuda_gpu_mem_size_sum=size_frame(
                [("[CUDA memcpy Host-to-Device]", 1500, 3), ("[CUDA memset]", 64, 1)]
            )
        ),
    }
    view = VIEWS["memops_size"]
    long = compare_runs(view_frames(runs, "memops_size"), "old", key=view.key, value=view.value)
    expected = long_frame(
        [
            ("HtoD", "old", 1000, 1000, 0, 0.0, "same", 2, 1500),
            ("HtoD", "new", 1500, 1000, 500, 50.0, "changed", 3, 1500),
            ("memset", "old", 0, 0, 0, NAN, "absent", 0, 64),
            ("memset", "new", 64, 0, 64, NAN, "new", 1, 64),
        ]
    )
    pd.testing.assert_frame_equal(long, expected)


def test_views_name_the_four_reports():
    """The views map to the four nsys summaries, keyed as the issue asks."""
    assert {name: (v.report, v.key, v.value, v.unit) for name, v in VIEWS.items()} == {
        "api": ("cuda_api_sum", "name", "total_ns", "ns"),
        "kernels": ("cuda_gpu_kern_sum", "name", "total_ns", "ns"),
        "memops_time": ("cuda_gpu_mem_time_sum", "op", "total_ns", "ns"),
        "memops_size": ("cuda_gpu_mem_size_sum", "op", "total_bytes", "bytes"),
    }
    with pytest.raises(ValueError, match="unknown view 'gpu'"):
        view_frames({}, "gpu")


def test_compare_runs_rejects_a_frame_without_the_key_column(three_runs):
    """Comparing by a column a run's frame lacks is a ValueError naming run and column."""
    with pytest.raises(ValueError, match="the frame of run 'a' has no column 'op'"):
        compare_runs(three_runs, "a", key="op")
