"""Read `nsys stats --format json` output into a ``Run``.

Each report is one JSON array of row objects keyed by the column labels of the CSV header
(``"Time (%)"``, ``"Total Time (ns)"``, ``"Name"`` …). nsys 2022.4 and 2023.4 print no report
name inside the JSON, and several reports come out as several arrays one after another,
each after its ``Processing [...] with [.../cuda_api_sum.py]...`` line when stdout is kept
(``SKIPPED: ...`` lines stand between them). So a report is named by that line when there
is one, else by its columns (as a table pasted alone is: ``stats_collect``).

Numbers are kept as printed (``parse_float=str``) and read exactly like the CSV's; an
exponent (``1e-05``) is written out in full first. An array cut off keeps the rows read
before the cut and gets a warning.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_collect import Collector
from llamaprof.sources.stats_markers import parse_marker
from llamaprof.sources.stats_tables import US, Column, classify, column_of

__all__ = ["json_table_at", "parse_stats_json"]

_DECODER = json.JSONDecoder(
    parse_float=str,
    parse_int=str,
    parse_constant=lambda name: name.lower(),  # NaN -> "nan", read as an empty value
)
_SPACE = re.compile(r"\s*")


def _skip_space(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not white space."""
    match = _SPACE.match(text, pos)
    assert match is not None  # \s* matches everywhere, if only the empty string
    return match.end()
_EXPONENT = re.compile(r"[-+]?\d*\.?\d+[eE][-+]?\d+")


def json_table_at(text: str, pos: int) -> list[Column] | None:
    """The columns of the JSON array starting at ``text[pos]`` if its first row is a row of
    one of the four summaries (only that row needs to be complete: a file's head will do)."""
    if not text.startswith("[", pos):
        return None
    start = _skip_space(text, pos + 1)
    try:
        first, _ = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    return _columns(first)


def _columns(row: object) -> list[Column] | None:
    if not isinstance(row, dict) or not row:
        return None
    columns = [column_of(str(label)) for label in row]
    if classify(columns) is None:
        return None
    return [c for c in columns if c is not None]


def _cell(value: object) -> str:
    """A JSON value as the text nsys would have printed in CSV."""
    if value is None:
        return ""
    text = str(value)
    if _EXPONENT.fullmatch(text):
        try:
            return format(Decimal(text), "f")
        except InvalidOperation:
            return text
    return text


class _Lines:
    """1-based line numbers of offsets in a text, counted forwards only once."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def parse_stats_json(text: str, path: str | Path) -> Run:
    """Parse `nsys stats --format json` output; ``path`` names the source.

    Raises ReportParseError when it holds no array of the four summaries and no SKIPPED line.
    """
    path = Path(path)
    found = Collector(path)
    lines = _Lines(text)
    events: list[tuple[str, int, object]] = []  # ("line", pos, text) / ("array", pos, rows)
    pos = 0
    while pos < len(text):
        pos = _skip_space(text, pos)
        if pos >= len(text):
            break
        if text[pos] == "[" and json_table_at(text, pos) is not None:
            rows, end, complete = _array(text, pos)
            events.append(("array", pos, (rows, complete, end)))
            pos = end
            continue
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        events.append(("line", pos, text[pos:end]))
        pos = end + 1
    found.has_titles = Collector.titled(
        [parse_marker(str(value)) for kind, _, value in events if kind == "line"]
    )
    for kind, at, value in events:
        if kind == "line":
            found.apply(parse_marker(str(value)))
            continue
        rows, complete, end = value  # type: ignore[misc]
        _add_array(found, lines, at, rows, complete, end)
    return found.finish(ReportFormat.STATS_TEXT)


def _array(text: str, pos: int) -> tuple[list[tuple[int, object]], int, bool]:
    """The rows (with their offsets) of the array at ``pos``, where it ends, and whether it
    was complete; a row that does not decode ends it where that row starts (the text was
    cut off there)."""
    rows: list[tuple[int, object]] = []
    pos += 1
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            return rows, pos, False
        if text[pos] == "]":
            return rows, pos + 1, True
        if text[pos] == "," and rows:
            pos += 1
            continue
        try:
            row, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            return rows, pos, False  # the rest is read as lines: nothing in it is a marker
        rows.append((pos, row))
        pos = end


def _add_array(
    found: Collector,
    lines: _Lines,
    at: int,
    rows: list[tuple[int, object]],
    complete: bool,
    end: int,
) -> None:
    header_line = lines.at(at)
    first = rows[0][1]
    labels = list(first) if isinstance(first, dict) else []
    columns = _columns(first)
    assert columns is not None  # json_table_at checked the first row
    cells: list[list[str]] = []
    row_lines: list[int] = []
    cut_line = None
    for offset, row in rows:
        line = lines.at(offset)
        if not isinstance(row, dict) or list(row) != labels:
            cut_line = line  # a row with other keys: not a row of this table
            break
        cells.append([_cell(row[label]) for label in labels])
        row_lines.append(line)
    if cut_line is None and not complete:
        cut_line = lines.at(min(end, len(lines.text)))
    found.add(header_line, columns, cells, row_lines, cut_line=cut_line, style=US)
