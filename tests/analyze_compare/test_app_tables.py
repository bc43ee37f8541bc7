"""The pure helpers behind the compare and run pages: spread test, noise marks, tables."""

from __future__ import annotations

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.comparison import (
    NOISE_REMARK,
    Comparison,
    ViewComparison,
    mark_noise,
    prepare_comparison,
    within_spread,
)
from llamaprof.analyze.findings import Finding
from llamaprof.analyze.normalize import Normalize
from llamaprof.loading import LoadedRun
from llamaprof.model import Run
from llamaprof.record import parse_record
from llamaprof.render.comparison import table
from llamaprof.render.tables import config_table, family_summary_table, summary_table

MATMUL = (
    "void mul_mat_vec_q<(ggml_type)12, 1>(const void *, const void *, float *, int, int, int, int)"
)
NORM = "void rms_norm_f32<1024>(const float *, float *, int, float)"
ATTN = "void flash_attn_ext_f16<64, 64, 4>(const char *)"


def comparison_of(
    runs: dict[str, Run], records: dict[str, dict] | None = None, **options
) -> Comparison:
    """``prepare_comparison`` of hand-made runs, each with its record (as JSON) if given."""
    records = records or {}
    entries = [
        LoadedRun(
            label,
            run.path,
            run,
            parse_record(records[label], f"{label}.llamaprof.json") if label in records else None,
        )
        for label, run in runs.items()
    ]
    return prepare_comparison(entries, **options)


def test_within_spread_needs_a_spread_and_a_change_no_larger():
    """A change is noise only when there is a spread and |delta| does not exceed it."""
    assert within_spread(5.0, 5.0)
    assert within_spread(-5.0, 5.0)
    assert not within_spread(5.5, 5.0)
    assert not within_spread(0.0, 0.0)  # single runs: no spread, never noise
    assert not within_spread(-1.0, 0.0)


def test_table_repeats_mark_noise_only_within_the_spread():
    """The table writes mean ± std per group and appends (noise) where the frame says."""
    long = pd.DataFrame(
        {
            "name": ["k", "k", "j", "j"],
            "run": ["a", "b", "a", "b"],
            "value": [100.0, 130.0, 50.0, 51.0],
            "delta": [0.0, 30.0, 0.0, 1.0],
            "delta_pct": [0.0, 30.0, 0.0, 2.0],
            "status": ["same", "changed", "same", "changed"],
            "std": [5.0, 0.0, 2.0, 0.0],
            "n": [2, 2, 2, 2],
            "noise": [False, False, False, True],
        }
    )
    view = ViewComparison("api", "", reports.API, "name", long, ["a", "b"], "a", "ns")
    assert table(view).to_dict("records") == [
        {"Name": "k", "a": "100 ± 5.00 ns", "b": "130 ns", "Δ b": "+30.0 ns", "Δ% b": "+30.0%"},
        {
            "Name": "j",
            "a": "50.0 ± 2.00 ns",
            "b": "51.0 ns",
            "Δ b": "+1.00 ns",
            "Δ% b": "+2.0% (noise)",
        },
    ]


def test_table_of_single_runs_says_new_and_missing(make_run):
    """Without repeats: plain values, signed deltas, and new / missing for one-sided kernels;
    kernels read by short name with their family, a Total row last."""
    runs = {
        "a": make_run("a.sqlite", kernels=[(MATMUL, 2_000_000, 10), (NORM, 500, 10)]),
        "b": make_run("b.sqlite", kernels=[(MATMUL, 1_500_000, 10), (ATTN, 3_000, 4)]),
    }
    rows = table(comparison_of(runs).view("kernels")).set_index("Name")
    assert rows.loc["mul_mat_vec_q [Q4_K]"].to_dict() == {
        "Family": "matmul",
        "a": "2.00 ms",
        "b": "1.50 ms",
        "Δ b": "-500 µs",
        "Δ% b": "-25.0%",
    }
    assert rows.loc["rms_norm_f32", "Δ% b"] == "missing"
    assert rows.loc["flash_attn_ext_f16", "Δ% b"] == "new"
    assert rows.loc["flash_attn_ext_f16", "Δ b"] == "+3.00 µs"
    assert rows.loc["Total"].to_dict() == {
        "Family": "",
        "a": "2.00 ms",
        "b": "1.50 ms",
        "Δ b": "-498 µs",  # 1.503 ms - 2.0005 ms
        "Δ% b": "-24.9%",
    }


def test_frames_divide_by_tokens_and_sum_families(make_run):
    """Per token divides each run's kernel time by its generated tokens; by family sums."""
    runs = {
        "a": make_run("a.sqlite", kernels=[(MATMUL, 2_000_000, 10), (NORM, 500_000, 10)]),
        "b": make_run("b.sqlite", kernels=[(MATMUL, 1_000_000, 5)]),
    }
    records = {
        "a": {"totals": {"generated_tokens": 100}},
        "b": {"totals": {"generated_tokens": 50}},
    }
    per_token = comparison_of(runs, records, normalize=Normalize.PER_TOKEN)
    frames = per_token.frames(VIEWS["kernels"])
    assert dict(zip(frames["a"]["name"], frames["a"]["total_ns"], strict=True)) == {
        MATMUL: 20_000.0,
        NORM: 5_000.0,
    }
    assert frames["b"]["total_ns"].tolist() == [20_000.0]
    families = comparison_of(runs).frames(VIEWS["kernels"], by="family")
    assert dict(zip(families["a"]["name"], families["a"]["total_ns"], strict=True)) == {
        "matmul": 2_000_000,
        "norm": 500_000,
    }


def _repeat_comparison(make_run) -> Comparison:
    """Two repeat groups of two runs each: a's totals 100/110 µs, b's 104/106 µs."""
    runs = {
        "a1": make_run("a1.sqlite", kernels=[(MATMUL, 100_000, 1)]),
        "a2": make_run("a2.sqlite", kernels=[(MATMUL, 110_000, 1)]),
        "b1": make_run("b1.sqlite", kernels=[(MATMUL, 104_000, 1)]),
        "b2": make_run("b2.sqlite", kernels=[(MATMUL, 106_000, 1)]),
    }
    records = {
        label: {"repeat": {"group": label[0]}, "totals": {"generated_tokens": 10}} for label in runs
    }
    return comparison_of(runs, records, labels="file")


def test_mark_noise_appends_the_remark_within_the_spread(make_run):
    """A total or kernel change inside the repeats' spread gets the remark; others do not."""
    comparison = _repeat_comparison(make_run).view("kernels")
    assert comparison.columns == ["a1 (+1 repeat)", "b1 (+1 repeat)"]
    assert comparison.totals["a1 (+1 repeat)"][0] == 105_000.0
    total = Finding("b: total", "b totals 105 µs against 105 µs (+0 ns).", {"run": "b1 (+1 repeat)"})
    assert mark_noise(total, comparison).detail == (
        "b totals 105 µs against 105 µs (+0 ns)" + NOISE_REMARK + "."
    )
    kernel = Finding("b: kernel", "went from 105 µs to 105 µs.", {"run": "b1 (+1 repeat)", "name": MATMUL})
    assert mark_noise(kernel, comparison).detail.endswith(NOISE_REMARK + ".")
    other = Finding("note", "nothing to do with a run.", {"share": 1.0})
    assert mark_noise(other, comparison) == other


def test_mark_noise_leaves_changes_beyond_the_spread(make_run):
    """Single runs have no spread: their total change is never marked as noise."""
    runs = {
        "a": make_run("a.sqlite", kernels=[(MATMUL, 100_000, 1)]),
        "b": make_run("b.sqlite", kernels=[(MATMUL, 100_001, 1)]),
    }
    comparison = comparison_of(runs).view("kernels")
    total = Finding("b: total", "b totals more.", {"run": "b"})
    assert mark_noise(total, comparison) == total


def test_summary_table_writes_times_sizes_and_counts(make_run):
    """The run page's table: short kernel names, human times, counts with separators."""
    run = make_run(
        "a.sqlite",
        kernels=[(MATMUL, 2_000_000, 12_345)],
        mem_size=[("[CUDA memcpy Host-to-Device]", 4_190_000, 3)],
    )
    kernels = summary_table(run.summary(reports.KERNELS), reports.KERNELS)
    assert kernels.columns[0] == "Kernel" and kernels.columns[-1] == "Full name"
    assert kernels[["Kernel", "Total", "Count"]].to_dict("records") == [
        {"Kernel": "mul_mat_vec_q", "Total": "2.00 ms", "Count": "12,345"}
    ]
    sizes = summary_table(run.summary(reports.MEM_SIZE), reports.MEM_SIZE)
    assert sizes[["Operation", "Total", "Count"]].to_dict("records") == [
        {"Operation": "[CUDA memcpy Host-to-Device]", "Total": "4.19 MB", "Count": "3"}
    ]


def test_family_summary_table_shares_and_launches(make_run):
    """One row per family: time, share of the run's kernel time, launches, distinct kernels."""
    run = make_run("a.sqlite", kernels=[(MATMUL, 3_000_000, 1_500), (NORM, 1_000_000, 20)])
    table = family_summary_table(run.summary(reports.KERNELS))
    records = table.drop(columns="What").to_dict("records")
    assert records == [
        {
            "Family": "matmul",
            "Time": "3.00 ms",
            "Share (%)": "75.0",
            "Launches": "1,500",
            "Kernels": 1,
        },
        {"Family": "norm", "Time": "1.00 ms", "Share (%)": "25.0", "Launches": "20", "Kernels": 1},
    ]


def test_config_table_puts_differs_first_and_filters():
    """``differs`` becomes the first column; only_differences keeps the differing settings."""
    diff = pd.DataFrame(
        {
            "setting": ["arg -fa", "model"],
            "a": ["on", "m.gguf"],
            "b": ["off", "m.gguf"],
            "differs": [True, False],
        },
        index=[3, 7],
    )
    table = config_table(diff)
    assert list(table.columns) == ["differs", "setting", "a", "b"]
    assert list(table.index) == [0, 1]
    only = config_table(diff, only_differences=True)
    assert only.to_dict("records") == [
        {"differs": True, "setting": "arg -fa", "a": "on", "b": "off"}
    ]
