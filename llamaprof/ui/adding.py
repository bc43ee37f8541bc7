"""Callbacks of the "Add reports" page: save uploads, pasted text and linked paths.

They run as widget callbacks, before the script, so the run list drawn in the same
rerun already shows the new report. Messages go to ``st.session_state["add_messages"]``
as ``(kind, text)`` pairs the page shows; no callback raises.

An upload is added only once it reads: sniffed (the folder scan then finds the sniff
cached) and read through the app's cache of runs (the run list then finds the run), so a
file that cannot be read is reported as not added, with its reason, and removed. Rejected
files leave the uploader (a fresh uploader replaces it), so they are not offered again.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from llamaprof.discover import add_by_path, safe_name, save_upload
from llamaprof.errors import LlamaprofError
from llamaprof.ui.common import folder_choice, read_new_report, reports_dir

#: Session key of the uploader's generation: a new one is a fresh, empty uploader.
UPLOADER_GENERATION = "uploader_generation"


def uploader_key() -> str:
    """The key of the uploader on screen: ``uploader``, then ``uploader-2``... after resets."""
    generation = int(st.session_state.get(UPLOADER_GENERATION, 1))
    return "uploader" if generation == 1 else f"uploader-{generation}"


def _say(kind: str, text: str) -> None:
    st.session_state.setdefault("add_messages", []).append((kind, text))


def _check_or_remove(path: Path) -> str | None:
    """Read a just-saved file as the run list will; remove it and return the reason if it
    cannot be read."""
    reason = read_new_report(path)
    if reason is not None:
        path.unlink(missing_ok=True)
    return reason


def save_uploaded_files(key: str = "uploader") -> None:
    """``on_change`` of the uploader ``key``: save every newly added file once."""
    st.session_state["add_messages"] = []
    files = st.session_state.get(key) or []
    if not isinstance(files, list):
        files = [files]
    saved: dict[str, str] = st.session_state.setdefault("saved_uploads", {})
    folder = reports_dir()
    rejected = False
    for upload in files:
        # The uploader keeps its files across reruns: save each upload once only.
        if upload.file_id in saved:
            continue
        try:
            path = save_upload(folder, upload.name, upload)
        except LlamaprofError as exc:
            _say("error", f"{upload.name}: {exc}")
            rejected = True
            continue
        reason = _check_or_remove(path)
        if reason:
            _say("error", f"{upload.name} was not added: {reason}")
            rejected = True
            continue
        saved[upload.file_id] = path.name
        renamed = "" if path.name == upload.name else f" as `{path.name}`"
        _say("success", f"Added `{upload.name}`{renamed}.")
    if rejected:  # a fresh uploader: the files it held are saved or reported, none offered again
        st.session_state[UPLOADER_GENERATION] = int(
            st.session_state.get(UPLOADER_GENERATION, 1)
        ) + 1


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
    reason = _check_or_remove(path)  # a link (or copy) of ours: removing it is safe
    if reason:
        _say("error", f"Not added: {Path(source).name} {reason}")
        return
    _say("success", f"Added `{source}` as `{path.name}`.")
    st.session_state["add_path"] = ""
