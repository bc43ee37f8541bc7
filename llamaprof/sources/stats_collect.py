"""What the readers of `nsys stats` output share: which report a table is, and the Run.

Every output format of ``nsys stats`` (column, table, JSON, HTML) prints the same things
around its tables when its stdout is kept: ``Processing [...] with [.../cuda_api_sum.py]``,
titles, ``SKIPPED: ...`` lines. A reader walks its input in order, hands those lines to
``Collector.apply`` and each table it finds (header labels and cells, as printed) to
``Collector.add``; ``Collector.finish`` turns it all into a ``Run``.

Which report a table is: the last title or ``Processing`` line above it. An input with no
such line at all (a table saved or pasted alone) is read by the header's shape; in an input
that has them, an untitled table is ignored (it may be the OS-runtime summary, whose columns
are the CUDA API summary's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llamaprof import reports
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.stats_markers import (
    KERNEL_GB,
    OTHER,
    Marker,
    is_nsys_marker,
    report_for_skip,
)
from llamaprof.sources.stats_tables import (
    Column,
    NumberStyle,
    Table,
    TableError,
    assemble_run,
    build_frame,
    classify,
    rows_above,
)

__all__ = ["Collector"]


@dataclass
class _Found:
    table: Table
    line: int  # 1-based line of the header


@dataclass
class Collector:
    """Tables, skips and notes found in one input, in the order a reader meets them."""

    path: Path
    has_titles: bool = False  # the input names its reports somewhere (set before reading)
    tables: dict[str, _Found] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # data left out: tables cut or unread
    versions: list[str] = field(default_factory=list)
    ctx: str | None = None
    ctx_size_unit: str | None = None
    ctx_naming: str | None = None
    new_names: bool | None = None
    other_tables: int = 0
    cut_headers: list[int] = field(default_factory=list)

    @staticmethod
    def titled(markers: Sequence[Sequence[Marker]]) -> bool:
        """Whether any of the markers is a line only nsys prints (a title, a skip)."""
        return any(is_nsys_marker(m) for ms in markers for m in ms)

    def apply(self, markers: Sequence[Marker]) -> None:
        """Take in the markers of one line (title, Processing, SKIPPED, version)."""
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

    def add(
        self,
        header_line: int,
        columns: list[Column],
        rows: list[list[str]],
        row_lines: list[int],
        *,
        cut_line: int | None = None,
        style: NumberStyle | None = None,
    ) -> None:
        """Read one table: its header's line (1-based), columns, cells and the rows' lines.

        ``cut_line``: the line where the reader found the table cut off, if it did.
        ``style``: the number style when the format fixes it (JSON), else detected.
        """
        size_unit, naming = self.ctx_size_unit, self.ctx_naming
        report = self._report_for(columns, header_line)
        self.ctx, self.ctx_size_unit, self.ctx_naming = None, None, None
        if report is None:
            return
        try:
            table = build_frame(
                report if report != KERNEL_GB else reports.KERNELS,
                columns,
                rows,
                size_unit=size_unit,
                naming=naming,
                style=style,
            )
        except TableError as exc:
            self.warnings.append(f"A table at line {header_line} was not read: {exc}.")
            return
        if table.cut_at is not None:
            cut_line = row_lines[table.cut_at]
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
