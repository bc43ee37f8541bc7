"""Read `nsys stats --format csv` output into a ``Run``.

Three shapes are read:

- one report per file, as ``nsys stats --format csv --output <prefix>`` writes
  them (``<prefix>_<report>.csv``): the report is the file name's suffix when it
  names one, else the header's shape (API: ``Num Calls`` + ``Name``; kernels:
  ``Instances``; memory by time: ``Count`` + ``Operation`` + time columns; by
  size: ``Total (MB)``);
- several reports captured from stdout: each table follows its
  ``Processing [...] with [.../<report>.py]...`` line and ends at a blank line;
- only ``Processing``/``NOTICE``/``SKIPPED:`` lines: a Run whose reports are
  all in ``skipped``.

Cells are read with the ``csv`` module (names are quoted C++ templates with
commas and quotes); numbers are raw, but a locale-formatted CSV (``"482,333"``
for 482.333 MB) is read too. ``;`` and tab delimiters are accepted.
"""

from __future__ import annotations

import csv
from pathlib import Path

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_markers import (
    KERNEL_GB,
    OTHER,
    decode_text,
    is_nsys_marker,
    parse_marker,
    read_text_bytes,
    report_for_skip,
)
from llamaprof.sources.stats_tables import (
    Column,
    Table,
    TableError,
    assemble_run,
    build_frame,
    classify,
    column_of,
    rows_above,
)

__all__ = ["csv_header_columns", "parse_stats_csv", "read_stats_csv"]

_DELIMITERS = (",", ";", "\t")
#: Report names besides the four (and the grid/block kernel variant) that
#: ``nsys stats --output`` may put in a CSV file name; their tables are passed over.
_OTHER_REPORTS = (
    "osrt_sum", "osrtsum", "nvtx_sum", "nvtxsum", "nvtx_pushpop_sum", "nvtxppsum",
    "nvtx_startend_sum", "nvtx_kern_sum", "nvtx_gpu_proj_sum", "nvtx_gpu_proj_trace",
    "cuda_api_gpu_sum", "cuda_gpu_sum", "cuda_gpu_trace", "gputrace", "cuda_api_trace",
    "cudaapitrace", "cuda_kern_exec_sum", "cuda_kern_exec_trace", "cuda_api_sync",
    "openmp_sum", "openmpevtsum", "um_sum", "um_total_sum", "um_cpu_page_faults_sum",
    "mpi_event_sum", "mpi_event_trace",
)  # fmt: skip


def read_stats_csv(path: str | Path) -> Run:
    """Read a file holding `nsys stats --format csv` output.

    Raises ReportParseError for a file that cannot be read, is not text, or holds
    no CSV table and no SKIPPED line.
    """
    path = Path(path)
    text = decode_text(read_text_bytes(path))
    if text is None:
        raise ReportParseError(path, "is not text (binary data)")
    return parse_stats_csv(text, path)


def csv_header_columns(line: str) -> tuple[str, list[Column]] | None:
    """``(delimiter, columns)`` if ``line`` is the CSV header of one of the four summaries."""
    for delimiter in _DELIMITERS:
        if delimiter not in line:
            continue
        try:
            labels = next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        columns = [column_of(label) for label in labels]
        if len(labels) >= 4 and classify(columns) is not None:
            return delimiter, [c for c in columns if c is not None]
    return None


def _report_from_file_name(path: Path) -> str | None:
    name = path.name.lower()
    stem = name[:-4] if name.endswith(".csv") else name
    candidates = [*reports.REPORT_NAMES, *reports.OLD_NAMES, KERNEL_GB, *_OTHER_REPORTS]
    for candidate in sorted(candidates, key=len, reverse=True):
        if stem == candidate or stem.endswith("_" + candidate):
            if candidate == KERNEL_GB:
                return KERNEL_GB
            if candidate in _OTHER_REPORTS:
                return OTHER
            return reports.canonical_report_name(candidate)
    return None


def parse_stats_csv(text: str, path: str | Path) -> Run:
    """Parse `nsys stats --format csv` output; ``path`` names the source.

    Raises ReportParseError when it holds no CSV table of the four summaries and
    no SKIPPED line.
    """
    path = Path(path)
    lines = text.splitlines()
    markers = [parse_marker(line) for line in lines]
    has_markers = any(is_nsys_marker(m) for ms in markers for m in ms)
    ctx = _report_from_file_name(path)
    tables: dict[str, Table] = {}
    skipped: dict[str, str] = {}
    notes: list[str] = []
    warnings: list[str] = []  # data left out: tables cut off or unread
    versions: list[str] = []
    new_names: bool | None = None
    other = 0
    i = 0
    while i < len(lines):
        for marker in markers[i]:
            if marker.version and marker.version not in versions:
                versions.append(marker.version)
            if marker.kind == "report":
                ctx = marker.report
                if new_names is None:
                    new_names = marker.new_names
            elif marker.kind == "skipped" and marker.skip_reason:
                target = ctx or report_for_skip(marker.skip_reason, [*skipped, *tables])
                if target in reports.REPORT_NAMES and target not in tables:
                    skipped.setdefault(target, marker.skip_reason)
                ctx = None
        header = None if markers[i] else csv_header_columns(lines[i])
        if header is None:
            i += 1
            continue
        delimiter, columns = header
        end = i + 1
        while end < len(lines) and lines[end].strip() and not markers[end]:
            end += 1
        report = ctx if ctx is not None else (None if has_markers else classify(columns))
        expected = reports.KERNELS if report == KERNEL_GB else report
        if report == OTHER or report is None:
            other += 1
        elif classify(columns) != expected:
            notes.append(
                f"The table at line {i + 1} is under a {report} title but has other columns; "
                "it was ignored."
            )
        elif report in tables:
            notes.append(f"{report}: another table at line {i + 1} was ignored.")
        else:
            try:
                table = _read_table(lines[i + 1 : end], delimiter, columns, expected or report)
            except TableError as exc:
                warnings.append(f"A table at line {i + 1} was not read: {exc}.")
            else:
                tables[report] = table
                if table.cut_at is not None:
                    warnings.append(
                        f"{report}: the table is cut off at its row {table.cut_at + 1}; "
                        f"{rows_above(table.rows_read)}"
                    )
        ctx = None
        i = end
    return assemble_run(
        path,
        ReportFormat.STATS_CSV,
        tables,
        skipped,
        notes,
        versions,
        warnings=warnings,
        other_tables=other,
        new_names=new_names,
    )


def _read_table(lines: list[str], delimiter: str, columns: list[Column], report: str) -> Table:
    try:
        raw = [row for row in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise TableError(f"bad CSV ({exc})") from None
    keep_left = {k for k, col in enumerate(columns) if col.field in ("grid", "block")}
    # The 2022.4 GridXYZ cells are quoted with their leading spaces (" 896    1    1").
    rows = [
        [cell.rstrip() if k in keep_left else cell.strip() for k, cell in enumerate(row)]
        for row in raw
    ]
    return build_frame(report, columns, rows)
