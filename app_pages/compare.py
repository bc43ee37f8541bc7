"""Compare runs: pick two to eight runs and a baseline; see what grew or shrank, and by how much."""

import streamlit as st

from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.fairness import comparability_warnings
from llamaprof.charts import run_colors
from llamaprof.ui.common import MAX_COMPARE, keep_valid_selection, readable_runs
from llamaprof.ui.compare_setup import compare_setup
from llamaprof.ui.llama_views import config_section, findings_section, kernels_by_control
from llamaprof.ui.sidebar import reports_sidebar
from llamaprof.ui.views import (
    COMPARE_TABS,
    comparison_document,
    comparison_view,
    run_headers,
    slug,
)

folder, items = reports_sidebar()
runs = readable_runs(items)
ids = list(runs)

st.title("Compare runs")
if len(runs) < 2:
    st.info(
        f"Comparing needs at least two readable reports in `{folder}`; it has {len(runs)}. "
        "Add some on the **Add reports** page, or copy them into the folder."
    )
    st.stop()

# Stale ids (a report deleted meanwhile) would make the widgets fail: drop them first.
keep_valid_selection("compare_runs", ids, default=ids[: min(len(ids), 2)], multi=True)
left, right, far = st.columns([4, 2, 1])
selected = left.multiselect(
    "Runs",
    ids,
    format_func=lambda i: runs[i].label,
    key="compare_runs",
    max_selections=MAX_COMPARE,
    persist_state="session",
    help=f"Two to {MAX_COMPARE} runs; rows are matched across runs by name.",
)
if len(selected) < 2:
    st.info("Pick at least two runs to compare.")
    st.stop()
keep_valid_selection("compare_baseline", selected, default=selected[0])
baseline_id = right.selectbox(
    "Baseline",
    selected,
    format_func=lambda i: runs[i].label,
    key="compare_baseline",
    persist_state="session",
    help="Changes are shown against this run.",
)
top = far.number_input("Top N", 3, 50, step=1, key="compare_top_n", persist_state="session")

labelled = {runs[i].label: runs[i].run for i in selected}
setup = compare_setup(labelled, runs[baseline_id].label)
baseline = setup.baseline
colors = run_colors(list(setup.runs))

for warning in comparability_warnings(setup.runs, setup.records):
    st.warning(warning.message, icon=":material/warning:")
st.caption(setup.caption)
run_headers(
    setup.runs, colors, baseline, factors=setup.factors, per=setup.per, sources=setup.sources
)
config_section(setup)
by = "name"
tabs = st.tabs(list(COMPARE_TABS))
for tab, views in zip(tabs, COMPARE_TABS.values(), strict=True):
    with tab:
        for view in views:
            if len(views) > 1:
                st.subheader(VIEWS[view].title)
            if view == "kernels":
                by = kernels_by_control()
            by_view = by if view == "kernels" else "name"
            comparison_view(setup, view, colors=colors, top=int(top), by=by_view)
findings_section(setup, by)

st.download_button(
    "Download the whole comparison (Markdown)",
    comparison_document(setup, top=int(top), kernels_by=by).encode("utf-8"),
    file_name=f"llamaprof-comparison-vs-{slug(baseline)}.md",
    mime="text/markdown",
    key="compare_markdown",
    icon=":material/description:",
    on_click="ignore",
)
