"""Single run: one report's four CUDA summaries, like a readable `nsys stats`."""

import streamlit as st

from llamaprof import reports
from llamaprof.analyze.findings import run_findings
from llamaprof.ui.common import keep_valid_selection, md_escape, readable_runs
from llamaprof.ui.llama_views import finding_markdown
from llamaprof.ui.sidebar import reports_sidebar
from llamaprof.ui.views import single_run_header, single_run_report

folder, items = reports_sidebar()
runs = readable_runs(items)
ids = list(runs)

st.title("Single run")
if not runs:
    st.info(
        f"No readable report in `{folder}` yet. Add one on the **Add reports** page, "
        "or copy it into the folder."
    )
    st.stop()

keep_valid_selection("single_run", ids, default=ids[0])
left, right = st.columns([5, 1])
run_id = left.selectbox(
    "Run", ids, format_func=lambda i: runs[i].label, key="single_run", persist_state="session"
)
top = right.number_input("Top N", 3, 50, step=1, key="run_top_n", persist_state="session")
item = runs[run_id]
run = item.run
assert run is not None  # readable_runs keeps loaded runs only
if item.config:
    st.caption(f"llama-server {item.config}")

for warning in run.info.warnings:  # data the reader had to leave out
    st.warning(f"Incomplete report: {md_escape(warning)}", icon=":material/warning:")
single_run_header(run)
if run.info.notes:
    with st.expander("Notes from the reader"):
        for note in run.info.notes:
            st.markdown(f"- {md_escape(note)}")
findings = run_findings(run)
if findings:
    with st.expander("Key findings", expanded=True):
        for finding in findings:
            st.markdown(finding_markdown(finding))
for report, tab in zip(
    reports.REPORT_NAMES, st.tabs([reports.TITLES[r] for r in reports.REPORT_NAMES]), strict=True
):
    with tab:
        single_run_report(run, report, top=int(top))
