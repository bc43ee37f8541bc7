"""Callbacks of the "Add reports" page: save uploads, pasted text and linked paths.

They run as widget callbacks, before the script, so the run list drawn in the same
rerun already shows the new report. Messages go to ``st.session_state["add_messages"]``
as ``(kind, text)`` pairs the page shows; no callback raises.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from llamaprof.discover import add_by_path, safe_name, save_upload
from llamaprof.errors import LlamaprofError
from llamaprof.ui.common import folder_choice, reports_dir


def _say(kind: str, text: str) -> None:
    st.session_state.setdefault("add_messages", []).append((kind, text))


def _check_or_remove(path: Path) -> str | None:
    """Sniff a just-saved file; remove it and return the reason if it is no report."""
    from llamaprof.sources import sniff

    try:
        sniff(path)
    except LlamaprofError as exc:
        path.unlink(missing_ok=True)
        return getattr(exc, "reason", str(exc))
    return None


def save_uploaded_files() -> None:
    """``on_change`` of the ``uploader`` widget: save every newly added file once."""
    st.session_state["add_messages"] = []
    files = st.session_state.get("uploader") or []
    if not isinstance(files, list):
        files = [files]
    saved: dict[str, str] = st.session_state.setdefault("saved_uploads", {})
    folder = reports_dir()
    for upload in files:
        # The uploader keeps its files across reruns: save each upload once only.
        if upload.file_id in saved:
            continue
        try:
            path = save_upload(folder, upload.name, upload)
        except LlamaprofError as exc:
            _say("error", f"{upload.name}: {exc}")
            continue
        reason = _check_or_remove(path)
        if reason:
            _say("error", f"{upload.name} was not added: {reason}")
            continue
        saved[upload.file_id] = path.name
        renamed = "" if path.name == upload.name else f" as `{path.name}`"
        _say("success", f"Added `{upload.name}`{renamed}.")


def save_pasted_text() -> None:
    """``on_click`` of ``paste_add``: check the pasted ``nsys stats`` text, save it as .txt."""
    st.session_state["add_messages"] = []
    text = str(st.session_state.get("paste_text") or "")
    name = str(st.session_state.get("paste_name") or "").strip() or "pasted"
    if not text.strip():
        _say("warning", "Paste the output of `nsys stats` first.")
        return
    stem = safe_name(name, default="pasted")
    if not stem.lower().endswith(".txt"):
        stem += ".txt"
    try:
        from llamaprof.sources.stats_text import parse_stats_text

        run = parse_stats_text(text, Path(stem))
        if not run.summaries:
            _say("error", "No `nsys stats` table found in the pasted text.")
            return
        path = save_upload(reports_dir(), stem, text.encode("utf-8"))
    except LlamaprofError as exc:
        _say("error", f"The pasted text was not added: {getattr(exc, 'reason', exc)}")
        return
    _say("success", f"Added the pasted text as `{path.name}`.")
    st.session_state["paste_text"] = ""


def add_path() -> None:
    """``on_click`` of ``add_path_button``: link a big report into the folder by its path."""
    st.session_state["add_messages"] = []
    allowed, why = folder_choice()
    if not allowed:  # checked here too: a forged click reaches the callback of a disabled button
        _say("error", f"Adding by path is off. {why}")
        return
    source = str(st.session_state.get("add_path") or "").strip()
    if not source:
        _say("warning", "Type the path of a report on this machine first.")
        return
    try:
        path = add_by_path(reports_dir(), source)
    except LlamaprofError as exc:
        _say("error", f"Not added: {getattr(exc, 'reason', None) or exc}")
        return
    _say("success", f"Added `{source}` as `{path.name}`.")
    st.session_state["add_path"] = ""
