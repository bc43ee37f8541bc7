"""Altair charts of llama.cpp kernel families, from ``llamaprof.analyze.llama_kernels`` frames.

Kept streamlit-free: pages call ``st.altair_chart(chart)``; tests read ``chart.to_dict()``.
Every family has one fixed colour (``FAMILY_COLORS``), so a family reads the same in every
chart and every run; the axis shows times in one human unit chosen from the data.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from llamaprof.analyze.llama_kernels import FAMILY_NAMES
from llamaprof.charts import axis_unit
from llamaprof.units import format_ns

__all__ = ["FAMILY_COLORS", "family_stacked_bars"]

#: One colour per family, in ``FAMILY_NAMES`` order; "other" is grey.
FAMILY_COLORS: dict[str, str] = dict(
    zip(
        FAMILY_NAMES,
        (
            "#4c78a8",
            "#f58518",
            "#54a24b",
            "#b279a2",
            "#72b7b2",
            "#eeca3b",
            "#e45756",
            "#9d755d",
            "#bab0ac",
        ),
        strict=True,
    )
)


def family_stacked_bars(
    breakdown: pd.DataFrame,
    colors: Mapping[str, str] | None = None,
    *,
    share: bool = False,
    per: str = "",
) -> alt.Chart:
    """One horizontal bar per run, stacked by kernel family.

    ``breakdown`` is ``family_breakdown``'s frame (``run``, ``family``, ``total_ns``,
    ``time_pct``, ``count``). ``colors``: family -> colour (default ``FAMILY_COLORS``).
    ``share=True`` stacks percentages of each run's kernel time (bars of equal length)
    instead of times. ``per`` is appended to the unit (``"/token"`` for normalised
    values). The tooltip gives run, family, the exact time, the share and the launches.
    """
    palette = {**FAMILY_COLORS, **(colors or {})}
    data = breakdown.copy()
    runs = list(dict.fromkeys(data["run"]))
    domain = [f for f in FAMILY_NAMES if f in set(data["family"])]
    order = {name: i for i, name in enumerate(FAMILY_NAMES)}
    data["order"] = data["family"].map(order)
    data["time"] = [format_ns(v) + per for v in data["total_ns"]]
    if share:
        x = alt.X(
            "time_pct:Q",
            title="share of GPU kernel time (%)",
            stack="zero",
            scale=alt.Scale(domain=[0, 100]),
        )
    else:
        symbol, size = axis_unit(data["total_ns"], "ns")
        data["scaled"] = data["total_ns"].astype("float64") / size
        x = alt.X("scaled:Q", title=f"GPU kernel time ({symbol}{per})", stack="zero")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("run:N", title=None, sort=runs),
            x=x,
            color=alt.Color(
                "family:N",
                title="kernel family",
                scale=alt.Scale(domain=domain, range=[palette[f] for f in domain]),
                sort=domain,
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("family:N"),
                alt.Tooltip("time:N", title="time"),
                alt.Tooltip("time_pct:Q", title="share (%)", format=".1f"),
                alt.Tooltip("count:Q", title="launches", format=","),
            ],
        )
        .properties(height=alt.Step(28))
    )
