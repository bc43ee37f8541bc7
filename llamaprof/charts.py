"""Altair charts of runs and comparisons, built from the frames of ``llamaprof.analyze``.

Kept streamlit-free: pages only call ``st.altair_chart(chart)``, and tests check the chart
specs through ``chart.to_dict()``. Every chart colours runs by ``run_colors``, so a run has
the same colour in every chart of a page. Values arrive in ns or bytes; the axis shows them
in one human unit chosen from the data (µs, ms, s; kB, MB, GB, decimal as nsys), the
tooltip gives the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

from llamaprof.analyze.compare import rest_name, top_n
from llamaprof.render.comparison import display_names
from llamaprof.render.text import (
    change_text,
    shorten_names,
    signed_text,
    split_unit,
    unit_formatter,
)
from llamaprof.units import format_bytes, format_ns

__all__ = [
    "LABEL_CHARS",
    "LABEL_LIMIT",
    "PALETTE",
    "axis_unit",
    "delta_bars",
    "grouped_bars",
    "run_colors",
    "single_run_bars",
]

#: Ten distinct colours (Vega's "tableau10"), one per run in the order the runs are listed.
PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
]

# Axis units, with the symbols ``llamaprof.units`` writes (``1.00 µs``), so axes and tables agree.
_SCALES: dict[str, tuple[tuple[str, float], ...]] = {
    "ns": tuple((format_ns(size).split()[-1], size) for size in (1.0, 1e3, 1e6, 1e9)),
    "bytes": tuple((format_bytes(size).split()[-1], size) for size in (1.0, 1e3, 1e6, 1e9, 1e12)),
}
_EXACT_SUFFIX = {"ns": "ns", "bytes": "B"}
#: px of a y-axis label before Vega cuts it with "…".
LABEL_LIMIT = 320
_LABEL_LIMIT = LABEL_LIMIT
#: Characters of a y-axis label: longer names lose their middle (``shorten_names``), so the
#: end that tells kernels apart shows and, on a 1024 px screen with the sidebar open, the
#: bars keep about half the chart's width (Vega would cut the end at ``LABEL_LIMIT``).
LABEL_CHARS = 40
_LEGEND_LIMIT = 400  # px of a run label in the legend (Vega's default 160 cut run names)
_BAR = 12  # px per bar (Vega-Lite steps the run offset): 8 runs x 12 px per key
# px per key at least: with one bar per key, 12 px made Vega hide every other label.
_KEY_PX = 24


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """One colour per run label, stable for a given order of labels.

    >>> run_colors(["base", "fa-off"])
    {'base': '#4c78a8', 'fa-off': '#f58518'}

    Pass the same labels (in the same order) to every chart of a page. Beyond ten runs
    the palette repeats.
    """
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(dict.fromkeys(labels))}


def axis_unit(values: pd.Series | Sequence[float], unit: str) -> tuple[str, float]:
    """The human unit for an axis over ``values`` (ns or bytes): ``(symbol, size)``.

    >>> axis_unit([2_500_000, 40_000], "ns")
    ('ms', 1000000.0)

    The largest unit in which the largest magnitude is at least 1.
    """
    if unit not in _SCALES:
        raise ValueError(f"unknown unit {unit!r}; expected 'ns' or 'bytes'")
    magnitude = max((abs(float(v)) for v in values), default=0.0)
    symbol, size = _SCALES[unit][0]
    for candidate, candidate_size in _SCALES[unit]:
        if magnitude >= candidate_size:
            symbol, size = candidate, candidate_size
    return symbol, size


def _exact(value: float, unit: str) -> str:
    """The exact value with thousands separators: ``1,234,567 ns`` (``12.500 ns/token``)."""
    base, per = split_unit(unit)
    number = float(value)
    text = f"{number:,.0f}" if number == int(number) else f"{number:,.3f}"
    return f"{text} {_EXACT_SUFFIX[base]}{per}"


def _step(runs: int) -> int:
    """px per bar: 12, more when few runs share a key so each key's label has room."""
    return max(_BAR, math.ceil(_KEY_PX / max(runs, 1)))


def _legend() -> alt.Legend:
    # Below the plot: beside it, long run labels took the width the bars need.
    return alt.Legend(labelLimit=_LEGEND_LIMIT, orient="bottom", direction="vertical")


def _x_axis() -> alt.Axis:
    """The value axis: labels that would touch are left out (a narrow chart with many ticks
    would print ``0.00.2 0.4 ...``)."""
    return alt.Axis(labelOverlap=True, labelSeparation=8)


def _y_axis() -> alt.Axis:
    # labelOverlap off: Vega would otherwise drop labels it thinks collide.
    return alt.Axis(labelLimit=_LABEL_LIMIT, labelOverlap=False)


def _color(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``label``: how each key reads for people, as the comparison's table writes it
    (``llamaprof.render.comparison.display_names``: short, unique kernel names; API calls,
    directions and families unchanged), at most ``LABEL_CHARS`` characters (its middle left
    out); the rest row keeps ``(37 more)``."""
    names = list(dict.fromkeys(frame["name"]))
    labels = display_names(names, kernels=True)
    short = shorten_names(list(labels.values()), LABEL_CHARS)
    out = frame.copy()
    out["label"] = [short[labels[name]] for name in frame["name"]]
    return out


def grouped_bars(
    long: pd.DataFrame,
    *,
    unit: str,
    title: str,
    colors: dict[str, str],
    top: int = 10,
) -> alt.Chart:
    """Horizontal bars of each key's value, one bar per run, grouped by key.

    ``long`` is ``compare_groups``' frame (``llamaprof.analyze.compare``); ``unit`` "ns" or
    "bytes" is the unit of its values. The ``top`` keys of highest impact are shown, the rest
    summed into one row, in the order of the comparison's table (``top_n``). The y axis
    reads each key as the table does (short kernel names); the x axis the value
    in one unit chosen from the data, named in its title; the tooltip gives the full name,
    the run, the exact value, the human value and the change against the baseline. Colours
    follow ``colors`` (``run_colors``).
    """
    data = _with_labels(top_n(long, top))
    base, per = split_unit(unit)
    symbol, size = axis_unit(data["value"], base)
    data["scaled"] = data["value"].astype("float64") / size
    data["exact"] = [_exact(v, unit) for v in data["value"]]
    data["human"] = list(map(unit_formatter(unit), data["value"]))
    data["change"] = [
        change_text(p, s) for p, s in zip(data["delta_pct"], data["status"], strict=True)
    ]
    order = list(dict.fromkeys(data["label"]))
    runs = [run for run in colors if run in set(data["run"])]
    return (
        alt.Chart(data[["name", "label", "run", "scaled", "exact", "human", "change", "count"]])
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=_y_axis()),
            yOffset=alt.YOffset("run:N", sort=runs),
            x=alt.X("scaled:Q", title=f"{title} ({symbol}{per})", axis=_x_axis()),
            color=alt.Color("run:N", scale=_color(colors), title="Run", legend=_legend()),
            tooltip=[
                alt.Tooltip("name:N", title="Name"),
                alt.Tooltip("run:N", title="Run"),
                alt.Tooltip("human:N", title="Value"),
                alt.Tooltip("exact:N", title="Exact"),
                alt.Tooltip("count:Q", title="Count", format=","),
                alt.Tooltip("change:N", title="Δ% vs baseline"),
            ],
        )
        .properties(title=title, height=alt.Step(_step(len(runs))))
    )


def delta_bars(
    long: pd.DataFrame,
    *,
    unit: str,
    title: str,
    colors: dict[str, str],
    baseline: str | None = None,
    top: int = 10,
) -> alt.Chart:
    """Diverging bars of each key's change against the baseline, one bar per other run.

    ``long`` is ``compare_groups``' frame. The ``top`` keys of highest impact are shown (the
    table's order), the rest summed into one row; bars left of zero are savings, right of
    zero costs.
    Of those rows, the keys no run changed are left out (the rest keep the table's rows and
    order: the chart never ranks again), and so are the baseline's own (all-zero) bars, in the
    bars and in the legend: ``baseline`` names it, or it is the first run whose values all
    equal the baseline values (``compare_groups``' frame does not name it). Each key gets at
    least 24 px and every label is drawn. Axis unit as ``grouped_bars``.
    """
    runs_all = list(dict.fromkeys(long["run"]))
    if baseline is None:
        same = (long["value"] == long["baseline_value"]).groupby(long["run"], sort=False).all()
        baseline = next((run for run in runs_all if same.get(run, False)), "baseline")
    ranked = top_n(long, top)  # the table's rows, "(k more)" included
    moved = ranked.groupby("name", sort=False)["delta"].transform(lambda d: (d != 0).any())
    data = _with_labels(ranked[moved.astype(bool)])
    data = data[data["run"] != baseline]
    base, per = split_unit(unit)
    human = unit_formatter(unit)
    symbol, size = axis_unit(data["delta"], base)
    data = data.assign(
        scaled=data["delta"].astype("float64") / size,
        exact=[signed_text(_exact(v, unit), v) for v in data["delta"]],
        human=[signed_text(human(v), v) for v in data["delta"]],
        change=[change_text(p, s) for p, s in zip(data["delta_pct"], data["status"], strict=True)],
    )
    order = list(dict.fromkeys(data["label"]))
    runs = [run for run in colors if run in set(data["run"])]
    shown = {run: colors[run] for run in runs}  # the legend names only the runs drawn
    return (
        alt.Chart(data[["name", "label", "run", "scaled", "exact", "human", "change"]])
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=_y_axis()),
            yOffset=alt.YOffset("run:N", sort=runs),
            x=alt.X("scaled:Q", title=f"Δ {title} vs {baseline} ({symbol}{per})", axis=_x_axis()),
            color=alt.Color("run:N", scale=_color(shown), title="Run", legend=_legend()),
            tooltip=[
                alt.Tooltip("name:N", title="Name"),
                alt.Tooltip("run:N", title="Run"),
                alt.Tooltip("human:N", title="Δ"),
                alt.Tooltip("exact:N", title="Δ exact"),
                alt.Tooltip("change:N", title="Δ%"),
            ],
        )
        .properties(title=f"Δ {title} vs {baseline}", height=alt.Step(_step(len(runs))))
    )


def single_run_bars(
    frame: pd.DataFrame,
    *,
    key: str = "name",
    value: str = "total_ns",
    unit: str = "ns",
    title: str,
    color: str = PALETTE[0],
    top: int = 15,
) -> alt.Chart:
    """Horizontal bars of one run's summary: the ``top`` keys by ``value``, the rest "other".

    ``frame`` is a summary frame (``llamaprof.reports.COLUMNS``), e.g. a run's
    ``cuda_gpu_kern_sum`` with ``key="name"``, ``value="total_ns"``, or its
    ``cuda_gpu_mem_size_sum`` with ``key="op"``, ``value="total_bytes"``, ``unit="bytes"``.
    Rows with the same key are summed. The tooltip gives the full name, the exact and human
    value, the count and the share of the total.
    """
    if frame.empty or key not in frame or value not in frame:
        grouped = pd.DataFrame({"name": [], "value": [], "count": []})
    else:
        counts = frame.get("count", 0)
        grouped = (
            pd.DataFrame({"name": frame[key].astype(str), "value": frame[value], "count": counts})
            .groupby("name", sort=False, as_index=False)
            .sum()
        )
    grouped = grouped.sort_values(["value", "name"], ascending=[False, True], kind="stable")
    kept, rest = grouped.iloc[:top], grouped.iloc[top:]
    if len(rest):
        other = pd.DataFrame(
            {
                "name": [rest_name(len(rest))],
                "value": [rest["value"].sum()],
                "count": [rest["count"].sum()],
            }
        )
        kept = pd.concat([kept, other], ignore_index=True)
    data = _with_labels(kept)
    total = float(grouped["value"].sum()) if len(grouped) else 0.0
    symbol, size = axis_unit(data["value"], unit)
    data["scaled"] = data["value"].astype("float64") / size
    data["exact"] = [_exact(v, unit) for v in data["value"]]
    data["human"] = list(map(unit_formatter(unit), data["value"]))
    data["share"] = data["value"].astype("float64") / total if total else 0.0
    return (
        alt.Chart(data[["name", "label", "scaled", "exact", "human", "count", "share"]])
        .mark_bar(color=color)
        .encode(
            y=alt.Y(
                "label:N",
                sort=list(data["label"]),
                title=None,
                axis=alt.Axis(labelLimit=_LABEL_LIMIT),
            ),
            x=alt.X("scaled:Q", title=f"{title} ({symbol})", axis=_x_axis()),
            tooltip=[
                alt.Tooltip("name:N", title="Name"),
                alt.Tooltip("human:N", title="Value"),
                alt.Tooltip("exact:N", title="Exact"),
                alt.Tooltip("count:Q", title="Count", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .properties(title=title)
    )
