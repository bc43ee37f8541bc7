"""The compare page's llama.cpp-aware settings: capture records, normalisation, run labels.

Draws the controls above the comparison and returns a ``CompareSetup`` every view of the
page reads, so API, kernels and memory views all show the same normalisation and labels.
The decisions mirror ``llamaprof compare``: normalising needs a capture record with the
count beside every selected run (the command line refuses otherwise; here the control is
disabled and says why), and runs can be labelled by what differs in their config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.comparison import Comparison, build_comparison, comparison_frames
from llamaprof.analyze.fairness import (
    Normalize,
    diff_labels,
    divisors,
    normalization_caption,
    repeat_groups,
    safe_records,
)
from llamaprof.analyze.llama_kernels import family_breakdown
from llamaprof.model import Run
from llamaprof.record import record_path

__all__ = [
    "NORMALIZE_TEXT",
    "CompareSetup",
    "compare_setup",
    "family_breakdown_of",
    "safe_records",
    "setup_identity",
    "view_comparison",
]

#: What the normalisation control offers, and how it reads.
NORMALIZE_TEXT: dict[str, str] = {
    Normalize.NONE.value: "Totals",
    Normalize.PER_TOKEN.value: "Per token",
    Normalize.PER_REQUEST.value: "Per request",
}


@dataclass
class CompareSetup:
    """What every comparison view of the page uses.

    ``runs``: label -> run, labels as shown (by config when chosen); ``baseline``: one of
    them; ``records``: label -> capture record (None where a run has none or it is broken);
    ``normalize``: the normalisation in effect; ``caption``: one line saying which;
    ``groups``: repeat group -> labels (``repeat_groups``; one group per run without repeats);
    ``sources``: label -> the run's label in the run list, where the page renamed it;
    ``factors``: label -> what its totals are divided by (1.0 without normalisation).
    """

    runs: dict[str, Run]
    baseline: str
    records: dict[str, dict | None]
    normalize: Normalize = Normalize.NONE
    caption: str = ""
    groups: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    factors: dict[str, float] = field(default_factory=dict)

    @property
    def per(self) -> str:
        """The unit suffix of normalised values: "", "/token" or "/request"."""
        return {Normalize.PER_TOKEN: "/token", Normalize.PER_REQUEST: "/request"}.get(
            self.normalize, ""
        )

    @property
    def repeats(self) -> bool:
        """True when records group two or more of the runs as repeats of one config.

        All runs repeats of one single config leave nothing to compare groups with: the
        page then compares them run by run.
        """
        return len(self.groups) > 1 and any(len(m) > 1 for m in self.groups.values())

    @property
    def base_group(self) -> str:
        """The repeat group holding the baseline run."""
        return next(g for g, members in self.groups.items() if self.baseline in members)


def compare_setup(runs: Mapping[str, Run], baseline: str) -> CompareSetup:
    """Draw the normalisation control and the labels toggle; return the page's setup."""
    records, problems = _records_of(runs)
    for problem in problems:
        st.warning(f"Capture record ignored: {problem}", icon=":material/warning:")
    with_record = [label for label, record in records.items() if record]
    left, right = st.columns([3, 2])
    lacking = [label for label in runs if not records.get(label)]
    # As the command line: no mix of normalised and raw totals.
    reason = (
        f"Needs a capture record (`<name>.llamaprof.json`) beside every selected run; "
        f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} none."
        if lacking
        else None
    )
    if reason and st.session_state.get("compare_normalize") not in (None, Normalize.NONE.value):
        st.session_state["compare_normalize"] = Normalize.NONE.value  # show what is in effect
    chosen = left.segmented_control(
        "Values",
        list(NORMALIZE_TEXT),
        format_func=NORMALIZE_TEXT.__getitem__,
        default=Normalize.NONE.value,
        required=True,
        key="compare_normalize",
        disabled=reason is not None,
        persist_state="session",
        help="Divide every run's totals by its generated tokens or its requests, read from "
        "the capture record beside each report, so runs of different length compare.",
    )
    if reason:
        left.caption(f"Per token / per request: {reason}")
    by_config = False
    if with_record:
        by_config = right.toggle(
            "Label runs by config",
            value=True,
            key="compare_labels_by_config",
            persist_state="session",
            help="Name runs by the server args and environment that differ between their "
            "capture records (`-fa on` vs `-fa off`) instead of by file name.",
        )
    mode = Normalize(chosen or Normalize.NONE.value) if reason is None else Normalize.NONE
    sources: dict[str, str] = {}
    if by_config:
        renamed = diff_labels(records)
        sources = {new: old for old, new in renamed.items() if new != old}
        runs = {renamed[label]: run for label, run in runs.items()}
        records = {renamed[label]: record for label, record in records.items()}
        baseline = renamed[baseline]
    found = divisors(records, mode)
    missing = [label for label, value in found.items() if value is None]
    if missing:
        what = "generated tokens" if mode is Normalize.PER_TOKEN else "requests"
        st.warning(
            f"Showing totals: the capture records of {', '.join(missing)} hold no count of "
            f"{what} to divide by.",
            icon=":material/warning:",
        )
        mode = Normalize.NONE
        found = divisors(records, mode)
    return CompareSetup(
        runs=dict(runs),
        baseline=baseline,
        records=records,
        normalize=mode,
        caption=normalization_caption(mode, found),
        groups=repeat_groups(records),
        sources=sources,
        factors={label: float(value or 1.0) for label, value in found.items()},
    )


# --- the comparisons every view of the page reads, cached ----------------------------------


def _records_of(runs: Mapping[str, Run]) -> tuple[dict[str, dict | None], list[str]]:
    """``safe_records(runs)``, parsed again only when a record file changes."""
    identity = tuple(
        (label, str(run.path), _file_identity(record_path(run.path))) for label, run in runs.items()
    )
    return _cached_records(identity, dict(runs))


@st.cache_data(max_entries=64, show_spinner=False)
def _cached_records(
    identity: tuple, _runs: dict[str, Run]
) -> tuple[dict[str, dict | None], list[str]]:
    # Keyed by the record files' identity (path, mtime, size); ``_runs`` is not hashed.
    return safe_records(_runs)


def _file_identity(path) -> tuple[str, int, int]:
    """(path, mtime_ns, size) of a file; (path, -1, -1) when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def setup_identity(setup: CompareSetup) -> tuple:
    """What makes two setups compare alike: each file's identity and the options.

    Each run's report and capture record are identified by path, mtime and size (a few
    ``stat`` calls), not by their content: the records came from those files, and hashing
    their content on every call of every view was the page's largest fixed cost.
    """
    files = []
    for label, run in setup.runs.items():
        report = _file_identity(run.path)
        if report[1] < 0:  # gone meanwhile: the object itself then identifies it
            report = (str(run.path), id(run), 0)
        files.append((label, *report, _file_identity(record_path(run.path))))
    has_record = tuple(bool(setup.records.get(label)) for label in setup.runs)
    return (tuple(files), has_record, setup.baseline, setup.normalize.value)


def view_comparison(
    setup: CompareSetup, view: str, *, by: str = "name", repeats: bool = False
) -> Comparison:
    """``llamaprof compare``'s comparison of one view under the page's setup (cached).

    ``by`` "name" or "family" (kernels); ``repeats``: compare repeat groups when records
    group runs. Returns ``llamaprof.analyze.comparison.Comparison`` (long frame, unit, caption...).
    """
    return _cached_comparison(setup_identity(setup), setup, view, by, repeats)


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_comparison(identity: tuple, _setup: CompareSetup, view: str, by: str, repeats: bool):
    # Keyed by ``identity`` and the options; the leading underscore keeps Streamlit from
    # hashing every run's frames on each rerun, which would cost more than comparing them.
    return build_comparison(
        _setup.runs,
        _setup.baseline,
        VIEWS[view],
        by=by,
        normalize=_setup.normalize,
        records=_setup.records,
        repeats=repeats,
    )


def family_breakdown_of(setup: CompareSetup) -> pd.DataFrame:
    """``family_breakdown`` of each run's kernels as the page compares them (cached).

    The kernel frames are ``comparison_frames``' (merged by name, divided as the page's
    normalisation says), so the stacked bars add up to the table's totals.
    """
    return _cached_breakdown(setup_identity(setup), setup)


@st.cache_data(max_entries=64, show_spinner=False)
def _cached_breakdown(identity: tuple, _setup: CompareSetup) -> pd.DataFrame:
    frames = comparison_frames(
        _setup.runs, VIEWS["kernels"], normalize=_setup.normalize, records=_setup.records
    )
    return family_breakdown(frames)
