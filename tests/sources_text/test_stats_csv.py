"""The CSV reader: real `nsys stats --format csv` files and the stdout shapes around them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.stats_csv import parse_stats_csv, read_stats_csv
from llamaprof.sources.stats_text import parse_stats_text

from shared_data import shared_file

COPY_KERNEL = (
    "void at::native::unrolled_elementwise_kernel<at::native::direct_copy_kernel_cuda"
    "(at::TensorIteratorBase &)::[lambda() (instance 3)]::operator ()() const::[lambda() "
    "(instance 7)]::operator ()() const::[lambda(float) (instance 1)], std::array<char *, "
    "(unsigned long)2>, (int)4, TrivialOffsetCalculator<(int)1, unsigned int>, "
    "TrivialOffsetCalculator<(int)1, unsigned int>, at::native::memory::LoadWithCast<(int)1>, "
    "at::native::memory::StoreWithCast<(int)1>>(int, T1, T2, T4, T5, T6, T7)"
)
API_HEADER = (
    "Time (%),Total Time (ns),Num Calls,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name"
)


def test_codegandee_all_stage_kernel_csv() -> None:
    """113 kernel rows, long quoted C++ names kept whole (commas inside), raw numbers exact."""
    run = read_stats_csv(
        shared_file("stats-csv/CodeGandee__llm-perf-opt__all-stage__summary_cuda_gpu_kern_sum.csv")
    )
    assert run.format is ReportFormat.STATS_CSV
    assert list(run.summaries) == [reports.KERNELS] and run.skipped == {}
    kernels = run.summaries[reports.KERNELS]
    assert len(kernels) == 113
    first = kernels.iloc[0]
    assert first[["time_pct", "total_ns", "count", "avg_ns", "med_ns", "min_ns", "max_ns", "stddev_ns"]].tolist() == [
        24.9, 1_231_822_285, 329_035, 3_743.7, 3_712.0, 2_079, 5_856, 416.2,
    ]  # fmt: skip
    assert first["name"].startswith("std::enable_if<!T7, void>::type internal::gemvx::kernel<")
    assert kernels.iloc[3]["name"] == COPY_KERNEL and len(COPY_KERNEL) == 483
    assert kernels.iloc[3]["demangled_name"] == COPY_KERNEL
    assert kernels.iloc[2]["name"] == (
        "void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8>"
        "(T1::Params)"
    )
    last = kernels.iloc[-1]
    assert last[["time_pct", "total_ns", "count", "avg_ns", "stddev_ns"]].tolist() == [
        0.0, 7_232, 2, 3_616.0, 1_493.4,
    ]  # fmt: skip
    assert kernels["grid"].isna().all() and kernels["base_name"].isna().all()
    assert str(kernels["total_ns"].dtype) == "int64"
    assert not any("cut to 99" in note for note in run.info.notes)


def test_codegandee_decode_stage_kernel_csv() -> None:
    """The decode-stage CSV: 46 rows, first and last rows exact."""
    run = load_report(
        shared_file(
            "stats-csv/CodeGandee__llm-perf-opt__per-stage_decode__summary_cuda_gpu_kern_sum.csv"
        )
    )
    kernels = run.summaries[reports.KERNELS]
    assert len(kernels) == 46
    assert kernels.iloc[0][["total_ns", "count", "avg_ns"]].tolist() == [
        61_602_133,
        16_448,
        3_745.3,
    ]
    assert kernels.iloc[-1].drop(["demangled_name", "base_name", "mangled_name", "grid", "block"]).to_dict() == {
        "time_pct": 0.0, "total_ns": 47_649, "count": 64, "avg_ns": 744.5, "med_ns": 736.0,
        "min_ns": 704, "max_ns": 928, "stddev_ns": 30.8,
        "name": "void at_cuda_detail::cub::DeviceScanInitKernel<at_cuda_detail::cub::ScanTileState<long, (bool)1>>(T1, int)",
    }  # fmt: skip


def test_csv_holding_only_skip_lines() -> None:
    """Zyyeric: a '.csv' with only NOTICE/Processing/SKIPPED lines is a run with API skipped."""
    path = shared_file("stats-csv/Zyyeric__mini-aegaeon__cuda_api_sum.csv")
    for run in (load_report(path), read_stats_csv(path)):
        assert run.summaries == {}
        assert run.skipped == {reports.API: "does not contain CUDA trace data."}
        assert run.info.nsys_version == "2025.1.1"


def test_stdout_with_several_reports() -> None:
    """Several reports captured from stdout: each table follows its Processing line."""
    root = "/opt/nvidia/nsight-systems/2024.4.1/host-linux-x64/reports"
    text = f"""
NOTICE: Existing SQLite export found: r.sqlite
        It is assumed file was previously exported from: r.nsys-rep
        Consider using --force-export=true if needed.

Processing [r.sqlite] with [{root}/osrt_sum.py]...
{API_HEADER}
60.0,600,2,300.0,300.0,200,400,141.4,poll

Processing [r.sqlite] with [{root}/cuda_api_sum.py]...
{API_HEADER}
90.0,900,3,300.0,290.0,10,600,295.1,cudaMemcpy
10.0,100,1,100.0,100.0,100,100,0.0,"weird, ""quoted"" name"

Processing [r.sqlite] with [{root}/cuda_gpu_kern_sum.py]...
SKIPPED: r.sqlite does not contain CUDA kernel data.

Processing [r.sqlite] with [{root}/cuda_gpu_mem_size_sum.py]...
Total (MB),Count,Avg (MB),Med (MB),Min (MB),Max (MB),StdDev (MB),Operation
16.000,1,16.000,16.000,16.000,16.000,0.000,[CUDA memcpy Host-to-Device]
"""
    run = parse_stats_csv(text, Path("stdout.csv"))
    assert run.info.nsys_version == "2024.4.1"
    api = run.summaries[reports.API]
    assert api["name"].tolist() == ["cudaMemcpy", 'weird, "quoted" name']
    assert api["stddev_ns"].tolist() == [295.1, 0.0]
    assert run.skipped == {reports.KERNELS: "does not contain CUDA kernel data."}
    size = run.summaries[reports.MEM_SIZE]
    assert size[["total_bytes", "op"]].values.tolist() == [[16_000_000.0, "HtoD"]]


def test_2022_4_kernel_csv_with_grid_and_block() -> None:
    """The 2022.4 kernel CSV keeps the quoted GridXYZ/BlockXYZ cells with their spaces."""
    text = (
        "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),"
        "GridXYZ,BlockXYZ,Name\n"
        '87.5,202943,1,202943.0,202943.0,202943,202943,0.0," 896    1    1","  32    1    1",'
        "reduce_kernel\n"
        '12.5,28992,2,14496.0,14496.0,14000,14992,701.4,"   4    1    1","  32    1    1",'
        "reduce_kernel\n"
    )
    kernels = parse_stats_csv(text, Path("r_gpukernsum.csv")).summaries[reports.KERNELS]
    assert kernels["grid"].tolist() == [" 896    1    1", "   4    1    1"]
    assert kernels["block"].tolist() == ["  32    1    1", "  32    1    1"]
    assert kernels["count"].tolist() == [1, 2]


def test_locale_formatted_csv() -> None:
    """A CSV with locale numbers ("482,333" for 482.333 MB) is read with ',' decimals."""
    text = (
        "Total (MB),Count,Avg (MB),Med (MB),Min (MB),Max (MB),StdDev (MB),Operation\n"
        '"482,333",3,"160,778","160,000","0,333","322,000","160,834",[CUDA memcpy HtoD]\n'
    )
    size = parse_stats_csv(text, Path("x.csv")).summaries[reports.MEM_SIZE]
    assert size.iloc[0][["total_bytes", "count", "avg_bytes", "min_bytes"]].tolist() == [
        482_333_000.0, 3, 160_778_000.0, 333_000.0,
    ]  # fmt: skip


def test_semicolon_csv_and_file_name_decides_report() -> None:
    """A ';' CSV is read; a file named *_osrt_sum.csv is not taken for the API summary."""
    text = API_HEADER.replace(",", ";") + "\n100.0;5;1;5.0;5.0;5;5;0.0;cudaFree\n"
    run = parse_stats_csv(text, Path("r_cuda_api_sum.csv"))
    assert run.summaries[reports.API]["name"].tolist() == ["cudaFree"]
    with pytest.raises(ReportParseError, match="only reports other than the four"):
        parse_stats_csv(text, Path("r_osrt_sum.csv"))


def test_old_style_csv_columns() -> None:
    """2020–2021 column names (`Time(%)`, `Average`, `Operations`) map to the same frame."""
    text = (
        "Time(%),Total Time (ns),Operations,Average,Minimum,Maximum,Operation\n"
        "58.0,4576,5,915.2,832,1120,[CUDA memcpy HtoD]\n"
    )
    mem = parse_stats_csv(text, Path("x.csv")).summaries[reports.MEM_TIME]
    assert mem.iloc[0][["total_ns", "count", "avg_ns", "op"]].tolist() == [4_576, 5, 915.2, "HtoD"]
    assert mem["med_ns"].isna().all()


def test_csv_errors_and_cuts() -> None:
    """No table and no SKIPPED is an error; a short row cuts the table with a note."""
    with pytest.raises(ReportParseError, match="no nsys stats tables found"):
        parse_stats_csv("a,b,c\n1,2,3\n", Path("x.csv"))
    text = API_HEADER + "\n90.0,900,3,300.0,290.0,10,600,295.1,cudaMemcpy\n10.0,100,1,100.0\n"
    run = parse_stats_csv(text, Path("x.csv"))
    assert len(run.summaries[reports.API]) == 1
    assert run.info.warnings == [
        "cuda_api_sum: the table is cut off at its row 2; the row above it was read."
    ]


def test_csv_pasted_into_the_text_box_is_read_as_csv() -> None:
    """parse_stats_text hands CSV text to the CSV reader."""
    run = parse_stats_text(API_HEADER + "\n100.0,5,1,5.0,5.0,5,5,0.0,cudaFree\n", Path("paste"))
    assert run.format is ReportFormat.STATS_CSV
    assert run.summaries[reports.API]["total_ns"].tolist() == [5]
