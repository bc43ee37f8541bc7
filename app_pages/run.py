"""Single run: one report's four CUDA summaries, like a readable `nsys stats`, over the whole
capture or one window of it, with the capture's phases and serving findings.

Its link keeps the run, the window and the tab: ``?run=NAME&window=decode&tab=kernels``.
"""

import streamlit as st

from llamaprof import reports
from llamaprof.analyze.findings import run_findings
from llamaprof.analyze.windows import parse_window, window_for
from llamaprof.errors import WindowError
from llamaprof.ui import url_state
from llamaprof.ui.common import folder_link_value, keep_valid_selection, md_escape, readable_runs
from llamaprof.ui.comparing import cut_run, window_control
from llamaprof.ui.llama_views import finding_markdown
from llamaprof.ui.sidebar import reports_sidebar
from llamaprof.ui.single_run import (
    serving_section,
    single_run_header,
    single_run_report,
    throughput_section,
)

#: The page's tabs: the id its link carries -> the report each shows.
RUN_TABS: dict[str, str] = {
    "api": reports.API,
    "kernels": reports.KERNELS,
    "memory-time": reports.MEM_TIME,
    "memory-size": reports.MEM_SIZE,
}

folder, items = reports_sidebar()
runs = readable_runs(items)
ids = list(runs)
id_of = {item.name: item.id for item in runs.values()}
link: dict[str, object] = {url_state.FOLDER: folder_link_value()}

st.title("Single run")
if not runs:
    url_state.write(link)
    st.info(
        f"No readable report in `{folder}` yet. Add one on the **Add reports** page, "
        "or copy it into the folder."
    )
    st.stop()

if (name := url_state.first_visit_value(url_state.RUN)) in id_of:
    st.session_state["single_run"] = id_of[name]
elif name is not None:
    # Said while the page shows another run than the link's: a report renamed or deleted.
    st.session_state["_run_link_unknown"] = name
if window_link := url_state.first_visit_value(url_state.WINDOW):
    st.session_state["run_window"] = window_link
if (tab_id := url_state.first_visit_value(url_state.TAB)) in RUN_TABS:
    st.session_state["run_tab"] = reports.TITLES[RUN_TABS[tab_id]]
keep_valid_selection("single_run", ids, default=ids[0])
left, middle, right = st.columns([4, 2, 1])
run_id = left.selectbox(
    "Run", ids, format_func=lambda i: runs[i].name, key="single_run", persist_state="session"
)
top = right.number_input("Top N", 3, 50, step=1, key="run_top_n", persist_state="session")
if (unknown := st.session_state.get("_run_link_unknown")) is not None:
    if run_id == ids[0] and unknown not in id_of:
        st.warning(f"The link names a run not in the folder: {md_escape(unknown)}.")
    else:
        del st.session_state["_run_link_unknown"]
item = runs[run_id]
loaded = item.loaded
assert loaded is not None and item.run is not None  # readable_runs keeps loaded runs only
whole = item.run
window = window_control(middle, [loaded], key="run_window")
run = whole
if window != "all":
    try:
        cut = window_for(whole, loaded.record, parse_window(window), label=item.name)
        run = cut_run(item.entry.identity, loaded, cut)
    except WindowError as exc:
        st.error(f"Window: {exc}. Showing the whole capture.")
        window = "all"
if item.config:
    st.caption(f"llama-server {md_escape(item.config)}")
st.caption(
    "Over the whole capture."
    if window == "all"
    else f"Over the {md_escape(window)} window: the events that start in it."
)

for warning in whole.info.warnings:  # data the reader had to leave out
    st.warning(f"Incomplete report: {md_escape(warning)}", icon=":material/warning:")
single_run_header(run)
throughput_section(loaded.record)
serving_section(item.entry.identity, loaded)
if whole.info.notes:
    with st.expander("Notes from the reader"):
        for note in whole.info.notes:
            st.markdown(f"- {md_escape(note)}")
findings = run_findings(run)
if findings:
    with st.expander("Key findings", expanded=True):
        for finding in findings:
            st.markdown(finding_markdown(finding))
tabs = st.tabs(
    [reports.TITLES[r] for r in RUN_TABS.values()], key="run_tab", on_change="rerun"
)
active = next((i for i, tab in zip(RUN_TABS, tabs, strict=True) if tab.open), "api")
url_state.write(
    {**link, url_state.RUN: item.name, url_state.WINDOW: window, url_state.TAB: active}
)
for report, tab in zip(RUN_TABS.values(), tabs, strict=True):
    if tab.open:  # only the tab on screen is drawn
        with tab:
            single_run_report(run, report, top=int(top))
