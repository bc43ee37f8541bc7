"""The cells of `nsys stats --format table`: tables drawn with ``+---+`` and ``|``.

nsys 2022.4 and 2023.4 print the same reports, titles and ``Processing [...]`` lines as in
the column format, only each table is boxed::

    +----------+-----------------+-----------+ ... +------------------------+
    | Time (%) | Total Time (ns) | Num Calls | ... |          Name          |
    +----------+-----------------+-----------+ ... +------------------------+
    |     72.0 |       701940381 |         3 | ... | cudaHostAlloc          |
    +----------+-----------------+-----------+ ... +------------------------+

Each cell has one space of padding on either side; numbers are right-aligned, text
left-aligned (a 2022.4 ``GridXYZ`` value keeps its own leading spaces, ``"   4    1    1"``).
Cells are cut at the ``+`` of the border above, so a ``|`` inside a kernel name is kept; a
row whose bars are elsewhere (re-indented text) is split at its bars instead, any extra ones
going back into the name. This module only cuts lines into cells; ``stats_text`` reads the
tables (it finds the titles, skips and notes around them the same way in both formats).
"""

from __future__ import annotations

import itertools
import re

__all__ = ["box_cells", "box_spans", "is_border", "is_box_row"]

_BORDER_RE = re.compile(r"\s*\+(?:-+\+){2,}\s*")
_ROW_RE = re.compile(r"\s*\|.*\|\s*")


def is_border(line: str) -> bool:
    """``+-----+----+…+`` with at least two cells."""
    return bool(_BORDER_RE.fullmatch(line))


def is_box_row(line: str) -> bool:
    """A line between bars: ``| … |``."""
    return bool(_ROW_RE.fullmatch(line))


def box_spans(border: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each cell between two ``+`` of a border line."""
    plus = [m.start() for m in re.finditer(r"\+", border)]
    return [(a + 1, b) for a, b in itertools.pairwise(plus)]


def box_cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    """The raw cells of a boxed row (padding included), one per span.

    Cut at the border's columns when the row's bars stand there, else at its bars (a
    re-indented row); bars beyond the expected number are given back to the last cell.
    """
    bars = [start - 1 for start, _ in spans] + [spans[-1][1]]
    if len(line) > bars[-1] and all(line[b] == "|" for b in bars):
        return [line[a:b] for a, b in spans]
    inner = line.strip()[1:-1]
    parts = inner.split("|")
    if len(parts) > len(spans):
        parts = [*parts[: len(spans) - 1], "|".join(parts[len(spans) - 1 :])]
    return parts
