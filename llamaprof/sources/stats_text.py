"""Read the tables `nsys stats` prints (column format, nsys 2019.5 -> 2025) into a ``Run``.

What is read: the four CUDA summaries in every layout seen (titles, column names,
units, thousands separators and locales change across versions, see
``shared/docs/nsys-stats-semantics.md`` §4), wherever they sit in a file: the bare
output of ``nsys stats``, the ``--stats=true`` tail of ``nsys profile``, a shell
transcript, a markdown code block. Everything else (other reports, program
output, prompts, ``NOTICE`` blocks) is passed over; ``SKIPPED: ...`` lines become
``Run.skipped``.

How a table is found: a header line directly above a line of dashes (one run of
``-`` per column). Rows are cut at the dash runs' columns, not at whitespace,
because names hold spaces and the 2022.4 ``GridXYZ`` cells are ``"   1    1    1"``;
a row whose cells do not fit those columns (hand-edited or re-indented text) is
split at whitespace instead, numbers first and the name last.

Which report a table is: the title or ``Processing [...]`` line above it. A text
with no such line at all (a table pasted alone) is read by the header's shape;
in a text that has them, an untitled table is ignored (it may be the OS-runtime
summary, whose columns are the CUDA API summary's).

A table cut off (a row that is not a row, a header with no rows) keeps the rows
read before the cut and gets a warning in ``run.info.warnings``; a text with no table
and no SKIPPED line raises ``ReportParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_markers import (
    KERNEL_GB,
    OTHER,
    Marker,
    decode_text,
    is_nsys_marker,
    parse_marker,
    read_text_bytes,
    report_for_skip,
)
from llamaprof.sources.stats_tables import (
    NUMERIC_FIELDS,
    Column,
    Table,
    TableError,
    assemble_run,
    build_frame,
    classify,
    column_of,
    rows_above,
)

__all__ = ["parse_stats_text", "read_stats_text", "sniff_text_format"]

_DASHES_RE = re.compile(r"\s*-+(?:[ \t]+-+){2,}\s*")
_FENCE_RE = re.compile(r"\s*(```|~~~)")
_CELL_NUMBER_RE = re.compile(r"[-+]?[0-9][0-9.,'\u00a0\u202f]*|[-+]?[.,][0-9]+|nan|-nan")


def read_stats_text(path: str | Path) -> Run:
    """Read a file holding `nsys stats` text output.

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

    Text: a table header above a dash line. CSV: a header line with the CUDA
    summaries' column names. A file with no table but nsys's own lines
    (``Processing [...]``, ``SKIPPED: ...``, titles) is text: every report in
    it was skipped. Binary data and prose give None.
    """
    text = decode_text(head)
    if text is None:
        return None
    return sniff_decoded(text)


def sniff_decoded(text: str) -> ReportFormat | None:
    """``sniff_text_format`` for text already decoded."""
    from llamaprof.sources.stats_csv import csv_header_columns

    lines = text.splitlines()
    marker_seen = False
    for i, line in enumerate(lines):
        if _DASHES_RE.fullmatch(line) and i > 0 and _table_columns(lines[i - 1], line):
            return ReportFormat.STATS_TEXT
        if ("," in line or ";" in line or "\t" in line) and csv_header_columns(line):
            return ReportFormat.STATS_CSV
        if not marker_seen:
            marker_seen = any(is_nsys_marker(m) for m in parse_marker(line))
    return ReportFormat.STATS_TEXT if marker_seen else None


def parse_stats_text(text: str, path: str | Path) -> Run:
    """Parse `nsys stats` text output; ``path`` names the source (a label for pasted text).

    CSV output pasted here is handed to ``parse_stats_csv``. Raises
    ReportParseError when the text holds no nsys stats table and no SKIPPED line.
    """
    path = Path(path)
    if sniff_decoded(text) is ReportFormat.STATS_CSV:
        from llamaprof.sources.stats_csv import parse_stats_csv

        return parse_stats_csv(text, path)
    state = _Parse(path, _lines(text))
    state.run()
    return state.finish(ReportFormat.STATS_TEXT)


def _lines(text: str) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\t", "    ")
    lines = text.splitlines()
    if not any(_DASHES_RE.fullmatch(line) for line in lines):
        # Output kept as comments in a shell script ("#  Time (%) ..."): drop "# ".
        commented = [re.sub(r"^# ?", "", line) if line.startswith("#") else line for line in lines]
        if any(_DASHES_RE.fullmatch(line) for line in commented):
            lines = commented
    # A markdown fence is a boundary like a blank line.
    return ["" if _FENCE_RE.match(line) else line for line in lines]


def _spans(dashes: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]


def _header_labels(header: str, spans: list[tuple[int, int]]) -> list[str]:
    parts = re.split(r"\s{2,}", header.strip())
    if len(parts) == len(spans):
        return parts
    return [cell.strip() for cell in _slice(header, spans)]


def _table_columns(header: str, dashes: str) -> list[Column] | None:
    """The columns of a header whose shape is one of the four summaries, else None."""
    if not header.strip() or parse_marker(header):
        return None
    spans = _spans(dashes)
    columns = [column_of(label) for label in _header_labels(header, spans)]
    if len(columns) != len(spans) or classify(columns) is None:
        return None
    return [c for c in columns if c is not None]


def _slice(line: str, spans: list[tuple[int, int]]) -> list[str]:
    starts = [start for start, _ in spans] + [max(len(line), spans[-1][1])]
    return [line[starts[k] : starts[k + 1]] for k in range(len(spans))]


def _split_row(line: str, spans: list[tuple[int, int]], columns: list[Column]) -> list[str] | None:
    """The cells of a table row, or None if ``line`` is not a row of this table."""
    cells = _split_by_spans(line, spans, columns)
    if cells is None:
        cells = _split_by_words(line, columns)
    return cells


def _split_by_spans(
    line: str, spans: list[tuple[int, int]], columns: list[Column]
) -> list[str] | None:
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


def _looks_like_cut_row(line: str) -> bool:
    words = line.split()
    return bool(words) and bool(_CELL_NUMBER_RE.fullmatch(words[0]))


@dataclass
class _Found:
    table: Table
    line: int  # 1-based line of the header


@dataclass
class _Parse:
    """One pass over the lines of a text, collecting tables, skips and notes."""

    path: Path
    lines: list[str]
    tables: dict[str, _Found] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # data left out: tables cut or unread
    versions: list[str] = field(default_factory=list)
    ctx: str | None = None
    ctx_size_unit: str | None = None
    ctx_naming: str | None = None
    has_titles: bool = False
    new_names: bool | None = None
    other_tables: int = 0
    cut_headers: list[int] = field(default_factory=list)

    def run(self) -> None:
        markers = [parse_marker(line) for line in self.lines]
        self.has_titles = any(is_nsys_marker(m) for ms in markers for m in ms)
        i = 0
        while i < len(self.lines):
            if markers[i]:
                self._apply_markers(markers[i])
                i += 1
                continue
            nxt = self.lines[i + 1] if i + 1 < len(self.lines) else ""
            if _DASHES_RE.fullmatch(nxt):
                columns = _table_columns(self.lines[i], nxt)
                if columns is not None:
                    i = self._table(i, columns, _spans(nxt))
                    continue
            elif self._is_lone_header(i, nxt):
                self.cut_headers.append(i + 1)
            i += 1

    def _is_lone_header(self, i: int, nxt: str) -> bool:
        line = self.lines[i]
        if not line.strip() or nxt.strip():
            return False
        labels = re.split(r"\s{2,}", line.strip())
        return len(labels) >= 5 and classify([column_of(label) for label in labels]) is not None

    def _apply_markers(self, markers: list[Marker]) -> None:
        for marker in markers:
            if marker.version and marker.version not in self.versions:
                self.versions.append(marker.version)
            if marker.kind == "report":
                self.ctx = marker.report
                self.ctx_size_unit = marker.size_unit
                self.ctx_naming = marker.naming
                if marker.new_names is not None and self.new_names is None:
                    self.new_names = marker.new_names
            elif marker.kind == "skipped" and marker.skip_reason:
                self._skip(marker.skip_reason)

    def _skip(self, reason: str) -> None:
        target = self.ctx
        if target is None:
            target = report_for_skip(reason, [*self.skipped, *self.tables])
        if target in reports.REPORT_NAMES and target not in self.tables:
            self.skipped.setdefault(target, reason)
        self.ctx = None

    def _table(self, i: int, columns: list[Column], spans: list[tuple[int, int]]) -> int:
        """Read the table whose header is line ``i``; return the index after it."""
        header_line = i + 1
        rows: list[list[str]] = []
        j = i + 2
        cut_line = None
        while j < len(self.lines):
            line = self.lines[j]
            if not line.strip():
                break
            cells = _split_row(line, spans, columns)
            if cells is None:
                if _looks_like_cut_row(line):
                    cut_line = j + 1
                break
            rows.append(cells)
            j += 1
        size_unit, naming = self.ctx_size_unit, self.ctx_naming
        report = self._report_for(columns, header_line)
        self.ctx, self.ctx_size_unit, self.ctx_naming = None, None, None
        if report is None:
            return j
        try:
            table = build_frame(
                report if report != KERNEL_GB else reports.KERNELS,
                columns,
                rows,
                size_unit=size_unit,
                naming=naming,
            )
        except TableError as exc:
            self.warnings.append(f"A table at line {header_line} was not read: {exc}.")
            return j
        if table.cut_at is not None:
            cut_line = i + 3 + table.cut_at
        if cut_line is not None:
            self.warnings.append(
                f"{report}: the table is cut off at line {cut_line}; {rows_above(table.rows_read)}"
            )
        if report in self.tables:
            self.notes.append(
                f"{report}: another table at line {header_line} was ignored "
                f"(the first one, at line {self.tables[report].line}, is used)."
            )
        else:
            self.tables[report] = _Found(table, header_line)
        return j

    def _report_for(self, columns: list[Column], line: int) -> str | None:
        shape = classify(columns)
        ctx = self.ctx
        if ctx in reports.REPORT_NAMES or ctx == KERNEL_GB:
            expected = reports.KERNELS if ctx == KERNEL_GB else ctx
            if shape == expected:
                return ctx
            self.notes.append(
                f"The table at line {line} is under a {ctx} title but has other columns; "
                "it was ignored."
            )
            return None
        if ctx == OTHER:
            self.other_tables += 1
            return None
        if self.has_titles:
            self.other_tables += 1
            self.notes.append(
                f"A table without a title at line {line} was ignored "
                "(its columns alone do not say which report it is)."
            )
            return None
        return shape

    def finish(self, fmt: ReportFormat) -> Run:
        """The Run, or ReportParseError if nothing was found."""
        return assemble_run(
            self.path,
            fmt,
            {r: f.table for r, f in self.tables.items()},
            self.skipped,
            self.notes,
            self.versions,
            warnings=self.warnings,
            other_tables=self.other_tables,
            cut_headers=self.cut_headers,
            new_names=self.new_names,
        )
