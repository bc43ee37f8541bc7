"""The compare page's Timeline tab: runs stacked, aligned at their workload start, a brush that
sets the window, and what each capture shows about serving.

The timelines cover each whole capture (not the window: the window is what a brush picks),
computed once per run's files (``comparing.memo`` with ``baseline=False``). A range brushed on
the chart becomes the window ``workload+A:B`` (milliseconds from each run's workload start,
where the runs are drawn aligned), which every tab then follows.
"""

from __future__ import annotations

import streamlit as st

from llamaprof.analyze.serving import serving_findings
from llamaprof.analyze.timeline import Aligned, aligned_timelines
from llamaprof.charts_timeline import WINDOW_PARAM, timeline_chart
from llamaprof.ui.common import md_escape
from llamaprof.ui.comparing import Prepared, memo
from llamaprof.ui.llama_views import finding_markdown
from llamaprof.units import format_ns

__all__ = ["brushed_window", "timeline_tab"]

#: Session key of the window selector (``comparing.window_control``).
WINDOW_KEY = "compare_window"
#: Widget key of the timeline chart (its selection state).
CHART_KEY = "timeline_chart"


def brushed_window(selection: object) -> str | None:
    """The window a brushed range means: ``workload+A:B`` in ms, or None without a range.

    >>> brushed_window({"t_ms": [12.345, 250.0]})
    'workload+12.35ms:250ms'
    >>> brushed_window({"t_ms": [-30.5, 1200000.25]})  # never 1.2e+06ms: no exponents
    'workload+-30.5ms:1200000.25ms'
    >>> brushed_window({}) is None
    True
    """
    bounds = selection.get("t_ms") if isinstance(selection, dict) else None
    if not bounds or len(bounds) != 2:
        return None
    low, high = sorted(float(b) for b in bounds)
    if high <= low:
        return None
    return f"workload+{_ms(low)}ms:{_ms(high)}ms"


def _ms(value: float) -> str:
    """Milliseconds to the hundredth, in plain decimals: ``parse_window`` reads no exponents,
    and a hand on a 10 ms-bin chart is not finer than that (a short text fits the box).

    >>> _ms(-3.333333), _ms(149.305556), _ms(1_200_000.0), _ms(20.0), _ms(-0.001)
    ('-3.33', '149.31', '1200000', '20', '0')
    """
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _take_brushed_window() -> None:
    """The chart's ``on_select`` callback: a brushed range becomes the page's window.

    A callback, because it runs before the page's widgets are drawn again: the window
    selector's state can be set only then.
    """
    state = st.session_state.get(CHART_KEY)
    selection = state.selection.get(WINDOW_PARAM) if state is not None else None
    picked = brushed_window(selection)
    if picked is not None:
        st.session_state[WINDOW_KEY] = picked


def _aligned(prepared: Prepared) -> Aligned | None:
    runs = {
        label: (member.entry.run.events, member.record)
        for label, member in prepared.comparison.members.items()
        if member.entry.run is not None
        and member.entry.run.events is not None
        and member.entry.run.events.has_cuda
    }
    return aligned_timelines(runs) if runs else None


def timeline_tab(prepared: Prepared) -> None:
    """Draw the tab: the timeline chart, the brush, and each run's serving findings."""
    aligned = memo(prepared, "timeline", baseline=False, window=False)(lambda: _aligned(prepared))
    if aligned is None:
        st.info(
            "The timeline needs CUDA events with their times: an SQLite export or `.nsys-rep` "
            "of a capture on a GPU (`nsys stats` output has no times; a capture without a GPU "
            "has no CUDA events)."
        )
        return
    left_out = [label for label in prepared.comparison.members if label not in aligned.timelines]
    if left_out:
        st.caption(f"Not drawn, no CUDA events with times: {md_escape(', '.join(left_out))}.")
    st.caption(
        f"GPU busy, GPU time by kernel family and CPU time in sync calls per "
        f"{format_ns(aligned.bin_ns)} bin, runs aligned at their workload start; start-up, "
        "prefill and decode shaded. Drag across the chart to compare that range: it becomes "
        "the window of every tab."
    )
    chart = timeline_chart(aligned.timelines, origins=aligned.origins, phases=aligned.phases)
    st.altair_chart(
        chart, key=CHART_KEY, on_select=_take_brushed_window, selection_mode=WINDOW_PARAM
    )
    findings = memo(prepared, "serving findings", baseline=False, window=False)(
        lambda: {
            label: serving_findings(member.entry.run, member.record)
            for label, member in prepared.comparison.members.items()
            if member.entry.run is not None
        }
    )
    st.subheader("Serving, run by run")
    for label, found in findings.items():
        with st.expander(label, expanded=len(findings) <= 2):
            if not found:
                st.caption("Nothing to say: this report has no event times.")
            for finding in found:
                st.markdown(finding_markdown(finding, escape=True))
