"""A comparison as JSON, CSV or a Markdown table (``llamaprof compare --format``).

The JSON document: ``{"report", "unit", "baseline", "runs", "rows": [{"name", "values",
"delta", "delta_pct", "status"}]}`` in raw units; the CSV: ``compare_runs``' long table;
the Markdown: human units, a Total row, ready for a pull request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.compare import change_text, signed_text, unit_formatter
from llamaprof.analyze.comparison import Comparison, run_totals, within_spread
from llamaprof.analyze.kernel_names import OTHER, short_names
from llamaprof.analyze.llama_kernels import (
    annotate_ggml_types,
    decode_ggml_types,
    kernel_family,
)


def _number(value) -> float | int | None:
    """A JSON number from a pandas/numpy scalar: ints stay ints, NaN becomes null."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _flag(value) -> bool:
    """A noise mark: True only for a true value (the summed "other" row has none)."""
    return bool(pd.notna(value) and value)


def to_json(long: pd.DataFrame, report: str, unit: str, baseline: str, labels: list[str]) -> str:
    """The ``--format json`` document (see the module docstring)."""
    rows = []
    for name, part in long.groupby("name", sort=False):
        by_run = part.set_index("run")
        rows.append(
            {
                "name": name,
                "values": {lb: _number(by_run.at[lb, "value"]) for lb in labels},
                "delta": {lb: _number(by_run.at[lb, "delta"]) for lb in labels},
                "delta_pct": {lb: _number(by_run.at[lb, "delta_pct"]) for lb in labels},
                # "absent": neither this run nor the baseline has the key; both are 0.
                "status": {
                    lb: (
                        "same"
                        if by_run.at[lb, "status"] == "absent"
                        else str(by_run.at[lb, "status"])
                    )
                    for lb in labels
                },
            }
        )
        if "noise" in part.columns:  # repeat groups: each group's spread and the noise mark
            rows[-1]["std"] = {lb: _number(by_run.at[lb, "std"]) for lb in labels}
            rows[-1]["noise"] = {lb: _flag(by_run.at[lb, "noise"]) for lb in labels}
    document = {"report": report, "unit": unit, "baseline": baseline, "runs": labels, "rows": rows}
    return json.dumps(document, indent=2, ensure_ascii=False, default=_number)


def to_csv(long: pd.DataFrame) -> str:
    """The ``--format csv`` table: ``compare_runs``' columns that carry numbers and status."""
    columns = ["name", "run", "value", "baseline_value", "delta", "delta_pct", "status"]
    columns += [c for c in ("n", "std", "spread", "noise") if c in long.columns]
    table = long[columns].copy()
    table["status"] = table["status"].replace("absent", "same")  # as in json: both are 0
    return table.to_csv(index=False, lineterminator="\n")


def value_text(fmt, value: float, std: float | None = None) -> str:
    """A value for people, with `` ± std`` for a repeat group whose runs differ."""
    text = fmt(value)
    if std is not None and not pd.isna(std) and std > 0:
        text += f" ± {fmt(std)}"
    return text


def change_texts(fmt, delta: float, pct: float, status: str, noise: bool = False) -> list[str]:
    """The Δ and Δ% cells of one change: signed value and ``change_text``, `` (noise)`` marked."""
    text = change_text(pct, status)
    if noise:
        text += " (noise)"
    return [signed_text(fmt(delta), delta), text]


def comparison_table(
    long: pd.DataFrame, labels: list[str], baseline: str, unit: str
) -> pd.DataFrame:
    """A comparison side by side for people, all cells text: the app's and Markdown's table.

    ``long``: ``compare_runs``' frame, or ``repeat_long``'s (``run`` a repeat group,
    ``value`` its mean, with ``std`` and ``noise``); ``labels``: runs (groups), baseline
    first. Columns: ``name``; per label its value in ``unit``'s human form (``1.23 ms``,
    `` ± std`` where a group's runs differ); per label other than ``baseline``
    ``Δ <label>`` (signed) and ``Δ% <label>`` (``change_text``, `` (noise)`` appended
    where the repeat frame marks the change as within the spread).
    """
    fmt = unit_formatter(unit)
    others = [label for label in labels if label != baseline]
    has_std, has_noise = "std" in long.columns, "noise" in long.columns
    rows = []
    for name, part in long.groupby("name", sort=False):
        part = part.set_index("run")
        row = [name]
        row += [
            value_text(fmt, part.at[lb, "value"], part.at[lb, "std"] if has_std else None)
            for lb in labels
        ]
        for label in others:
            noise = has_noise and _flag(part.at[label, "noise"])
            row += change_texts(
                fmt,
                part.at[label, "delta"],
                part.at[label, "delta_pct"],
                part.at[label, "status"],
                noise,
            )
        rows.append(row)
    columns = ["name", *labels]
    columns += [f"{p} {label}" for label in others for p in ("Δ", "Δ%")]
    return pd.DataFrame(rows, columns=columns)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _display_names(names: list[str]) -> dict[str, str]:
    """Short, unique kernel names with their decoded ggml types: ``mul_mat_q [Q4_K]``."""
    annotated = {name: annotate_ggml_types(name) for name in names if name != OTHER}
    short = short_names(annotated.values())
    out = {}
    for name, text in annotated.items():
        types = list(dict.fromkeys(decode_ggml_types(name)))
        display = short[text]
        if types and not all(t in display for t in types):
            display += f" [{'/'.join(types)}]"
        out[name] = display
    return out


def to_markdown(
    long: pd.DataFrame,
    *,
    title: str,
    unit: str,
    baseline: str,
    labels: list[str],
    by: str,
    caption: str,
    warnings: Sequence[str] = (),
    kernels: bool = False,
    totals: Mapping[str, tuple[float, float]] | None = None,
) -> str:
    """The ``--format md`` table, ready to paste into a pull request.

    A bold title line, the normalisation caption, each warning as a ``> ⚠`` quote, then a
    table: Name (and Family for kernels by name), each run's value (baseline first marked),
    Δ and Δ% of each other run, and a Total row. Values in human units (``1.23 ms``,
    ``4.19 MB``, ``12.3 us/token``). For repeat groups (``std`` and ``noise`` columns) a
    value reads ``mean ± std`` and a change within the spread gets `` (noise)``; ``totals``
    (label -> (total, std)) gives the Total row, else it sums the values.
    """
    fmt = unit_formatter(unit)
    others = [label for label in labels if label != baseline]
    lines = [f"**{title}**, by {by}; baseline `{baseline}`", "", caption, ""]
    if warnings:
        lines += [f"> ⚠ {warning}" for warning in warnings] + [""]
    show_family = kernels and by == "name"
    header = ["Name", *(["Family"] if show_family else [])]
    header += [f"{label} (baseline)" if label == baseline else label for label in labels]
    for label in others:
        header += [f"Δ {label}", f"Δ% {label}"]
    align = ["---", *(["---"] if show_family else []), *["---:"] * (len(header) - 1 - show_family)]
    names = list(dict.fromkeys(long["name"]))
    short = _display_names(names) if kernels and by == "name" else {}
    table = comparison_table(long, labels, baseline, unit)
    rows = []
    for cells in table.itertuples(index=False):
        name = cells[0]
        display = short.get(name, name)
        first = [f"`{display}`" if short and name != OTHER else display]
        if show_family:
            first.append("" if name == OTHER else kernel_family(name))
        rows.append(first + list(cells[1:]))
    if totals is None:
        totals = {label: (value, 0.0) for label, value in run_totals(long).items()}
    base_total, base_std = totals[baseline]
    total_row = ["**Total**", *([""] if show_family else [])]
    total_row += [value_text(fmt, *totals[lb]) for lb in labels]
    for label in others:
        delta = totals[label][0] - base_total
        pct = delta * 100.0 / base_total if base_total else math.nan
        noise = not math.isnan(pct) and within_spread(delta, max(totals[label][1], base_std))
        total_row += change_texts(fmt, delta, pct, "changed", noise)
    rows.append(total_row)
    lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
    lines.append("|" + "|".join(align) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def comparison_section(
    result: Comparison,
    report: str,
    *,
    by: str,
    shown: pd.DataFrame | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """One report's Markdown section of a comparison, as the CLI prints it and the app downloads.

    ``shown``: the rows to print (e.g. ``top_n_with_other`` of ``result.long``); default all.
    """
    return to_markdown(
        result.long if shown is None else shown,
        title=f"{reports.TITLES[report]} ({report})",
        unit=result.unit,
        baseline=result.baseline,
        labels=result.labels,
        by=by,
        caption=result.caption,
        warnings=warnings,
        kernels=report == reports.KERNELS,
        totals=result.totals,
    )
