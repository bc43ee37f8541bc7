"""Read the tables `nsys stats` prints as text (``--format column`` and ``table``) into a ``Run``.

What is read: the four CUDA summaries in every layout seen (titles, column names,
units, thousands separators and locales change across versions, see
``shared/docs/nsys-stats-semantics.md`` §4), wherever they sit in a file: the bare
output of ``nsys stats``, the ``--stats=true`` tail of ``nsys profile``, a shell
transcript, a markdown code block. Everything else (other reports, program
output, prompts, ``NOTICE`` blocks) is passed over; ``SKIPPED: ...`` lines become
``Run.skipped``.

How a table is found: in the column format, a header line above a line of dashes (one
run of ``-`` per column; cells cut by ``stats_cells``); in the table format, a header
row boxed by ``+---+`` borders (cells cut by ``stats_box``). Text pasted from a terminal
may hold blank lines inside a table (between header and dashes, between rows): they are
passed over while the next line is still the table's, so the table is read whole.

Which report a table is: the title or ``Processing [...]`` line above it (see
``stats_collect``). A table cut off (a row that is not a row, a header with no rows, a box
with no closing border) keeps the rows read before the cut and gets a warning in
``run.info.warnings``; a text with no table and no SKIPPED line raises ``ReportParseError``.

``parse_stats_text`` is the entry for any text ``nsys stats`` prints: CSV/TSV, JSON and
HTML (``hdoc``/``htable``) are recognised by their content and handed to their readers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_box import box_cells, box_spans, is_border, is_box_row
from llamaprof.sources.stats_cells import (
    DASHES_RE,
    dash_spans,
    looks_like_cut_row,
    split_by_spans,
    split_row,
    table_columns,
)
from llamaprof.sources.stats_collect import Collector
from llamaprof.sources.stats_markers import (
    Marker,
    decode_text,
    is_nsys_marker,
    parse_marker,
    read_text_bytes,
)
from llamaprof.sources.stats_tables import Column, classify, column_of

__all__ = ["parse_stats_text", "read_stats_text", "sniff_kind", "sniff_text_format"]

_FENCE_RE = re.compile(r"\s*(```|~~~)")

#: What ``sniff_kind`` tells apart; every kind but CSV is a ``ReportFormat.STATS_TEXT`` run.
TEXT, CSV, JSON, HTML = "text", "csv", "json", "html"


def read_stats_text(path: str | Path) -> Run:
    """Read a file holding `nsys stats` text output (any of its formats, see ``sniff_kind``).

    Raises ReportParseError for a file that cannot be read, is not text, or holds
    no nsys stats table and no SKIPPED line.
    """
    path = Path(path)
    text = decode_text(read_text_bytes(path))
    if text is None:
        raise ReportParseError(path, "is not text (binary data)")
    return parse_stats_text(text, path)


def sniff_text_format(head: bytes) -> ReportFormat | None:
    """STATS_TEXT or STATS_CSV if ``head`` (a file's first bytes) is `nsys stats` output.

    Text: a table header above a dash line or boxed by ``+---+`` borders, or the JSON or
    HTML of ``--format json/hdoc/htable``. CSV: a header line with the CUDA summaries'
    column names. A file with no table but nsys's own lines (``Processing [...]``,
    ``SKIPPED: ...``, titles) is text: every report in it was skipped. Binary data and
    prose give None.
    """
    text = decode_text(head)
    if text is None:
        return None
    return sniff_decoded(text)


def sniff_decoded(text: str) -> ReportFormat | None:
    """``sniff_text_format`` for text already decoded."""
    kind = sniff_kind(text)
    if kind is None:
        return None
    return ReportFormat.STATS_CSV if kind == CSV else ReportFormat.STATS_TEXT


def sniff_kind(text: str) -> str | None:
    """Which output of ``nsys stats`` ``text`` is: ``TEXT`` (column or table format),
    ``CSV`` (csv or tsv), ``JSON``, ``HTML`` (hdoc or htable), or None.

    The first table found decides; a text with no table but nsys's own lines is ``TEXT``.
    Only the start of a JSON array or HTML table needs to be there (a file's head will do).
    """
    from llamaprof.sources.stats_csv import csv_header_columns
    from llamaprof.sources.stats_html import html_table_at
    from llamaprof.sources.stats_json import json_table_at

    lines = text.splitlines(keepends=True)
    marker_seen = False
    offset = 0
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        start, offset = offset, offset + len(raw)
        stripped = line.lstrip()
        if stripped.startswith("[") and json_table_at(text, start + len(line) - len(stripped)):
            return JSON
        if "<table" in line.lower() and html_table_at(text, start):
            return HTML
        if DASHES_RE.fullmatch(line):
            header = _previous_nonblank(lines, i)
            if header is not None and table_columns(lines[header].rstrip("\r\n"), line):
                return TEXT
        if is_border(line) and _box_header(lines, i) is not None:
            return TEXT
        if ("," in line or ";" in line or "\t" in line) and csv_header_columns(line):
            return CSV
        if not marker_seen:
            marker_seen = any(is_nsys_marker(m) for m in parse_marker(line))
    return TEXT if marker_seen else None


def parse_stats_text(text: str, path: str | Path) -> Run:
    """Parse `nsys stats` output held in a string; ``path`` names the source (a label for
    pasted text).

    Column and table formats are read here; CSV/TSV, JSON and HTML go to their readers.
    Raises ReportParseError when the text holds no nsys stats table and no SKIPPED line.
    """
    path = Path(path)
    kind = sniff_kind(text)
    if kind == CSV:
        from llamaprof.sources.stats_csv import parse_stats_csv

        return parse_stats_csv(text, path)
    if kind == JSON:
        from llamaprof.sources.stats_json import parse_stats_json

        return parse_stats_json(text, path)
    if kind == HTML:
        from llamaprof.sources.stats_html import parse_stats_html

        return parse_stats_html(text, path)
    lines, fences = _lines(text)
    state = _Parse(path, lines, fences)
    state.run()
    return state.finish(ReportFormat.STATS_TEXT)


def _lines(text: str) -> tuple[list[str], set[int]]:
    """The text's lines ready to read, and the indices of markdown fences in them."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\t", "    ")
    lines = text.splitlines()

    def has_table(candidate: list[str]) -> bool:
        return any(DASHES_RE.fullmatch(line) or is_border(line) for line in candidate)

    if not has_table(lines):
        # Output kept as comments in a shell script ("#  Time (%) ..."): drop "# ".
        commented = [re.sub(r"^# ?", "", line) if line.startswith("#") else line for line in lines]
        if has_table(commented):
            lines = commented
    # A markdown fence is a boundary like a blank line, and no table runs across it.
    fences = {i for i, line in enumerate(lines) if _FENCE_RE.match(line)}
    return ["" if i in fences else line for i, line in enumerate(lines)], fences


def _previous_nonblank(lines: list[str], i: int) -> int | None:
    """Index of the nearest non-blank line above ``i`` (a header above blank lines)."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j if j >= 0 else None


def _next_nonblank(lines: list[str], i: int, stop: set[int] | None = None) -> int | None:
    """Index of the first non-blank line from ``i`` on, None at the end or a fence."""
    j = i
    while j < len(lines) and not lines[j].strip():
        if stop and j in stop:
            return None
        j += 1
    return j if j < len(lines) else None


def _box_header(
    lines: list[str], i: int, stop: set[int] | None = None
) -> tuple[int, int, list[Column], list[tuple[int, int]]] | None:
    """For a border at ``i``: (header index, lower border index, columns, cell spans) when
    a header row of one of the four summaries follows, else None."""
    h = _next_nonblank(lines, i + 1, stop)
    if h is None or not is_box_row(lines[h].rstrip("\r\n")):
        return None
    b = _next_nonblank(lines, h + 1, stop)
    if b is None or not is_border(lines[b].rstrip("\r\n")):
        return None
    spans = box_spans(lines[i].rstrip("\r\n"))
    labels = [cell.strip() for cell in box_cells(lines[h].rstrip("\r\n"), spans)]
    columns = [column_of(label) for label in labels]
    if len(columns) != len(spans) or classify(columns) is None:
        return None
    return h, b, [c for c in columns if c is not None], spans


def _box_value(cell: str, column: Column) -> str:
    """A boxed cell's value: padding dropped; a grid/block keeps its own leading spaces."""
    if column.field in ("grid", "block"):
        return (cell[1:] if cell.startswith(" ") else cell).rstrip()
    return cell.strip()


class _Parse(Collector):
    """One pass over the lines of a text, collecting tables, skips and notes."""

    def __init__(self, path: Path, lines: list[str], fences: set[int]) -> None:
        super().__init__(path)
        self.lines, self.fences = lines, fences
        self.markers: list[list[Marker]] = [parse_marker(line) for line in lines]

    def run(self) -> None:
        self.has_titles = self.titled(self.markers)
        i = 0
        while i < len(self.lines):
            if self.markers[i]:
                self.apply(self.markers[i])
                i += 1
                continue
            line = self.lines[i]
            if not line.strip():
                i += 1
                continue
            if is_border(line):
                box = _box_header(self.lines, i, self.fences)
                i = self._box_table(i, *box) if box else i + 1
                continue
            d = _next_nonblank(self.lines, i + 1, self.fences)
            if d is not None and DASHES_RE.fullmatch(self.lines[d]):
                columns = table_columns(line, self.lines[d])
                if columns is not None:
                    i = self._column_table(i, d, columns, dash_spans(self.lines[d]))
                    continue
            elif self._is_lone_header(i):
                self.cut_headers.append(i + 1)
            i += 1

    def _is_lone_header(self, i: int) -> bool:
        nxt = self.lines[i + 1] if i + 1 < len(self.lines) else ""
        if nxt.strip():
            return False
        labels = re.split(r"\s{2,}", self.lines[i].strip())
        return len(labels) >= 5 and classify([column_of(label) for label in labels]) is not None

    def _continues(self, j: int, is_row: Callable[[str], bool]) -> int | None:
        """After blank lines from ``j``: the index of the next line if it is still a row of
        the table (``is_row``), else None. Pasted text breaks tables with blank lines."""
        k = _next_nonblank(self.lines, j, self.fences)
        if k is None or self.markers[k] or not is_row(self.lines[k]):
            return None
        return k

    def _column_table(
        self, i: int, d: int, columns: list[Column], spans: list[tuple[int, int]]
    ) -> int:
        """Read the column-format table whose header is line ``i`` and dashes line ``d``;
        return the index after it."""
        rows: list[list[str]] = []
        row_lines: list[int] = []
        j = d + 1
        cut_line = None
        while j < len(self.lines):
            line = self.lines[j]
            if not line.strip():
                k = self._continues(j, lambda x: split_by_spans(x, spans, columns) is not None)
                if k is None:
                    break
                j = k
                continue
            cells = split_row(line, spans, columns)
            if cells is None:
                if looks_like_cut_row(line):
                    cut_line = j + 1
                break
            rows.append(cells)
            row_lines.append(j + 1)
            j += 1
        self.add(i + 1, columns, rows, row_lines, cut_line=cut_line)
        return j

    def _box_table(
        self, top: int, h: int, b: int, columns: list[Column], spans: list[tuple[int, int]]
    ) -> int:
        """Read the boxed table whose top border is line ``top``, header ``h`` and border
        under the header ``b``; return the index after its closing border."""
        rows: list[list[str]] = []
        row_lines: list[int] = []
        j = b + 1
        closed = False
        while j < len(self.lines):
            line = self.lines[j]
            if is_border(line):
                closed, j = True, j + 1
                break
            if not line.strip():
                k = self._continues(j, lambda x: is_box_row(x) or is_border(x))
                if k is None:
                    break
                j = k
                continue
            if not is_box_row(line):
                break
            cells = box_cells(line, spans)
            rows.append([_box_value(c, col) for c, col in zip(cells, columns, strict=False)])
            row_lines.append(j + 1)
            j += 1
        # no closing border: the box was cut off (after its last row, or at a line that is none)
        cut_line = None if closed else (row_lines[-1] if row_lines else b + 1) + 1
        self.add(h + 1, columns, rows, row_lines, cut_line=cut_line)
        return j
