"""The family stacked bar chart, checked through its Vega-Lite spec (no Streamlit in the core:
tests/layout/test_import_arrows.py)."""

from __future__ import annotations

import pandas as pd

from llamaprof.analyze.llama_kernels import family_breakdown
from llamaprof.charts_llama import FAMILY_COLORS, family_stacked_bars


def _breakdown() -> pd.DataFrame:
    on = pd.DataFrame(
        {
            "name": [
                "void mul_mat_q<(ggml_type)12, (int)24, (bool)0>",
                "quantize_q8_1",
                "void flash_attn_ext_f16<(int)128>(…",
            ],
            "total_ns": [2_400_000, 100_000, 500_000],
            "count": [24, 24, 24],
        }
    )
    off = pd.DataFrame(
        {
            "name": [
                "void mul_mat_q<(ggml_type)12, (int)24, (bool)0>",
                "void soft_max_f32<true, 256, 256, float>",
            ],
            "total_ns": [2_400_000, 900_000],
            "count": [24, 24],
        }
    )
    return family_breakdown({"fa on": on, "fa off": off})


def test_stacked_bars_by_time() -> None:
    """One bar per run, stacked by family in a fixed colour and order, axis in ms."""
    spec = family_stacked_bars(_breakdown()).to_dict()
    assert spec["mark"] == {"type": "bar"}
    enc = spec["encoding"]
    assert enc["y"] == {
        "field": "run",
        "sort": ["fa on", "fa off"],
        "title": None,
        "type": "nominal",
    }
    assert enc["x"] == {
        "field": "scaled",
        "stack": "zero",
        "title": "GPU kernel time (ms)",
        "type": "quantitative",
    }
    assert enc["color"]["scale"] == {
        "domain": ["matmul", "attention", "quantize"],
        "range": [FAMILY_COLORS["matmul"], FAMILY_COLORS["attention"], FAMILY_COLORS["quantize"]],
    }
    assert enc["order"] == {"field": "order", "type": "quantitative"}
    rows = next(iter(spec["datasets"].values()))
    assert [(r["run"], r["family"], r["scaled"], r["time"]) for r in rows] == [
        ("fa on", "matmul", 2.4, "2.40 ms"),
        ("fa on", "attention", 0.5, "500 µs"),
        ("fa on", "quantize", 0.1, "100 µs"),
        ("fa off", "matmul", 2.4, "2.40 ms"),
        ("fa off", "attention", 0.9, "900 µs"),
    ]


def test_stacked_bars_by_share_per_token() -> None:
    """share=True stacks percentages; 'per' marks normalised values in text and axis."""
    spec = family_stacked_bars(
        _breakdown(), {"matmul": "#000000"}, share=True, per="/token"
    ).to_dict()
    assert spec["encoding"]["x"]["field"] == "time_pct"
    assert spec["encoding"]["x"]["scale"] == {"domain": [0, 100]}
    assert spec["encoding"]["color"]["scale"]["range"][0] == "#000000"
    rows = next(iter(spec["datasets"].values()))
    assert [r["time_pct"] for r in rows] == [80.0, 16.7, 3.3, 72.7, 27.3]
    assert rows[0]["time"] == "2.40 ms/token"


def test_axis_unit_reads_like_the_other_charts() -> None:
    """Microsecond-sized totals read "µs", as ``llamaprof.charts.axis_unit`` names it."""
    small = _breakdown().assign(total_ns=lambda f: f["total_ns"] / 100)
    spec = family_stacked_bars(small, per="/token").to_dict()
    assert spec["encoding"]["x"]["title"] == "GPU kernel time (µs/token)"
    rows = spec["datasets"][spec["data"]["name"]]
    assert max(row["scaled"] for row in rows) == 24.0  # 2.4 ms / 100 = 24,000 ns = 24 µs
