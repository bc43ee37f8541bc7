"""llamaprof app entrypoint: `streamlit run streamlit_app.py` (pages live in app_pages/)."""

from pathlib import Path

import streamlit as st

from llamaprof.ui.pages import PAGES

_HERE = Path(__file__).parent

st.set_page_config(page_title="llamaprof", page_icon=":material/speed:", layout="wide")
st.navigation(
    [
        st.Page(
            _HERE / p.file,
            title=p.title,
            icon=p.icon,
            url_path=p.url_path,
            default=p.default,
            visibility="visible" if p.visible else "hidden",
        )
        for p in PAGES
    ]
).run()
