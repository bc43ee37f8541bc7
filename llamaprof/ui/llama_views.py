"""The llama.cpp-aware blocks of the compare page: families, configuration, findings.

Each block reads the page's ``Comparison`` (``llamaprof.analyze.comparison``), the same one
``llamaprof compare`` prints for the same runs and options, so app and command line agree.
The tables come from ``llamaprof.render`` and the findings from ``llamaprof.analyze``;
nothing is computed here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.comparison import Comparison, ViewComparison, mark_noise
from llamaprof.analyze.findings import Finding, comparison_findings
from llamaprof.analyze.llama_kernels import (
    FAMILY_DESCRIPTIONS,
    FAMILY_NAMES,
    family_breakdown,
    family_drilldown,
    kernel_family,
)
from llamaprof.charts import LABEL_LIMIT, delta_bars
from llamaprof.charts_llama import family_stacked_bars
from llamaprof.render.tables import config_table
from llamaprof.ui.common import md_escape
from llamaprof.ui.comparing import Prepared, memo
from llamaprof.ui.views import per_suffix, show_table, subset_view, table_layout

__all__ = [
    "KERNELS_BY",
    "comparison_findings_for",
    "config_section",
    "family_drilldown_view",
    "family_mix_chart",
    "finding_markdown",
    "findings_section",
    "kernels_by_control",
]

#: How the Kernels tab can group rows (the ``compare_kernels_by`` control, ``?by=``).
KERNELS_BY: dict[str, str] = {"name": "By kernel", "family": "By family"}


def kernels_by_control() -> str:
    """The by-kernel / by-family switch of the Kernels tab; returns "name" or "family"."""
    if st.session_state.get("compare_kernels_by") not in KERNELS_BY:
        st.session_state["compare_kernels_by"] = "name"
    chosen = st.segmented_control(
        "Rows",
        list(KERNELS_BY),
        format_func=KERNELS_BY.__getitem__,
        required=True,
        key="compare_kernels_by",
        persist_state="session",
        help="By family sums llama.cpp's kernels by what they do: matmul, attention, norm, "
        "rope, element-wise, copies, quantisation, MoE helpers.",
    )
    return chosen or "name"


def family_mix_chart(prepared: Prepared, *, key: str) -> None:
    """One stacked bar per run: where its GPU kernel time goes, by family (normalised as the
    page's values are)."""
    comparison = prepared.comparison
    breakdown = memo(prepared, "families", baseline=False)(
        lambda: family_breakdown(comparison.frames(VIEWS["kernels"], "name"))
    )
    if breakdown.empty:
        st.info("No run has kernels to group by family.")
        return
    per = per_suffix(comparison)
    share = st.toggle("Show shares", key=f"{key}_share", help="Bars of equal length, in percent.")
    chart = family_stacked_bars(breakdown, share=share, per=per)
    # Run labels are long ("gemma3-4b-f16-nofa-generated"); the chart's default cuts them.
    runs = list(dict.fromkeys(breakdown["run"]))
    chart = chart.encode(
        y=alt.Y("run:N", title=None, sort=runs, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    )
    st.altair_chart(chart, key=key)


def family_drilldown_view(prepared: Prepared, *, colors: dict[str, str], top: int) -> None:
    """Pick a family; see its kernels across runs (the by-kernel rows of that family)."""
    view = prepared.comparison.view("kernels", "name")
    families = memo(prepared, "families present")(lambda: _families(view.long))
    if not families:
        return
    st.subheader("Drill down into a family")
    family = st.selectbox("Family", families, key="compare_family_drill", persist_state="session")
    st.caption(FAMILY_DESCRIPTIONS[family])
    chart, layout = memo(prepared, "drill", family, top)(
        lambda: _drill(view, family, colors=colors, top=top)
    )
    if chart is not None:
        st.altair_chart(chart, key="delta_family_drill")
    show_table(layout, key="table_family_drill")


def _families(long: pd.DataFrame) -> list[str]:
    """The families a by-kernel comparison's rows belong to, in ``FAMILY_NAMES`` order."""
    present = {kernel_family(name) for name in long["name"].astype(str)}
    return [f for f in FAMILY_NAMES if f in present]


def _drill(view: ViewComparison, family: str, *, colors: dict[str, str], top: int):
    """The Δ chart (None: nothing changed) and the table of one family's kernels."""
    rows = family_drilldown(view.long, family)
    chart = None
    if (rows["delta"] != 0).any():
        chart = delta_bars(
            rows,
            unit=view.unit,
            title=f"{family} kernels",
            colors=colors,
            baseline=view.baseline,
            top=top,
        )
    return chart, table_layout(subset_view(view, rows, f"{family} kernels"), 0)


# --- configuration -------------------------------------------------------------------------


def _highlight(row: pd.Series) -> list[str]:
    color = "background-color: rgba(255, 189, 69, 0.25)" if row["differs"] else ""
    return [color] * len(row)


def config_section(comparison: Comparison) -> pd.DataFrame | None:
    """The "Configuration" expander: server args, environment and facts side by side, one
    column per run (``Comparison.config_table``; llamaprof's own host/port never count).

    Settings that differ come first, highlighted, marked in the ``differs`` column; the
    "Only differences" toggle hides the rest. Returns the table shown (None without records).
    """
    with st.expander("Configuration", icon=":material/tune:"):
        if not any(m.record is not None for m in comparison.members.values()):
            st.caption(
                "No capture records: runs captured by llamaprof keep their server args and "
                "environment in `<name>.llamaprof.json` beside the report."
            )
            return None
        only = st.toggle(
            "Only differences",
            key="compare_config_only_diff",
            persist_state="session",
        )
        table = config_table(comparison.config_table(), only_differences=only)
        differing = int(table["differs"].sum())
        st.caption(
            f"{differing} setting{'s' * (differing != 1)} differ"
            f"{'s' * (differing == 1)} between the runs."
        )
        st.dataframe(
            table.style.apply(_highlight, axis=1),
            hide_index=True,
            key="compare_config_table",
            column_config={"differs": st.column_config.CheckboxColumn("differs", width="small")},
        )
        return table


# --- findings ------------------------------------------------------------------------------


def finding_markdown(finding: Finding, *, escape: bool = False) -> str:
    """``**title.** detail`` for one finding; ``escape``: its texts escaped for Markdown
    (serving findings, whose texts quote run labels and kernel names as they are)."""
    if escape:
        return f"**{md_escape(finding.title)}.** {md_escape(finding.detail)}"
    return f"**{finding.title}.** {finding.detail}"


def comparison_findings_for(view: ViewComparison) -> list[Finding]:
    """``comparison_findings`` of the kernel view as the page shows it (groups if any).

    With repeat groups, a change no larger than the spread of the repeats gets
    " (within the spread of the repeats: noise)" appended to its detail.
    """
    if view.long.empty:
        return []
    findings = comparison_findings(view.long, view.baseline, unit=view.unit)
    if not view.repeats:
        return findings
    return [mark_noise(finding, view) for finding in findings]


def findings_section(prepared: Prepared, by: str) -> None:
    """The "Findings" section: the biggest kernel regressions and improvements, with numbers."""
    st.subheader("Findings")
    comparison = prepared.comparison
    view = comparison.view("kernels", by)
    findings = []
    if len(view.lacking) < len(view.columns):
        findings = memo(prepared, "findings", by)(lambda: comparison_findings_for(view))
    if not findings:
        st.caption("No kernel changes to report (no run has the kernel summary).")
        return
    what = "kernel families" if by == "family" else "kernels"
    st.caption(
        f"Largest changes in GPU time by {what} against the baseline, changes under 1% of "
        f"its total left out. {comparison.caption}"
    )
    for finding in findings:
        st.markdown(finding_markdown(finding))
