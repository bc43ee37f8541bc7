"""Every output format of the real `nsys stats` (2022.4) is read to the numbers of the export.

For every SQLite export in ../shared/data/nsys/sqlite (a copy), the installed nsys prints the
four CUDA summaries in each of its seven formats (``column``, ``table``, ``csv``, ``tsv``,
``json``, ``hdoc``, ``htable``; fixture ``nsys_stats``, stdout as a user saves it), and
llamaprof reads each back (``load_report``, the format found from the content) to the same
numbers as its SQLite read of the export: what ``render_csv`` prints of both is the same,
cell for cell, after the ways nsys 2022.4 itself differs from the export are accounted for:

- kernel rows split by grid/block: compared per name on total, instances, min and max;
- memcpy labels: compared by canonical direction (2022.4 prints ``[CUDA memcpy HtoD]``);
- ``column`` and ``table`` cut names longer than 100 characters to 99 + ``…``: the
  export's names are cut the same way before comparing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sources_text.nsys_outputs import printed

from llamaprof import reports
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report, sniff
from llamaprof.sources.sqlite_export import read_sqlite

from conftest import NSYS_STATS_FORMATS
from shared_data import shared_files

EXPORT_NAMES = [p.name for p in shared_files("sqlite/*.sqlite")]
CUT_FORMATS = ("column", "table")


@pytest.fixture(scope="module")
def exports(shared_exports: list[Path]) -> dict[str, Path]:
    return {p.name: p for p in shared_exports}


@pytest.mark.parametrize("fmt", NSYS_STATS_FORMATS)
@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_every_format_reads_to_the_numbers_of_the_export(
    name: str, fmt: str, exports: dict[str, Path], nsys_stats
) -> None:
    """Each report nsys printed reads back to what the export holds; skips are kept."""
    export = exports[name]
    output = nsys_stats(export, fmt)
    reference = read_sqlite(export)
    run = load_report(output)
    # only nsys's own lines (every report skipped) read as text in any format
    is_csv = fmt in ("csv", "tsv") and reference.summaries
    assert run.format is (ReportFormat.STATS_CSV if is_csv else ReportFormat.STATS_TEXT)
    assert sniff(output) is run.format
    assert run.info.warnings == []
    # nsys 2022.4 skips what the export lacks, like the SQLite reader
    assert set(run.summaries) == set(reference.summaries)
    assert run.skipped == reference.skipped
    for report in run.summaries:
        assert printed(run, report) == printed(reference, report, cut=fmt in CUT_FORMATS), report


def test_json_and_htable_name_no_report(exports: dict[str, Path], nsys_stats) -> None:
    """What makes those two formats hard: 2022.4 writes no report name into the JSON or the
    HTML table, and several reports are several arrays (tables) one after another."""
    export = exports["Pandananana__python-hpc__q1_1.sqlite"]
    text = nsys_stats(export, "json").read_text(encoding="utf-8")
    blocks = [b for b in text.split("Processing [") if b.strip()]
    assert len(blocks) == 4
    for block in blocks:
        array = json.loads(block.split("\n", 1)[1])
        assert isinstance(array, list) and "cudaapisum" not in json.dumps(array)
    html = nsys_stats(export, "htable").read_text(encoding="utf-8")
    assert html.count("<table>") == 4 and "<h1>" not in html and "gpukernsum</" not in html


@pytest.mark.parametrize("fmt", ["json", "htable", "csv", "table"])
def test_files_written_by_output_are_read_by_their_columns(
    fmt: str, exports: dict[str, Path], real_nsys: str, tmp_path: Path
) -> None:
    """``nsys stats --output PREFIX`` writes one file per report with no Processing line;
    each is read as the report its columns say; concatenated they give all four."""
    import subprocess

    export = exports["bwyogatama__Mordred-Deprecated__report1@03527a5.sqlite"]
    subprocess.run(
        [real_nsys, "stats", "--report", "cudaapisum,gpukernsum,gpumemtimesum,gpumemsizesum",
         "--format", fmt, "--output", str(tmp_path / "out"), str(export)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    files = sorted(tmp_path.glob("out_*"))
    assert [f.name.split("_", 1)[1].split(".")[0] for f in files] == [
        "cudaapisum", "gpukernsum", "gpumemsizesum", "gpumemtimesum",
    ]  # fmt: skip
    reference = read_sqlite(export)
    for file in files:
        renamed = file.with_name(f"report{files.index(file)}.data")  # the name says nothing
        file.rename(renamed)
        assert not renamed.read_text(encoding="utf-8").startswith("Processing")
        run = load_report(renamed)
        (report,) = run.summaries
        assert report == reports.canonical_report_name(file.name.split("_", 1)[1].split(".")[0])
        cut = fmt == "table"
        assert printed(run, report) == printed(reference, report, cut=cut)
    joined = tmp_path / "joined.data"
    joined.write_text(
        "\n".join(f.read_text(encoding="utf-8") for f in sorted(tmp_path.glob("report*.data"))),
        encoding="utf-8",
    )
    assert set(load_report(joined).summaries) == set(reports.REPORT_NAMES)
