"""Real nsys 2023.4.4 outputs (checked in: data/nsys2023.4, see data/README.md) and pasted
tables broken by blank lines.

nsys 2023.4 groups kernels by name as current nsys does, so its tables are compared with the
SQLite read of the same shared export row by row in every column, Avg/Med/StdDev included.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sources_text.nsys_outputs import printed, with_blank_lines

from llamaprof import reports
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report, sniff
from llamaprof.sources.sqlite_export import read_sqlite
from llamaprof.sources.stats_text import parse_stats_text

from shared_data import shared_file

DATA = Path(__file__).parent / "data" / "nsys2023.4"
LLAMA3 = "sqlite/Sh1mwww__llama3-inference__demo.sqlite"
KMEANS = "sqlite/martisu1631998__kmeans-parallel__report2@81dae01.sqlite"
NO_ENUM = "does not contain ENUM_CUDA_MEMCPY_OPER table."


@pytest.mark.parametrize(
    "name", ["llama3-demo.table.txt", "llama3-demo.column.txt", "llama3-demo.json",
             "llama3-demo.htable.html"],
)  # fmt: skip
def test_2023_4_outputs_equal_the_export_row_by_row(name: str) -> None:
    """Every column of every row, in nsys's order, names cut in column/table as printed."""
    path = DATA / name
    assert sniff(path) is ReportFormat.STATS_TEXT
    run = load_report(path)
    reference = read_sqlite(shared_file(LLAMA3))
    assert list(run.summaries) == list(reports.REPORT_NAMES) and run.skipped == {}
    assert run.info.warnings == []
    cut = name.endswith(".txt")
    for report in reports.REPORT_NAMES:
        if report == reports.KERNELS:  # by name in 2023.4: every column, not only the sums
            ours = printed(run, report, cut=False)
            assert ours == printed(reference, report, cut=cut)
            frame = run.summaries[report]
            expected = reference.summaries[report]
            for column in ("time_pct", "avg_ns", "med_ns", "stddev_ns"):
                assert frame[column].tolist() == expected[column].tolist(), column
        else:
            assert printed(run, report) == printed(reference, report, cut=cut), report
    labels = run.summaries[reports.MEM_TIME]["operation"].tolist()
    assert labels == ["[CUDA memcpy Host-to-Device]", "[CUDA memset]"]


def test_2023_4_skips_memory_reports_without_enum_table() -> None:
    """2023.4 skips both memory reports of a pre-2021.2 export; the reason is nsys's own."""
    run = load_report(DATA / "kmeans-no-enum.table.txt")
    assert run.skipped == {reports.MEM_TIME: NO_ENUM, reports.MEM_SIZE: NO_ENUM}
    reference = read_sqlite(shared_file(KMEANS))
    for report in (reports.API, reports.KERNELS):
        assert printed(run, report) == printed(reference, report)
    pd.testing.assert_frame_equal(
        run.summaries[reports.KERNELS][["time_pct", "avg_ns", "med_ns", "stddev_ns"]],
        reference.summaries[reports.KERNELS][["time_pct", "avg_ns", "med_ns", "stddev_ns"]],
    )


@pytest.mark.parametrize("name", ["llama3-demo.table.txt", "llama3-demo.column.txt"])
def test_pasted_tables_with_blank_lines_are_read_whole(name: str) -> None:
    """Blank lines between header and dashes (or border) and between rows cut nothing."""
    text = (DATA / name).read_text(encoding="utf-8")
    broken = with_blank_lines(text, table=name.endswith("table.txt"))
    assert broken.count("\n\n") > text.count("\n\n") + 20  # the test does break the tables
    whole = parse_stats_text(text, Path("pasted"))
    pasted = parse_stats_text(broken, Path("pasted"))
    assert pasted.info.warnings == [] and pasted.info.notes == whole.info.notes
    assert list(pasted.summaries) == list(reports.REPORT_NAMES)
    for report, frame in whole.summaries.items():
        pd.testing.assert_frame_equal(pasted.summaries[report], frame)


def test_blank_line_then_other_text_still_ends_a_table() -> None:
    """A blank line followed by what is not a row of the table ends it as before."""
    text = (DATA / "llama3-demo.column.txt").read_text(encoding="utf-8")
    extra = text.replace(
        "      2.9          1534706",
        "\nsome program output 42\n      2.9          1534706",
        1,
    )
    run = parse_stats_text(extra, Path("x"))
    assert len(run.summaries[reports.API]) == 3  # the rows above the interruption
