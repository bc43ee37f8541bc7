"""Chart specs (``chart.to_dict()``): marks, encodings, colours per run, units, tooltips."""

from __future__ import annotations

import pandas as pd
import pytest

from llamaprof.analyze.compare import compare_runs
from llamaprof.charts import (
    PALETTE,
    axis_unit,
    delta_bars,
    grouped_bars,
    run_colors,
    single_run_bars,
)

MMV1 = "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, int)"
MMV2 = "void mul_mat_vec<__half, __half, (int)2, (int)256>(const T1 *, int)"


def frame(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """A minimal kernel summary: name, total_ns, count."""
    return pd.DataFrame(rows, columns=["name", "total_ns", "count"])


@pytest.fixture
def long() -> pd.DataFrame:
    """Base and fa: the two mul_mat_vec variants change, rms_norm leaves, scale arrives."""
    frames = {
        "base": frame(
            [(MMV1, 16_650_623_556, 253_109), (MMV2, 14_449_912, 235), ("rms", 5_000, 2)]
        ),
        "fa": frame([(MMV1, 15_000_000_000, 253_109), (MMV2, 20_000_000, 235), ("scale", 900, 1)]),
    }
    return compare_runs(frames, "base")


def data_of(spec: dict) -> list[dict]:
    """The inline rows of a chart spec."""
    (rows,) = spec["datasets"].values()
    return rows


def test_run_colors_are_stable_and_distinct_for_eight_runs():
    """Eight runs get eight distinct colours, in label order, the same on every call."""
    labels = [f"run{i}" for i in range(8)]
    colors = run_colors(labels)
    assert list(colors) == labels
    assert list(colors.values()) == PALETTE[:8]
    assert len(set(colors.values())) == 8
    assert run_colors(labels) == colors


def test_axis_unit_follows_the_data_magnitude():
    """The axis unit is the largest in which the largest magnitude is at least 1."""
    assert axis_unit([16_650_623_556, 5], "ns") == ("s", 1e9)
    assert axis_unit([-2_500_000], "ns") == ("ms", 1e6)
    assert axis_unit([999], "ns") == ("ns", 1.0)
    assert axis_unit([1_500], "ns") == ("µs", 1e3)
    assert axis_unit([7_195_376_640], "bytes") == ("GB", 1e9)
    assert axis_unit([272], "bytes") == ("B", 1.0)
    with pytest.raises(ValueError, match="unknown unit 'us'"):
        axis_unit([1], "us")


def test_grouped_bars_spec(long):
    """Horizontal bars: short names on y, run as offset and colour, value in seconds on x."""
    colors = run_colors(["base", "fa"])
    spec = grouped_bars(long, unit="ns", title="GPU kernel time", colors=colors, top=2).to_dict()
    assert spec["mark"] == {"type": "bar"}
    enc = spec["encoding"]
    assert enc["y"]["field"] == "label"
    assert enc["y"]["sort"] == [
        "mul_mat_vec<half,half,1,256>",
        "mul_mat_vec<half,half,2,256>",
        "(2 more)",
    ]
    assert enc["yOffset"] == {"field": "run", "sort": ["base", "fa"], "type": "nominal"}
    assert enc["x"] == {
        "field": "scaled",
        "title": "GPU kernel time (s)",
        "type": "quantitative",
        "axis": {"labelOverlap": True, "labelSeparation": 8},  # no labels run together
    }
    assert enc["color"]["scale"] == {"domain": ["base", "fa"], "range": PALETTE[:2]}
    assert [(t["field"], t["title"]) for t in enc["tooltip"]] == [
        ("name", "Name"),
        ("run", "Run"),
        ("human", "Value"),
        ("exact", "Exact"),
        ("count", "Count"),
        ("change", "Δ% vs baseline"),
    ]
    rows = data_of(spec)
    assert rows[0] == {
        "name": MMV1,
        "label": "mul_mat_vec<half,half,1,256>",
        "run": "base",
        "scaled": 16.650623556,
        "exact": "16,650,623,556 ns",
        "human": "16.7 s",
        "change": "0.0%",
        "count": 253109,
    }
    assert [(r["label"], r["run"], r["exact"], r["change"]) for r in rows[1:]] == [
        ("mul_mat_vec<half,half,1,256>", "fa", "15,000,000,000 ns", "-9.9%"),
        ("mul_mat_vec<half,half,2,256>", "base", "14,449,912 ns", "0.0%"),
        ("mul_mat_vec<half,half,2,256>", "fa", "20,000,000 ns", "+38.4%"),
        ("(2 more)", "base", "5,000 ns", "0.0%"),
        ("(2 more)", "fa", "900 ns", "-82.0%"),
    ]


def test_the_same_run_has_the_same_colour_in_every_chart(long):
    """Grouped and delta charts give a run one colour; the Δ legend names only the runs drawn."""
    colors = run_colors(["base", "fa", "other-run"])
    grouped = grouped_bars(long, unit="ns", title="Kernels", colors=colors).to_dict()
    delta = delta_bars(long, unit="ns", title="Kernels", colors=colors, baseline="base").to_dict()
    assert grouped["encoding"]["color"]["scale"] == {
        "domain": ["base", "fa", "other-run"],
        "range": PALETTE[:3],
    }
    assert delta["encoding"]["color"]["scale"] == {"domain": ["fa"], "range": [PALETTE[1]]}


def test_delta_bars_with_one_other_run_label_every_key():
    """One bar per key gets 24 px (12 px made Vega hide every other label); unchanged keys are left out."""
    frames = {
        "base": frame([("cudaLaunchKernel", 900, 9), ("cudaFree", 50, 1), ("cudaMalloc", 70, 2)]),
        "fa": frame([("cudaLaunchKernel", 1_200, 12), ("cudaFree", 50, 1), ("cudaMalloc", 10, 2)]),
    }
    long = compare_runs(frames, "base")
    spec = delta_bars(
        long, unit="ns", title="API", colors=run_colors(["base", "fa"]), baseline="base"
    ).to_dict()
    assert spec["height"] == {"step": 24}
    assert spec["encoding"]["y"]["axis"] == {"labelLimit": 320, "labelOverlap": False}
    assert spec["encoding"]["y"]["sort"] == ["cudaLaunchKernel", "cudaMalloc"]
    assert [(r["label"], r["exact"]) for r in data_of(spec)] == [
        ("cudaLaunchKernel", "+300 ns"),
        ("cudaMalloc", "-60 ns"),
    ]


def test_delta_bars_keep_the_tables_rows():
    """The Δ chart shows the table's top rows that moved, never ranking again: with top 1, an
    unchanged call of highest impact holds the table's one row, so the chart shows only the
    "(2 more)" row (not cudaMalloc and "(1 more)", as a chart ranking its own rows would)."""
    frames = {
        "base": frame([("cudaLaunchKernel", 9_000, 9), ("cudaFree", 50, 1), ("cudaMalloc", 70, 2)]),
        "fa": frame([("cudaLaunchKernel", 9_000, 9), ("cudaFree", 40, 1), ("cudaMalloc", 10, 2)]),
    }
    long = compare_runs(frames, "base")
    spec = delta_bars(
        long, unit="ns", title="API", colors=run_colors(["base", "fa"]), baseline="base", top=1
    ).to_dict()
    assert [(r["label"], r["exact"]) for r in data_of(spec)] == [("(2 more)", "-70 ns")]


def test_charts_of_normalised_values_name_the_per_unit():
    """Values per token read "µs/token" on the axis and "ns/token" in the tooltip."""
    frames = {
        "a": pd.DataFrame({"name": ["k"], "total_ns": [2_500.0], "count": [4]}),
        "b": pd.DataFrame({"name": ["k"], "total_ns": [1_250.5], "count": [4]}),
    }
    long = compare_runs(frames, "a")
    colors = run_colors(["a", "b"])
    grouped = grouped_bars(long, unit="ns/token", title="Kernels", colors=colors).to_dict()
    assert grouped["encoding"]["x"]["title"] == "Kernels (µs/token)"
    assert [(r["exact"], r["human"]) for r in data_of(grouped)] == [
        ("2,500 ns/token", "2.50 µs/token"),
        ("1,250.500 ns/token", "1.25 µs/token"),
    ]
    delta = delta_bars(long, unit="ns/token", title="Kernels", colors=colors, baseline="a")
    assert delta.to_dict()["encoding"]["x"]["title"] == "Δ Kernels vs a (µs/token)"


def test_delta_bars_spec_leaves_out_the_baseline(long):
    """Diverging Δ bars of the non-baseline runs, ordered by impact, unit in the axis title."""
    colors = run_colors(["base", "fa"])
    spec = delta_bars(long, unit="ns", title="Kernel time", colors=colors, top=2).to_dict()
    enc = spec["encoding"]
    assert spec["mark"] == {"type": "bar"}
    assert enc["x"]["title"] == "Δ Kernel time vs base (s)"
    assert enc["yOffset"]["sort"] == ["fa"]
    assert [(t["field"], t["title"]) for t in enc["tooltip"]] == [
        ("name", "Name"),
        ("run", "Run"),
        ("human", "Δ"),
        ("exact", "Δ exact"),
        ("change", "Δ%"),
    ]
    rows = data_of(spec)
    assert [(r["label"], r["run"], r["scaled"], r["exact"], r["change"]) for r in rows] == [
        ("mul_mat_vec<half,half,1,256>", "fa", -1.650623556, "-1,650,623,556 ns", "-9.9%"),
        ("mul_mat_vec<half,half,2,256>", "fa", 0.005550088, "+5,550,088 ns", "+38.4%"),
        ("(2 more)", "fa", -4.1e-06, "-4,100 ns", "-82.0%"),
    ]


def test_delta_bars_finds_the_baseline_when_not_named(long):
    """Without ``baseline`` the run whose values equal the baseline values is left out."""
    colors = run_colors(["base", "fa"])
    spec = delta_bars(long, unit="ns", title="Kernel time", colors=colors).to_dict()
    assert {r["run"] for r in data_of(spec)} == {"fa"}
    assert spec["title"] == "Δ Kernel time vs base"


def test_grouped_bars_in_bytes_name_the_unit():
    """Memory-operation bytes read in GB on the axis and exact bytes in the tooltip."""
    frames = {
        "before": pd.DataFrame({"op": ["DtoD"], "total_bytes": [8_046_134_272], "count": [986]}),
        "after": pd.DataFrame({"op": ["DtoD"], "total_bytes": [7_195_376_640], "count": [872]}),
    }
    long = compare_runs(frames, "before", key="op", value="total_bytes")
    colors = run_colors(["before", "after"])
    spec = grouped_bars(long, unit="bytes", title="Bytes moved", colors=colors).to_dict()
    assert spec["encoding"]["x"]["title"] == "Bytes moved (GB)"
    assert [(r["label"], r["exact"], r["human"], r["change"]) for r in data_of(spec)] == [
        ("DtoD", "8,046,134,272 B", "8.05 GB", "0.0%"),
        ("DtoD", "7,195,376,640 B", "7.20 GB", "-10.6%"),
    ]


def test_grouped_bars_stay_readable_with_eight_runs():
    """Eight runs: one bar step per run, labels not cut before 320 px, all colours present."""
    labels = [f"config-{i}" for i in range(8)]
    frames = {
        label: frame([(f"kernel_{k}", 1_000 * (i + 1) * (k + 1), 1) for k in range(12)])
        for i, label in enumerate(labels)
    }
    long = compare_runs(frames, labels[0])
    spec = grouped_bars(long, unit="ns", title="Kernels", colors=run_colors(labels)).to_dict()
    assert spec["height"] == {"step": 12}
    assert spec["encoding"]["y"]["axis"] == {"labelLimit": 320, "labelOverlap": False}
    assert len(spec["encoding"]["y"]["sort"]) == 11  # top 10 + other
    assert spec["encoding"]["y"]["sort"][-1] == "(2 more)"
    assert spec["encoding"]["yOffset"]["sort"] == labels
    assert len(data_of(spec)) == 11 * 8


def test_single_run_bars_spec():
    """One run: bars by value with the top N and "other", share of the total on hover."""
    summary = frame([("a", 600, 3), ("b", 300, 2), ("c", 60, 1), ("d", 40, 1)])
    spec = single_run_bars(summary, title="Kernel time", top=2, color="#123456").to_dict()
    assert spec["mark"] == {"type": "bar", "color": "#123456"}
    assert spec["encoding"]["x"]["title"] == "Kernel time (ns)"
    assert spec["encoding"]["y"]["sort"] == ["a", "b", "(2 more)"]
    assert [(t["field"], t.get("format")) for t in spec["encoding"]["tooltip"]] == [
        ("name", None),
        ("human", None),
        ("exact", None),
        ("count", ","),
        ("share", ".1%"),
    ]
    assert [(r["label"], r["scaled"], r["count"], r["share"]) for r in data_of(spec)] == [
        ("a", 600.0, 3, 0.6),
        ("b", 300.0, 2, 0.3),
        ("(2 more)", 100.0, 2, 0.1),
    ]


def test_charts_of_an_empty_comparison_are_empty_not_errors():
    """A view no run has still gives valid charts, with no rows."""
    empty = pd.DataFrame(columns=["name", "total_ns", "count"])
    long = compare_runs({"a": empty, "b": empty}, "a")
    colors = run_colors(["a", "b"])
    for chart in (
        grouped_bars(long, unit="ns", title="Kernels", colors=colors),
        delta_bars(long, unit="ns", title="Kernels", colors=colors, baseline="a"),
        single_run_bars(empty, title="Kernels"),
    ):
        assert data_of(chart.to_dict()) == []
