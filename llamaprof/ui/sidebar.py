"""The sidebar every page shows: the reports folder, the run list, and its live refresh."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from llamaprof.analyze.overview import run_gpus
from llamaprof.capture.runner import interrupted_captures
from llamaprof.render.text import gpus_text
from llamaprof.ui.common import (
    RunItem,
    folder_choice,
    folder_state,
    list_runs,
    md_escape,
    page_setup,
    reports_dir,
)
from llamaprof.units import format_bytes

#: Seconds between checks of the reports folder (issue 3: changes show within about 2 s).
REFRESH_S = 1.0


def run_facts(item: RunItem) -> str:
    """``stats-text · nsys 2025.1.3 · GPU · 2025-07-14 12:00 · 8.1 kB`` for one run."""
    entry = item.entry
    facts: list[str] = []
    if entry.format is not None:
        facts.append(entry.format.value)
    info = item.run.info if item.run is not None else None
    if info is not None and info.nsys_version:
        facts.append(f"nsys {info.nsys_version}")
    gpus = run_gpus(item.run, item.record)
    if gpus:  # count and names, also where the report has kernels on devices but no names
        facts.append(md_escape(gpus_text(gpus)))
    facts.append(_date(item))
    facts.append(format_bytes(entry.size))
    return " · ".join(facts)


def _date(item: RunItem) -> str:
    if item.run is not None and item.run.info.start_utc:
        return item.run.info.start_utc.replace("T", " ")[:16] + " UTC"
    stamp = dt.datetime.fromtimestamp(item.entry.mtime_ns / 1e9)
    return stamp.strftime("%Y-%m-%d %H:%M")


def _render_item(item: RunItem) -> None:
    label = md_escape(item.name)
    if item.status == "ok":
        st.markdown(f"**{label}**", help=item.config)
        extra = ""
        record = item.record
        if record is not None and record.label and record.label != item.name:
            extra += f"  \n{md_escape(record.label)}"  # the name the capture gave the run
        if item.config:  # the llama-server arguments, from the capture record
            short = item.config if len(item.config) <= 80 else item.config[:79] + "…"
            extra += f"  \n`{short}`"
        st.caption(run_facts(item) + extra)
    elif item.status == "settling":
        st.markdown(label)
        st.caption(":hourglass: being written, read once its size is stable")
    else:
        st.markdown(f":orange[:material/error: **{label}**]")
        st.caption(f"cannot be read: {item.error}")


def reports_sidebar() -> tuple[Path, list[RunItem]]:
    """Draw the sidebar; returns the reports folder and its runs (see ``list_runs``)."""
    page_setup()  # session defaults before the widget that reads them
    with st.sidebar:
        may_change, why = folder_choice()
        st.text_input(
            "Reports folder",
            key="reports_dir",
            persist_state="session",
            disabled=not may_change,
            help="Watched recursively: reports copied, saved or deleted here show up by "
            "themselves. Default: $LLAMAPROF_REPORTS_DIR or ./reports. " + why,
        )
        folder = reports_dir()
        # The state is taken before the scan, so a change during the scan triggers one
        # more refresh instead of being missed.
        st.session_state["_folder_state"] = folder_state(folder)
        items = list_runs(folder)
        st.session_state["_settling"] = any(i.status == "settling" for i in items)
        ok = sum(1 for i in items if i.status == "ok")
        if not folder.is_dir():
            st.caption(f"`{folder}` does not exist yet; it is read as soon as it does.")
        else:
            st.caption(f"{ok} readable run{'s' * (ok != 1)} of {len(items)} in `{folder}`")
        with st.container(key="run_list"):
            for item in items:
                _render_item(item)
            for leftover in interrupted_captures(folder):
                st.caption(
                    f":orange[:material/warning:] {md_escape(leftover.name)}: a capture "
                    "was interrupted (the app or the CLI was killed); its run is incomplete "
                    "and not listed. Its server.log may say why; delete the folder after."
                )
        # A new token per full run tells the fragment's first call (part of this run)
        # from its timed reruns, which are the only ones that may trigger a rerun.
        st.session_state["_full_run"] = st.session_state.get("_full_run", 0) + 1
        _watch_folder(folder)
    return folder, items


@st.fragment(run_every=REFRESH_S)
def _watch_folder(folder: Path) -> None:
    """Rerun the whole app when the folder changed since the run list was drawn.

    Draws nothing: it only compares a cheap state (the watcher's generation, or a
    listing when watching is off) every second.
    """
    full_run = st.session_state.get("_full_run")
    if st.session_state.get("_fragment_seen") != full_run:
        st.session_state["_fragment_seen"] = full_run
        return
    changed = folder_state(folder) != st.session_state.get("_folder_state")
    if changed or st.session_state.get("_settling"):
        st.rerun(scope="app")
