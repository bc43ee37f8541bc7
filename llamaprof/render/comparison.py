"""A comparison written out: the one renderer of the page's table, the Markdown, CSV and JSON.

Every form starts from the same rows, ``shown_rows(view, top)``: the view's keys ranked by
impact (``llamaprof.analyze.compare.rank_names``), the ``top`` kept and the rest summed into
one row. Names for people come from one function (``display_names``) and values from
``llamaprof.render.text``, so the screen and the Markdown download read alike, and the CSV
and JSON carry the same rows' exact numbers.

- ``table``: all cells text; the page shows it, ``to_markdown`` writes it as a pipe table.
- ``to_csv``: the long rows in raw units (``name, run, value, baseline_value, delta,
  delta_pct, status``; ``n, std, spread, noise`` with repeat groups; ``unit, better`` for
  throughput).
- ``to_json``: ``{"report", "unit", "baseline", "runs", "window", "rows": [{"name",
  "values", "delta", "delta_pct", "status"}]}`` (``std``/``noise`` per column with repeats,
  ``unit``/``better`` per row for throughput).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.compare import is_rest, top_n
from llamaprof.analyze.comparison import THROUGHPUT, Comparison, ViewComparison, within_spread
from llamaprof.analyze.kernel_names import short_names
from llamaprof.analyze.llama_kernels import (
    FAMILY_NAMES,
    annotate_ggml_types,
    decode_ggml_types,
    kernel_family,
)
from llamaprof.render.text import (
    LACKING,
    change_text,
    shorten_names,
    signed_text,
    unit_formatter,
    value_text,
)

__all__ = [
    "COMPACT_NAME_CHARS",
    "comparison_document",
    "display_names",
    "shown_rows",
    "table",
    "to_csv",
    "to_json",
    "to_markdown",
]


#: Characters of a name in a compact table (the page's): about 250 px of its Name column.
COMPACT_NAME_CHARS = 32


def shown_rows(view: ViewComparison, top: int = 0) -> pd.DataFrame:
    """The rows every form writes: ``top`` keys by impact and one row summing the rest
    (``top`` 0: every key). Throughput rows are all kept, in their fixed order."""
    if view.name == THROUGHPUT or not top:
        return view.long
    return top_n(view.long, top)


def display_names(names: Sequence[str], *, kernels: bool) -> dict[str, str]:
    """How each key reads for people.

    Kernels: their short name, unique within ``names`` (template arguments kept only where
    needed to tell kernels apart), with decoded ggml types (``mul_mat_q [Q4_K]``). Families,
    API calls, memory directions and the rest row read as they are.
    """
    if not kernels:
        return {name: name for name in names}
    kernel_like = [n for n in names if not is_rest(n) and n not in FAMILY_NAMES]
    annotated = {name: annotate_ggml_types(name) for name in kernel_like}
    short = short_names(annotated.values())
    out = {name: name for name in names}
    for name, text in annotated.items():
        types = list(dict.fromkeys(decode_ggml_types(name)))
        display = short[text]
        if types and not all(t in display for t in types):
            display += f" [{'/'.join(types)}]"
        out[name] = display
    return out


def _row_unit(view: ViewComparison, name: str) -> str:
    return view.units.get(name, view.unit) if view.report is None else view.unit


def table(view: ViewComparison, top: int = 0, *, compact: bool = False) -> pd.DataFrame:
    """The comparison side by side for people, all cells text.

    Columns: ``Name`` (``display_names``), ``Family`` (kernels by name), each column's value
    (`` ± std`` for a group whose runs differ; ``—`` where the column lacks the key), then
    per column other than the baseline ``Δ <col>`` (signed) and ``Δ% <col>`` (``new``,
    ``missing``, `` (noise)`` where the change is within the repeats' spread). ``compact``
    (the page's table) leaves out the ``Δ`` columns when more than two columns are compared,
    and names longer than ``COMPACT_NAME_CHARS`` lose their middle (``shorten_names``: the
    end that tells kernels apart stays), so four runs fit a 1280 px page. A last row
    ``Total`` sums each column (its mean total ± spread for groups); throughput has none,
    its rows mixing units.
    """
    rows = shown_rows(view, top)
    columns = view.columns
    others = [c for c in columns if c != view.baseline]
    with_delta = not (compact and len(columns) > 2)
    kernels = view.report == reports.KERNELS and view.by == "name"
    names = list(dict.fromkeys(rows["name"]))
    display = display_names(names, kernels=kernels)
    if compact:
        short = shorten_names(list(display.values()), COMPACT_NAME_CHARS)
        display = {name: short[text] for name, text in display.items()}
    header = ["Name", *(["Family"] if kernels else [])]
    header += list(columns)
    for column in others:
        header += ([f"Δ {column}"] if with_delta else []) + [f"Δ% {column}"]
    body = []
    grouped = view.repeats
    for name, part in rows.groupby("name", sort=False):
        part = part.set_index("run")
        fmt = unit_formatter(_row_unit(view, str(name)))
        cells = [display[name]]
        if kernels:
            cells.append("" if is_rest(str(name)) else kernel_family(str(name)))
        for column in columns:
            status = part.at[column, "status"]
            base_status = _baseline_status(part, view.baseline, others)
            lacks = status in ("missing", "absent") if column != view.baseline else base_status
            std = part.at[column, "std"] if grouped else None
            cells.append(LACKING if lacks else value_text(fmt, part.at[column, "value"], std))
        for column in others:
            delta, status = part.at[column, "delta"], part.at[column, "status"]
            if with_delta:
                cells.append(LACKING if status == "absent" else signed_text(fmt(delta), delta))
            text = change_text(part.at[column, "delta_pct"], status)
            if bool(part.at[column, "noise"]):
                text += " (noise)"
            cells.append(text)
        body.append(cells)
    if view.report is not None and view.totals:
        body.append(_total_row(view, kernels, others, with_delta))
    return pd.DataFrame(body, columns=header)


def _baseline_status(part: pd.DataFrame, baseline: str, others: list[str]) -> bool:
    """True when the baseline column lacks the key: another column reads it new or absent."""
    if not others:
        return part.at[baseline, "status"] == "absent"
    return part.at[others[0], "status"] in ("new", "absent")


def _total_row(
    view: ViewComparison, kernels: bool, others: list[str], with_delta: bool
) -> list[str]:
    fmt = unit_formatter(view.unit)
    base, base_std = view.totals[view.baseline]
    cells = ["Total", *([""] if kernels else [])]
    cells += [value_text(fmt, *view.totals[c]) for c in view.columns]
    for column in others:
        total, std = view.totals[column]
        delta = total - base
        pct = delta * 100.0 / base if base else math.nan
        if with_delta:
            cells.append(signed_text(fmt(delta), delta))
        text = change_text(pct, "changed")
        if not math.isnan(pct) and within_spread(delta, max(std, base_std)):
            text += " (noise)"
        cells.append(text)
    return cells


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


#: What throughput numbers are, wherever they are shown (page, Markdown, CLI).
THROUGHPUT_CAPTION = (
    "From the capture records: llama-server's own timings of every request, and the "
    "workload's wall clock. Not cut to the window."
)


def to_markdown(
    view: ViewComparison,
    top: int = 0,
    *,
    caption: str = "",
    warnings: Sequence[str] = (),
) -> str:
    """One view as Markdown, ready to paste into a pull request.

    A bold title line, the caption (window, normalisation, groups; for throughput
    ``THROUGHPUT_CAPTION`` unless given), each warning as a ``> ⚠`` quote, then ``table``'s
    rows as a pipe table: kernel names in backticks, the baseline marked, the Total row in
    bold.
    """
    if view.report is None and not caption:
        caption = THROUGHPUT_CAPTION
    what = f"{reports.TITLES[view.report]} ({view.report})" if view.report else "Throughput"
    by = f", by {view.by}" if view.report else ""
    lines = [f"**{what}**{by}; baseline `{view.baseline}`", ""]
    if caption:
        lines += [caption, ""]
    if warnings:
        lines += [f"> ⚠ {warning}" for warning in warnings] + [""]
    frame = table(view, top)
    kernels = "Family" in frame.columns
    header = [
        f"{c} (baseline)" if c == view.baseline else c for c in frame.columns
    ]
    align = ["---"] * (2 if kernels else 1) + ["---:"] * (len(header) - (2 if kernels else 1))
    lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
    lines.append("|" + "|".join(align) + "|")
    total_row = view.report is not None and bool(view.totals)
    for i, cells in enumerate(frame.itertuples(index=False)):
        cells = list(cells)
        last = total_row and i == len(frame) - 1
        if last:
            cells[0] = "**Total**"
        elif kernels and not is_rest(cells[0]) and cells[1]:
            cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(view: ViewComparison, top: int = 0) -> str:
    """The rows in raw units: ``name, run, value, baseline_value, delta, delta_pct, status``
    (``n, std, spread, noise`` with repeat groups; ``unit, better`` for throughput). A key
    neither the column nor the baseline has reads "same" (both are 0)."""
    rows = shown_rows(view, top)
    columns = ["name", "run", "value", "baseline_value", "delta", "delta_pct", "status"]
    if view.repeats:
        columns += ["n", "std", "spread", "noise"]
    out = rows[columns].copy()
    out["status"] = out["status"].replace("absent", "same")
    if view.report is None:
        out["unit"] = out["name"].map(view.units)
        out["better"] = out["name"].map(view.better)
    return out.to_csv(index=False, lineterminator="\n")


def _number(value: object) -> float | int | None:
    """A JSON number from a pandas/numpy scalar: ints stay ints, NaN becomes null."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value  # type: ignore[return-value]


def to_json(view: ViewComparison, top: int = 0, *, window: dict | None = None) -> str:
    """The ``--format json`` document (see the module docstring); ``window`` names the time
    window the numbers cover (``Window.to_dict``), null for the whole capture."""
    rows = []
    for name, part in shown_rows(view, top).groupby("name", sort=False):
        part = part.set_index("run")
        row: dict[str, object] = {"name": name}
        if view.report is None:
            row["unit"] = view.units.get(str(name))
            row["better"] = view.better.get(str(name))
        row["values"] = {c: _number(part.at[c, "value"]) for c in view.columns}
        row["delta"] = {c: _number(part.at[c, "delta"]) for c in view.columns}
        row["delta_pct"] = {c: _number(part.at[c, "delta_pct"]) for c in view.columns}
        row["status"] = {
            c: "same" if part.at[c, "status"] == "absent" else str(part.at[c, "status"])
            for c in view.columns
        }
        if view.repeats:
            row["std"] = {c: _number(part.at[c, "std"]) for c in view.columns}
            row["noise"] = {c: bool(part.at[c, "noise"]) for c in view.columns}
        rows.append(row)
    document = {
        "report": view.report or THROUGHPUT,
        "unit": view.unit or None,
        "baseline": view.baseline,
        "runs": view.columns,
        "window": window,
        "rows": rows,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=_number)


def comparison_document(
    comparison: Comparison, *, top: int, kernels_by: str = "name", views: Sequence[str] = ()
) -> str:
    """A whole comparison as one Markdown document: what the page shows, as it shows it.

    A title line, the caption and the comparability warnings (``> ⚠``), then each view's
    ``to_markdown`` (the CUDA summaries, kernels ``kernels_by`` "name" or "family", then
    throughput where runs have capture records). A view no run has data for says so in one
    line.
    """
    columns = comparison.columns
    others = [c for c in columns if c != comparison.baseline]
    lines = [f"# llamaprof comparison: {', '.join(others)} vs {comparison.baseline}", ""]
    lines += [comparison.caption, ""]
    warnings = [w.message for w in comparison.warnings]
    if warnings:
        lines += [f"> ⚠ {warning}" for warning in warnings] + [""]
    from llamaprof.analyze.compare import VIEWS

    names = list(views) or [*VIEWS, THROUGHPUT]
    for name in names:
        by = kernels_by if name == "kernels" else "name"
        view = comparison.view(name, by)
        if view.report is not None and len(view.lacking) == len(view.columns):
            title = f"{reports.TITLES[view.report]} ({view.report})"
            lines += [f"**{title}**: no run has this report.", ""]
            continue
        if view.report is None and view.long.empty:
            continue  # no capture records: nothing to say about throughput
        notes = [f"{c} has no {view.report} report." for c in view.lacking]
        lines.append(to_markdown(view, top, warnings=notes))
    return "\n".join(lines).rstrip("\n") + "\n"
