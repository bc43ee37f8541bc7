"""llamaprof app entrypoint: `streamlit run streamlit_app.py` (pages live in app_pages/).

``LLAMAPROF_TIMING_LOG=PATH`` appends one line per script run to PATH: the page's url path
and the run's server time in ms (``scripts/bench_page.py`` reads it).
"""

import os
import time
from pathlib import Path

import streamlit as st

from llamaprof.ui.pages import PAGES

_HERE = Path(__file__).parent
_started = time.perf_counter()

st.set_page_config(page_title="llamaprof", page_icon=":material/speed:", layout="wide")
page = st.navigation(
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
)
try:
    page.run()
finally:  # also when the page stops (st.stop) or reruns
    if log := os.environ.get("LLAMAPROF_TIMING_LOG"):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{page.url_path or '/'} {1000 * (time.perf_counter() - _started):.1f}\n")
