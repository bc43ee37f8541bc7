"""The timeline chart: runs stacked one above another, aligned at their workload start.

Built from ``llamaprof.analyze.timeline`` frames, one per run. Per run, one panel over time
(x: ms since the run's workload start, so an A/B reads at a glance): GPU time by kernel family
(stacked areas, the family colours of ``charts_llama``), GPU busy % (a black line), CPU time
in synchronisation calls (a dashed red line), all in % of the bin's length, and the run's
phases shaded behind (load, prefill, decode). An interval selection on x named ``window``
(``WINDOW_PARAM``) lets a page read back the time range a user brushed.

Kept streamlit-free: pages call ``st.altair_chart(chart)``; tests read ``chart.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from llamaprof.analyze.llama_kernels import FAMILY_NAMES
from llamaprof.analyze.phases import Phase
from llamaprof.analyze.timeline import family_column
from llamaprof.charts_llama import FAMILY_COLORS

__all__ = [
    "BUSY",
    "MEMORY",
    "SHADED_PHASES",
    "SYNC",
    "WINDOW_PARAM",
    "timeline_chart",
    "timeline_data",
]

#: Name of the interval selection on x (ms since the workload start).
WINDOW_PARAM = "window"
BUSY = "GPU busy"
SYNC = "CPU in sync calls"
MEMORY = "memcpy/memset"
#: Phase kinds shaded behind the lines, and their colours.
SHADED_PHASES: dict[str, str] = {"load": "#9e9e9e", "prefill": "#fdd49e", "decode": "#c6dbef"}
_SERIES_COLORS = {**FAMILY_COLORS, MEMORY: "#17becf", BUSY: "#000000", SYNC: "#d62728"}


def timeline_data(
    timelines: Mapping[str, pd.DataFrame],
    *,
    origins: Mapping[str, int] | None = None,
    phases: Mapping[str, Sequence[Phase]] | None = None,
) -> pd.DataFrame:
    """The chart's one long frame. Columns: ``run``; ``layer`` ("family", "busy", "sync",
    "phase"); ``series`` (a family or ``MEMORY``, stacked in the "family" layer; ``BUSY``,
    ``SYNC`` or a phase kind); ``t_ms`` and
    ``t_end_ms`` (bin or phase start and end, ms since the run's origin: ``origins[run]``,
    default its first bin's start; phases clipped to the run's bins, those outside left
    out); ``pct`` (% of the bin's length; NaN for phases).

    Families (and memory operations) without any time in any run are left out, so the
    legend lists what ran.
    """
    origins = origins or {}
    phases = phases or {}
    columns_of = {f: family_column(f) for f in FAMILY_NAMES} | {MEMORY: "memory_ns"}
    families = [
        f
        for f, column in columns_of.items()
        if any(frame[column].any() for frame in timelines.values() if len(frame))
    ]
    parts = []
    for run, frame in timelines.items():
        if not len(frame):
            continue
        origin = origins.get(run, int(frame["bin_start_ns"].iloc[0]))
        width = (frame["bin_end_ns"] - frame["bin_start_ns"]).to_numpy()
        t = (frame["bin_start_ns"] - origin) / 1e6
        t_end = (frame["bin_end_ns"] - origin) / 1e6
        for layer, series, values in [
            *(("family", f, frame[columns_of[f]]) for f in families),
            ("busy", BUSY, frame["gpu_busy_ns"]),
            ("sync", SYNC, frame["sync_ns"]),
        ]:
            parts.append(
                pd.DataFrame(
                    {
                        "run": run,
                        "layer": layer,
                        "series": series,
                        "t_ms": t,
                        "t_end_ms": t_end,
                        "pct": values.to_numpy() * 100.0 / width,
                    }
                )
            )
        # phases clipped to the bins shown: a phase outside them would stretch the x axis
        low, high = int(frame["bin_start_ns"].iloc[0]), int(frame["bin_end_ns"].iloc[-1])
        shaded = [
            (p.kind, max(p.start_ns, low), min(p.end_ns, high))
            for p in phases.get(run, ())
            if p.kind in SHADED_PHASES and p.end_ns > low and p.start_ns < high
        ]
        if shaded:
            parts.append(
                pd.DataFrame(
                    {
                        "run": run,
                        "layer": "phase",
                        "series": [kind for kind, _, _ in shaded],
                        "t_ms": [(a - origin) / 1e6 for _, a, _ in shaded],
                        "t_end_ms": [(b - origin) / 1e6 for _, _, b in shaded],
                        "pct": float("nan"),
                    }
                )
            )
    columns = ["run", "layer", "series", "t_ms", "t_end_ms", "pct"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def timeline_chart(
    timelines: Mapping[str, pd.DataFrame],
    *,
    origins: Mapping[str, int] | None = None,
    phases: Mapping[str, Sequence[Phase]] | None = None,
    width: int = 720,
    row_height: int = 140,
) -> alt.FacetChart:
    """Runs (``timelines``: label -> ``analyze.timeline.timeline`` frame, in display order)
    stacked one above another, x aligned at each run's ``origins`` entry (ns on its nsys
    timeline: its workload start, from its phases); ``phases`` (label -> phases) shaded.

    The interval selection ``WINDOW_PARAM`` on x holds ms since the workload start: add the
    run's origin to map it back to its nsys timeline.
    """
    data = timeline_data(timelines, origins=origins, phases=phases)
    present = [s for s in (*FAMILY_NAMES, MEMORY, BUSY, SYNC) if s in set(data["series"])]
    color = alt.Color(
        "series:N",
        title=None,
        sort=present,
        scale=alt.Scale(domain=present, range=[_SERIES_COLORS[s] for s in present]),
        legend=alt.Legend(orient="top", columns=6),
    )
    x = alt.X("t_ms:Q", title="ms since the workload start")
    y = alt.Y("pct:Q", title="% of the bin", stack=None)
    window = alt.selection_interval(encodings=["x"], name=WINDOW_PARAM)
    shade = (
        alt.Chart()
        .mark_rect(opacity=0.35)
        .encode(
            x=x,
            x2="t_end_ms:Q",
            fill=alt.Fill(
                "series:N",
                title="phase",
                scale=alt.Scale(domain=list(SHADED_PHASES), range=list(SHADED_PHASES.values())),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("series:N", title="phase"),
                alt.Tooltip("t_ms:Q", title="from (ms)", format=",.3f"),
                alt.Tooltip("t_end_ms:Q", title="to (ms)", format=",.3f"),
            ],
        )
        .transform_filter(alt.datum.layer == "phase")
    )
    tooltip = [
        alt.Tooltip("series:N", title="series"),
        alt.Tooltip("t_ms:Q", title="bin from (ms)", format=",.3f"),
        alt.Tooltip("pct:Q", title="% of the bin", format=".1f"),
    ]
    areas = (
        alt.Chart()
        .mark_area(interpolate="step-after", opacity=0.85)
        .encode(
            x=x,
            y=alt.Y("pct:Q", title="% of the bin", stack="zero"),
            color=color,
            order=alt.Order("order:Q"),
            tooltip=tooltip,
        )
        .transform_filter(alt.datum.layer == "family")
        .transform_calculate(order=f"indexof({present!r}, datum.series)")
        .add_params(window)
    )
    busy = (
        alt.Chart()
        .mark_line(interpolate="step-after", strokeWidth=1.5)
        .encode(x=x, y=y, color=color, tooltip=tooltip)
        .transform_filter(alt.datum.layer == "busy")
    )
    sync = (
        alt.Chart()
        .mark_line(interpolate="step-after", strokeWidth=1.2, strokeDash=[4, 3])
        .encode(x=x, y=y, color=color, tooltip=tooltip)
        .transform_filter(alt.datum.layer == "sync")
    )
    runs = list(dict.fromkeys(data["run"]))
    return (
        alt.layer(shade, areas, busy, sync)
        .properties(width=width, height=row_height)
        .facet(
            data=data,
            row=alt.Row(
                "run:N",
                sort=runs,
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top"),
            ),
        )
        .resolve_scale(x="shared", y="shared")
    )
