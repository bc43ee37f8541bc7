"""Plain-language findings about a run and a comparison, each with the numbers it rests on."""

from __future__ import annotations

import math

import pandas as pd

from llamaprof.analyze.compare import compare_runs
from llamaprof.analyze.findings import Finding, comparison_findings, run_findings
from llamaprof.analyze.llama_kernels import family_frame
from llamaprof.sources import load_report

from shared_data import SEED_TEXT, shared_file


def test_seed_findings() -> None:
    """The seed's key findings: sync dominates, the 414 ms copy, 1.69 us launches, matmul."""
    run = load_report(shared_file("stats-text/" + SEED_TEXT.name))
    findings = run_findings(run)
    assert [f.title for f in findings] == [
        "cudaStreamSynchronize dominates the CUDA API time (81.2%)",
        "Largest single transfer: 414 ms (HtoD)",
        "Launch overhead: 1.69 µs per kernel",
        "matmul kernels take 86.4% of GPU kernel time",
    ]
    sync, transfer, launch, family = findings
    assert sync.numbers == {
        "api_call": "cudaStreamSynchronize",
        "time_pct": 81.2,
        "total_ns": 18_784_449_306,
        "count": 13_185,
        "avg_ns": 1_424_683.3,
        "max_ns": 26_541_226,
    }
    assert "the CPU waits on the GPU" in sync.detail
    assert transfer.numbers == {
        "max_ns": 413_623_340,
        "time_operation": "HtoD",
        "time_count": 5_749,
    }
    # cudaLaunchKernel 1,781,747,074 ns / 1,055,137 calls + cuLaunchKernel 332,472 ns / 68 calls.
    assert launch.numbers == {
        "launch_total_ns": 1_782_079_546,
        "launches": 1_055_205,
        "launch_avg_ns": 1688.8,
        "kernel_avg_ns": 18297.3,
        "launch_to_kernel": 0.092,
    }
    assert family.numbers["family_total_ns"] == 16_689_998_639
    assert family.numbers["top_kernel_time_pct"] == 86.2
    assert family.detail.endswith("the largest kernel, mul_mat_vec (matmul), alone takes 86.2%.")


def test_sqlite_findings_include_gpu_idle_and_bytes() -> None:
    """An SQLite export adds the GPU idle share and the largest transfer in bytes."""
    run = load_report(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite"))
    by_title = {f.title: f for f in run_findings(run)}
    idle = by_title["GPU idle 4.2% of the capture"]
    assert idle.numbers == {"gpu_busy_ns": 287_341_472, "span_ns": 299_960_967, "idle_pct": 4.2}
    transfer = by_title["Largest single transfer: 64.9 µs (DtoD)"]
    assert transfer.numbers["max_bytes"] == 95_846_400
    # FlashAttention's kernels are attention: 38.3% is left outside the families, too
    # little for a finding of its own
    assert "attention kernels take 50.9% of GPU kernel time" in by_title
    assert not [title for title in by_title if "outside llama.cpp's families" in title]


def _kernels(rows: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"name": list(rows), "total_ns": list(rows.values()), "count": 10})


MMQ = "void mul_mat_q<(ggml_type)12, (int)64, (bool)0>(const char *, int)"
FA = "void flash_attn_ext_f16<(int)128, (int)128>(const char *, int)"
SOFT_MAX = "void soft_max_f32<true, 256, 256, float>"
Q8 = "void quantize_q8_1(const float *, void *, long)"


def test_comparison_findings() -> None:
    """The total change, then regressions and improvements with family and decoded types."""
    fa_on = _kernels({MMQ: 800_000, FA: 150_000, Q8: 50_000})
    fa_off = _kernels({MMQ: 700_000, SOFT_MAX: 260_000, Q8: 50_500})
    findings = comparison_findings(
        compare_runs({"fa-on": fa_on, "fa-off": fa_off}, "fa-on"), "fa-on"
    )
    assert [f.title for f in findings] == [
        "fa-off: total up 1.1%",
        "fa-off: regression in attention: soft_max_f32 (new)",
        "fa-off: improvement in attention: flash_attn_ext_f16 (gone)",
        "fa-off: improvement in matmul: mul_mat_q [Q4_K] (-12.5%)",
    ]
    assert findings[0].detail == "fa-off totals 1.01 ms against the baseline's 1.00 ms (+10.5 µs)."
    assert findings[0].numbers == {
        "run": "fa-off",
        "total": 1_010_500.0,
        "baseline_total": 1_000_000.0,
        "delta": 10_500.0,
        "delta_pct": 1.1,
    }
    assert (
        findings[3].detail
        == "mul_mat_q [Q4_K] (matmul) went from 800 µs to 700 µs (-100 µs, -12.5%)."
    )
    assert findings[1].numbers["family"] == "attention"
    assert math.isnan(findings[1].numbers["delta_pct"])
    # quantize_q8_1 moved by 500 ns, under 1% of the baseline's total: not a finding.
    assert all("quantize" not in f.title for f in findings)


def test_comparison_findings_by_family_per_token() -> None:
    """By-family diffs name the family once; per-token units show in the text."""
    on = family_frame(_kernels({MMQ: 800_000, FA: 150_000}))
    off = family_frame(_kernels({MMQ: 800_000, SOFT_MAX: 300_000}))
    long = compare_runs({"on": on, "off": off}, "on")
    long[["value", "baseline_value", "delta"]] = long[["value", "baseline_value", "delta"]] / 100
    findings = comparison_findings(long, unit="ns/token")
    assert findings == [
        Finding(
            "off: total up 15.8%",
            "off totals 11.0 µs/token against the baseline's 9.50 µs/token (+1.50 µs/token).",
            {
                "run": "off",
                "total": 11_000.0,
                "baseline_total": 9_500.0,
                "delta": 1_500.0,
                "delta_pct": 15.8,
            },
        ),
        Finding(
            "off: regression in attention (+100.0%)",
            "attention went from 1.50 µs/token to 3.00 µs/token (+1.50 µs/token, +100.0%).",
            {
                "run": "off",
                "kind": "regression",
                "name": "attention",
                "family": "attention",
                "baseline_value": 1_500.0,
                "value": 3_000.0,
                "delta": 1_500.0,
                "delta_pct": 100.0,
            },
        ),
    ]
