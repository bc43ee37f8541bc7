"""The real `nsys stats` is the oracle: llamaprof's four summaries of every real SQLite export
equal what the installed Nsight Systems (2022.4.2) prints for the same file.

One ``nsys stats --report cudaapisum,gpukernsum,gpumemtimesum,gpumemsizesum --format csv``
per export (fixture ``nsys_stats``), run at test time on a copy of the export; llamaprof's
side is the ``llamaprof stats --format csv`` command, so the oracle keeps guarding the
SQLite reader (``load_report`` -> ``read_sqlite``) whatever its insides become.

- API and memory reports: row by row, every column, cell for cell as printed. Memory
  labels are compared by canonical direction (``reports.canonical_op``): 2022.4 prints
  ``[CUDA memcpy HtoD]`` even for exports whose ``ENUM_CUDA_MEMCPY_OPER`` says
  ``Host-to-Device``, llamaprof prints the export's own label.
- Kernels: per name, Total Time, Instances, Min and Max. 2022.4 splits a kernel's rows by
  grid and block; its Avg/Med/StdDev/Time (%) per row cannot be merged back into the
  per-name values current nsys (and llamaprof) print.
- Skipped reports: the same ones, with nsys's own reason. What 2022.4 does on these files:
  an export with no CUPTI table at all skips all four, one with no kernel table skips the
  kernel summary only, and exports without ENUM tables (nsys <= 2021.1) are *not* skipped:
  2022.4 carries its own memcpy labels (``MemcpyOperStrs`` in its ``nsysstats.py``), where
  2023.4 skips both memory reports (``does not contain ENUM_CUDA_MEMCPY_OPER table.``,
  see tests/sources_text/data/nsys2023.4/kmeans-no-enum.table.txt).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from llamaprof import reports
from llamaprof.cli import main
from llamaprof.reports import canonical_op

from shared_data import shared_files

EXPORT_NAMES = [p.name for p in shared_files("sqlite/*.sqlite")]
_SCRIPT_RE = re.compile(r"^Processing \[.*\] with \[.*/(?P<script>\w+)\.py\]\.\.\.\s*$")


def _nsys_output(path: Path) -> tuple[dict[str, list[list[str]]], dict[str, str]]:
    """The CSV tables (header first) and SKIPPED reasons of nsys's output, by report."""
    tables: dict[str, list[list[str]]] = {}
    skipped: dict[str, str] = {}
    report = None
    block: list[str] = []

    def close() -> None:
        if report is not None and any(line.strip() for line in block):
            tables[report] = list(csv.reader(io.StringIO("\n".join(block).strip())))

    for line in path.read_text(encoding="utf-8").splitlines():
        match = _SCRIPT_RE.match(line)
        if match:
            close()
            report, block = reports.canonical_report_name(match["script"]), []
        elif line.startswith("SKIPPED: "):
            assert report is not None
            skipped[report] = line.split(" ", 2)[2]  # "SKIPPED: <file> <reason>"
            report, block = None, []
        else:
            block.append(line)
    close()
    return tables, skipped


def _llamaprof_stats(export: Path, report: str) -> tuple[int, list[list[str]], str]:
    result = CliRunner().invoke(main, ["stats", "--format", "csv", "-r", report, str(export)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, list(csv.reader(io.StringIO(result.stdout))), result.stderr


def _by_direction(rows: list[list[str]]) -> list[list[str]]:
    return [[*row[:-1], canonical_op(row[-1])] for row in rows]


def _kernels_by_name(table: list[list[str]]) -> dict[str, tuple[int, int, int, int]]:
    """Name -> (total ns, instances, min ns, max ns), merging rows of the same name."""
    header, *rows = table
    col = {label: k for k, label in enumerate(header)}
    merged: dict[str, tuple[int, int, int, int]] = {}
    for row in rows:
        total, count = int(row[col["Total Time (ns)"]]), int(row[col["Instances"]])
        low, high = int(row[col["Min (ns)"]]), int(row[col["Max (ns)"]])
        name = row[col["Name"]]
        if name in merged:
            t, c, lo, hi = merged[name]
            total, count, low, high = t + total, c + count, min(lo, low), max(hi, high)
        merged[name] = (total, count, low, high)
    return merged


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The on-disk cache of runs in this test's folder (a cached run must agree too)."""
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_summaries_equal_what_the_real_nsys_prints(
    name: str, shared_exports: list[Path], nsys_stats, private_cache: Path
) -> None:
    """API/memory row by row in every column, kernels per name, the same reports skipped."""
    export = next(p for p in shared_exports if p.name == name)
    theirs, their_skips = _nsys_output(nsys_stats(export, "csv"))
    assert set(theirs) | set(their_skips) == set(reports.REPORT_NAMES)
    for report in reports.REPORT_NAMES:
        status, ours, stderr = _llamaprof_stats(export, report)
        if report in their_skips:
            assert (status, ours) == (1, [])
            assert stderr == f"SKIPPED: {export} {their_skips[report]}\n"
            continue
        assert (status, stderr) == (0, ""), stderr
        if report == reports.KERNELS:
            assert _kernels_by_name(ours) == _kernels_by_name(theirs[report])
        else:
            assert ours[0] == theirs[report][0]  # the same header, unit for unit
            assert _by_direction(ours[1:]) == _by_direction(theirs[report][1:])


def test_the_oracle_covers_every_case(shared_exports: list[Path], nsys_stats) -> None:
    """The exports hold what makes the comparison mean something: split kernels, memsets,
    short and long memcpy labels, a skipped kernel report and an export with nothing."""
    seen_skips: dict[str, set[str]] = {}
    split_kernels = labels = 0
    for export in shared_exports:
        tables, skipped = _nsys_output(nsys_stats(export, "csv"))
        seen_skips[export.name] = set(skipped)
        kernels = tables.get(reports.KERNELS)
        if kernels:
            split_kernels += len(kernels) - 1 > len(_kernels_by_name(kernels))
        labels += sum(row[-1] == "[CUDA memset]" for row in tables.get(reports.MEM_TIME, []))
    assert seen_skips["frasertajima__WeatherBench2__report1.sqlite"] == {reports.KERNELS}
    assert seen_skips["mabdullahsoyturk__cardiac-simulation__report1.sqlite"] == set(
        reports.REPORT_NAMES
    )
    # nsys 2022.4 prints the memory reports of exports without ENUM tables
    assert seen_skips["martisu1631998__kmeans-parallel__report2@81dae01.sqlite"] == set()
    assert seen_skips["bwyogatama__Mordred-Deprecated__report1@03527a5.sqlite"] == set()
    assert split_kernels >= 2 and labels >= 3
