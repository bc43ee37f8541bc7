"""Edge cases of the JSON, HTML and boxed-table readers and of telling the formats apart."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import UnknownReportFormat
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report, sniff
from llamaprof.sources.stats_text import CSV, HTML, JSON, TEXT, parse_stats_text, sniff_kind

DATA = Path(__file__).parent / "data" / "nsys2023.4"

API_JSON = """[
  {
    "Time (%)": 60.0,
    "Total Time (ns)": 600,
    "Num Calls": 2,
    "Avg (ns)": 300.0,
    "Med (ns)": 300.0,
    "Min (ns)": 100,
    "Max (ns)": 500,
    "StdDev (ns)": 1.5e-05,
    "Name": "cudaMalloc"
  },
  {
    "Time (%)": 40.0,
    "Total Time (ns)": 400,
    "Num Calls": 1,
    "Avg (ns)": 400.0,
    "Med (ns)": 400.0,
    "Min (ns)": 400,
    "Max (ns)": 400,
    "StdDev (ns)": NaN,
    "Name": "cudaFree"
  }
]
"""

BOX = """\
+----------+-----------------+-----------+----------+----------+----------+----------+-------------+----------------+
| Time (%) | Total Time (ns) | Instances | Avg (ns) | Med (ns) | Min (ns) | Max (ns) | StdDev (ns) |      Name      |
+----------+-----------------+-----------+----------+----------+----------+----------+-------------+----------------+
|     75.0 |             300 |         2 |    150.0 |    150.0 |      100 |      200 |        70.7 | k<a|b>(int)    |
|     25.0 |             100 |         1 |    100.0 |    100.0 |      100 |      100 |         0.0 | plain          |
+----------+-----------------+-----------+----------+----------+----------+----------+-------------+----------------+
"""


def test_json_numbers_are_read_as_printed() -> None:
    """An exponent is written out in full, NaN is an empty value, integers stay integers."""
    run = parse_stats_text(API_JSON, Path("pasted"))
    api = run.summaries[reports.API]
    assert run.format is ReportFormat.STATS_TEXT and run.skipped == {}
    assert api["name"].tolist() == ["cudaMalloc", "cudaFree"]
    assert api["total_ns"].tolist() == [600, 400] and str(api["total_ns"].dtype) == "int64"
    assert api["stddev_ns"].iloc[0] == 1.5e-05 and math.isnan(api["stddev_ns"].iloc[1])


def test_json_cut_off_keeps_the_rows_before_the_cut() -> None:
    """A JSON array cut in its second row: the first row is read and the cut is warned."""
    cut = API_JSON[: API_JSON.index('"cudaFree"')]
    run = parse_stats_text(cut, Path("x"))
    assert run.summaries[reports.API]["name"].tolist() == ["cudaMalloc"]
    assert run.info.warnings == [
        "cuda_api_sum: the table is cut off at line 13; the row above it was read."
    ]


def test_json_that_is_no_nsys_report_is_refused(tmp_path: Path) -> None:
    """JSON whose rows are not one of the four summaries is not taken for one."""
    path = tmp_path / "data.json"
    path.write_text('[{"name": "x", "value": 1}]\n', encoding="utf-8")
    with pytest.raises(UnknownReportFormat, match="is not an nsys report"):
        sniff(path)


def test_boxed_table_keeps_a_bar_inside_a_name() -> None:
    """Cells are cut at the border's '+' columns, so '|' in a kernel name stays in it."""
    run = parse_stats_text(BOX, Path("pasted"))
    kernels = run.summaries[reports.KERNELS]
    assert kernels["name"].tolist() == ["k<a|b>(int)", "plain"]
    assert kernels["count"].tolist() == [2, 1] and kernels["stddev_ns"].tolist() == [70.7, 0.0]


def test_boxed_rows_out_of_line_are_split_at_their_bars() -> None:
    """A re-indented row (bars not under the border's '+') is split at its bars."""
    lines = BOX.splitlines()
    lines[3] = "|75.0|300|2|150.0|150.0|100|200|70.7|k<a|b>(int)|"
    run = parse_stats_text("\n".join(lines), Path("pasted"))
    assert run.summaries[reports.KERNELS]["name"].tolist() == ["k<a|b>(int)", "plain"]
    assert run.info.warnings == []


def test_boxed_table_without_closing_border_is_cut() -> None:
    """No closing border: the rows read are kept and a warning says the box was cut."""
    text = "\n".join(BOX.splitlines()[:5])
    run = parse_stats_text(text, Path("pasted"))
    assert run.summaries[reports.KERNELS]["name"].tolist() == ["k<a|b>(int)", "plain"]
    assert run.info.warnings == [
        "cuda_gpu_kern_sum: the table is cut off at line 6; the 2 rows above it were read."
    ]


def test_html_cut_off_keeps_the_rows_read() -> None:
    """An htable cut inside its table keeps the complete rows and warns."""
    text = (DATA / "llama3-demo.htable.html").read_text(encoding="utf-8")
    cut = text[: text.index("<td>cudaMalloc</td>")]
    run = parse_stats_text(cut, Path("x"))
    api = run.summaries[reports.API]
    assert api["name"].tolist()[:5] == [
        "cudaDeviceSynchronize", "cudaLaunchKernel", "cuLibraryLoadData",
        "cudaGetDeviceProperties_v2_v12000", "cudaFree",
    ]  # fmt: skip
    assert len(api) == 5
    assert len(run.info.warnings) == 1 and "the table is cut off" in run.info.warnings[0]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("llama3-demo.json", JSON),
        ("llama3-demo.htable.html", HTML),
        ("llama3-demo.table.txt", TEXT),
        ("llama3-demo.column.txt", TEXT),
    ],
)
def test_a_head_is_enough_to_tell_the_format(name: str, kind: str) -> None:
    """The sniffer sees only a file's head: the start of the first table must do."""
    text = (DATA / name).read_text(encoding="utf-8")
    assert sniff_kind(text) == kind
    head = text[: text.index("Num Calls") + 600]  # the first table, cut
    assert sniff_kind(head) == kind


def test_kinds_are_told_apart_by_content_only(tmp_path: Path) -> None:
    """The file's name says nothing: a JSON output saved as .csv is still JSON, and so on."""
    for name, target in [
        ("llama3-demo.json", "out.csv"),
        ("llama3-demo.htable.html", "out.txt"),
        ("llama3-demo.table.txt", "out.json"),
    ]:
        path = tmp_path / target
        path.write_bytes((DATA / name).read_bytes())
        run = load_report(path)
        assert list(run.summaries) == list(reports.REPORT_NAMES), name
        path.unlink()
    assert sniff_kind("Time (%),Total Time (ns),Num Calls,Avg (ns),Name\n1,2,3,4,x\n") == CSV


def test_html_that_is_no_nsys_report_is_refused(tmp_path: Path) -> None:
    """An HTML page with some other table is not an nsys report."""
    path = tmp_path / "page.html"
    path.write_text(
        "<html><body><table><thead><tr><th>City</th><th>Rain (mm)</th></tr></thead>"
        "<tbody><tr><td>Oslo</td><td>3</td></tr></tbody></table></body></html>\n",
        encoding="utf-8",
    )
    with pytest.raises(UnknownReportFormat, match="is not an nsys report"):
        sniff(path)
