"""The Markdown report of a comparison: exact text for a small constructed pair."""

from __future__ import annotations

import pytest

from llamaprof.analyze.markdown import comparison_markdown
from llamaprof.model import ReportFormat, RunInfo

MMV1 = "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, int)"
MMV2 = "void mul_mat_vec<__half, __half, (int)2, (int)256>(const T1 *, int)"

EXPECTED = """\
# llamaprof comparison: fa-off vs fa-on

Baseline: `fa-on`. Totals over each capture; Δ = run − baseline.

## Overview

|  | fa-on (baseline) | fa-off |
|---|---:|---:|
| GPU kernel time | 16.7 s | 16.3 s |
| CUDA API time | 20.6 s | 21.9 s |
| Memory operations time | 2.55 s | 2.40 s |
| Bytes host to device | 8.05 GB | n/a |
| Bytes device to host | 0 B | n/a |
| Bytes device to device | 0 B | n/a |
| Bytes other (memset, peer…) | 1.08 kB | n/a |
| Capture span | 23.0 s | n/a |
| GPU busy | 80.0% | n/a |
| nsys | 2025.1.3 | n/a |
| GPUs | NVIDIA GeForce RTX 2080 Ti | n/a |
| Source | sqlite | stats-text |

## CUDA API time

| Name | fa-on (baseline) | fa-off | Δ fa-off | Δ% fa-off |
|---|---:|---:|---:|---:|
| `cudaStreamSynchronize` | 18.8 s | 20.0 s | +1.22 s | +6.5% |
| `cudaMemGetInfo` | — | 140 ms | +140 ms | new |
| other (1 more) | 1.78 s | 1.78 s | 0 ns | 0.0% |

Top 2 of 3 by largest change; the rest summed as other.

## GPU kernel time

| Name | fa-on (baseline) | fa-off | Δ fa-off | Δ% fa-off |
|---|---:|---:|---:|---:|
| `mul_mat_vec<half,half,1,256>` | 16.7 s | 16.0 s | -651 ms | -3.9% |
| `soft_max_f32` | — | 300 ms | +300 ms | new |
| other (2 more) | 55.4 ms | 0 ns | -55.4 ms | -100.0% |

Top 2 of 4 by largest change; the rest summed as other.

## Memory operations (time)

| Name | fa-on (baseline) | fa-off | Δ fa-off | Δ% fa-off |
|---|---:|---:|---:|---:|
| `HtoD` | 2.53 s | 2.40 s | -127 ms | -5.0% |
| `memset` | 18.8 ms | — | -18.8 ms | missing |

## Memory operations (bytes)

_Not in the source of `fa-off`: counted as missing._

| Name | fa-on (baseline) | fa-off | Δ fa-off | Δ% fa-off |
|---|---:|---:|---:|---:|
| `HtoD` | 8.05 GB | — | -8.05 GB | missing |
| `memset` | 1.08 kB | — | -1.08 kB | missing |
"""


@pytest.fixture
def pair(make_run):
    """fa-on (SQLite, every report) and fa-off (text: no size summary, no facts)."""
    return {
        "fa-on": make_run(
            "fa-on.sqlite",
            api=[
                ("cudaStreamSynchronize", 18_784_449_306, 13_185),
                ("cudaLaunchKernel", 1_781_747_074, 1_055_137),
            ],
            kernels=[
                (MMV1, 16_650_623_556, 253_109),
                (MMV2, 14_449_912, 235),
                ("scale_f32(const float *, float *, float, int)", 40_957_914, 37_135),
            ],
            mem_time=[
                ("[CUDA memcpy Host-to-Device]", 2_527_438_955, 5_749),
                ("[CUDA memset]", 18_757_906, 6),
            ],
            mem_size=[
                ("[CUDA memcpy Host-to-Device]", 8_046_134_272, 5_749),
                ("[CUDA memset]", 1_076, 6),
            ],
            info=RunInfo(
                nsys_version="2025.1.3",
                gpus=["NVIDIA GeForce RTX 2080 Ti"],
                span_ns=23_000_000_000,
                gpu_busy_ns=18_400_000_000,
            ),
        ),
        "fa-off": make_run(
            "fa-off.txt",
            api=[
                ("cudaStreamSynchronize", 20_000_000_000, 13_185),
                ("cudaLaunchKernel", 1_781_747_074, 1_055_137),
                ("cudaMemGetInfo", 140_144_078, 3),
            ],
            kernels=[
                (MMV1, 16_000_000_000, 253_109),
                ("void soft_max_f32<(bool)1>(const float *)", 300_000_000, 36_040),
            ],
            mem_time=[("[CUDA memcpy HtoD]", 2_400_000_000, 5_749)],
            fmt=ReportFormat.STATS_TEXT,
        ),
    }


def test_comparison_markdown_exact_text(pair):
    """Overview, then per view the top changes with Δ, Δ%, new/missing marks and "other"."""
    assert comparison_markdown(pair, "fa-on", top=2) == EXPECTED


def test_comparison_markdown_without_a_report_in_any_run(make_run):
    """A view no run has says so instead of an empty table."""
    runs = {"a": make_run("a.txt", api=[("cudaFree", 10, 1)]), "b": make_run("b.txt", api=[])}
    text = comparison_markdown(runs, "a")
    section = text.split("## GPU kernel time\n\n")[1].split("\n\n")[0]
    assert section == "_No run has this report._"
    assert "| `cudaFree` | 10.0 ns | — | -10.0 ns | missing |" in text


def test_comparison_markdown_rejects_an_unknown_baseline(pair):
    """The baseline must be one of the runs."""
    with pytest.raises(ValueError, match="baseline 'x' is not one of the runs: fa-on, fa-off"):
        comparison_markdown(pair, "x")
