"""Glue every page shares: session defaults, the reports folder, the run list, the watcher.

Thin on purpose: the folder rules live in ``llamaprof.discover``, reading in
``llamaprof.loading`` (shared with the CLI); this module adds Streamlit's caches and
session state.

Caches, all keyed on file identity (``llamaprof.cache.FileStamp``: path, size, mtime):

- a report's ``Run``: ``st.cache_resource``, shared by every session and never copied. A
  seed-scale export with its events pickles to ~43 MiB; ``st.cache_data`` would unpickle a
  copy of every selected run on every rerun (8 ms and 43 MiB each, measured with
  ``pickle.loads``: 70 ms and 340 MiB of copies per click with eight runs). Runs are never
  changed after reading (windows and normalisation make new frames), so sharing is safe.
- a capture record: ``st.cache_data`` (small; read once per file state, not per rerun).

Each file is sniffed once per state (``discover.sniff_cached``) and read with the format the
sniff found, so it is not sniffed again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from llamaprof.cache import FileStamp
from llamaprof.discover import (
    FolderWatcher,
    ReportEntry,
    folder_signature,
    run_names,
    scan_reports,
    sniff_cached,
)
from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.loading import LoadedRun, load_run
from llamaprof.model import ReportFormat, Run
from llamaprof.policy import default_reports_dir, folder_choice_allowed
from llamaprof.record import CaptureRecord, read_record
from llamaprof.server_args import args_texts
from llamaprof.ui import url_state

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
    """One row of the run list: the file, its run name, and the run or why it cannot be read.

    ``name``: what the run list, the selection chips and the page's links call the run
    (``discover.run_names``); ``loaded``: the report and its capture record as a comparison
    takes them (``key``: the path in the folder), None while the file is settling or when
    it cannot be read (``error`` says why).
    """

    entry: ReportEntry
    name: str
    loaded: LoadedRun | None = None
    error: str | None = None

    @property
    def id(self) -> str:
        """Stable id stored in widget state: the path relative to the reports folder."""
        return self.entry.rel

    @property
    def run(self) -> Run | None:
        """The report's data (None when it cannot be read)."""
        return self.loaded.run if self.loaded is not None else None

    @property
    def record(self) -> CaptureRecord | None:
        """The capture record beside the report, if a capture wrote one (and it reads)."""
        return self.loaded.record if self.loaded is not None else None

    @property
    def config(self) -> str | None:
        """The llama-server arguments the capture record holds, as one line."""
        return config_text(self.record)

    @property
    def status(self) -> str:
        """``ok``, ``error`` or ``settling`` (still being written)."""
        if self.entry.settling:
            return "settling"
        return "ok" if self.run is not None else "error"


def config_text(record: CaptureRecord | None) -> str | None:
    """The llama-server arguments a capture record holds, as one line (None: none)."""
    if record is None:
        return None
    data = record.data
    for holder in ("config", "settings"):  # schema 1 wrote config.args, schema 2 settings.args
        section = data.get(holder)
        args = section.get("args") if isinstance(section, dict) else None
        if isinstance(args, list | tuple) and args:
            return " ".join(str(a) for a in args)
    parsed = data.get("server_args")
    if isinstance(parsed, dict) and parsed:
        return " ".join(args_texts(parsed).values())
    return None


def page_setup() -> Path:
    """Session defaults and the reports folder; every page calls it first and gets the folder.

    The folder comes from the sidebar's ``reports_dir`` text input, whose default is the
    page link's ``folder``, else ``LLAMAPROF_REPORTS_DIR`` or ``./reports``. Where visitors
    may not pick it (``folder_choice``), the input shows the server's folder and its state
    (and the link's) is ignored.
    """
    for key, value in SESSION_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    if folder_choice()[0]:
        linked = url_state.first_visit_value(url_state.FOLDER)
        if linked:
            st.session_state["reports_dir"] = linked
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


def folder_link_value() -> str | None:
    """The ``folder`` a page's link carries: the folder, where visitors may change it."""
    return str(reports_dir()) if folder_choice()[0] else None


# --- loading --------------------------------------------------------------------------------


@st.cache_resource(max_entries=64, show_spinner=False)
def _run_or_reason(
    identity: tuple[FileStamp, FileStamp | None], fmt: ReportFormat
) -> Run | str:
    # ``identity`` (the report's and its export's FileStamp) is the key: a changed file is
    # a new entry. The reason is kept too, so an unreadable file is not read on every
    # rerun; ``load_run`` already turns a reader bug into one line, as the CLI shows it.
    # A transient failure (nsys missing, an export timed out) is raised, so it is not kept:
    # the next rerun tries again once nsys is there.
    try:
        return load_run(identity[0].path, format=fmt)
    except ReportParseError as exc:
        if exc.transient:
            raise
        return exc.reason
    except LlamaprofError as exc:
        return exc.reason


@st.cache_data(max_entries=256, show_spinner=False)
def _record_or_reason(stamp: FileStamp) -> CaptureRecord | str | None:
    # Keyed on the record file's FileStamp; None: no record, a str: why it cannot be read.
    try:
        return read_record(stamp.path)
    except LlamaprofError as exc:
        return getattr(exc, "reason", None) or str(exc)


def _loaded(entry: ReportEntry) -> LoadedRun | str:
    """The entry's run and record (cached on their stamps), or why the report cannot be read."""
    assert entry.format is not None
    try:
        run = _run_or_reason(entry.report_identity, entry.format)
    except LlamaprofError as exc:  # transient: not cached, tried again on the next rerun
        return exc.reason
    if isinstance(run, str):
        return run
    record: CaptureRecord | str | None = None
    if entry.record_stamp is not None:
        record = _record_or_reason(entry.record_stamp)
    if isinstance(record, str):
        return LoadedRun(entry.rel, entry.path, run, None, record)
    return LoadedRun(entry.rel, entry.path, run, record)


def read_new_report(path: Path) -> str | None:
    """Read a report just added to the folder as the run list will (through the same sniff
    and run caches, so the run list then finds it read); None when it reads, else the
    one-line reason it cannot be read."""
    try:
        stat = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    fmt, error = sniff_cached(path, stat.st_size, stat.st_mtime_ns)
    if fmt is None:
        return error or "is not an nsys report"
    identity = (FileStamp.from_stat(path, stat), None)
    try:
        run = _run_or_reason(identity, fmt)
    except LlamaprofError as exc:  # transient: not cached
        return exc.reason
    if isinstance(run, str):
        return run
    _read_before().add(identity)
    return None


@st.cache_resource(show_spinner=False)
def _read_before() -> set[tuple[FileStamp, FileStamp | None]]:
    """Report identities this server process has read (their runs are cached)."""
    return set()


def list_runs(folder: Path) -> list[RunItem]:
    """Every report in ``folder`` with its run name; readable ones are loaded (cached).

    Reports not read before show a progress bar naming the one being read (issue 6: the
    first read shows progress); cached ones load without it.
    """
    entries = scan_reports(folder)
    names = run_names(entries)
    read_before = _read_before()
    pending = [e for e in entries if e.readable and e.report_identity not in read_before]
    progress = st.progress(0.0, text="Reading reports…") if pending else None
    items: list[RunItem] = []
    for entry in entries:
        item = RunItem(entry=entry, name=names[entry.rel])
        if entry.error:
            item.error = entry.error
        elif entry.readable:
            if progress is not None and entry in pending:
                done = pending.index(entry)
                progress.progress(
                    done / len(pending),
                    text=f"Reading {md_escape(item.name)} ({done + 1} of {len(pending)})…",
                )
            loaded = _loaded(entry)
            if isinstance(loaded, str):
                item.error = loaded
            else:
                item.loaded = loaded
            read_before.add(entry.report_identity)
        items.append(item)
    if progress is not None:
        progress.empty()
    return items


def keep_valid_selection(
    key: str, options: list[str], *, default: object, multi: bool = False
) -> None:
    """Set widget ``key``'s state to ``default`` when unset, and drop values not in ``options``.

    Called before the widget is drawn: a run deleted since the last rerun must not stay
    selected (Streamlit rejects a value that is not among the options). A multi-selection
    left with nothing after dropping (another folder) takes ``default`` again; one the user
    emptied stays empty.
    """
    if key not in st.session_state or st.session_state[key] is None:
        st.session_state[key] = default
        return
    value = st.session_state[key]
    if multi:
        valid = [v for v in value if v in options]
        if valid != list(value):
            st.session_state[key] = valid or default
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
