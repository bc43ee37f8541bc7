"""A page's state in its URL query, so a reload or a shared link shows the same view.

A page reads its link once per session (``first_visit_value``, ``first_visit_values``): what
the link says becomes the widgets' state before they are drawn. From then on the widgets
hold the state, and the page writes it back after drawing them (``write``), every
parameter every time, so the address bar always holds a link to what is on screen, also
after a restart of the app. Parameters (``?run=a&run=b&baseline=a&tab=kernels...``):

- ``run``: a selected run, repeated once per run, by its name in the run list;
- ``baseline``, ``tab``, ``by`` (``name`` | ``family``), ``window`` (``all``, ``load``,
  ``workload``, ``prefill``, ``decode``, ``request:N``, ``A:B`` or ``workload+A:B``),
  ``values`` (``none`` | ``per-token`` | ``per-request``);
- ``folder``: the reports folder, where visitors may change it.

Streamlit's own widget binding (``bind="query-params"``) drops a value equal to the widget's
default from the URL and never writes a value set by code (checked in a browser with
Streamlit 1.67): a first visit's runs, chosen by the page, would be missing from its link,
and the link would change meaning whenever a report is added. Hence this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

__all__ = [
    "BASELINE",
    "BY",
    "FOLDER",
    "RUN",
    "TAB",
    "VALUES",
    "WINDOW",
    "first_visit_value",
    "first_visit_values",
    "write",
]

RUN, BASELINE, TAB, BY, WINDOW, VALUES, FOLDER = (
    "run", "baseline", "tab", "by", "window", "values", "folder",
)  # fmt: skip
#: The order parameters are written in: the link reads runs first.
ORDER = (FOLDER, RUN, BASELINE, TAB, BY, WINDOW, VALUES)

_SEEN = "_url_read"  # session key: the parameters already read this session, by page


def _page() -> str:
    """The page now running (its script hash), so each page reads its own link once."""
    ctx = get_script_run_ctx()
    return getattr(ctx, "page_script_hash", "") or ""


def first_visit_values(name: str) -> list[str] | None:
    """Every value of parameter ``name`` in the link this session opened the page with.

    None when the link has no such parameter, and on every later call for this page in
    this session: the link seeds the widgets once; afterwards they hold the state.
    """
    seen: dict[str, set[str]] = st.session_state.setdefault(_SEEN, {})
    read = seen.setdefault(_page(), set())
    if name in read:
        return None
    read.add(name)
    if name not in st.query_params:
        return None
    return [value for value in st.query_params.get_all(name) if value != ""] or None


def first_visit_value(name: str) -> str | None:
    """The first value of parameter ``name`` on the page's first visit (see above)."""
    values = first_visit_values(name)
    return values[0] if values else None


def write(values: Mapping[str, str | Sequence[str] | None]) -> None:
    """Make the URL's query exactly ``values`` (None and empty values left out).

    Nothing is sent when the URL already says the same, so a rerun that changed nothing
    does not touch the address bar.
    """
    wanted: dict[str, list[str]] = {}
    for name in sorted(values, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        value = values[name]
        items = [value] if isinstance(value, str) else list(value or [])
        items = [item for item in items if item]
        if items:
            wanted[name] = items
    current = {name: st.query_params.get_all(name) for name in st.query_params}
    if current == wanted:
        return
    st.query_params.from_dict({k: v if len(v) > 1 else v[0] for k, v in wanted.items()})
