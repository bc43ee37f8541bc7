"""The timeline chart: runs stacked, aligned at the workload start, a brushable x window."""

from __future__ import annotations

import math

import pandas as pd
from nsys_builder import ExportBuilder

from llamaprof.analyze.phases import Phase
from llamaprof.analyze.timeline import timeline
from llamaprof.charts_timeline import (
    BUSY,
    MEMORY,
    SYNC,
    WINDOW_PARAM,
    timeline_chart,
    timeline_data,
)
from llamaprof.sources import load_report

MMV = "void mul_mat_vec<float, float, (int)1, (int)256>(const float *, const float *, float *)"
SOFT_MAX = "void soft_max_f32<(bool)1, (int)0, (int)0>(const float *, const float *, float *)"


def _run(write_export, name: str, shift: int):
    """A run whose workload starts at ``shift`` ns: one matmul, one soft_max, one sync."""
    b = ExportBuilder()
    b.memcpy(0, 50, 64, "HtoD")
    b.launch(MMV, shift, shift + 5, shift + 10, shift + 60)
    b.kernel(SOFT_MAX, shift + 150, shift + 200)
    b.api("cudaStreamSynchronize_v3020", shift + 60, shift + 160)
    run = load_report(write_export(b, name))
    frame = timeline(run.events, bin_ns=100, start_ns=0, end_ns=shift + 200, origin_ns=shift)
    return frame


def test_timeline_data_aligns_runs_at_their_workload_start(write_export):
    """Each run's x is ms since its own origin; shares are % of the bin; phases keep their
    kind; families that never ran are left out."""
    a = _run(write_export, "a", 1000)
    b = _run(write_export, "b", 3000)
    phases = {
        "a": [
            Phase("load", 0, 1000, "record", "load"),
            Phase("workload", 1000, 1200, "record", "workload"),
        ],
        "b": [
            Phase("decode 1", 3000, 3200, "record", "decode", 1),
            Phase("prefill 2", 3150, 9000, "record", "prefill", 2),  # clipped to the bins
            Phase("decode 2", 5000, 6000, "record", "decode", 2),  # past the bins: left out
        ],
    }
    data = timeline_data({"a": a, "b": b}, origins={"a": 1000, "b": 3000}, phases=phases)
    assert sorted(set(data["series"])) == sorted(
        ["matmul", "attention", MEMORY, BUSY, SYNC, "load", "decode", "prefill"]
    )
    work = data[(data["t_ms"] >= 0) & (data["layer"] != "phase")]
    rows = work.sort_values(["run", "layer", "series", "t_ms"])[["run", "series", "t_ms", "pct"]]
    expected = [
        ["a", BUSY, 0.0, 50.0],
        ["a", BUSY, 0.0001, 50.0],
        ["a", "attention", 0.0, 0.0],
        ["a", "attention", 0.0001, 50.0],
        ["a", "matmul", 0.0, 50.0],
        ["a", "matmul", 0.0001, 0.0],
        ["a", MEMORY, 0.0, 0.0],  # the copy ran before the workload
        ["a", MEMORY, 0.0001, 0.0],
        ["a", SYNC, 0.0, 40.0],
        ["a", SYNC, 0.0001, 60.0],
    ]
    assert rows[rows["run"] == "a"].values.tolist() == expected
    assert rows[rows["run"] == "b"].values.tolist() == [["b", *r[1:]] for r in expected]
    upload = data[(data["run"] == "a") & (data["series"] == MEMORY) & (data["t_ms"] < 0)]
    assert upload[["t_ms", "pct"]].values.tolist()[:2] == [[-0.001, 50.0], [-0.0009, 0.0]]
    shaded = data[data["layer"] == "phase"][["run", "series", "t_ms", "t_end_ms"]]
    assert shaded.values.tolist() == [
        ["a", "load", -0.001, 0.0],
        ["b", "decode", 0.0, 0.0002],
        ["b", "prefill", 0.00015, 0.0002],
    ]
    assert math.isnan(data[data["layer"] == "phase"]["pct"].iloc[0])


def test_timeline_chart_spec(write_export):
    """Runs are facet rows in the order given; four layers (phases, families, busy, sync);
    one interval selection on x named "window"; one colour scale for families and lines."""
    a = _run(write_export, "a", 1000)
    b = _run(write_export, "b", 3000)
    spec = timeline_chart(
        {"fa on": a, "fa off": b}, origins={"fa on": 1000, "fa off": 3000}
    ).to_dict()
    assert spec["facet"]["row"]["field"] == "run"
    assert spec["facet"]["row"]["sort"] == ["fa on", "fa off"]
    layers = spec["spec"]["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["rect", "area", "line", "line"]
    assert [layer["transform"][0]["filter"] for layer in layers] == [
        "(datum.layer === 'phase')",
        "(datum.layer === 'family')",
        "(datum.layer === 'busy')",
        "(datum.layer === 'sync')",
    ]
    (param,) = spec["params"]
    assert (param["name"], param["select"]) == (
        WINDOW_PARAM,
        {"type": "interval", "encodings": ["x"]},
    )
    assert param["views"] == [layers[1]["name"]]
    scale = layers[1]["encoding"]["color"]["scale"]
    assert scale == {
        "domain": ["matmul", "attention", MEMORY, BUSY, SYNC],
        "range": ["#4c78a8", "#f58518", "#17becf", "#000000", "#d62728"],
    }
    assert layers[1]["encoding"]["x"]["title"] == "ms since the workload start"
    assert layers[2]["encoding"]["y"]["stack"] is None
    values = spec["datasets"][spec["data"]["name"]]
    assert {v["run"] for v in values} == {"fa on", "fa off"}
    assert spec["resolve"] == {"scale": {"x": "shared", "y": "shared"}}


def test_empty_timelines_make_an_empty_frame():
    """No bins: an empty frame with the chart's columns."""
    frame = pd.DataFrame(columns=["bin_start_ns", "bin_end_ns", "gpu_busy_ns", "sync_ns"])
    data = timeline_data({"a": frame})
    assert list(data.columns) == ["run", "layer", "series", "t_ms", "t_end_ms", "pct"]
    assert data.empty
