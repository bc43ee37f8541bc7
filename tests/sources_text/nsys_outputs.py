"""Helpers of the tests that compare real `nsys stats` outputs with the SQLite read.

``printed(run, report)``: what llamaprof prints of a report (``render_csv``) as values to
compare, with the ways nsys itself varies accounted for; ``with_blank_lines(text)``: a text
broken as a terminal paste may break it.
"""

from __future__ import annotations

import csv
import io

from llamaprof import reports
from llamaprof.model import Run
from llamaprof.render.nsys_format import render_csv
from llamaprof.reports import canonical_op


def cut_name(name: str) -> str:
    """A name as ``column``/``table`` print it: over 100 characters, 99 + ``…``."""
    return name if len(name) <= 100 else name[:99] + "…"


def printed(run: Run, report: str, *, cut: bool = False):
    """What llamaprof prints of ``report``, comparable across nsys's outputs of one run.

    Kernels: name -> (total ns, instances, min ns, max ns), rows of one name merged (nsys
    2022.4 splits them by grid/block). API: the CSV rows, header first. Memory: the CSV
    rows with the label as its canonical direction (2022.4 prints ``[CUDA memcpy HtoD]``).
    ``cut``: cut the names as the text formats print them, to compare with those.
    """
    header, *rows = list(csv.reader(io.StringIO(render_csv(run, report))))
    if report == reports.KERNELS:
        col = {label: k for k, label in enumerate(header)}
        merged: dict[str, tuple[int, int, int, int]] = {}
        for row in rows:
            name = cut_name(row[col["Name"]]) if cut else row[col["Name"]]
            total, count = int(row[col["Total Time (ns)"]]), int(row[col["Instances"]])
            low, high = int(row[col["Min (ns)"]]), int(row[col["Max (ns)"]])
            if name in merged:
                t, c, lo, hi = merged[name]
                total, count, low, high = t + total, c + count, min(lo, low), max(hi, high)
            merged[name] = (total, count, low, high)
        return merged
    if report == reports.API:
        return [header, *([*row[:-1], cut_name(row[-1]) if cut else row[-1]] for row in rows)]
    return [header, *([*row[:-1], canonical_op(row[-1])] for row in rows)]


def with_blank_lines(text: str, *, table: bool) -> str:
    """``text`` as a terminal paste may break it: a blank line under every table header (and
    border) and between every two rows. ``table``: the text is ``--format table`` output."""
    out: list[str] = []
    lines = text.splitlines()
    for k, line in enumerate(lines):
        out.append(line)
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        if table:
            inside = line.startswith(("|", "+")) and nxt.startswith(("|", "+"))
        else:
            header = "Total" in line and nxt.lstrip().startswith("--")
            row = line[:12].strip()[:1].isdigit() and nxt[:12].strip()[:1].isdigit()
            inside = header or row
        if inside:
            out.append("")
    return "\n".join(out) + "\n"
