"""The cells of `nsys stats --format column`: a header above a line of dashes.

A table is a header line directly above a line of dashes, one run of ``-`` per column.
Rows are cut at the dash runs' columns, not at whitespace, because names hold spaces and
the 2022.4 ``GridXYZ`` cells are ``"   1    1    1"``; a row whose cells do not fit those
columns (hand-edited or re-indented text) is split at whitespace instead, numbers first and
the name last. This module only cuts lines into cells; ``stats_text`` reads the tables.
"""

from __future__ import annotations

import re

from llamaprof.sources.stats_markers import parse_marker
from llamaprof.sources.stats_tables import NUMERIC_FIELDS, Column, classify, column_of

__all__ = [
    "DASHES_RE",
    "dash_spans",
    "looks_like_cut_row",
    "split_by_spans",
    "split_row",
    "table_columns",
]

DASHES_RE = re.compile(r"\s*-+(?:[ \t]+-+){2,}\s*")
_CELL_NUMBER_RE = re.compile(r"[-+]?[0-9][0-9.,'\u00a0\u202f]*|[-+]?[.,][0-9]+|nan|-nan")


def dash_spans(dashes: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each run of dashes: one per column."""
    return [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]


def _header_labels(header: str, spans: list[tuple[int, int]]) -> list[str]:
    parts = re.split(r"\s{2,}", header.strip())
    if len(parts) == len(spans):
        return parts
    return [cell.strip() for cell in _slice(header, spans)]


def table_columns(header: str, dashes: str) -> list[Column] | None:
    """The columns of a header whose shape is one of the four summaries, else None."""
    if not header.strip() or parse_marker(header):
        return None
    spans = dash_spans(dashes)
    columns = [column_of(label) for label in _header_labels(header, spans)]
    if len(columns) != len(spans) or classify(columns) is None:
        return None
    return [c for c in columns if c is not None]


def _slice(line: str, spans: list[tuple[int, int]]) -> list[str]:
    starts = [start for start, _ in spans] + [max(len(line), spans[-1][1])]
    return [line[starts[k] : starts[k + 1]] for k in range(len(spans))]


def split_row(line: str, spans: list[tuple[int, int]], columns: list[Column]) -> list[str] | None:
    """The cells of a table row, or None if ``line`` is not a row of this table."""
    cells = split_by_spans(line, spans, columns)
    if cells is None:
        cells = _split_by_words(line, columns)
    return cells


def split_by_spans(
    line: str, spans: list[tuple[int, int]], columns: list[Column]
) -> list[str] | None:
    """The cells of a row aligned with the dash runs exactly, else None."""
    if line[: spans[0][0]].strip():
        return None
    cells = []
    for (start, end), cell, col in zip(spans, _slice(line, spans), columns, strict=True):
        if col.field in NUMERIC_FIELDS:
            # A number sits inside its dash run: right-aligned, nothing after its end.
            if cell[end - start :].strip() or not _CELL_NUMBER_RE.fullmatch(cell.strip()):
                return None
            cells.append(cell.strip())
        elif col.field == "name":
            cells.append(cell.strip())
        else:  # grid/block: "   1    1    1", leading spaces are part of the value
            if not re.fullmatch(r"\s*\d+\s+\d+\s+\d+\s*", cell):
                return None
            cells.append(cell.rstrip())
    return cells if cells[-1] else None


def _split_by_words(line: str, columns: list[Column]) -> list[str] | None:
    fields = [c.field for c in columns]
    n_numeric = sum(f in NUMERIC_FIELDS for f in fields)
    if any(f in NUMERIC_FIELDS for f in fields[n_numeric:]):
        return None  # numbers are not all first: no safe way to split at whitespace
    words = line.split()
    if len(words) <= n_numeric:
        return None
    cells = words[:n_numeric]
    if not all(_CELL_NUMBER_RE.fullmatch(c) for c in cells):
        return None
    rest = words[n_numeric:]
    for _ in fields[n_numeric:-1]:  # grid, block: three numbers each
        triple, rest = rest[:3], rest[3:]
        if len(triple) != 3 or not all(t.isdigit() for t in triple):
            return None
        cells.append(" ".join(f"{t:>4}" for t in triple))
    if not rest:
        return None
    cells.append(" ".join(rest))
    return cells


def looks_like_cut_row(line: str) -> bool:
    """A line that starts like a row (a number) but is none: a row cut off."""
    words = line.split()
    return bool(words) and bool(_CELL_NUMBER_RE.fullmatch(words[0]))
