"""A whole comparison of runs as a Markdown report, ready to paste into a pull request.

Kept streamlit-free: the app offers it as a download, the CLI can print it. Values are
for people (``llamaprof.units``); the exact numbers stay in the CSV of the diff tables.
"""

from __future__ import annotations

from collections.abc import Mapping

from llamaprof.analyze.compare import (
    OTHER,
    VIEWS,
    compare_runs,
    diff_table,
    humanize_diff_table,
    top_n_with_other,
    view_frames,
)
from llamaprof.analyze.kernel_names import short_names
from llamaprof.analyze.overview import run_overview
from llamaprof.model import Run
from llamaprof.units import NA, format_bytes, format_ns

__all__ = ["comparison_markdown"]

# Overview rows: (label, key of run_overview, formatter).
_OVERVIEW_ROWS = (
    ("GPU kernel time", "kernel_time_ns", format_ns),
    ("CUDA API time", "api_time_ns", format_ns),
    ("Memory operations time", "memops_time_ns", format_ns),
    ("Bytes host to device", "bytes_htod", format_bytes),
    ("Bytes device to host", "bytes_dtoh", format_bytes),
    ("Bytes device to device", "bytes_dtod", format_bytes),
    ("Bytes other (memset, peer…)", "bytes_other", format_bytes),
    ("Capture span", "span_ns", format_ns),
    ("GPU busy", "gpu_busy_share", lambda v: NA if v is None else f"{v:.1%}"),
    ("nsys", "nsys_version", lambda v: v or NA),
    ("GPUs", "gpus", lambda v: ", ".join(v) or NA),
    ("Source", "format", str),
)


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join(align) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _run_header(label: str, baseline: str) -> str:
    return f"{label} (baseline)" if label == baseline else label


def _overview(runs: Mapping[str, Run], baseline: str) -> list[str]:
    facts = {label: run_overview(run) for label, run in runs.items()}
    header = ["", *(_run_header(label, baseline) for label in runs)]
    rows = [
        [title, *(fmt(facts[label][key]) for label in runs)] for title, key, fmt in _OVERVIEW_ROWS
    ]
    return _table(header, rows, ["---", *["---:"] * len(runs)])


def _view_section(runs: Mapping[str, Run], baseline: str, view: str, top: int) -> list[str]:
    spec = VIEWS[view]
    lines = [f"## {spec.title}", ""]
    lacking = [label for label, run in runs.items() if run.summary(spec.report) is None]
    if len(lacking) == len(runs):
        return [*lines, "_No run has this report._", ""]
    if lacking:
        names = ", ".join(f"`{label}`" for label in lacking)
        lines += [f"_Not in the source of {names}: counted as missing._", ""]
    long = compare_runs(view_frames(runs, view), baseline, key=spec.key, value=spec.value)
    short = short_names(long["name"])  # over every key, so kept variants read apart
    total_keys = len(short)
    long = top_n_with_other(long, top, by="impact")
    labels = list(runs)
    wide = humanize_diff_table(diff_table(long, labels, baseline), spec.unit)
    kept = int((wide["name"] != OTHER).sum())

    def name_cell(name: str) -> str:
        if name == OTHER:
            return f"{OTHER} ({total_keys - kept} more)"
        return f"`{short[name]}`"

    header = ["Name", *(_run_header(label, baseline) for label in labels)]
    columns = list(labels)
    for label in labels:
        if label != baseline:
            header += [f"Δ {label}", f"Δ% {label}"]
            columns += [f"Δ {label}", f"Δ% {label}"]
    rows = [
        [name_cell(row["name"]), *(row[column] for column in columns)] for _, row in wide.iterrows()
    ]
    lines += _table(header, rows, ["---", *["---:"] * (len(header) - 1)])
    if kept < total_keys:
        lines += ["", f"Top {kept} of {total_keys} by largest change; the rest summed as other."]
    return [*lines, ""]


def comparison_markdown(runs: Mapping[str, Run], baseline: str, *, top: int = 15) -> str:
    """The comparison of ``runs`` (label -> run) against ``baseline`` as Markdown.

    An overview table (one column per run), then one table per view of ``VIEWS`` (CUDA API
    time, kernel time, memory operations by time and by bytes): the ``top`` keys with the
    largest change against the baseline, the rest summed as "other"; each run's value,
    then Δ and Δ% of every other run. Kernel names read in their short form
    (``short_names``). Δ% reads "new" for a key the baseline lacks and "missing" for one
    the run lacks.

    Raises ValueError when ``baseline`` is not one of the runs.
    """
    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not one of the runs: {', '.join(runs)}")
    others = [label for label in runs if label != baseline]
    title = f"{', '.join(others)} vs {baseline}" if others else baseline
    lines = [
        f"# llamaprof comparison: {title}",
        "",
        f"Baseline: `{baseline}`. Totals over each capture; Δ = run − baseline.",
        "",
        "## Overview",
        "",
        *_overview(runs, baseline),
        "",
    ]
    for view in VIEWS:
        lines += _view_section(runs, baseline, view, top)
    return "\n".join(lines).rstrip("\n") + "\n"
