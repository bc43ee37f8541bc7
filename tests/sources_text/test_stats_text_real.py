"""The text reader on real `nsys stats` outputs (../shared/data/nsys/stats-text and the seed)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from llamaprof import reports
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report, sniff
from llamaprof.sources.stats_text import parse_stats_text, read_stats_text

from shared_data import SEED_TEXT, shared_file

MUL_MAT_VEC = (
    "void mul_mat_vec<__half, __half, (int)1, (int)256>"
    "(const T1 *, const float *, const int *, float *,…"
)


def _row(frame: pd.DataFrame, column: str, value: str) -> dict:
    rows = frame[frame[column] == value]
    assert len(rows) == 1, f"{value!r}: {len(rows)} rows"
    return rows.iloc[0].to_dict()


def test_seed_api_rows_exact() -> None:
    """The seed's 2025.1.3 API table reads back every printed value of its rows exactly."""
    run = read_stats_text(shared_file("stats-text/" + SEED_TEXT.name))
    api = run.summaries[reports.API]
    assert len(api) == 34
    assert _row(api, "name", "cudaStreamSynchronize") == {
        "time_pct": 81.2, "total_ns": 18_784_449_306, "count": 13_185, "avg_ns": 1_424_683.3,
        "med_ns": 6_991.0, "min_ns": 306, "max_ns": 26_541_226, "stddev_ns": 4_702_507.3,
        "name": "cudaStreamSynchronize",
    }  # fmt: skip
    assert _row(api, "name", "cudaLaunchKernel")["count"] == 1_055_137
    assert _row(api, "name", "cudaGetDeviceProperties_v2_v12000")["avg_ns"] == 987_411.0
    assert api.iloc[-1].to_dict() == {
        "time_pct": 0.0, "total_ns": 353, "count": 2, "avg_ns": 176.5, "med_ns": 176.5,
        "min_ns": 145, "max_ns": 208, "stddev_ns": 44.5, "name": "cuMemRelease",
    }  # fmt: skip
    assert str(api["total_ns"].dtype) == "int64" and str(api["min_ns"].dtype) == "int64"
    assert api["total_ns"].sum() == 23_130_585_426


def test_seed_kernel_and_memops_rows_exact() -> None:
    """The seed's kernel table keeps the printed (cut) names; its three memops rows are exact."""
    run = read_stats_text(shared_file("stats-text/" + SEED_TEXT.name))
    kernels = run.summaries[reports.KERNELS]
    assert len(kernels) == 21
    row = kernels.iloc[0].to_dict()
    assert row["name"] == MUL_MAT_VEC and len(row["name"]) == 100
    assert row["demangled_name"] == MUL_MAT_VEC
    assert pd.isna(row["base_name"]) and pd.isna(row["mangled_name"]) and pd.isna(row["grid"])
    assert (row["time_pct"], row["total_ns"], row["count"], row["avg_ns"], row["med_ns"]) == (
        86.2, 16_650_623_556, 253_109, 65_784.4, 20_736.0,
    )  # fmt: skip
    assert (row["min_ns"], row["max_ns"], row["stddev_ns"]) == (10_976, 5_023_823, 194_450.8)
    assert kernels.iloc[10]["name"] == "scale_f32(const float *, float *, float, int)"
    mem = run.summaries[reports.MEM_TIME]
    assert mem.to_dict("list") == {
        "time_pct": [87.6, 11.7, 0.7],
        "total_ns": [2_527_438_955, 338_976_207, 18_757_906],
        "count": [5_749, 1_061, 6],
        "avg_ns": [439_631.1, 319_487.5, 3_126_317.7],
        "med_ns": [1_600.0, 319_103.0, 2_499_002.0],
        "min_ns": [319, 318_719, 320_127],
        "max_ns": [413_623_340, 332_639, 7_067_246],
        "stddev_ns": [5_864_457.8, 1_401.7, 3_163_909.3],
        "operation": [
            "[CUDA memcpy Host-to-Device]", "[CUDA memcpy Device-to-Host]", "[CUDA memset]",
        ],
        "op": ["HtoD", "DtoH", "memset"],
    }  # fmt: skip
    assert reports.MEM_SIZE not in run.summaries and run.skipped == {}


def test_seed_run_info_and_format() -> None:
    """The seed names nsys 2025.1.3 in its Processing paths and notes the cut kernel names."""
    path = shared_file("stats-text/" + SEED_TEXT.name)
    assert sniff(path) is ReportFormat.STATS_TEXT
    run = load_report(path)
    assert run.format is ReportFormat.STATS_TEXT
    assert run.info.nsys_version == "2025.1.3"
    assert any("cut to 99 characters" in note for note in run.info.notes)
    assert list(run.summaries) == [reports.API, reports.KERNELS, reports.MEM_TIME]


def test_seed_markdown_code_block_reads_like_the_text() -> None:
    """The walkthrough's markdown (prose, fences, pipe tables) gives the same three tables."""
    seed_md = shared_file("../../seed/nsys-llamacpp-profiling-walkthrough.md")
    from_md = parse_stats_text(seed_md.read_text(encoding="utf-8"), Path("pasted"))
    from_txt = read_stats_text(shared_file("stats-text/" + SEED_TEXT.name))
    assert from_md.summaries.keys() == from_txt.summaries.keys()
    for report, frame in from_txt.summaries.items():
        pd.testing.assert_frame_equal(from_md.summaries[report], frame)
    assert from_md.path == Path("pasted")


def test_pandananana_2022_4_golden_text() -> None:
    """q1_2 (nsys 2022.4.2): no separators, GridXYZ/BlockXYZ kept as printed, MB sizes."""
    run = read_stats_text(shared_file("stats-text/Pandananana__python-hpc__q1_2.sh.stats.txt"))
    assert run.info.nsys_version == "2022.4.2"
    api = run.summaries[reports.API]
    # The untitled OS-runtime table at the top is not taken for the API summary.
    assert len(api) == 14 and "sem_wait" not in set(api["name"])
    assert api.iloc[0].to_dict() == {
        "time_pct": 47.9, "total_ns": 17_388_530, "count": 5, "avg_ns": 3_477_706.0,
        "med_ns": 3_468_599.0, "min_ns": 3_447_647, "max_ns": 3_550_565, "stddev_ns": 42_045.9,
        "name": "cuMemcpyHtoD_v2",
    }  # fmt: skip
    assert api.iloc[-1]["name"] == "cuModuleGetLoadingMode"
    kernels = run.summaries[reports.KERNELS]
    assert kernels["grid"].tolist() == [
        "125000    1    1", "3907    1    1", "   4    1    1", " 123    1    1", "   1    1    1",
    ]  # fmt: skip
    assert kernels["block"].tolist() == ["  32    1    1"] * 5
    assert kernels["total_ns"].tolist() == [202_943, 12_576, 5_472, 5_472, 5_344]
    assert kernels["name"].nunique() == 1 and kernels["name"].iloc[0].endswith("1PQB…")
    size = run.summaries[reports.MEM_SIZE]
    assert size.to_dict("list") == {
        "total_bytes": [81_016_000.0, 80_000_000.0], "count": [10, 5],
        "avg_bytes": [8_102_000.0, 16_000_000.0], "med_bytes": [8_250_000.0, 16_000_000.0],
        "min_bytes": [0.0, 16_000_000.0], "max_bytes": [16_000_000.0, 16_000_000.0],
        "stddev_bytes": [8_328_000.0, 0.0],
        "operation": ["[CUDA memcpy DtoH]", "[CUDA memcpy HtoD]"], "op": ["DtoH", "HtoD"],
    }  # fmt: skip
    assert any("without a title at line 1" in note for note in run.info.notes)


def test_pandananana_q1_3_grid_rows_and_memops() -> None:
    """q1_3: eight kernel rows split by grid/block, two distinct printed names, MB sizes."""
    run = read_stats_text(shared_file("stats-text/Pandananana__python-hpc__q1_3.sh.stats.txt"))
    kernels = run.summaries[reports.KERNELS]
    assert len(kernels) == 8 and kernels["name"].nunique() == 2
    third = kernels.iloc[2].to_dict()
    assert (third["count"], third["avg_ns"], third["min_ns"], third["max_ns"]) == (
        2,
        3328.0,
        2976,
        3680,
    )
    assert (third["stddev_ns"], third["grid"], third["block"]) == (
        497.8,
        "   1    1    1",
        "1024    1    1",
    )
    assert third["name"] == (
        "cudapy::numba::cuda::cudadrv::devicearray::_assign_kernel::_3clocals_3e::kernel"
        "[abi:v2,cw51cXTLSUwv…"
    )
    assert run.summaries[reports.MEM_SIZE]["total_bytes"].tolist() == [16_000_000.0, 500_000.0]
    assert run.summaries[reports.API].iloc[1]["stddev_ns"] == 1_241_232.6


def test_profile_stats_true_transcript_with_executing_lines() -> None:
    """YKTian: `nsys profile --stats=true` output, `[5/8] Executing ...` titles, `,` separators."""
    run = read_stats_text(
        shared_file(
            "stats-text/YKTian-x2b__AI4Materials_EvaluationTool__TorchRes__torch_gcn_profile_nsys.txt"
        )
    )
    assert set(run.summaries) == set(reports.REPORT_NAMES)
    assert run.skipped == {}  # the NVTX skip is not one of the four
    api = run.summaries[reports.API]
    assert len(api) == 12 and "poll" not in set(api["name"])  # osrt_sum is passed over
    assert _row(api, "name", "cudaStreamIsCapturing_v10000")["avg_ns"] == 31_401_657.5
    assert api.iloc[0]["max_ns"] == 929_052_953
    kernels = run.summaries[reports.KERNELS]
    assert len(kernels) == 19
    assert kernels["name"].duplicated().sum() == 2  # three distinct kernels cut to one name
    assert kernels.iloc[-1]["total_ns"] == 2_304
    size = run.summaries[reports.MEM_SIZE]
    assert size["total_bytes"].tolist() == [846_000.0, 2_000.0, 0.0]
    assert size["op"].tolist() == ["HtoD", "DtoD", "DtoH"]
    assert run.info.nsys_version is None
    assert "2023.1 or later" in run.info.notes[-1]


def test_transcript_with_every_report_skipped() -> None:
    """RajaATAli: a shell transcript where nsys skipped every report; reasons kept verbatim."""
    run = load_report(
        shared_file(
            "stats-text/RajaATAli__SC23_Programming-Your-GPU-with-OpenMP_Tutorial__term.txt"
        )
    )
    assert run.summaries == {}
    assert run.skipped == {
        reports.API: "does not contain CUDA trace data.",
        reports.KERNELS: "does not contain CUDA kernel data.",
        reports.MEM_TIME: "does not contain GPU memory data.",
        reports.MEM_SIZE: "does not contain GPU memory data.",
    }


def test_avg_times_count_matches_total_within_print_rounding() -> None:
    """Sanity on the seed: avg * count reproduces total to within the 0.05 ns print rounding."""
    api = read_stats_text(shared_file("stats-text/" + SEED_TEXT.name)).summaries[reports.API]
    for total, count, avg in zip(api["total_ns"], api["count"], api["avg_ns"], strict=True):
        assert math.isclose(total / count, avg, abs_tol=0.05 + 1e-9)


def test_every_printed_seed_number_is_recoverable() -> None:
    """Formatting the parsed values as nsys 2025 does gives back every printed number cell."""
    path = shared_file("stats-text/" + SEED_TEXT.name)
    run = read_stats_text(path)
    printed = [
        line.split()[:8]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line[:9].strip().replace(".", "").isdigit()
    ]
    frames = [run.summaries[r] for r in (reports.API, reports.KERNELS, reports.MEM_TIME)]
    values = [row for frame in frames for row in frame.iloc[:, :8].itertuples(index=False)]
    assert len(printed) == len(values) == 34 + 21 + 3
    for cells, row in zip(printed, values, strict=True):
        pct, total, count, avg, med, low, high, std = row
        assert cells == [
            f"{pct:.1f}", f"{total:,}", f"{count:,}", f"{avg:,.1f}", f"{med:,.1f}",
            f"{low:,}", f"{high:,}", f"{std:,.1f}",
        ]  # fmt: skip
