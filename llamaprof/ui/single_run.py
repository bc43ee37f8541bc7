"""The single-run page's blocks: the run's totals, each summary, its kernels by family.

Each block calls pure functions (``llamaprof.analyze``, ``llamaprof.render``,
``llamaprof.charts``) and displays the result.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from llamaprof import reports
from llamaprof.analyze.findings import Finding
from llamaprof.analyze.llama_kernels import family_breakdown
from llamaprof.analyze.overview import run_overview
from llamaprof.analyze.phases import phases_frame, phases_of
from llamaprof.analyze.serving import serving_findings
from llamaprof.analyze.throughput import throughput_frame
from llamaprof.charts import LABEL_LIMIT, single_run_bars
from llamaprof.charts_llama import family_stacked_bars
from llamaprof.loading import LoadedRun
from llamaprof.model import Run
from llamaprof.record import CaptureRecord
from llamaprof.render.nsys_format import render_column
from llamaprof.render.tables import family_summary_table, summary_table
from llamaprof.render.text import unit_formatter
from llamaprof.ui.llama_views import finding_markdown
from llamaprof.ui.views import share_text, table_height
from llamaprof.units import format_bytes, format_ns

__all__ = [
    "run_families",
    "serving_section",
    "single_run_header",
    "single_run_report",
    "throughput_section",
]


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
    span = "Capture span" if run.window is None else "Window span"
    # a row that wraps: each number whole, six in a row at 1280 px, fewer at 1024
    with st.container(horizontal=True, gap="large"):
        for label, text in (
            ("GPU kernel time", format_ns(f["kernel_time_ns"])),  # type: ignore[arg-type]
            ("CUDA API time", format_ns(f["api_time_ns"])),  # type: ignore[arg-type]
            ("Host → device", format_bytes(f["bytes_htod"])),  # type: ignore[arg-type]
            ("Device → host", format_bytes(f["bytes_dtoh"])),  # type: ignore[arg-type]
            (span, format_ns(f["span_ns"])),  # type: ignore[arg-type]
            ("GPU busy", share_text(f["gpu_busy_share"])),
        ):
            st.metric(label, text, width="content")


def throughput_section(record: CaptureRecord | None) -> None:
    """Tokens/s, latency and time to first token from the capture record, one metric each
    (what a capture on a machine without a GPU has to show); nothing without a record."""
    frame = throughput_frame(record)
    if frame.empty:
        return
    st.caption(
        "Throughput, from the capture record: llama-server's own timings of every request "
        "and the workload's wall clock (not cut to the window)."
    )
    with st.container(horizontal=True, gap="large"):  # wraps where the page is narrow
        for metric in frame.itertuples(index=False):
            text = unit_formatter(metric.unit)(metric.value)
            # "generation tokens/s" names the unit: the number alone is enough
            st.metric(metric.name, text.removesuffix(" tokens/s"), width="content")


def serving_section(identity: tuple, loaded: LoadedRun) -> None:
    """The capture's phases (from its record, else detected) and its serving findings, over
    the whole capture whatever the window; nothing for a report without event times."""
    if loaded.run is None or loaded.run.events is None:
        return
    phases, findings = _serving(identity, loaded)
    with st.expander("Phases and serving", expanded=True):
        if not phases.empty:
            shown = pd.DataFrame(
                {
                    "Phase": phases["name"],
                    "Start (ms)": phases["start_ns"] / 1e6,
                    "End (ms)": phases["end_ns"] / 1e6,
                    "Duration (ms)": phases["duration_ns"] / 1e6,
                    "Source": phases["source"],
                }
            )
            st.dataframe(
                shown,
                hide_index=True,
                key="run_phases",
                height=table_height(len(shown), most=10),
                column_config={
                    c: st.column_config.NumberColumn(format="%.3f")
                    for c in ("Start (ms)", "End (ms)", "Duration (ms)")
                },
            )
            st.caption(
                "Times on the nsys timeline (ms since the session start). In the Window "
                "selector: load, workload, prefill (all of them), decode (all of them) and "
                "`request:N` by name; any other phase by its times, typed as `START:END` "
                "(`1300ms:1354ms`)."
            )
        for finding in findings:
            st.markdown(finding_markdown(finding, escape=True))


@st.cache_resource(max_entries=16, show_spinner="Reading the capture's phases…")
def _serving(identity: tuple, _loaded: LoadedRun) -> tuple[pd.DataFrame, list[Finding]]:
    # ``identity`` (the file state) stands for ``_loaded``, which is not hashed.
    run = _loaded.run
    assert run is not None and run.events is not None
    phases = phases_of(run.events, _loaded.record)
    return phases_frame(phases), serving_findings(run, _loaded.record, phases)


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
            frame,
            key=key,
            value=value,
            unit=unit,
            title=reports.TITLES[report],
            top=top,
        ),
        key=f"run_chart_{report}",
    )
    st.dataframe(
        summary_table(frame, report),
        hide_index=True,
        key=f"run_table_{report}",
        column_config={
            # The short name is what people read: wide enough for template arguments.
            "Kernel": st.column_config.TextColumn("Kernel", width=320),
            "Full name": st.column_config.TextColumn(width="large"),
        },
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


def run_families(run: Run, kernels: pd.DataFrame) -> None:
    """The single-run page's "by kernel family" block: one stacked bar and the table."""
    if kernels is None or kernels.empty:
        return
    st.subheader("By llama.cpp kernel family")
    breakdown = family_breakdown({run.label: kernels})
    chart = family_stacked_bars(breakdown).encode(
        y=alt.Y("run:N", title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    )
    st.altair_chart(chart, key="run_families_chart")
    st.dataframe(family_summary_table(kernels), hide_index=True, key="run_families_table")
