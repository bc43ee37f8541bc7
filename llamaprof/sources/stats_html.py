"""Read `nsys stats --format hdoc` and `--format htable` output into a ``Run``.

``htable`` is one ``<table>`` per report: a ``<thead>`` row of ``<th>`` labels (those of the
CSV header) and ``<tbody>`` rows of ``<td>`` cells. ``hdoc`` wraps each in a whole HTML
document whose ``<h1>`` names the report (``CUDA API Summary (cuda_api_sum)``); several
reports are several documents one after another. With stdout kept, the ``Processing
[...]`` and ``SKIPPED: ...`` lines stand as text between them. A report is named by the
``<h1>`` or ``Processing`` line above its table, else by its columns (``stats_collect``).

Parsed with the standard library's ``html.parser`` (entities such as ``&lt;`` in kernel
names are decoded); cells are read like the CSV's.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_collect import Collector
from llamaprof.sources.stats_markers import parse_marker
from llamaprof.sources.stats_tables import Column, classify, column_of

__all__ = ["html_table_at", "parse_stats_html"]

_TITLES = ("h1", "h2", "h3", "h4", "h5", "h6", "caption")
_THEAD_END = re.compile(r"</thead\s*>", re.IGNORECASE)


class _Table:
    def __init__(self, line: int) -> None:
        self.line = line  # 1-based line of <table>
        self.header: list[str] = []
        self.rows: list[tuple[int, list[str]]] = []  # (line, cells)
        self.closed = False


class _Events(HTMLParser):
    """The text lines, titles and tables of an HTML text, in order.

    ``events``: ``("line", n, text)`` for each line of text outside the tables (where
    nsys's ``Processing`` and ``SKIPPED`` lines are), ``("title", n, text)`` for a heading,
    ``("table", n, _Table)`` for a table.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, int, object]] = []
        self.table: _Table | None = None
        self.row: list[str] | None = None
        self.row_line = 0
        self.cell: list[str] | None = None
        self.in_head = False
        self.title: list[str] | None = None
        self.title_line = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        if tag == "table":
            self.table = _Table(line)
            self.events.append(("table", line, self.table))
        elif self.table is None:
            if tag in _TITLES:
                self.title, self.title_line = [], line
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.row, self.row_line = [], line
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.table is not None:
            self.table.closed = True
            self.table = self.row = self.cell = None
        elif self.table is None:
            if tag in _TITLES and self.title is not None:
                title = " ".join("".join(self.title).split())
                self.events.append(("title", self.title_line, title))
                self.title = None
        elif tag == "thead":
            self.in_head = False
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self._end_row()

    def _end_row(self) -> None:
        assert self.table is not None and self.row is not None
        if self.in_head or not self.table.header:
            self.table.header = [" ".join(c.split()) for c in self.row]
        else:
            self.table.rows.append((self.row_line, self.row))
        self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        elif self.title is not None:
            self.title.append(data)
        elif self.table is None:
            first = self.getpos()[0]
            for k, text in enumerate(data.split("\n")):
                if text.strip():
                    self.events.append(("line", first + k, text.strip()))

    def close(self) -> None:
        super().close()
        if self.table is not None and self.row is not None and self.row:
            self._end_row()  # a text cut inside a row: keep what was read of it


def _columns(header: list[str]) -> list[Column] | None:
    columns = [column_of(label) for label in header]
    if not columns or classify(columns) is None:
        return None
    return [c for c in columns if c is not None]


def html_table_at(text: str, pos: int) -> list[Column] | None:
    """The columns of the first HTML table from ``text[pos]`` on, if its header is one of
    the four summaries' (only the header needs to be there: a file's head will do)."""
    end = _THEAD_END.search(text, pos)
    parser = _Events()
    parser.feed(text[pos : end.end()] if end else text[pos : pos + 65536])
    for kind, _, value in parser.events:
        if kind == "table" and isinstance(value, _Table):
            return _columns(value.header)
    return None


def parse_stats_html(text: str, path: str | Path) -> Run:
    """Parse `nsys stats --format hdoc/htable` output; ``path`` names the source.

    Raises ReportParseError when it holds no table of the four summaries and no SKIPPED line.
    """
    path = Path(path)
    parser = _Events()
    parser.feed(text)
    parser.close()
    found = Collector(path)
    markers = {
        id(event): parse_marker(_as_title(event)) for event in parser.events if event[0] != "table"
    }
    found.has_titles = Collector.titled(list(markers.values()))
    for event in parser.events:
        kind, line, value = event
        if kind != "table":
            found.apply(markers[id(event)])
            continue
        assert isinstance(value, _Table)
        columns = _columns(value.header)
        if columns is None:
            found.ctx = None  # another report's table (osrt_sum …): passed over
            found.other_tables += 1
            continue
        rows = [_values(cells, columns) for _, cells in value.rows]
        row_lines = [n for n, _ in value.rows]
        cut_line = None if value.closed else (row_lines[-1] if row_lines else line) + 1
        found.add(line, columns, rows, row_lines, cut_line=cut_line)
    return found.finish(ReportFormat.STATS_TEXT)


def _values(cells: list[str], columns: list[Column]) -> list[str]:
    """Cell texts as printed; a 2022.4 grid/block keeps its leading spaces ("   4    1    1")."""
    return [
        cell.rstrip() if col.field in ("grid", "block") else cell.strip()
        for cell, col in zip(cells, columns, strict=False)
    ] + [cell.strip() for cell in cells[len(columns) :]]


def _as_title(event: tuple[str, int, object]) -> str:
    """A heading as the column format prints its title, so ``parse_marker`` reads both."""
    kind, _, value = event
    return f" ** {value}:" if kind == "title" else str(value)
