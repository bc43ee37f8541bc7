"""Add reports: upload files, paste `nsys stats` text, or link a big report by its path."""

import streamlit as st

from llamaprof.ui.adding import add_path, save_pasted_text, save_uploaded_files, uploader_key
from llamaprof.ui.common import folder_choice
from llamaprof.ui.sidebar import reports_sidebar

folder, items = reports_sidebar()
max_mb = int(st.get_option("server.maxUploadSize"))

st.title("Add reports")
st.markdown(
    f"New reports are saved into the reports folder `{folder}` under a safe name (never over "
    "an existing file) and then appear in the run list like any other run. Copying a file into "
    "the folder works too."
)
for kind, text in st.session_state.get("add_messages", []):
    getattr(st, kind)(text)

st.subheader("Upload")
key = uploader_key()
st.file_uploader(
    "Drop reports here: `.nsys-rep`, `.sqlite` exports, `nsys stats` text or CSV",
    accept_multiple_files=True,
    key=key,
    on_change=save_uploaded_files,
    args=(key,),
    help="The format is read from the content, not the name. A file is added once it reads.",
)
st.caption(
    f"Uploads up to {max_mb:,} MB each (`server.maxUploadSize` in `.streamlit/config.toml`). "
    "Bigger reports: add them by path below, or copy them into the reports folder."
)

st.subheader("Paste `nsys stats` output")
st.text_area(
    "The text `nsys stats` printed (tables of any of the four CUDA summaries)",
    key="paste_text",
    height=200,
    placeholder=" ** CUDA API Summary (cuda_api_sum):\n\n Time (%)  Total Time (ns)  ...",
)
st.text_input("Name of the new run", key="paste_name", placeholder="pasted")
st.button("Add pasted text", key="paste_add", on_click=save_pasted_text, type="primary")

st.subheader("Add by path")
# Linking any readable file of this machine is for its own user only (see folder_choice).
may_link, why = folder_choice()
st.text_input(
    "Path of a report on the machine running the app",
    key="add_path",
    placeholder="/data/profiles/run-q4_k_m.nsys-rep",
    help="The report is linked into the reports folder, not copied, so any size works.",
    disabled=not may_link,
)
st.button("Add this report", key="add_path_button", on_click=add_path, disabled=not may_link)
if not may_link:
    st.caption(f"Adding by path is off. {why}")
