"""Compare runs: pick two to eight runs and a baseline; see what grew or shrank, and by how much.

The page's state is its link: ``?run=a&run=b&baseline=a&tab=kernels&by=name&window=workload
&values=none`` (``llamaprof.ui.url_state``); reloading or sharing it shows the same view.
"""

import streamlit as st

from llamaprof.analyze.comparison import THROUGHPUT
from llamaprof.analyze.configs import newest_set
from llamaprof.charts import run_colors
from llamaprof.errors import LlamaprofError
from llamaprof.render.text import shorten_middle
from llamaprof.ui import url_state
from llamaprof.ui.common import (
    MAX_COMPARE,
    folder_link_value,
    keep_valid_selection,
    md_escape,
    readable_runs,
)
from llamaprof.ui.comparing import (
    NORMALIZE_TEXT,
    Selection,
    comparison_for,
    labels_control,
    markdown_document,
    normalize_control,
    window_control,
)
from llamaprof.ui.llama_views import (
    KERNELS_BY,
    config_section,
    family_drilldown_view,
    family_mix_chart,
    findings_section,
    kernels_by_control,
)
from llamaprof.ui.sidebar import reports_sidebar
from llamaprof.ui.timeline_view import timeline_tab
from llamaprof.ui.views import (
    COMPARE_TABS,
    TAB_VIEWS,
    TIMELINE,
    missing_data,
    run_cards,
    slug,
    summary_view,
    throughput_view,
)

folder, items = reports_sidebar()
runs = readable_runs(items)
ids = list(runs)
id_of = {item.name: item.id for item in runs.values()}
link: dict[str, object] = {url_state.FOLDER: folder_link_value()}

st.title("Compare runs")
if len(runs) < 2:
    url_state.write(link)
    st.info(
        f"Comparing needs at least two readable reports in `{folder}`; it has {len(runs)}. "
        "Add some on the **Add reports** page, or copy them into the folder."
    )
    st.stop()

# A link seeds the widgets on the page's first visit in this session; then they hold it.
if linked := url_state.first_visit_values(url_state.RUN):
    st.session_state["compare_runs"] = list(
        dict.fromkeys(id_of[n] for n in linked if n in id_of)
    )[:MAX_COMPARE]
    # Said while the selection is the link's: a report renamed or deleted since.
    st.session_state["_link_unknown"] = (
        [n for n in linked if n not in id_of],
        st.session_state["compare_runs"],
    )
if (name := url_state.first_visit_value(url_state.BASELINE)) in id_of:
    st.session_state["compare_baseline"] = id_of[name]
if (tab_id := url_state.first_visit_value(url_state.TAB)) in COMPARE_TABS:
    st.session_state["compare_tab"] = COMPARE_TABS[tab_id]
if (by := url_state.first_visit_value(url_state.BY)) in KERNELS_BY:
    st.session_state["compare_kernels_by"] = by
if window := url_state.first_visit_value(url_state.WINDOW):
    st.session_state["compare_window"] = window
if (values := url_state.first_visit_value(url_state.VALUES)) in NORMALIZE_TEXT:
    st.session_state["compare_normalize"] = values

# Stale ids (a report deleted meanwhile) would make the widgets fail: drop them first.
# By default a folder's newest A/B set, config against config; else its first two runs.
ab_set = newest_set({i: item.record for i, item in runs.items()})
default_runs = ab_set[:MAX_COMPARE] if ab_set else ids[:2]
keep_valid_selection("compare_runs", ids, default=default_runs, multi=True)
left, right, far = st.columns([4, 2, 1])
selected = left.multiselect(
    "Runs",
    ids,
    format_func=lambda i: shorten_middle(runs[i].name, 36),
    key="compare_runs",
    max_selections=MAX_COMPARE,
    wrap=True,  # every selected run in sight, on as many rows as it takes
    persist_state="session",
    help=f"Two to {MAX_COMPARE} runs; rows are matched across runs by name.",
)
link[url_state.RUN] = [runs[i].name for i in selected]
unknown, seeded = st.session_state.get("_link_unknown", ([], None))
if unknown and seeded == selected:
    st.warning(
        f"The link names {'a run' if len(unknown) == 1 else 'runs'} not in the folder: "
        f"{md_escape(', '.join(unknown))}."
    )
if len(selected) < 2:
    url_state.write(link)
    st.info("Pick at least two runs to compare.")
    st.stop()
keep_valid_selection("compare_baseline", selected, default=selected[0])


def _baseline_text(run_id: str) -> str:
    """A run as the baseline box lists it: its capture's label first (``-fa on · name``), which
    tells the configs of a set apart where their time-stamped names do not fit."""
    record, name = runs[run_id].record, runs[run_id].name
    label = record.label if record is not None else None
    return f"{label} · {name}" if label and label != name else name



baseline_id = right.selectbox(
    "Baseline",
    selected,
    format_func=lambda i: shorten_middle(_baseline_text(i), 32),
    key="compare_baseline",
    persist_state="session",
    help="Changes are shown against this run (or the repeats of its config).",
)
top = int(far.number_input("Top N", 3, 50, step=1, key="compare_top_n", persist_state="session"))
entries = [runs[i].loaded for i in selected if runs[i].loaded is not None]
window_slot, values_slot, labels_slot = st.columns([2, 3, 2])
window = window_control(window_slot, entries)
normalize = normalize_control(values_slot, entries)
labels = labels_control(labels_slot, entries)
link.update(
    {
        url_state.BASELINE: runs[baseline_id].name,
        url_state.WINDOW: window,
        url_state.VALUES: normalize,
    }
)

try:
    prepared = comparison_for(
        runs, Selection(tuple(selected), baseline_id, window, normalize, labels)
    )
except LlamaprofError as exc:
    url_state.write(link)
    st.error(f"Cannot compare these runs: {getattr(exc, 'reason', None) or exc}")
    st.stop()
comparison = prepared.comparison
colors = run_colors(comparison.columns)

for kind, note in prepared.notes:
    getattr(st, kind)(note)
for problem in comparison.problems:
    st.warning(f"Capture record ignored: {md_escape(problem)}", icon=":material/warning:")
for warning in comparison.warnings:
    st.warning(warning.message, icon=":material/warning:")
st.caption(comparison.caption)  # names the window and the normalisation in effect
run_cards(prepared, colors)
config_section(comparison)



def cuda_tab(tab_id: str) -> None:
    """A CUDA tab: its summaries compared (one line when no run has them)."""
    names = TAB_VIEWS[tab_id]
    if (why := missing_data(comparison, names)) is not None:
        st.info(why)  # e.g. captured on a machine without a GPU
        return
    by = kernels_by_control() if tab_id == "kernels" else "name"
    for name in names:
        if len(names) > 1:
            st.subheader(comparison.view(name).title)
        if name == "kernels" and by == "family":
            family_mix_chart(prepared, key="chart_kernels_family")
            summary_view(prepared, name, colors=colors, top=top, by="family", charts=False)
            family_drilldown_view(prepared, colors=colors, top=top)
        else:
            view_by = by if name == "kernels" else "name"
            summary_view(prepared, name, colors=colors, top=top, by=view_by)


#: What each tab draws, by the id its link carries (titles in ``views.COMPARE_TABS``).
TAB_BLOCKS = {
    **{tab_id: (lambda tab_id=tab_id: cuda_tab(tab_id)) for tab_id in TAB_VIEWS},
    THROUGHPUT: lambda: throughput_view(prepared, colors=colors),
    TIMELINE: lambda: timeline_tab(prepared),
}

tab_ids = list(COMPARE_TABS)
if "compare_tab" not in st.session_state and all(
    missing_data(comparison, views) for views in TAB_VIEWS.values()
):
    st.session_state["compare_tab"] = COMPARE_TABS[THROUGHPUT]  # no CUDA data to show
tabs = st.tabs(list(COMPARE_TABS.values()), key="compare_tab", on_change="rerun")
by = str(st.session_state.get("compare_kernels_by") or "name")
active = next((i for i, tab in zip(tab_ids, tabs, strict=True) if tab.open), tab_ids[0])
link.update({url_state.TAB: active, url_state.BY: by})
url_state.write(link)
for tab_id, tab in zip(tab_ids, tabs, strict=True):
    if tab.open:  # only the tab on screen is computed and drawn
        with tab:
            TAB_BLOCKS[tab_id]()
by = str(st.session_state.get("compare_kernels_by") or "name")  # as the Kernels tab left it

findings_section(prepared, by)
st.download_button(
    "Download the whole comparison (Markdown)",
    # Written when clicked: it compares every view, tabs not opened included.
    lambda: markdown_document(prepared, top=top, kernels_by=by).encode("utf-8"),
    file_name=f"llamaprof-comparison-vs-{slug(comparison.baseline)}.md",
    mime="text/markdown",
    key="compare_markdown",
    icon=":material/description:",
    on_click="ignore",
)
