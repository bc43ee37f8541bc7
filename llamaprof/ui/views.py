"""Drawing blocks of the compare and single-run pages: headers, views, tables, downloads.

Each block takes runs (label -> ``Run``), calls pure functions of ``llamaprof.analyze``,
``llamaprof.render`` or ``llamaprof.charts``, and displays the result; no analysis happens
here. The comparisons come from ``compare_setup.view_comparison`` (cached per setup).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from llamaprof import reports
from llamaprof.analyze.compare import (
    VIEWS,
    diff_table,
    top_n_with_other,
)
from llamaprof.analyze.fairness import comparability_warnings
from llamaprof.analyze.overview import run_overview
from llamaprof.charts import delta_bars, grouped_bars, single_run_bars
from llamaprof.model import Run
from llamaprof.render.comparison import comparison_section
from llamaprof.render.nsys_format import render_column
from llamaprof.render.tables import diff_display_table, summary_table
from llamaprof.ui.common import md_escape
from llamaprof.ui.compare_setup import CompareSetup, setup_identity, view_comparison
from llamaprof.ui.llama_views import (
    family_drilldown_view,
    family_mix_chart,
    repeats_view,
    run_families,
)
from llamaprof.units import format_bytes, format_ns

#: The comparison tabs: title and the views (of ``VIEWS``) each shows.
COMPARE_TABS: dict[str, tuple[str, ...]] = {
    "CUDA API": ("api",),
    "Kernels": ("kernels",),
    "Memory operations": ("memops_time", "memops_size"),
}


def slug(text: str) -> str:
    """A widget-key-safe form of ``text``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _swatch(label: str, color: str) -> str:
    return f"<span style='color:{color}'>&#9632;</span> **{md_escape(html.escape(label))}**"


def _share(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def _delta(value: object, base: object, fmt) -> str | None:
    if value is None or base is None:
        return None
    diff = float(value) - float(base)  # type: ignore[arg-type]
    if diff == 0:
        return None
    text = fmt(diff)
    pct = f" ({diff * 100 / float(base):+.1f}%)" if float(base) else ""  # type: ignore[arg-type]
    return ("+" + text if diff > 0 else text) + pct


_HEADER_METRICS = (("GPU kernel time", "kernel_time_ns"), ("CUDA API time", "api_time_ns"))


def _known_facts(f: Mapping[str, object]) -> str:
    """Bytes per direction, span and busy share, leaving out what the source does not hold."""
    parts = [
        f"{title} {format_bytes(f[key])}"  # type: ignore[arg-type]
        for title, key in (("H→D", "bytes_htod"), ("D→H", "bytes_dtoh"), ("D→D", "bytes_dtod"))
        if f.get(key) is not None
    ]
    if f.get("span_ns") is not None:
        parts.append(f"span {format_ns(f['span_ns'])}")  # type: ignore[arg-type]
    if f.get("gpu_busy_share") is not None:
        parts.append(f"GPU busy {_share(f['gpu_busy_share'])}")
    return " · ".join(parts) or "bytes, span and busy share: not in this report's format"


def run_headers(
    runs: Mapping[str, Run],
    colors: Mapping[str, str],
    baseline: str,
    *,
    factors: Mapping[str, float] | None = None,
    per: str = "",
    sources: Mapping[str, str] | None = None,
) -> None:
    """One card per run: kernel and API time (change against the baseline), bytes, span.

    ``factors`` (label -> divisor) and ``per`` ("/token") show the times normalised like
    the rest of the page; ``sources`` (label -> run-list label) names the file of a run
    the page labels by its config.
    """
    facts = {label: run_overview(run) for label, run in runs.items()}
    factors = factors or {}
    sources = sources or {}

    def timed(label: str, key: str) -> float | None:
        value = facts[label][key]
        if value is None:  # the source lacks the summary
            return None
        return float(value) / factors.get(label, 1.0)  # type: ignore[arg-type]

    def fmt(value: float | None) -> str:
        # The card says "per token" once: "19.3 ms/token" no longer fits four cards a row.
        return format_ns(value)  # type: ignore[arg-type]

    labels = list(runs)
    per_row = min(len(labels), 4)
    for start in range(0, len(labels), per_row):
        columns = st.columns(per_row)
        for column, label in zip(columns, labels[start : start + per_row], strict=False):
            f = facts[label]
            with column.container(border=True, key=f"header_{slug(label)}"):
                star = " (baseline)" if label == baseline else ""
                source = f" · {md_escape(sources[label])}" if label in sources else ""
                st.markdown(_swatch(label, colors[label]) + star + source, unsafe_allow_html=True)
                # Side by side only while the cards are wide (two a row); else one under other.
                metrics = (
                    st.columns(len(_HEADER_METRICS))
                    if per_row <= 2
                    else [st.container() for _ in _HEADER_METRICS]
                )
                for metric, (title, key) in zip(metrics, _HEADER_METRICS, strict=True):
                    value, base = timed(label, key), timed(baseline, key)
                    delta = None if label == baseline else _delta(value, base, fmt)
                    metric.metric(title + per, fmt(value), delta, delta_color="inverse")
                st.caption(_known_facts(f))
                for warning in runs[label].info.warnings:
                    st.warning(f"Incomplete: {md_escape(warning)}", icon=":material/warning:")


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_tables(
    identity: tuple, _setup: CompareSetup, view: str, by: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exact diff table and the one for people, of one view (cached like the comparison)."""
    result = view_comparison(_setup, view, by=by)
    wide = diff_table(result.long, list(_setup.runs), _setup.baseline)
    kernels = VIEWS[view].report == reports.KERNELS and by == "name"
    return wide, diff_display_table(wide, result.unit, kernels)


def comparison_document(setup: CompareSetup, *, top: int, kernels_by: str = "name") -> str:
    """The page's comparison as one Markdown document: what ``llamaprof compare --format md``
    prints for each view, under the page's setup (labels, normalisation, repeat groups).

    A title line and the comparability warnings (``> ⚠``), then per view of ``VIEWS`` the
    table of ``render.comparison.comparison_section``: the ``top`` keys by impact, the rest as
    "other", and a Total row. Kernels are compared ``kernels_by`` "name" or "family", as the
    page shows them. A view no run has data for says so in one line.
    """
    runs, baseline = setup.runs, setup.baseline
    # With repeat groups the tables compare groups, so the title names them.
    names = list(setup.groups) if setup.repeats else list(runs)
    first = setup.base_group if setup.repeats else baseline
    others = [name for name in names if name != first]
    lines = [f"# llamaprof comparison: {', '.join(others)} vs {first}", ""]
    warnings = [w.message for w in comparability_warnings(runs, setup.records)]
    if warnings:
        lines += [f"> ⚠ {warning}" for warning in warnings] + [""]
    for name, view in VIEWS.items():
        by = kernels_by if view.report == reports.KERNELS else "name"
        title = f"{reports.TITLES[view.report]} ({view.report})"
        lacking = [label for label, run in runs.items() if run.summary(view.report) is None]
        if len(lacking) == len(runs):
            lines += [f"**{title}**: no run has this report.", ""]
            continue
        result = view_comparison(setup, name, by=by, repeats=setup.repeats)
        lines.append(
            comparison_section(
                result,
                view.report,
                by=by,
                shown=top_n_with_other(result.long, top, by="impact"),
                warnings=[f"{label} has no {view.report} report." for label in lacking],
            )
        )
    return "\n".join(lines).rstrip("\n") + "\n"


def comparison_view(
    setup: CompareSetup,
    view: str,
    *,
    colors: dict[str, str],
    top: int,
    by: str = "name",
) -> pd.DataFrame | None:
    """Charts, then the diff table, then its CSV download, for one view; returns the table.

    ``by="family"`` (kernels only) diffs llama.cpp kernel families: a stacked bar of each
    run's time by family replaces the grouped bars, and a drill-down into one family's
    kernels follows the table. With repeat groups, their mean ± spread table comes first.
    None when no run has data for the view (e.g. text output without the size summary).
    """
    spec = VIEWS[view]
    runs, baseline = setup.runs, setup.baseline
    result = view_comparison(setup, view, by=by)
    long = result.long
    if long.empty or not (long["value"] != 0).any():
        missing = {label: run.skipped.get(spec.report) for label, run in runs.items()}
        reasons = "; ".join(f"{k}: {v}" for k, v in missing.items() if v)
        st.info(f"No run has {spec.title.lower()} data. {reasons}".strip())
        return None
    suffix = "" if by == "name" else f"_{by}"
    title = spec.title + (" by family" if by == "family" else "")
    wide, display = _cached_tables(setup_identity(setup), setup, view, by)
    if by == "family":
        family_mix_chart(setup, key=f"chart_{view}{suffix}")
    else:
        # Full width, one under the other: side by side, long kernel names and the legend
        # leave the bars almost no room (seen in the browser screenshots).
        st.altair_chart(
            grouped_bars(long, unit=result.unit, title=title, colors=colors, top=top),
            key=f"chart_{view}{suffix}",
        )
    if len(runs) > 1 and (long["delta"] != 0).any():
        st.altair_chart(
            delta_bars(
                long, unit=result.unit, title=title, colors=colors, baseline=baseline, top=top
            ),
            key=f"delta_{view}{suffix}",
        )
    else:
        st.caption("No differences against the baseline.")
    if setup.repeats:
        repeats_view(setup, view, by=by, key=f"repeats_{view}{suffix}")
        st.markdown("**Run by run**")
    st.dataframe(
        display,
        hide_index=True,
        key=f"table_{view}{suffix}",
        column_config={"full name": st.column_config.TextColumn(width="large")},
    )
    with st.expander(f"Exact values ({result.unit})"):
        st.dataframe(wide, hide_index=True, key=f"exact_{view}{suffix}")
    st.download_button(
        "Download this table (CSV)",
        wide.to_csv(index=False).encode("utf-8"),
        file_name=f"llamaprof-{view}{suffix}-vs-{slug(baseline)}.csv",
        mime="text/csv",
        key=f"csv_{view}{suffix}",
        icon=":material/download:",
        on_click="ignore",
    )
    if by == "family":
        family_drilldown_view(setup, colors=colors, top=top)
    return wide


# --- single run -----------------------------------------------------------------------------

_SUMMARY_CHARTS: dict[str, tuple[str, str, str]] = {
    # report: (key, value, unit)
    reports.API: ("name", "total_ns", "ns"),
    reports.KERNELS: ("name", "total_ns", "ns"),
    reports.MEM_TIME: ("operation", "total_ns", "ns"),
    reports.MEM_SIZE: ("operation", "total_bytes", "bytes"),
}


def single_run_header(run: Run) -> None:
    """The run's totals as metrics."""
    f = run_overview(run)
    cols = st.columns(6)
    cols[0].metric("GPU kernel time", format_ns(f["kernel_time_ns"]))  # type: ignore[arg-type]
    cols[1].metric("CUDA API time", format_ns(f["api_time_ns"]))  # type: ignore[arg-type]
    cols[2].metric("Host → device", format_bytes(f["bytes_htod"]))  # type: ignore[arg-type]
    cols[3].metric("Device → host", format_bytes(f["bytes_dtoh"]))  # type: ignore[arg-type]
    cols[4].metric("Capture span", format_ns(f["span_ns"]))  # type: ignore[arg-type]
    cols[5].metric("GPU busy", _share(f["gpu_busy_share"]))


def single_run_report(run: Run, report: str, *, top: int) -> None:
    """One summary of one run: chart, readable table, exact table, nsys text, CSV."""
    frame = run.summary(report)
    if frame is None:
        if report in run.skipped:
            st.info(f"SKIPPED: {run.skipped[report]}")
        else:
            st.info(f"This report holds no {reports.TITLES[report]} table.")
        return
    if frame.empty:
        st.info("No rows.")
        return
    key, value, unit = _SUMMARY_CHARTS[report]
    st.altair_chart(
        single_run_bars(
            frame, key=key, value=value, unit=unit, title=reports.TITLES[report], top=top
        ),
        key=f"run_chart_{report}",
    )
    st.dataframe(
        summary_table(frame, report),
        hide_index=True,
        key=f"run_table_{report}",
        column_config={"Full name": st.column_config.TextColumn(width="large")},
    )
    with st.expander("Exact values (ns, bytes) and the nsys text"):
        st.dataframe(frame, hide_index=True, key=f"run_exact_{report}")
        st.code(render_column(run, report), language=None)
    st.download_button(
        "Download this summary (CSV)",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{run.label}-{report}.csv",
        mime="text/csv",
        key=f"run_csv_{report}",
        icon=":material/download:",
        on_click="ignore",
    )
    if report == reports.KERNELS:
        run_families(run, frame)
