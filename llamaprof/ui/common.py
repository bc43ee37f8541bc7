"""Glue every page shares: session defaults, the reports folder, cached run loading, the watcher.

Thin on purpose: the folder rules live in ``llamaprof.discover`` and reading in
``llamaprof.loading`` (shared with the CLI); this module only adds Streamlit's caches
and session state.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import streamlit as st

from llamaprof.discover import (
    FolderWatcher,
    ReportEntry,
    folder_signature,
    scan_reports,
)
from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.loading import load_run
from llamaprof.model import Run, label_from_name
from llamaprof.policy import default_reports_dir, folder_choice_allowed
from llamaprof.record import read_record
from llamaprof.server_args import args_texts

#: Set to 1 to run without the watchdog thread (tests); the run list then polls the folder.
NO_WATCH_ENV = "LLAMAPROF_NO_WATCH"
#: Session keys with their defaults (widget keys are listed in ``llamaprof.ui.pages``' pages).
SESSION_DEFAULTS: dict[str, object] = {
    "compare_top_n": 10,
    "run_top_n": 15,
}
#: Runs a comparison may show and stay readable (issue 3: two to eight).
MAX_COMPARE = 8


@dataclass(eq=False)
class RunItem:
    """One row of the run list: the file, its label, and the run or why it cannot be read."""

    entry: ReportEntry
    label: str
    run: Run | None = None
    error: str | None = None
    config: str | None = None  # the llama-server arguments, when a capture record says

    @property
    def id(self) -> str:
        """Stable id stored in widget state: the path relative to the reports folder."""
        return self.entry.rel

    @property
    def status(self) -> str:
        """``ok``, ``error`` or ``settling`` (still being written)."""
        if self.entry.settling:
            return "settling"
        return "ok" if self.run is not None else "error"


def page_setup() -> Path:
    """Session defaults and the reports folder; every page calls it first and gets the folder.

    The folder comes from the sidebar's ``reports_dir`` text input, whose default is
    ``LLAMAPROF_REPORTS_DIR`` or ``./reports``. Where visitors may not pick it
    (``folder_choice``), the input shows the server's folder and its state is ignored.
    """
    for key, value in SESSION_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    if folder_choice()[0]:
        st.session_state.setdefault("reports_dir", str(default_reports_dir()))
    else:
        # Overwrite whatever the session holds (a forged widget value included), so the
        # disabled input shows the folder actually used.
        st.session_state["reports_dir"] = str(default_reports_dir())
    return reports_dir()


def folder_choice() -> tuple[bool, str]:
    """Whether this session may change the folder and add by path, and why (not).

    See ``llamaprof.policy.folder_choice_allowed``: loopback only, or opted in.
    """
    return folder_choice_allowed(st.get_option("server.address"), os.environ)


def reports_dir() -> Path:
    """The reports folder this session looks at (the server's, unless ``folder_choice``)."""
    if not folder_choice()[0]:
        return default_reports_dir()
    text = str(st.session_state.get("reports_dir") or default_reports_dir()).strip()
    return Path(text).expanduser()


# --- loading --------------------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def _load_or_reason(path: str, mtime_ns: int, size: int) -> Run | str:
    # mtime_ns and size are only cache keys: a changed file is a new entry.
    # The reason is cached too, so an unreadable file is not re-parsed on every rerun.
    # ``load_run`` already turns a reader bug into one line, as the CLI shows it.
    try:
        return load_run(path)
    except LlamaprofError as exc:
        return getattr(exc, "reason", None) or str(exc)


def load_run_cached(path: str, mtime_ns: int, size: int) -> Run:
    """The run in ``path``, cached on (path, mtime_ns, size). Raises ReportParseError."""
    result = _load_or_reason(path, mtime_ns, size)
    if isinstance(result, str):
        raise ReportParseError(path, result)
    return result


def _record(path: Path) -> dict | None:
    """The capture record beside a report, if a capture wrote one (None if unreadable)."""
    try:
        record = read_record(path)
    except LlamaprofError:
        return None
    return dict(record.data) if record is not None else None


def _config_text(record: dict | None) -> str | None:
    """The llama-server arguments a capture record holds, as one line."""
    if not record:
        return None
    config = record.get("config")
    args = config.get("args") if isinstance(config, dict) else None
    if isinstance(args, list | tuple) and args:
        return " ".join(str(a) for a in args)
    parsed = record.get("server_args")
    if isinstance(parsed, dict) and parsed:
        return " ".join(args_texts(parsed).values())
    return None


@st.cache_resource(show_spinner=False)
def _read_before() -> set[tuple[str, int, int]]:
    """Cache keys of the reports this server process has read (their runs are cached)."""
    return set()


def list_runs(folder: Path) -> list[RunItem]:
    """Every report in ``folder`` with a unique label; readable ones are loaded (cached).

    Reports not read before show a progress bar naming the one being read (issue 6: the
    first read shows progress); cached ones load without it.
    """
    entries = scan_reports(folder)
    read_before = _read_before()
    pending = [e for e in entries if e.readable and not e.error and e.cache_key not in read_before]
    progress = st.progress(0.0, text="Reading reports…") if pending else None
    items: list[RunItem] = []
    for entry in entries:
        record = _record(entry.path)
        label = str(record["label"]) if record and record.get("label") else _file_label(entry)
        item = RunItem(entry=entry, label=label, config=_config_text(record))
        if entry.error:
            item.error = entry.error
        elif entry.readable:
            if progress is not None and entry in pending:
                done = pending.index(entry)
                progress.progress(
                    done / len(pending),
                    text=f"Reading {md_escape(label)} ({done + 1} of {len(pending)})…",
                )
            try:
                item.run = load_run_cached(*entry.cache_key)
            except ReportParseError as exc:
                item.error = exc.reason
            read_before.add(entry.cache_key)
        items.append(item)
    if progress is not None:
        progress.empty()
    _make_labels_unique(items)
    return items


def _file_label(entry: ReportEntry) -> str:
    """``Run.label``'s rule on the file name, after its folder inside the reports folder."""
    parent = PurePosixPath(entry.rel).parent.as_posix()
    name = label_from_name(entry.path.name)
    return name if parent == "." else f"{parent}/{name}"


def _make_labels_unique(items: list[RunItem]) -> None:
    seen: dict[str, int] = {}
    for item in items:
        n = seen.get(item.label, 0) + 1
        seen[item.label] = n
        if n > 1:
            item.label = f"{item.label} ({n})"


def keep_valid_selection(
    key: str, options: list[str], *, default: object, multi: bool = False
) -> None:
    """Set widget ``key``'s state to ``default`` when unset, and drop values not in ``options``.

    Called before the widget is drawn: a run deleted since the last rerun must not stay
    selected (Streamlit rejects a value that is not among the options).
    """
    if key not in st.session_state or st.session_state[key] is None:
        st.session_state[key] = default
        return
    value = st.session_state[key]
    if multi:
        valid = [v for v in value if v in options]
        if valid != list(value):
            st.session_state[key] = valid
    elif value not in options:
        st.session_state[key] = default


def readable_runs(items: list[RunItem]) -> dict[str, RunItem]:
    """Readable runs by id, in run-list order."""
    return {item.id: item for item in items if item.run is not None}


# --- watching -------------------------------------------------------------------------------


def watching_enabled() -> bool:
    """False in tests (``LLAMAPROF_NO_WATCH=1`` or session flag ``no_watch``)."""
    if os.environ.get(NO_WATCH_ENV, "") not in ("", "0"):
        return False
    return not st.session_state.get("no_watch", False)


@st.cache_resource(show_spinner=False)
def folder_watcher() -> FolderWatcher:
    """The one watchdog observer of this server process, shared by every session."""
    return FolderWatcher()


def folder_state(folder: Path) -> object:
    """A value that changes when the folder's reports change: watcher generation or a listing."""
    if watching_enabled():
        watcher = folder_watcher()
        if watcher.watch(folder):
            return ("gen", watcher.generation)
        # Folder absent: watch() retries on the next call; fall back to polling meanwhile.
    return ("sig", folder_signature(folder))


def md_escape(text: str) -> str:
    """``text`` shown literally inside Markdown (file names may hold ``*``, ``_``, ``[``)."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
