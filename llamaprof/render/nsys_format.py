"""Print a run's summaries exactly as current ``nsys stats`` (2023.1+) prints them.

Three pure renderers over a ``Run`` (see ``llamaprof.model``):

- ``render_column``: the aligned text table of ``nsys stats`` (``--format column``,
  the default), title line included.
- ``render_csv``: what ``nsys stats --format csv --report NAME`` prints for one report.
- ``render_json``: one JSON object keyed by report name, each a list of rows keyed
  by the CSV header's column names.

The layout rules (from real outputs; ``shared/docs/nsys-stats-semantics.md`` §3–§5):

Column (text) format
    `` ** <Title> (<report>):``, a blank line, the header, a line of dashes (one run
    per column), then the rows. Every line starts with one space; two spaces
    between columns; column width = max(header, widest value); numbers are
    right-aligned, text left-aligned and padded (trailing spaces kept); every
    header is centred in its column, the odd space going to the right. Numbers
    carry ``,`` thousands separators. ``Time (%)``, ``Avg``, ``Med`` and ``StdDev``
    have 1 decimal (SQLite's ``round(x, 1)``: half away from zero on the decimal
    value), totals, counts, min and max are integers. Names longer than 100
    characters are cut to 99 characters + ``…``.
``--timeunit us|ms|s``
    Every time column (not ``Time (%)``) is divided by 10^3/10^6/10^9 and printed
    with 4 decimals (``Total Time (ms)``: ``3.5261``); Avg/Med/StdDev are rounded
    to 0.1 ns first, as nsys's SQL does, then converted.
Size report
    Bytes are printed as MB = 10^6 bytes with 3 decimals (16,000,000 B ->
    ``16.000``; 4,194,304 B -> ``4.194``) in every format.
CSV
    The same cells without thousands separators and without cutting names;
    fields are quoted only when they must be (a ``,``, ``"`` or line break);
    lines end in ``\\n``. (A ``--timeunit`` CSV was never observed; it uses the
    same 4 decimals as the column format.)
JSON
    The CSV's values as JSON numbers (integers stay integers), text as strings;
    a value the source lacks (e.g. ``Med`` in 2021-era text) is ``null``.

A value a source does not hold (NaN) prints as an empty cell.

Kernel summaries read from nsys 2022.4 text are split by launch configuration
(``grid``/``block`` columns). Current nsys groups by name only, so such rows are
merged by name first (``llamaprof.analyze.merge.kernels_by_name``: totals, counts,
min, max and average are exact; median and standard deviation cannot be derived
from the parts and print empty) and the grid/block columns are not printed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.merge import kernels_by_name
from llamaprof.events import Window
from llamaprof.model import KernelNaming, Run
from llamaprof.rounding import sql_round

__all__ = [
    "ELLIPSIS",
    "MAX_NAME_CHARS",
    "TIME_UNITS",
    "csv_header",
    "render_column",
    "render_csv",
    "render_json",
    "report_frame",
    "sql_round",
    "table_cells",
    "title_line",
]

#: Time units ``--timeunit`` accepts, and their size in ns.
TIME_UNITS: dict[str, int] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
#: Names longer than this are cut in the text format.
MAX_NAME_CHARS = 100
ELLIPSIS = "\u2026"
_MB = 1_000_000

# Kinds of column: how a value is converted and printed.
_PCT = "pct"  # Time (%): 1 decimal, never converted
_DUR = "dur"  # integer ns (Total, Min, Max)
_DUR_STAT = "dur_stat"  # ns rounded to 0.1 by nsys's SQL (Avg, Med, StdDev)
_COUNT = "count"  # integer count
_MEM = "mem"  # bytes, printed as MB with 3 decimals
_TEXT = "text"


@dataclass(frozen=True)
class _Column:
    label: str  # "Total Time", "Num Calls", "Name"
    field: str  # DataFrame column
    kind: str

    def header(self, timeunit: str) -> str:
        if self.kind in (_DUR, _DUR_STAT):
            return f"{self.label} ({timeunit})"
        if self.kind == _MEM:
            return f"{self.label} (MB)"
        return self.label


def _time_columns(count_label: str, name_label: str, name_field: str) -> list[_Column]:
    return [
        _Column("Time (%)", "time_pct", _PCT),
        _Column("Total Time", "total_ns", _DUR),
        _Column(count_label, "count", _COUNT),
        _Column("Avg", "avg_ns", _DUR_STAT),
        _Column("Med", "med_ns", _DUR_STAT),
        _Column("Min", "min_ns", _DUR),
        _Column("Max", "max_ns", _DUR),
        _Column("StdDev", "stddev_ns", _DUR_STAT),
        _Column(name_label, name_field, _TEXT),
    ]


_LAYOUTS: dict[str, list[_Column]] = {
    reports.API: _time_columns("Num Calls", "Name", "name"),
    reports.KERNELS: _time_columns("Instances", "Name", "name"),
    reports.MEM_TIME: _time_columns("Count", "Operation", "operation"),
    reports.MEM_SIZE: [
        _Column("Total", "total_bytes", _MEM),
        _Column("Count", "count", _COUNT),
        _Column("Avg", "avg_bytes", _MEM),
        _Column("Med", "med_bytes", _MEM),
        _Column("Min", "min_bytes", _MEM),
        _Column("Max", "max_bytes", _MEM),
        _Column("StdDev", "stddev_bytes", _MEM),
        _Column("Operation", "operation", _TEXT),
    ],
}


# ---------------------------------------------------------------------------
# Numbers


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_int(value: Any) -> int:
    if isinstance(value, numbers.Integral | Decimal):
        return int(value)
    return int(sql_round(float(value), 0))


def _cell(value: Any, kind: str, timeunit: str) -> int | Decimal | str | None:
    """The value of one cell, before thousands separators: int, Decimal, text or None."""
    if _is_missing(value):
        return None
    if kind == _TEXT:
        return str(value)
    if kind == _COUNT:
        return _as_int(value)
    if kind == _PCT:
        return sql_round(float(value), 1)
    if kind == _MEM:
        return _fixed(float(value) / _MB, 3)
    scale = TIME_UNITS[timeunit]
    if kind == _DUR:
        if scale == 1:
            return _as_int(value)
        return _fixed(float(value) / scale, 4)
    # _DUR_STAT: nsys's SQL rounds to 0.1 ns; other units convert that value.
    rounded = sql_round(float(value), 1)
    if scale == 1:
        return rounded
    return _fixed(float(rounded) / scale, 4)


def _fixed(value: float, places: int) -> Decimal:
    """``value`` with ``places`` decimals as printf's ``%.Nf`` rounds the double."""
    try:
        return Decimal(f"{value:.{places}f}")
    except InvalidOperation:  # inf: no source holds one, but never crash on it
        return Decimal(0)


def _text_number(value: int | Decimal, grouped: bool) -> str:
    return f"{value:,}" if grouped else f"{value}"


# ---------------------------------------------------------------------------
# Which rows and columns


def report_frame(
    run: Run, report: str, naming: KernelNaming = KernelNaming.DEMANGLED
) -> pd.DataFrame | None:
    """The summary of ``report`` to print (kernel rows in ``naming``), or None if absent.

    Kernel rows split by grid/block (nsys 2022.4 text) are merged by name, as
    current nsys groups them (``llamaprof.analyze.merge.kernels_by_name``).
    """
    report = reports.canonical_report_name(report)
    frame = run.kernels(naming) if report == reports.KERNELS else run.summary(report)
    if frame is None:
        return None
    if report == reports.KERNELS and "grid" in frame.columns and frame["grid"].notna().any():
        frame = kernels_by_name(frame)
    return frame


def table_cells(
    run: Run,
    report: str,
    *,
    naming: KernelNaming = KernelNaming.DEMANGLED,
    timeunit: str = "ns",
) -> tuple[list[str], list[str], list[list[int | Decimal | str | None]]] | None:
    """Headers, column kinds and typed cells of one report, or None if the run lacks it.

    Cells are ints, Decimals (already rounded as printed), strings (names, untruncated)
    or None (a value the source does not hold).
    """
    report = reports.canonical_report_name(report)
    timeunit = _check_timeunit(timeunit)
    frame = report_frame(run, report, naming)
    if frame is None:
        return None
    columns = _LAYOUTS[report]
    headers = [column.header(timeunit) for column in columns]
    kinds = [column.kind for column in columns]
    data = [
        frame[column.field].tolist() if column.field in frame.columns else [None] * len(frame)
        for column in columns
    ]
    rows = [
        [
            _cell(values[i], column.kind, timeunit)
            for column, values in zip(columns, data, strict=True)
        ]
        for i in range(len(frame))
    ]
    return headers, kinds, rows


def _check_timeunit(timeunit: str) -> str:
    unit = timeunit.strip().lower()
    if unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {timeunit!r}; known: {', '.join(TIME_UNITS)}")
    return unit


def title_line(report: str) -> str:
    """`` ** CUDA API Summary (cuda_api_sum):``"""
    report = reports.canonical_report_name(report)
    return f" ** {reports.TITLES[report]} ({report}):"


def csv_header(report: str, timeunit: str = "ns") -> str:
    """The CSV header line of ``report`` in current nsys."""
    report = reports.canonical_report_name(report)
    unit = _check_timeunit(timeunit)
    return ",".join(column.header(unit) for column in _LAYOUTS[report])


# ---------------------------------------------------------------------------
# Renderers


def _truncate(name: str) -> str:
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + ELLIPSIS


def _centred(text: str, width: int) -> str:
    pad = width - len(text)
    left = pad // 2
    return " " * left + text + " " * (pad - left)


def render_column(
    run: Run,
    report: str,
    *,
    naming: KernelNaming = KernelNaming.DEMANGLED,
    timeunit: str = "ns",
) -> str:
    """The table of ``report`` as ``nsys stats`` prints it: title, blank line, header,
    dashes, rows; every line ends in ``\\n``.

    Raises KeyError if the run does not contain the report (see ``run.skipped``).
    """
    report = reports.canonical_report_name(report)
    table = table_cells(run, report, naming=naming, timeunit=timeunit)
    if table is None:
        raise KeyError(report)
    headers, kinds, rows = table
    texts = [
        [
            ""
            if value is None
            else _truncate(value)
            if isinstance(value, str)
            else _text_number(value, grouped=True)
            for value in row
        ]
        for row in rows
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in texts)]) for i, header in enumerate(headers)
    ]
    lines = [
        title_line(report),
        "",
        " " + "  ".join(_centred(h, w) for h, w in zip(headers, widths, strict=True)),
        " " + "  ".join("-" * w for w in widths),
    ]
    for row in texts:
        cells = [
            text.ljust(width) if kind == _TEXT else text.rjust(width)
            for text, width, kind in zip(row, widths, kinds, strict=True)
        ]
        lines.append(" " + "  ".join(cells))
    return "\n".join(lines) + "\n"


def render_csv(
    run: Run,
    report: str,
    *,
    naming: KernelNaming = KernelNaming.DEMANGLED,
    timeunit: str = "ns",
) -> str:
    """What ``nsys stats --format csv --report REPORT`` prints for the table itself:
    the header line and one line per row, each ending in ``\\n``.

    Raises KeyError if the run does not contain the report (see ``run.skipped``).
    """
    report = reports.canonical_report_name(report)
    table = table_cells(run, report, naming=naming, timeunit=timeunit)
    if table is None:
        raise KeyError(report)
    headers, _kinds, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(
            [
                ""
                if value is None
                else value
                if isinstance(value, str)
                else _text_number(value, grouped=False)
                for value in row
            ]
        )
    return out.getvalue()


def _json_value(value: int | Decimal | str | None) -> int | float | str | None:
    if value is None or isinstance(value, int | str):
        return value
    return float(value)


def render_json(
    run: Run,
    report_names: Iterable[str] | None = None,
    *,
    naming: KernelNaming = KernelNaming.DEMANGLED,
    timeunit: str = "ns",
    indent: int | None = 2,
    window: Window | None = None,
) -> str:
    """One JSON object keyed by report name (current names, in the order asked), each a
    list of rows keyed by the CSV header's column names. Reports the run does not
    contain are left out (see ``run.skipped``). With ``window``, a ``"window"`` key first
    names the events summarised (``Window.to_dict``). Ends in ``\\n``.
    """
    names: Sequence[str] = reports.REPORT_NAMES if report_names is None else list(report_names)
    result: dict[str, Any] = {} if window is None else {"window": window.to_dict()}
    for name in names:
        report = reports.canonical_report_name(name)
        table = table_cells(run, report, naming=naming, timeunit=timeunit)
        if table is None or report in result:
            continue
        headers, _kinds, rows = table
        result[report] = [
            {header: _json_value(value) for header, value in zip(headers, row, strict=True)}
            for row in rows
        ]
    return json.dumps(result, indent=indent, ensure_ascii=False) + "\n"
