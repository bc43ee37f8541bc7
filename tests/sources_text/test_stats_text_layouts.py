"""The text reader on every nsys layout era, from the self-made fixtures in data/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llamaprof import reports
from llamaprof.sources.stats_text import read_stats_text


def test_2020_1_nanoseconds_layout(data_dir: Path) -> None:
    """2019.5–2020.3: `(nanoseconds)` titles, `Calls`/`Operations`, no Med/StdDev, KiB sizes."""
    run = read_stats_text(data_dir / "nsys2020.1_nanoseconds.txt")
    assert list(run.summaries) == list(reports.REPORT_NAMES)
    api = run.summaries[reports.API]
    assert api["name"].tolist() == ["cudaMalloc", "cudaMemcpy", "cudaLaunchKernel", "cudaFree"]
    assert api.drop(columns=["med_ns", "stddev_ns"]).iloc[3].to_dict() == {
        "time_pct": 0.4, "total_ns": 1_467_989, "count": 4, "avg_ns": 366_997.3,
        "min_ns": 273_054, "max_ns": 494_935, "name": "cudaFree",
    }  # fmt: skip
    assert api["med_ns"].isna().all() and api["stddev_ns"].isna().all()
    kernels = run.summaries[reports.KERNELS]
    # 2020 cut long names at the column width (80) without an ellipsis.
    assert kernels.iloc[0]["name"] == (
        "void conv_forward_kernel<float, 16, 16>(float*, float const*, float const*, int,"
    )
    assert kernels["count"].tolist() == [50, 50]
    mem = run.summaries[reports.MEM_TIME]
    assert mem["operation"].tolist() == ["[CUDA memcpy HtoD]", "[CUDA memcpy DtoH]"]
    assert mem["total_ns"].tolist() == [1_846_215, 512_998]
    size = run.summaries[reports.MEM_SIZE]
    # KiB = 1024 bytes; rows in nsys's text order ("512.000" before "1536.000").
    assert size["total_bytes"].tolist() == [524_288.0, 1_572_864.0]
    assert size["avg_bytes"].tolist() == [524_288.0, 524_288.0]
    assert size["op"].tolist() == ["DtoH", "HtoD"]
    assert "poll" not in set(api["name"])  # the OS-runtime table after is passed over
    assert "2019.5 to 2020.3" in run.info.notes[-1]


def test_2020_5_catalan_locale(data_dir: Path) -> None:
    """2020.5.1 under a Catalan locale: `.` thousands, `,` decimals, fractions truncated."""
    run = read_stats_text(data_dir / "nsys2020.5_catalan_locale.txt")
    api = run.summaries[reports.API]
    assert api.drop(columns=["med_ns", "stddev_ns"]).iloc[0].to_dict() == {
        "time_pct": 59.0, "total_ns": 1_236_904_212, "count": 877, "avg_ns": 1_410_381.0,
        "min_ns": 1_021, "max_ns": 96_113_862, "name": "cuStreamSynchronize",
    }  # fmt: skip
    assert api["time_pct"].tolist() == [59.0, 39.0, 0.0, 0.0]
    kernels = run.summaries[reports.KERNELS]
    assert kernels["avg_ns"].tolist() == [967_107.0, 24_395.0]
    assert kernels["max_ns"].tolist() == [1_004_315, 25_120]
    mem = run.summaries[reports.MEM_TIME]
    assert mem["avg_ns"].tolist() == [927_847.0, 1_095_494.0]
    size = run.summaries[reports.MEM_SIZE]
    assert size["total_bytes"].tolist() == [413_100 * 1024.0, 1_652_408 * 1024.0]
    assert size["min_bytes"].tolist() == [8_294_400.0, 0.0]
    assert size["count"].tolist() == [51, 255]
    assert any("truncates fractions" in note for note in run.info.notes)
    assert len(api) == 4  # the OS-runtime table is passed over


def test_2021_running_lines_and_stddev(data_dir: Path) -> None:
    """2021.3 `nsys stats`: `Running [...]` titles, StdDev without Med, `Count`, MB sizes."""
    run = read_stats_text(data_dir / "nsys2021.3_running_stddev.txt")
    assert run.info.nsys_version == "2021.3.1"
    api = run.summaries[reports.API]
    assert api.iloc[1][["total_ns", "count", "avg_ns", "min_ns", "max_ns", "stddev_ns"]].tolist() == [
        120_004_117, 3, 40_001_372.3, 3_511, 119_987_001, 69_265_120.9,
    ]  # fmt: skip
    assert api["time_pct"].tolist() == [77.0, 22.4, 0.5, 0.1]
    kernels = run.summaries[reports.KERNELS]
    assert kernels.iloc[0]["name"].endswith("const StencilPara…")
    assert len(kernels.iloc[0]["name"]) == 100
    mem = run.summaries[reports.MEM_TIME]
    assert mem["op"].tolist() == ["HtoD", "DtoH", "memset"]
    assert mem["stddev_ns"].tolist() == [4_410.9, 2_011.4, 113.8]
    size = run.summaries[reports.MEM_SIZE]
    assert size["total_bytes"].tolist() == [432_013_000.0, 432_013_000.0, 8_389_000.0]
    assert run.skipped == {}  # osrtsum/nvtxppsum/openmpevtsum skips are not ours


def test_timeunit_ms_becomes_ns(data_dir: Path) -> None:
    """`--timeunit ms`: every time column is converted to ns exactly, as float64."""
    run = read_stats_text(data_dir / "nsys2022.4_timeunit_ms.txt")
    api = run.summaries[reports.API]
    assert str(api["total_ns"].dtype) == "float64" and str(api["count"].dtype) == "int64"
    assert api.iloc[0][["total_ns", "avg_ns", "med_ns", "min_ns", "max_ns", "stddev_ns"]].tolist() == [
        4_120_100.0, 2_060_100.0, 2_060_100.0, 931_500.0, 3_188_600.0, 1_596_100.0,
    ]  # fmt: skip
    assert api.iloc[2][["count", "avg_ns", "min_ns"]].tolist() == [640, 900.0, 500.0]
    assert api["time_pct"].tolist() == [61.2, 30.0, 8.8]
    kernels = run.summaries[reports.KERNELS]
    assert kernels["grid"].tolist() == ["  64   64    1", "  32   32    1"]
    assert kernels["block"].tolist() == ["  16   16    1", "  32   32    1"]
    assert kernels["total_ns"].tolist() == [1_310_200.0, 511_700.0]
    size = run.summaries[reports.MEM_SIZE]
    assert size["total_bytes"].tolist() == [8_389_000.0, 4_194_000.0]


def test_transcript_with_prompts_notice_and_skip(data_dir: Path) -> None:
    """A transcript of two `nsys stats` runs: prompts and NOTICE ignored, SKIPPED recorded."""
    run = read_stats_text(data_dir / "transcript_nsys2023.4_prompts.txt")
    assert run.info.nsys_version == "2023.4.4"
    assert set(run.summaries) == {reports.API, reports.KERNELS, reports.MEM_SIZE}
    assert run.skipped == {reports.MEM_TIME: "does not contain GPU memory data."}
    api = run.summaries[reports.API]
    assert api["count"].tolist() == [6_571, 527_980]
    assert api["total_ns"].tolist() == [9_161_820_455, 1_246_114_081]
    size = run.summaries[reports.MEM_SIZE]
    assert size.iloc[0][["total_bytes", "count", "max_bytes", "stddev_bytes"]].tolist() == [
        8_622_180_000.0, 2_702, 524_288_000.0, 21_540_000.0,
    ]  # fmt: skip
    assert size["op"].tolist() == ["HtoD", "DtoH", "memset"]
    kernels = run.summaries[reports.KERNELS]
    assert kernels["avg_ns"].tolist() == [66_800.9, 26_708.0]


def test_every_fixture_has_the_report_columns(data_dir: Path) -> None:
    """Every summary read from a fixture has exactly the columns of reports.COLUMNS."""
    for path in sorted(data_dir.glob("*.txt")):
        run = read_stats_text(path)
        for report, frame in run.summaries.items():
            assert list(frame.columns) == reports.COLUMNS[report], (path.name, report)
            assert not frame.empty
            assert pd.api.types.is_integer_dtype(frame["count"])
