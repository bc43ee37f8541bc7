"""Per-run facts: totals, bytes by direction, span and busy share, None where unknown."""

from __future__ import annotations

import pandas as pd

from llamaprof.analyze.overview import OVERVIEW_COLUMNS, overview_table, run_overview
from llamaprof.model import ReportFormat, RunInfo


def test_run_overview_sums_the_summaries_and_splits_bytes_by_direction(make_run):
    """Kernel/API/memops totals, bytes per direction (HtoA counts as HtoD, memset as other)."""
    run = make_run(
        "a.sqlite",
        api=[("cudaLaunchKernel", 1_000, 10), ("cudaMemcpyAsync", 500, 2)],
        kernels=[("k1", 7_000, 3), ("k2", 3_000, 1)],
        mem_time=[("[CUDA memcpy Host-to-Device]", 400, 2), ("[CUDA memset]", 50, 1)],
        mem_size=[
            ("[CUDA memcpy Host-to-Device]", 4_000_000, 2),
            ("[CUDA memcpy Host-to-Array]", 1_000, 1),
            ("[CUDA memcpy Device-to-Host]", 2_000, 1),
            ("[CUDA memcpy Device-to-Device]", 300, 1),
            ("[CUDA memcpy Peer-to-Peer]", 20, 1),
            ("[CUDA memset]", 64, 1),
        ],
        info=RunInfo(
            nsys_version="2025.1.3", gpus=["NVIDIA A100"], span_ns=20_000, gpu_busy_ns=5_000
        ),
    )
    assert run_overview(run) == {
        "kernel_time_ns": 10_000,
        "api_time_ns": 1_500,
        "memops_time_ns": 450,
        "bytes_htod": 4_001_000,
        "bytes_dtoh": 2_000,
        "bytes_dtod": 300,
        "bytes_other": 84,
        "span_ns": 20_000,
        "gpu_busy_share": 0.25,
        "nsys_version": "2025.1.3",
        "gpus": ["NVIDIA A100"],
        "format": "sqlite",
    }


def test_run_overview_is_none_where_the_source_lacks_a_report(make_run):
    """Text output without the size summary or kernels: None, not 0; an empty report is 0."""
    run = make_run("b.txt", api=[], fmt=ReportFormat.STATS_TEXT)
    assert run_overview(run) == {
        "kernel_time_ns": None,
        "api_time_ns": 0,
        "memops_time_ns": None,
        "bytes_htod": None,
        "bytes_dtoh": None,
        "bytes_dtod": None,
        "bytes_other": None,
        "span_ns": None,
        "gpu_busy_share": None,
        "nsys_version": None,
        "gpus": [],
        "format": "stats-text",
    }


def test_overview_table_has_one_row_per_run(make_run):
    """One row per run label; nullable integers, NaN share, GPU names joined."""
    runs = {
        "base": make_run(
            "a.sqlite",
            api=[("cudaLaunchKernel", 1_000, 10)],
            kernels=[("k1", 7_000, 3)],
            mem_size=[("[CUDA memcpy HtoD]", 16, 1)],
            info=RunInfo(
                nsys_version="2022.4.2", gpus=["GPU A", "GPU B"], span_ns=100, gpu_busy_ns=40
            ),
        ),
        "text": make_run("b.txt", kernels=[("k1", 6_500, 3)], fmt=ReportFormat.STATS_TEXT),
    }
    expected = pd.DataFrame(
        {
            "run": ["base", "text"],
            "kernel_time_ns": pd.array([7_000, 6_500], dtype="Int64"),
            "api_time_ns": pd.array([1_000, None], dtype="Int64"),
            "memops_time_ns": pd.array([None, None], dtype="Int64"),
            "bytes_htod": pd.array([16, None], dtype="Int64"),
            "bytes_dtoh": pd.array([0, None], dtype="Int64"),
            "bytes_dtod": pd.array([0, None], dtype="Int64"),
            "bytes_other": pd.array([0, None], dtype="Int64"),
            "span_ns": pd.array([100, None], dtype="Int64"),
            "gpu_busy_share": [0.4, float("nan")],
            "nsys_version": ["2022.4.2", None],
            "gpus": ["GPU A, GPU B", None],
            "format": ["sqlite", "stats-text"],
        }
    )
    actual = overview_table(runs)
    assert list(actual.columns) == OVERVIEW_COLUMNS
    pd.testing.assert_frame_equal(actual, expected)
