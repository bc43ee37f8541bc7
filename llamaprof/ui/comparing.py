"""The compare page's comparison: its controls, and ``prepare_comparison`` once per selection.

The page keeps only the *selection* in session state (and its URL): run ids, baseline,
window, normalisation, labels. ``comparison_for`` turns it into the one
``llamaprof.analyze.comparison.Comparison`` every block of the page reads (cards, tabs,
findings, the Markdown download), as ``llamaprof compare`` does for the command line.

The comparison is cached with ``st.cache_resource`` on the selected files' identity (each
report's, export's and record's ``FileStamp``) and the options: it holds the runs cut to
the window (a seed-scale run's events are tens of MiB) and fills its views lazily, so a
pickled copy per rerun (``st.cache_data``) would cost more than the page's whole budget.
It is never changed by the page; sessions share it. Runs cut to a window are kept apart
(per run and window), so another baseline compares them again without cutting them again,
and what the page draws from a comparison is memoised on the same key (``memo``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from llamaprof.analyze.comparison import Comparison, auto_window, prepare_comparison
from llamaprof.analyze.normalize import Normalize
from llamaprof.analyze.windows import apply_window, parse_window
from llamaprof.errors import LlamaprofError, NotNormalizable, WindowError
from llamaprof.events import Window
from llamaprof.loading import LoadedRun
from llamaprof.model import Run
from llamaprof.render.comparison import comparison_document
from llamaprof.ui.common import RunItem, md_escape

__all__ = [
    "NORMALIZE_TEXT",
    "Prepared",
    "Selection",
    "comparison_for",
    "labels_control",
    "markdown_document",
    "memo",
    "normalize_control",
    "window_choices",
    "window_control",
]

#: What the normalisation control offers (the ``values`` of the page's link), and how it reads.
NORMALIZE_TEXT: dict[str, str] = {
    Normalize.NONE.value: "Totals",
    Normalize.PER_TOKEN.value: "Per token",
    Normalize.PER_REQUEST.value: "Per request",
}
T = TypeVar("T")

#: How many ``request:N`` windows the window control lists (more can be typed).
MAX_REQUEST_CHOICES = 20


@dataclass(frozen=True)
class Selection:
    """What the page compares: report ids (paths in the folder, in the chosen order), the
    baseline's id, the window as typed (``workload``, ``request:3``, ``2s:5s``), the
    normalisation (a ``Normalize`` value) and how runs are labelled (auto, file, config)."""

    ids: tuple[str, ...]
    baseline: str
    window: str = "all"
    normalize: str = Normalize.NONE.value
    labels: str = "auto"


@dataclass(frozen=True)
class Prepared:
    """A comparison and what the page must say about how it was made: ``notes`` are
    (``error`` | ``warning``, one line) pairs, e.g. a window a run cannot take; ``key``
    identifies it (the files' stamps and the options) for caches of what is drawn from it."""

    comparison: Comparison
    notes: tuple[tuple[str, str], ...] = ()
    key: tuple = ()
    runs_key: tuple = ()  # ``key`` but the baseline: what the runs as compared depend on
    files_key: tuple = ()  # the files and labels only: what the whole, uncut runs give


def comparison_for(items: dict[str, RunItem], selection: Selection) -> Prepared:
    """The comparison of the selected runs (``items`` by id), prepared once per selection.

    A window a run cannot take, or a normalisation it lacks the count for, does not leave
    the page empty: the comparison falls back to the whole capture, or to totals, and a
    note says why in one line. Raises LlamaprofError for a selection that cannot be
    compared at all (fewer than two readable runs).
    """
    chosen = [items[i] for i in selection.ids]
    entries = tuple(item.loaded for item in chosen if item.loaded is not None)
    if len(entries) < 2:
        raise LlamaprofError("a comparison needs at least two readable runs")
    key = tuple((item.id, item.entry.identity) for item in chosen)
    return _prepare(
        key, entries, selection.baseline, selection.labels, selection.window, selection.normalize
    )


# Few entries: a comparison holds its runs cut to its window (tens of MB each at seed scale),
# and every brushed range is a new window. Twelve keep a session's recent baselines, tabs and
# windows; the cut runs are shared by the comparisons of one window.
@st.cache_resource(max_entries=12, show_spinner="Comparing the runs…")
def _prepare(
    key: tuple,
    _entries: tuple[LoadedRun, ...],
    baseline: str,
    labels: str,
    window: str,
    normalize: str,
) -> Prepared:
    # ``key`` (ids and file stamps) stands for ``_entries``, which are not hashed.
    stamps = dict(key)

    def cut(entry: LoadedRun, window: Window, label: str) -> Run:
        return _cut(stamps[entry.key], window, label, entry.run)

    notes: list[tuple[str, str]] = []
    try:
        spec = parse_window(window)
    except WindowError as exc:
        notes.append(("error", f"Window: {exc}. Showing the whole capture."))
        spec = parse_window("all")
    mode = Normalize(normalize)
    while True:
        try:
            comparison = prepare_comparison(
                _entries,
                baseline=baseline,
                labels=labels,  # type: ignore[arg-type]
                window=spec,
                normalize=mode,
                cut=cut,
            )
        except WindowError as exc:
            if spec.name == "all":
                raise
            notes.append(("error", f"Window {window}: {exc}. Showing the whole capture."))
            spec = parse_window("all")
            continue
        except NotNormalizable as exc:
            if mode is Normalize.NONE:
                raise
            notes.append(
                ("warning", f"{NORMALIZE_TEXT[mode.value]}: {exc.reason}. Showing totals.")
            )
            mode = Normalize.NONE
            continue
        runs_key = (key, labels, window, normalize)
        return Prepared(comparison, tuple(notes), (*runs_key, baseline), runs_key, (key, labels))


def cut_run(item_identity: tuple, loaded: LoadedRun, window: Window) -> Run:
    """``loaded``'s run cut to ``window`` (``apply_window``), once per file state and window,
    shared with the comparisons (``item_identity``: the run list's file stamp)."""
    return _cut(item_identity, window, loaded.file_label, loaded.run)


@st.cache_resource(max_entries=24, show_spinner=False)  # three windows of eight runs
def _cut(identity: tuple, window: Window, _label: str, _run: Run | None) -> Run:
    # A run cut to a window (``identity``: its files' stamps) is the same whatever the
    # baseline or the labels: another baseline or labelling does not cut eight runs again.
    # (``_label`` only names the run in an error, and is not part of the key.)
    assert _run is not None
    return apply_window(_run, window, label=_label)


def memo(
    prepared: Prepared, what: str, *args: object, baseline: bool = True, window: bool = True
) -> Callable[[Callable[[], T]], T]:
    """What a block of the page draws from the comparison, computed once per comparison
    (its ``key``: files and options), ``what`` and ``args``, and shared by every session:

    >>> facts = memo(prepared, "cards")(lambda: card_facts(prepared.comparison))  # doctest: +SKIP

    ``baseline=False``: for what does not depend on the baseline (each run's own numbers), so
    that choosing another baseline does not compute it again; ``window=False`` (with
    ``baseline=False``): for what comes from the whole runs (the timeline, the serving
    findings), so that a brushed window or another normalisation does not compute it again.
    The result must not be changed by the caller (it is not copied).
    """
    key = prepared.key if baseline else prepared.runs_key
    if not window:
        key = prepared.files_key

    def run(build: Callable[[], T]) -> T:
        return _memo(key, what, args, build)

    return run


@st.cache_resource(max_entries=512, show_spinner=False)
def _memo(key: tuple, what: str, args: tuple, _build: Callable[[], T]) -> T:
    # ``_build`` is not hashed: (key, what, args) say what it computes.
    return _build()


def markdown_document(prepared: Prepared, *, top: int, kernels_by: str) -> str:
    """``comparison_document`` of the page's comparison, as ``llamaprof compare`` writes it
    (computed once per comparison and options: it compares every view)."""
    comparison = prepared.comparison
    return memo(prepared, "markdown", top, kernels_by)(
        lambda: comparison_document(comparison, top=top, kernels_by=kernels_by)
    )


# --- controls -----------------------------------------------------------------------------


def window_choices(entries: Sequence[LoadedRun]) -> tuple[list[str], str | None]:
    """The windows the selected runs can take, and why others are not offered (None: all are).

    ``all`` always; ``load`` and ``workload`` (from the records, else detected) when every
    run has event times (an SQLite export or ``.nsys-rep``); ``prefill``, ``decode`` and
    ``request:1`` to ``request:N`` (the fewest requests of the runs, at most
    ``MAX_REQUEST_CHOICES``) when every run also has a capture record with request times.
    Other windows, and ``A:B``, can be typed.
    """
    lacking = [e for e in entries if e.run is None or e.run.events is None]
    if lacking:
        names = ", ".join(md_escape(e.file_label) for e in lacking)
        return ["all"], (
            f"Time windows need the SQLite export or the `.nsys-rep`; {names} "
            f"{'is' if len(lacking) == 1 else 'are'} `nsys stats` output without event times."
        )
    choices = ["all", "load", "workload"]
    if all(e.record is not None and e.record.timed for e in entries):
        choices += ["prefill", "decode"]
        fewest = min(len(e.record.requests) for e in entries if e.record is not None)
        choices += [f"request:{n}" for n in range(1, min(fewest, MAX_REQUEST_CHOICES) + 1)]
    return choices, None


def window_control(
    container, entries: Sequence[LoadedRun], *, key: str = "compare_window"
) -> str:
    """The window selector (state ``key``): returns the window as chosen or typed.

    Its default is ``auto_window``'s (``workload`` when every run has a capture record with
    request times, else ``all``), and it follows the selection while the user has not
    picked another window.
    """
    choices, why_not = window_choices(entries)
    auto = auto_window(entries)
    state = st.session_state
    auto_key = f"_{key}_auto"
    if why_not is not None:
        state[key] = "all"
    elif key not in state or state[key] == state.get(auto_key):
        state[key] = auto
    state[auto_key] = auto
    current = state.get(key)
    if isinstance(current, str) and current and current not in choices:
        choices = [*choices, current]  # typed, or brushed on the timeline: keep it listed
    chosen = container.selectbox(
        "Window",
        choices,
        key=key,
        accept_new_options=True,
        disabled=why_not is not None,
        help="The part of each capture the CUDA numbers cover: all, load (start-up), "
        "workload, prefill, decode, request:N, or type A:B (1.5s:4s, 250ms:, :2s). An "
        "event belongs to a window when it starts in it.",
    )
    if why_not is not None:
        container.caption(why_not)
    return str(chosen or "all")


def normalize_control(container, entries: Sequence[LoadedRun]) -> str:
    """The Totals / Per token / Per request control (key ``compare_normalize``).

    As the command line: normalising needs a capture record beside every selected run;
    without, the control is disabled, shows totals and says why.
    """
    lacking = [e.file_label for e in entries if e.record is None]
    which = md_escape(", ".join(lacking)) if len(lacking) <= 2 else f"{len(lacking)} of them"
    reason = (
        f"Needs a capture record (`<name>.llamaprof.json`) beside every selected run; "
        f"{which} {'has' if len(lacking) == 1 else 'have'} none."
        if lacking
        else None
    )
    if reason or st.session_state.get("compare_normalize") not in NORMALIZE_TEXT:
        st.session_state["compare_normalize"] = Normalize.NONE.value  # what is in effect
    chosen = container.segmented_control(
        "Values",
        list(NORMALIZE_TEXT),
        format_func=NORMALIZE_TEXT.__getitem__,
        required=True,
        key="compare_normalize",
        disabled=reason is not None,
        persist_state="session",
        help="Divide every run's totals by the generated tokens (or requests) of the window, "
        "read from the capture record beside each report, so runs of different length "
        "compare.",
    )
    if reason:
        container.caption(f"Per token / per request: {reason}")
    return str(chosen or Normalize.NONE.value) if reason is None else Normalize.NONE.value


def labels_control(container, entries: Sequence[LoadedRun]) -> str:
    """The "Label runs by config" toggle, where some run has a capture record: returns the
    ``labels`` mode of ``prepare_comparison`` ("config" or "file"; "auto" without records)."""
    with_record = [e for e in entries if e.record is not None]
    if not with_record:
        return "auto"
    by_config = container.toggle(
        "Label runs by config",
        value=len(with_record) == len(entries),
        key="compare_labels_by_config",
        persist_state="session",
        help="Name runs by the server args and environment that differ between their "
        "capture records (`-fa on` vs `-fa off`) instead of by file name.",
    )
    return "config" if by_config else "file"
