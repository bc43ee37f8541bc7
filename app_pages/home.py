"""The app's root address: it opens the Compare page, keeping the link's query.

``/?run=a&run=b`` becomes ``/compare?run=a&run=b``. Streamlit serves its default page at the
root only (its own ``url_path`` is not served), so the Compare page is not the default:
``/compare`` then works as a direct address like ``/run``, ``/add`` and ``/capture``.
"""

import streamlit as st

st.switch_page(
    "app_pages/compare.py",
    query_params={name: st.query_params.get_all(name) for name in st.query_params},
)
