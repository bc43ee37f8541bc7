"""The llama.cpp-aware blocks of the compare page: families, repeats, configuration, findings.

Each block reads the page's ``CompareSetup`` and shows what ``llamaprof compare`` prints for
the same runs and options (its ``build_comparison``), so app and command line agree. The
tables come from ``llamaprof.render`` and the findings from ``llamaprof.analyze``; nothing
is computed here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from llamaprof.analyze.compare import diff_table
from llamaprof.analyze.comparison import mark_noise
from llamaprof.analyze.fairness import config_diff
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
from llamaprof.model import Run
from llamaprof.render.comparison import comparison_table
from llamaprof.render.tables import config_table, diff_display_table, family_summary_table
from llamaprof.ui.compare_setup import CompareSetup, family_breakdown_of, view_comparison

#: How the Kernels tab can group rows (the ``compare_kernels_by`` control).
KERNELS_BY: dict[str, str] = {"name": "By kernel", "family": "By family"}


def kernels_by_control() -> str:
    """The by-kernel / by-family switch of the Kernels tab; returns "name" or "family"."""
    chosen = st.segmented_control(
        "Rows",
        list(KERNELS_BY),
        format_func=KERNELS_BY.__getitem__,
        default="name",
        required=True,
        key="compare_kernels_by",
        persist_state="session",
        help="By family sums llama.cpp's kernels by what they do: matmul, attention, norm, "
        "rope, element-wise, copies, quantisation, MoE helpers.",
    )
    return chosen or "name"


def family_mix_chart(setup: CompareSetup, *, key: str) -> None:
    """One stacked bar per run: where its GPU kernel time goes, by family."""
    breakdown = family_breakdown_of(setup)
    if breakdown.empty:
        st.info("No run has kernels to group by family.")
        return
    per = setup.per
    share = st.toggle("Show shares", key=f"{key}_share", help="Bars of equal length, in percent.")
    chart = family_stacked_bars(breakdown, share=share, per=per)
    # Run labels are long ("gemma3-4b-f16-nofa-generated"); the chart's default cuts them.
    runs = list(dict.fromkeys(breakdown["run"]))
    chart = chart.encode(
        y=alt.Y("run:N", title=None, sort=runs, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    )
    st.altair_chart(chart, key=key)


def family_drilldown_view(setup: CompareSetup, *, colors: dict[str, str], top: int) -> None:
    """Pick a family; see its kernels across runs (the by-kernel diff, that family's rows)."""
    result = view_comparison(setup, "kernels", by="name")
    families = [f for f in FAMILY_NAMES if f in set(_families(result.long))]
    if not families:
        return
    st.subheader("Drill down into a family")
    family = st.selectbox(
        "Family",
        families,
        key="compare_family_drill",
        persist_state="session",
    )
    st.caption(FAMILY_DESCRIPTIONS[family])
    rows = family_drilldown(result.long, family)
    wide = diff_table(rows.drop(columns="family"), list(setup.runs), setup.baseline)
    if (rows["delta"] != 0).any():
        st.altair_chart(
            delta_bars(
                rows,
                unit=result.unit,
                title=f"{family} kernels",
                colors=colors,
                baseline=setup.baseline,
                top=top,
            ),
            key="delta_family_drill",
        )
    st.dataframe(
        diff_display_table(wide, result.unit, kernels=True),
        hide_index=True,
        key="table_family_drill",
        column_config={"full name": st.column_config.TextColumn(width="large")},
    )


def _families(long: pd.DataFrame) -> list[str]:
    return [kernel_family(name) for name in dict.fromkeys(long["name"])]


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


# --- repeats -------------------------------------------------------------------------------


def repeats_view(setup: CompareSetup, view: str, *, by: str, key: str) -> None:
    """The comparison of repeat groups: means ± standard deviation, noise marked."""
    result = view_comparison(setup, view, by=by, repeats=True)
    if not result.repeats:
        return
    st.markdown("**Repeat groups** (mean ± standard deviation)")
    st.caption(result.caption)
    st.dataframe(
        comparison_table(result.long, result.labels, result.baseline, result.unit),
        hide_index=True,
        key=key,
    )


# --- configuration -------------------------------------------------------------------------


def _highlight(row: pd.Series) -> list[str]:
    color = "background-color: rgba(255, 189, 69, 0.25)" if row["differs"] else ""
    return [color] * len(row)


def config_section(setup: CompareSetup) -> pd.DataFrame | None:
    """The "Configuration" expander: server args and environment side by side.

    Settings that differ come first, highlighted, marked in the ``differs`` column; the
    "Only differences" toggle hides the rest. Returns the table shown (None without records).
    """
    with st.expander("Configuration", icon=":material/tune:"):
        if not any(setup.records.values()):
            st.caption(
                "No capture records: runs captured by llamaprof keep their server args and "
                "environment in `<name>.llamaprof.json` beside the report."
            )
            return None
        table = config_diff(setup.records)
        only = st.toggle(
            "Only differences",
            key="compare_config_only_diff",
            persist_state="session",
        )
        table = config_table(table, only_differences=only)
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


def finding_markdown(finding: Finding) -> str:
    """``**title.** detail`` for one finding."""
    return f"**{finding.title}.** {finding.detail}"


def comparison_findings_for(setup: CompareSetup, by: str) -> list[Finding]:
    """``comparison_findings`` of the kernel comparison as the page shows it (groups if any).

    With repeat groups, a change no larger than the spread of the repeats gets
    " (within the spread of the repeats: noise)" appended to its detail.
    """
    result = view_comparison(setup, "kernels", by=by, repeats=setup.repeats)
    if result.long.empty:
        return []
    findings = comparison_findings(result.long, result.baseline, unit=result.unit)
    if not result.repeats:
        return findings
    return [mark_noise(finding, result) for finding in findings]


def findings_section(setup: CompareSetup, by: str) -> None:
    """The "Findings" section: the biggest kernel regressions and improvements, with numbers."""
    st.subheader("Findings")
    findings = comparison_findings_for(setup, by)
    if not findings:
        st.caption("No kernel changes to report (no run has the kernel summary).")
        return
    what = "kernel families" if by == "family" else "kernels"
    st.caption(
        f"Largest changes in GPU time by {what} against the baseline, changes under 1% of "
        f"its total left out. {setup.caption}"
    )
    for finding in findings:
        st.markdown(finding_markdown(finding))


__all__ = [
    "KERNELS_BY",
    "comparison_findings_for",
    "config_section",
    "family_drilldown_view",
    "family_mix_chart",
    "family_summary_table",
    "finding_markdown",
    "findings_section",
    "kernels_by_control",
    "repeats_view",
    "run_families",
]
