"""Edge cases of the text reader and the sniffer: cuts, errors, binary, pasted tables, units."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError, UnknownReportFormat
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report, sniff
from llamaprof.sources.stats_tables import EUROPEAN, US, detect_number_style, parse_number
from llamaprof.sources.stats_text import parse_stats_text, sniff_text_format

from shared_data import shared_files

API_TABLE = """\
 Time (%)  Total Time (ns)  Num Calls   Avg (ns)    Med (ns)   Min (ns)   Max (ns)   StdDev (ns)          Name
 --------  ---------------  ---------  ----------  ---------  --------  ----------  -----------  ---------------------
     81.2   18,784,449,306     13,185  1,424,683.3   6,991.0       306  26,541,226  4,702,507.3  cudaStreamSynchronize
     10.0    2,306,825,472      6,810    338,740.9   2,772.5     1,153  413,139,275  5,360,508.9  cudaMemcpyAsync
      7.7    1,781,747,074  1,055,137      1,688.6   1,547.0     1,399  21,880,618     23,246.7  cudaLaunchKernel
"""


def test_bare_table_pasted_alone_is_read_by_its_columns() -> None:
    """A table with no title (text pasted into the app) is taken for the report its columns say."""
    run = parse_stats_text(API_TABLE, Path("pasted"))
    api = run.summaries[reports.API]
    assert api["name"].tolist() == ["cudaStreamSynchronize", "cudaMemcpyAsync", "cudaLaunchKernel"]
    assert api["count"].tolist() == [13_185, 6_810, 1_055_137]
    assert api["max_ns"].tolist() == [26_541_226, 413_139_275, 21_880_618]
    assert run.format is ReportFormat.STATS_TEXT and run.path == Path("pasted")


def test_misaligned_rows_are_split_at_whitespace() -> None:
    """Rows that do not fit the dash columns (hand-edited, re-indented) fall back to words."""
    text = """\
CUDA Kernel Statistics (nanoseconds)

Time(%)  Total Time   Instances  Average  Minimum    Maximum  Name
-------  ----------  ----------  -------  -------  ---------  --------------------
  100.0    83786531    6     13964421.8   7552     66107333  conv_forward_kernel<float> (int, int)
"""
    kernels = parse_stats_text(text, Path("x")).summaries[reports.KERNELS]
    assert kernels.iloc[0][["total_ns", "count", "avg_ns", "min_ns", "max_ns"]].tolist() == [
        83_786_531, 6, 13_964_421.8, 7_552, 66_107_333,
    ]  # fmt: skip
    assert kernels.iloc[0]["name"] == "conv_forward_kernel<float> (int, int)"


def test_table_cut_off_mid_row_keeps_rows_above_and_notes_it() -> None:
    """A text cut in the middle of a row: the complete rows are read and the cut is noted."""
    cut = API_TABLE.splitlines()
    cut[-1] = cut[-1][:40]
    run = parse_stats_text(" ** CUDA API Summary (cuda_api_sum):\n\n" + "\n".join(cut), Path("x"))
    assert run.summaries[reports.API]["name"].tolist() == [
        "cudaStreamSynchronize",
        "cudaMemcpyAsync",
    ]
    assert run.info.warnings == [
        "cuda_api_sum: the table is cut off at line 7; the 2 rows above it were read."
    ]


def test_row_with_wrong_number_of_fields_ends_the_table() -> None:
    """A row missing a field stops the table there, with a note; later tables are still read."""
    lines = API_TABLE.splitlines()
    lines[3] = "     10.0    2,306,825,472      6,810    338,740.9"
    text = "\n".join(lines) + "\n"
    run = parse_stats_text(text, Path("x"))
    assert len(run.summaries[reports.API]) == 1
    assert run.info.warnings == [
        "cuda_api_sum: the table is cut off at line 4; the row above it was read."
    ]


def test_header_without_dash_line_only_is_an_error() -> None:
    """A header cut before its dash line, and nothing else, is refused with a one-line reason."""
    text = "prose before\n" + API_TABLE.splitlines()[0] + "\n"
    with pytest.raises(
        ReportParseError, match=r"no nsys stats tables found \(the table header at line 2"
    ):
        parse_stats_text(text, Path("x"))


def test_no_table_and_no_skip_is_an_error() -> None:
    """Prose with no nsys table raises ReportParseError('no nsys stats tables found')."""
    with pytest.raises(ReportParseError, match=r"^x\.txt: no nsys stats tables found$"):
        parse_stats_text("Profiling llama-server.\nIt was fast.\n", Path("x.txt"))


def test_only_other_reports_is_an_error() -> None:
    """A text holding only the OS-runtime summary has no CUDA summary to read."""
    text = " ** OS Runtime Summary (osrt_sum):\n\n" + API_TABLE
    with pytest.raises(ReportParseError, match="only reports other than the four"):
        parse_stats_text(text, Path("x"))


def test_skipped_without_a_title_is_placed_by_its_reason() -> None:
    """SKIPPED lines with no title before them go to the report their reason names."""
    text = (
        "SKIPPED: /tmp/r.sqlite does not contain CUDA kernel data.\n"
        "SKIPPED: /tmp/r.sqlite does not contain GPU memory data.\n"
        "SKIPPED: /tmp/r.sqlite does not contain GPU memory data.\n"
    )
    run = parse_stats_text(text, Path("x"))
    assert run.skipped == {
        reports.KERNELS: "does not contain CUDA kernel data.",
        reports.MEM_TIME: "does not contain GPU memory data.",
        reports.MEM_SIZE: "does not contain GPU memory data.",
    }


def test_old_report_name_titles_and_base_naming() -> None:
    """A `(cuda_gpu_kern_sum:base)` title fills base_name instead of demangled_name."""
    text = """\
 ** CUDA GPU Kernel Summary (cuda_gpu_kern_sum:base):

 Time (%)  Total Time (ns)  Instances  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)     Name
 --------  ---------------  ---------  --------  --------  --------  --------  -----------  -----------
    100.0            9,000          3   3,000.0   3,000.0     2,000     4,000      1,000.0  mul_mat_vec
"""
    kernels = parse_stats_text(text, Path("x")).summaries[reports.KERNELS]
    assert kernels.iloc[0]["base_name"] == "mul_mat_vec"
    assert kernels["demangled_name"].isna().all()


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("us", (1_500.0, 0.1, 1_099.9, 519.6)),
        ("ms", (1_500_000.0, 100.0, 1_099_900.0, 519_600.0)),
        ("s", (1_500_000_000.0, 100_000.0, 1_099_900_000.0, 519_600_000.0)),
    ],
)
def test_timeunits_convert_to_ns(unit: str, expected: tuple[float, ...]) -> None:
    """`--timeunit us|ms|s` headers convert every time column to ns (4-decimal values)."""
    text = f"""\
 ** CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum):

 Time (%)  Total Time ({unit})  Count  Avg ({unit})  Med ({unit})  Min ({unit})  Max ({unit})  StdDev ({unit})      Operation
 --------  ---------------  -----  --------  --------  --------  --------  -----------  ------------------
    100.0           1.5000      3    0.5000    0.4000    0.0001    1.0999       0.5196  [CUDA memcpy HtoD]
"""
    row = parse_stats_text(text, Path("x")).summaries[reports.MEM_TIME].iloc[0]
    assert (row["total_ns"], row["min_ns"], row["max_ns"], row["stddev_ns"]) == expected
    assert row["time_pct"] == 100.0 and row["count"] == 3


def test_number_styles() -> None:
    """Thousands separators `,` `.` or none, and European decimals, are read per table."""
    assert detect_number_style(["18,784,449,306", "81.2"]) == US
    assert detect_number_style(["12.373.190", "93,0", "12.373.190,0"]) == EUROPEAN
    assert detect_number_style(["19,000", "5", "3,000"], fractional=["19,000", "3,000"]) == EUROPEAN
    assert detect_number_style(["768980697", "39.0"]) == US
    assert parse_number("12.373.190,0", EUROPEAN) == parse_number("12373190.0", US)
    assert parse_number("1.2.3", US) is None
    assert parse_number("abc", US) is None


def test_markdown_fences_and_utf16(tmp_path: Path) -> None:
    """A table in a ``` fence, saved as UTF-16 with BOM (PowerShell `>`), is read."""
    text = "Result:\n```\n ** CUDA API Summary (cuda_api_sum):\n\n" + API_TABLE + "```\n"
    path = tmp_path / "out.txt"
    path.write_bytes(text.encode("utf-16"))
    assert sniff(path) is ReportFormat.STATS_TEXT
    run = load_report(path)
    assert run.summaries[reports.API]["total_ns"].iloc[1] == 2_306_825_472


def test_sniff_text_csv_binary_and_prose() -> None:
    """The sniffer tells text tables, CSV, skip-only output, binary data and prose apart."""
    assert sniff_text_format(API_TABLE.encode()) is ReportFormat.STATS_TEXT
    csv_head = (
        b"Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name\n"
    )
    assert sniff_text_format(csv_head + b"100.0,5,1,5.0,5.0,5,5,0.0,k\n") is ReportFormat.STATS_CSV
    skip_only = b"[4/7] Executing 'cuda_api_sum' stats report\nSKIPPED: r.sqlite does not contain CUDA trace data.\n"
    assert sniff_text_format(skip_only) is ReportFormat.STATS_TEXT
    assert sniff_text_format(b"\x00\x01\x02 Time (%)  Total Time (ns)") is None
    assert sniff_text_format(bytes(range(128, 256)) * 4) is None
    assert sniff_text_format(b"Nsight Systems is a profiler. Its statistics help.\n") is None
    assert sniff_text_format(b"a,b,c\n1,2,3\n") is None
    assert sniff_text_format(b"Summary Statistics:\nSKIPPED: 3 slow tests\n") is None


def test_binary_file_named_txt_is_unknown_format(tmp_path: Path) -> None:
    """A binary file named .txt is refused by the sniffer, not read as text."""
    path = tmp_path / "report.txt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnknownReportFormat):
        load_report(path)


@pytest.mark.parametrize("path", shared_files("stats-*/*"), ids=lambda p: p.name)
def test_every_real_text_and_csv_is_sniffed(path: Path) -> None:
    """Every real nsys text/CSV output in ../shared is recognised from its bytes."""
    expected = {".txt": ReportFormat.STATS_TEXT, ".csv": ReportFormat.STATS_CSV}[path.suffix]
    if path.name.startswith("Zyyeric"):  # a ".csv" holding only nsys's skip lines
        expected = ReportFormat.STATS_TEXT
    assert sniff(path) is expected


def test_output_kept_as_shell_comments() -> None:
    """Output pasted as `# ` comments of a shell script (as in Pandananana's scripts) is read."""
    text = (
        "nsys stats --timeunit ms q1_4.nsys-rep\n\n"
        "# Processing [q1_4.sqlite] with [/appl/cuda/11.8.0/nsight-systems-2022.4.2/host-linux-x64/reports/cudaapisum.py]... \n"
        "\n#  ** CUDA API Summary (cudaapisum):\n\n"
        "#  Time (%)  Total Time (ms)  Num Calls  Avg (ms)  Med (ms)  Min (ms)  Max (ms)  StdDev (ms)           Name         \n"
        "#  --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----------------------\n"
        "#      55.8           3.5261          1    3.5261    3.5261    3.5261    3.5261       0.0000  cuMemcpyHtoD_v2       \n"
    )
    run = parse_stats_text(text, Path("q1_4.sh"))
    assert run.info.nsys_version == "2022.4.2"
    assert run.summaries[reports.API].iloc[0][["total_ns", "name"]].tolist() == [
        3_526_100.0,
        "cuMemcpyHtoD_v2",
    ]


def test_absurd_numbers_end_the_table() -> None:
    """A count too big for any real profile (damaged text) is not a row: the table stops there."""
    lines = API_TABLE.splitlines()
    lines[3] = lines[3].replace("    6,810", "9" * 30)
    run = parse_stats_text("\n".join(lines), Path("x"))
    assert len(run.summaries[reports.API]) == 1


def test_grid_block_variant_stands_in_for_a_missing_kernel_summary() -> None:
    """A 2024+ cuda_gpu_kern_gb_sum table is the kernel summary only when the plain one is absent."""
    gb = """\
Processing [r.sqlite] with [/opt/nvidia/nsight-systems/2024.6.2/host-linux-x64/reports/cuda_gpu_kern_gb_sum.py]...

 Time (%)  Total Time (ns)  Instances  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)    GridXYZ         BlockXYZ      Name
 --------  ---------------  ---------  --------  --------  --------  --------  -----------  --------------  --------------  ----
    100.0            9,000          3   3,000.0   3,000.0     2,000     4,000      1,000.0   896    1    1   128    1    1  k
"""
    run = parse_stats_text(gb, Path("x"))
    kernels = run.summaries[reports.KERNELS]
    assert kernels[["grid", "block", "total_ns"]].values.tolist() == [
        [" 896    1    1", " 128    1    1", 9_000]
    ]
    assert any("cuda_gpu_kern_gb_sum" in note for note in run.info.notes)
    plain = gb.replace("cuda_gpu_kern_gb_sum.py", "cuda_gpu_kern_sum.py").replace("9,000", "7,000")
    both = parse_stats_text(plain + "\n" + gb, Path("x")).summaries[reports.KERNELS]
    assert both["total_ns"].tolist() == [7_000]
