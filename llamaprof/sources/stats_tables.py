"""What the `nsys stats` text and CSV readers share: columns, numbers, frames, the Run.

Both outputs hold the same tables under the same column labels; only the cell
layout differs. This module

- maps a header label of any nsys era (``Time(%)``, ``Average``, ``Num Calls``,
  ``Avg (ms)``, ``Total (MB)``, ``GridXYZ`` …) to a field and a unit (``column_of``)
  and a header to one of the four reports by its shape (``classify``);
- reads numbers printed with ``,`` / ``.`` / no thousands separators, or with the
  European ``.`` thousands and ``,`` decimals, decided once per table
  (``detect_number_style``);
- builds the summary DataFrames of ``llamaprof.reports.COLUMNS`` from labelled
  cells, converting every time to ns and every size to bytes (``build_frame``);
- turns the tables and skips a reader found into a ``Run`` with its notes
  (``assemble_run``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat, Run, RunInfo
from llamaprof.sources.stats_markers import KERNEL_GB

ELLIPSIS = "…"

TIME_FACTORS: dict[str, int] = {
    "ns": 1, "nsec": 1, "nanoseconds": 1,
    "us": 10**3, "usec": 10**3, "μs": 10**3, "µs": 10**3, "microseconds": 10**3,
    "ms": 10**6, "msec": 10**6, "milliseconds": 10**6,
    "s": 10**9, "sec": 10**9, "seconds": 10**9,
}  # fmt: skip
SIZE_FACTORS: dict[str, int] = {
    "b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}  # fmt: skip

_FIELDS: dict[str, str] = {
    "total time": "total", "total": "total",
    "calls": "count", "num calls": "count", "count": "count", "instances": "count",
    "operations": "count",
    "average": "avg", "avg": "avg", "mean": "avg",
    "med": "med", "median": "med",
    "minimum": "min", "min": "min",
    "maximum": "max", "max": "max",
    "stddev": "stddev", "std dev": "stddev", "stdev": "stddev",
    "name": "name", "operation": "name",
    "gridxyz": "grid", "blockxyz": "block",
}  # fmt: skip
#: Fields printed as numbers; the others are text (always the last columns).
NUMERIC_FIELDS = frozenset({"time_pct", "total", "count", "avg", "med", "min", "max", "stddev"})
#: Numeric fields a layout may lack (2020 has no Med/StdDev; the size report no Time (%)).
_OPTIONAL = ("time_pct", "avg", "med", "stddev", "min", "max")
_TOO_BIG = Decimal(10) ** 20


@dataclass(frozen=True)
class Column:
    """One header label: which field it holds, its unit as printed, the label's words."""

    field: str  # time_pct, total, count, avg, med, min, max, stddev, name, grid, block
    unit: str | None  # "ns", "ms", "MB", "KiB", "%", None when the label has none
    words: str  # the label without its unit, lower case: "num calls", "instances"


def column_of(label: str) -> Column | None:
    """The column a header label names, or None for a label no CUDA summary prints.

    >>> column_of("Avg (ms)")
    Column(field='avg', unit='ms', words='avg')
    >>> column_of("Time(%)").field, column_of("Range")
    ('time_pct', None)
    """
    text = " ".join(label.split())
    match = re.fullmatch(r"(.*?)\s*\(([^()]*)\)", text)
    base, unit = (match[1], match[2].strip()) if match else (text, None)
    words = base.lower()
    if words == "time" and unit == "%":
        return Column("time_pct", unit, words)
    field = _FIELDS.get(words)
    if field is None:
        return None
    return Column(field, unit, words)


def _is_time_unit(unit: str | None) -> bool:
    return unit is not None and unit.lower() in TIME_FACTORS


def classify(columns: Sequence[Column | None]) -> str | None:
    """Which of the four reports a header's shape is, or None.

    The OS-runtime summary has the same columns as the CUDA API summary, so a
    header alone says "API-like"; the reader decides with the title around it.
    """
    if not columns or any(c is None for c in columns):
        return None
    cols: list[Column] = [c for c in columns if c is not None]
    by_field = {c.field: c for c in cols}
    if len(by_field) != len(cols) or not {"total", "count", "name"} <= by_field.keys():
        return None
    total, count, name = by_field["total"], by_field["count"], by_field["name"]
    if total.words == "total" and not _is_time_unit(total.unit):
        return reports.MEM_SIZE if "time_pct" not in by_field else None
    if count.words == "instances":
        return reports.KERNELS
    if name.words == "operation" or count.words in ("count", "operations"):
        return reports.MEM_TIME
    if count.words in ("num calls", "calls"):
        return reports.API
    return None


# ---------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumberStyle:
    """How one table prints its numbers: the decimal mark and the thousands separator."""

    decimal: str = "."
    group: str = ","


US = NumberStyle(".", ",")
EUROPEAN = NumberStyle(",", ".")
_NUMBER_RE = re.compile(r"[-+]?[0-9.,]*[0-9][0-9.,]*")


def _clean(text: str) -> str:
    # Some locales group with spaces or apostrophes; none of them is a decimal mark.
    return re.sub(r"[\s\u00a0\u202f'’]", "", text)


def detect_number_style(cells: Iterable[str], fractional: Iterable[str] = ()) -> NumberStyle:
    """The style of a table's numbers, from all its numeric cells.

    ``fractional`` are the cells of columns nsys always prints with decimals
    (``Time (%)``, sizes), which settle tables whose other values are ambiguous:
    ``16,000`` is 16 KiB in a European size table and 16 thousand elsewhere.

    >>> detect_number_style(["1,424,683.3", "81.2"]).decimal
    '.'
    >>> detect_number_style(["274.768,0", "55,0"]).decimal
    ','
    >>> detect_number_style(["482,333", "3"], fractional=["482,333"]).decimal
    ','
    """
    values = [_clean(c) for c in cells]
    votes = {".": 0, ",": 0}
    for v in values:
        if "," in v and "." in v:
            votes["," if v.rfind(",") > v.rfind(".") else "."] += 1
    if votes[","] != votes["."]:
        return EUROPEAN if votes[","] > votes["."] else US
    for v in values:  # a mark followed by other than 3 digits, or a leading 0, is a decimal
        if re.search(r",(\d{1,2}|\d{4,})$", v) or re.match(r"[-+]?0,\d", v) or v.count(".") > 1:
            return EUROPEAN
        if re.search(r"\.(\d{1,2}|\d{4,})$", v) or re.match(r"[-+]?0\.\d", v) or v.count(",") > 1:
            return US
    frac = [_clean(c) for c in fractional]
    if any("," in v for v in frac) and not any("." in v for v in frac):
        return EUROPEAN
    return US


def parse_number(text: str, style: NumberStyle) -> Decimal | None:
    """The exact value of a printed number, or None if it is not one.

    >>> parse_number("1,424,683.3", US), parse_number("274.768,0", EUROPEAN)
    (Decimal('1424683.3'), Decimal('274768.0'))
    """
    value = _clean(text)
    if not _NUMBER_RE.fullmatch(value):
        return None
    value = value.replace(style.group, "")
    if style.decimal != ".":
        value = value.replace(style.decimal, ".")
    if value.count(".") > 1:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


# ---------------------------------------------------------------------------- frames


class TableError(ValueError):
    """A table whose columns cannot be read as the report they belong to."""


@dataclass
class Table:
    """A parsed table: its report, the frame, how many printed rows could not be read."""

    report: str
    frame: pd.DataFrame
    rows_read: int
    cut_at: int | None = None  # index (0-based) of the first row that could not be read
    style: NumberStyle = US
    #: European-locale table whose fractions are all zero: nsys 2020.5 truncated them.
    fractions_dropped: bool = False
    columns: tuple[Column, ...] = ()


def _column_unit(col: Column, factors: dict[str, int]) -> str | None:
    return col.unit if col.unit is not None and col.unit.lower() in factors else None


def build_frame(
    report: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    size_unit: str | None = None,
    naming: str | None = None,
    style: NumberStyle | None = None,
) -> Table:
    """The summary DataFrame of ``report`` (see ``reports.COLUMNS``) from printed cells.

    ``rows`` are the cells of each row in header order, as printed (numbers with
    their separators, names as printed). Times become ns and sizes bytes, exactly
    (``Decimal``): ns columns of integers stay int64, anything scaled is float64.
    ``size_unit`` is the unit of a size table whose header prints none (the 2020
    layouts: KiB). Reading stops at the first row that is not a valid row
    (``Table.cut_at``). ``style``: how the numbers are printed when the format says
    (JSON numbers: ``US``); None detects it from the cells. Raises TableError if a needed
    column is missing.
    """
    index = {c.field: i for i, c in enumerate(columns)}
    missing = {"total", "count", "name"} - index.keys()
    if missing:
        raise TableError(f"columns {sorted(missing)} missing")
    is_size = report == reports.MEM_SIZE
    numeric = [f for f in index if f in NUMERIC_FIELDS]
    style = style or detect_number_style(
        (row[index[f]] for row in rows for f in numeric if index[f] < len(row)),
        fractional=(
            row[i]
            for row in rows
            for f, i in index.items()
            if (f == "time_pct" or (is_size and f in NUMERIC_FIELDS and f != "count"))
            and i < len(row)
        ),
    )
    factors = SIZE_FACTORS if is_size else TIME_FACTORS
    default_unit = next(
        (u for c in columns if (u := _column_unit(c, factors)) is not None),
        (size_unit or "KiB") if is_size else "ns",
    )
    values: dict[str, list[Decimal | None]] = {f: [] for f in numeric}
    texts: dict[str, list[str]] = {f: [] for f in index if f not in NUMERIC_FIELDS}
    cut_at = None
    for r, row in enumerate(rows):
        parsed = _parse_row(row, columns, index, style)
        if parsed is None:
            cut_at = r
            break
        nums, strs = parsed
        for f in values:
            values[f].append(nums[f])
        for f in texts:
            texts[f].append(strs[f])
    n = len(texts["name"])
    data: dict[str, np.ndarray] = {}
    for f in ("time_pct", "total", "count", "avg", "med", "min", "max", "stddev"):
        col = columns[index[f]] if f in index else None
        unit = _column_unit(col, factors) if col is not None else None
        factor = factors[(unit or default_unit).lower()] if f not in ("time_pct", "count") else 1
        data[f] = _numeric_series(f, values.get(f), n, factor, is_size)
    frame = _assemble(report, data, texts, n, naming)
    fractional = [
        v
        for f in (("total", "avg", "min", "max") if is_size else ("time_pct", "avg"))
        for v in values.get(f) or ()
        if v is not None
    ]
    dropped = (
        style == EUROPEAN
        and bool(fractional)
        and all(v == v.to_integral_value() for v in fractional)
    )
    return Table(report, frame, n, cut_at, style, dropped, tuple(columns))


def _parse_row(
    row: Sequence[str],
    columns: Sequence[Column],
    index: dict[str, int],
    style: NumberStyle,
) -> tuple[dict[str, Decimal | None], dict[str, str]] | None:
    if len(row) != len(columns):
        return None
    nums: dict[str, Decimal | None] = {}
    strs: dict[str, str] = {}
    for f, i in index.items():
        cell = row[i]
        if f in NUMERIC_FIELDS:
            value = parse_number(cell, style)
            if value is None and not (f in _OPTIONAL and cell.strip().lower() in ("", "nan")):
                return None
            # No nsys value comes near 10^20 (ns in 3,000 years); larger is damage.
            if value is not None and (not value.is_finite() or abs(value) >= _TOO_BIG):
                return None
            nums[f] = value
        else:
            strs[f] = cell
    if not strs.get("name", "").strip():
        return None
    count = nums["count"]
    if count is None or count != count.to_integral_value() or count < 0:
        return None
    return nums, strs


def _numeric_series(
    field: str, values: list[Decimal | None] | None, n: int, factor: int, is_size: bool
) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan, dtype="float64")
    scaled = [None if v is None else v * factor for v in values]
    integral = all(v is not None and v == v.to_integral_value() for v in scaled)
    wants_int = field == "count" or (
        not is_size and factor == 1 and field in ("total", "min", "max")
    )
    if wants_int and integral:
        return np.array([int(v) for v in scaled if v is not None], dtype="int64")
    return np.array([np.nan if v is None else float(v) for v in scaled], dtype="float64")


def _text_array(values: Sequence[str | None]) -> pd.api.extensions.ExtensionArray:
    return pd.array(list(values), dtype="str")


def _assemble(
    report: str,
    data: dict[str, np.ndarray],
    texts: dict[str, list[str]],
    n: int,
    naming: str | None,
) -> pd.DataFrame:
    names = [t.strip() for t in texts["name"]]
    empty: list[str | None] = [None] * n
    unit = "bytes" if report == reports.MEM_SIZE else "ns"
    out: dict[str, object] = {"time_pct": data["time_pct"], f"total_{unit}": data["total"]}
    out["count"] = data["count"]
    for f in ("avg", "med", "min", "max", "stddev"):
        out[f"{f}_{unit}"] = data[f]
    if report == reports.KERNELS:
        out["name"] = _text_array(names)
        out["demangled_name"] = _text_array(names if naming is None else empty)
        out["base_name"] = _text_array(names if naming == "base" else empty)
        out["mangled_name"] = _text_array(names if naming == "mangled" else empty)
        for f in ("grid", "block"):
            cells = texts.get(f)
            out[f] = _text_array([c.rstrip() for c in cells] if cells else empty)
    elif report in (reports.MEM_TIME, reports.MEM_SIZE):
        out["operation"] = _text_array(names)
        out["op"] = _text_array([reports.canonical_op(x) for x in names])
    else:
        out["name"] = _text_array(names)
    columns = reports.COLUMNS[report]
    return pd.DataFrame({c: out[c] for c in columns}, columns=columns)


# ---------------------------------------------------------------------------- the run


def assemble_run(
    path: Path,
    fmt: ReportFormat,
    tables: dict[str, Table],
    skipped: dict[str, str],
    notes: list[str],
    versions: list[str],
    *,
    warnings: list[str] | None = None,
    other_tables: int = 0,
    cut_headers: list[int] | None = None,
    new_names: bool | None = None,
) -> Run:
    """Turn what a reader found into a Run (shared by the text and CSV readers).

    ``warnings`` say what data was left out (tables cut off or unread); they end up in
    ``run.info.warnings``, which the CLI and the app always show.
    """
    tables = dict(tables)
    notes = list(notes)
    warnings = list(warnings or [])
    if KERNEL_GB in tables:
        gb = tables.pop(KERNEL_GB)
        if reports.KERNELS not in tables:
            tables[reports.KERNELS] = gb
            notes.append(
                "The kernel summary comes from cuda_gpu_kern_gb_sum (split by grid/block)."
            )
    if not tables and not skipped:
        reason = "no nsys stats tables found"
        if cut_headers:
            reason += f" (the table header at line {cut_headers[0]} is cut off before its rows)"
        elif other_tables:
            reason += " (only reports other than the four CUDA summaries)"
        raise ReportParseError(path, reason)
    for line in cut_headers or []:
        warnings.append(f"The table header at line {line} has no rows (cut off).")
    info = RunInfo(nsys_version=versions[0] if versions else None)
    if len(versions) > 1:
        notes.append(f"Several nsys versions are named: {', '.join(versions)}.")
    summaries = {r: tables[r].frame for r in reports.REPORT_NAMES if r in tables}
    notes.extend(_table_notes(tables))
    if info.nsys_version is None:
        era = _era(tables, new_names)
        if era:
            notes.append(f"The nsys version is not printed; the layout is that of nsys {era}.")
    info.notes = notes
    info.warnings = warnings
    return Run(
        path=path,
        format=fmt,
        summaries=summaries,
        skipped={r: skipped[r] for r in reports.REPORT_NAMES if r in skipped and r not in tables},
        info=info,
    )


def _table_notes(tables: dict[str, Table]) -> list[str]:
    notes = []
    truncated = [
        r
        for r, t in tables.items()
        for col in ("name", "operation")
        if col in t.frame and any(str(x).endswith(ELLIPSIS) for x in t.frame[col].tolist())
    ]
    if truncated:
        notes.append(
            "Names longer than 100 characters were cut to 99 characters + '…' by nsys "
            f"({', '.join(truncated)}); rows are keyed by the printed name."
        )
    kernels = tables.get(reports.KERNELS)
    if kernels is not None:
        frame = kernels.frame
        if frame["grid"].notna().any():
            notes.append(
                "The kernel summary is split by launch configuration (grid/block) as nsys "
                "2022.4 prints it; llamaprof.analyze.merge.kernels_by_name merges it by name."
            )
        elif frame["name"].duplicated().any():
            notes.append("Some kernel rows share a printed name (distinct kernels cut alike).")
    no_median = [
        r for r, t in tables.items() if len(t.frame) and "med" not in {c.field for c in t.columns}
    ]
    if no_median:
        notes.append(
            f"This nsys version prints no median; Med is left empty ({', '.join(no_median)})."
        )
    dropped = [r for r, t in tables.items() if t.fractions_dropped]
    if dropped:
        notes.append(
            "Numbers are printed with ',' decimals and every fraction is zero: nsys 2020.5 "
            "truncates fractions under such locales, so averages, percentages and KiB sizes "
            f"are cut down to whole numbers ({', '.join(dropped)})."
        )
    return notes


def _era(tables: dict[str, Table], new_names: bool | None) -> str | None:
    """The nsys versions whose layout this is, from report names and columns (§4 of the spec)."""
    frames = {r: t.frame for r, t in tables.items()}
    kernels = frames.get(reports.KERNELS)
    if kernels is not None and kernels["grid"].notna().any():
        return "2022.4"
    if new_names is True:
        return "2023.1 or later"
    fields = {c.field for t in tables.values() for c in t.columns}
    if not fields:
        return "2020 to 2022" if new_names is False else None
    if "med" in fields:
        return "2022" if new_names is False else "2022 or later"
    if "stddev" in fields:
        return "2021"
    units = {
        c.unit
        for r, t in tables.items()
        for c in t.columns
        if c.field == "total" and r != reports.MEM_SIZE
    }
    if units == {None}:  # "Total Time" without "(ns)"
        return "2019.5 to 2020.3"
    return "2020.4 to 2020.5"


def rows_above(n: int) -> str:
    """How a cut table's warning counts the rows read before the cut."""
    return "the row above it was read." if n == 1 else f"the {n} rows above it were read."
