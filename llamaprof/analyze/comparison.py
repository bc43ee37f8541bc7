"""One comparison of runs, prepared once for the command line and the app alike.

``prepare_comparison`` takes the loaded runs (``llamaprof.loading.LoadedRun``: report data
and typed capture record) and decides, in one place, everything a comparison shows:

- **labels**: by file name, or by what differs between the configs of the capture records
  (``-fa on`` / ``-fa off``): the default whenever every run has a record;
- **groups**: the repeats of one config (same ``CaptureRecord.group``) form one column,
  compared by mean ± spread; other runs are columns of one;
- **window**: the part of each capture the numbers cover (``llamaprof.analyze.windows``);
- **normalisation**: totals per generated token or request, of the window;
- the **baseline** column, the comparability warnings, and one caption saying all of it.

Its ``view(name, by)`` gives one summary compared (``ViewComparison``: the long frame of
``llamaprof.analyze.compare.compare_groups`` and what it takes to read it);
``llamaprof.render.comparison`` writes views for people, screen, Markdown, CSV and JSON from
the same rows. Kept streamlit-free and click-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.comparability import ComparabilityWarning, comparability_warnings
from llamaprof.analyze.compare import VIEWS, View, compare_groups, view_frames
from llamaprof.analyze.configs import config_diff, setting_label, settings_labels
from llamaprof.analyze.findings import Finding
from llamaprof.analyze.llama_kernels import family_frame
from llamaprof.analyze.normalize import (
    Normalize,
    normalization_caption,
    normalize_frames,
    require_divisors,
    unit_for,
)
from llamaprof.analyze.throughput import throughput_frame
from llamaprof.analyze.windows import WindowSpec, apply_window, window_for
from llamaprof.errors import LlamaprofError, NoData, OptionError
from llamaprof.events import Window
from llamaprof.loading import LoadedRun
from llamaprof.model import Run
from llamaprof.record import CaptureRecord

__all__ = [
    "NOISE_REMARK",
    "THROUGHPUT",
    "Comparison",
    "Cut",
    "LabelMode",
    "Member",
    "ViewComparison",
    "auto_window",
    "file_labels",
    "mark_noise",
    "prepare_comparison",
    "regressions",
    "within_spread",
]

LabelMode = Literal["auto", "file", "config"]
#: How a run is cut to its window: (entry, window, label) -> the run as the window sees it.
Cut = Callable[[LoadedRun, Window, str], Run]

#: The view of ``Comparison.view`` that compares throughput from the capture records.
THROUGHPUT = "throughput"


def within_spread(delta: float, spread: float) -> bool:
    """True when a change is noise: repeats spread (``spread`` > 0) at least as far as it.

    ``delta`` and ``spread`` in one unit (e.g. ns); the spread is the larger standard
    deviation of the two groups compared. Without a spread (single runs) nothing is noise.

    >>> within_spread(-3.0, 5.0), within_spread(6.0, 5.0), within_spread(0.0, 0.0)
    (True, False, False)
    """
    return bool(spread > 0 and abs(delta) <= spread)


@dataclass(frozen=True)
class Member:
    """One run of a comparison: its label, where it came from, its data as compared (cut to
    the window), its record, the window and what its totals are divided by."""

    label: str
    entry: LoadedRun
    run: Run | None
    record: CaptureRecord | None
    window: Window | None
    factor: float = 1.0


@dataclass
class ViewComparison:
    """One summary compared: what ``llamaprof compare`` prints and one tab of the app shows.

    ``long``: ``compare_groups``' frame (column ``run`` holds the column labels, baseline
    first in ``columns``); ``unit``: the unit of its values (``ns``, ``bytes``, ``ns/token``;
    for throughput each row has its own: ``units``, ``better``); ``totals``: column -> (mean
    total, standard deviation of its runs' totals); ``lacking``: columns whose runs lack
    the report; ``report``: the nsys report (None for throughput).
    """

    name: str
    title: str
    report: str | None
    by: str
    long: pd.DataFrame
    columns: list[str]
    baseline: str
    unit: str
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)
    lacking: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # throughput: row name -> unit
    better: dict[str, str] = field(default_factory=dict)  # throughput: row -> higher/lower

    @property
    def empty(self) -> bool:
        """True when no column has a value (no run holds the report)."""
        return self.long.empty or not (self.long["value"] != 0).any()

    @property
    def repeats(self) -> bool:
        """True when a column is a group of several runs."""
        return bool(len(self.long)) and bool((self.long["n"] > 1).any())


@dataclass
class Comparison:
    """A prepared comparison (see the module docstring); ``view`` computes each summary once.

    ``members``: run label -> ``Member``; ``groups``: column label -> run labels (a run
    alone is a column of one); ``baseline``: a column; ``caption``: one line saying what the
    numbers are (window, normalisation, groups); ``warnings``: why runs may not compare;
    ``problems``: capture records that could not be read (each run then compares without it).
    """

    members: dict[str, Member]
    groups: dict[str, list[str]]
    baseline: str
    normalize: Normalize
    window_name: str
    caption: str
    warnings: list[ComparabilityWarning] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _views: dict[tuple[str, str], ViewComparison] = field(default_factory=dict, repr=False)

    @property
    def columns(self) -> list[str]:
        """Column labels, baseline first."""
        return [self.baseline, *(g for g in self.groups if g != self.baseline)]

    @property
    def runs(self) -> dict[str, Run | None]:
        """Each run's data as compared (cut to the window), by run label."""
        return {label: m.run for label, m in self.members.items()}

    @property
    def records(self) -> dict[str, CaptureRecord | None]:
        """Each run's capture record, by run label."""
        return {label: m.record for label, m in self.members.items()}

    def has_report(self, report: str) -> bool:
        """True when some run holds ``report``."""
        return any(
            m.run is not None and m.run.summary(report) is not None
            for m in self.members.values()
        )

    def view(self, name: str, by: str = "name") -> ViewComparison:
        """One view compared: a key of ``VIEWS`` (``by`` "name", or "family" for kernels) or
        ``THROUGHPUT``. Computed once per (name, by)."""
        if (name, by) not in self._views:
            if name == THROUGHPUT:
                self._views[(name, by)] = self._throughput()
            else:
                self._views[(name, by)] = self._summary_view(VIEWS[name], by)
        return self._views[(name, by)]

    def config_table(self) -> pd.DataFrame:
        """Settings and facts of every run side by side (``llamaprof.analyze.configs``)."""
        return config_diff(self.records)

    def frames(self, view: View, by: str = "name") -> dict[str, pd.DataFrame]:
        """Each run's frame of ``view`` as compared: merged by name, summed by family with
        ``by="family"``, its value divided by the run's factor."""
        frames = view_frames(self.runs, view.name)
        if by == "family":
            frames = {label: family_frame(frame) for label, frame in frames.items()}
        factors = {label: m.factor for label, m in self.members.items()}
        return normalize_frames(frames, factors, columns=(view.value,))

    def _summary_view(self, view: View, by: str) -> ViewComparison:
        if by == "family" and view.report != reports.KERNELS:
            raise LlamaprofError("--by family needs the kernel report (cuda_gpu_kern_sum)")
        frames = self.frames(view, by)
        key = "name" if by == "family" else view.key
        long = compare_groups(frames, self.groups, self.baseline, key=key, value=view.value)
        per_run = {
            label: float(frame[view.value].sum()) if len(frame) else 0.0
            for label, frame in frames.items()
        }
        lacking = [
            column
            for column, members in self.groups.items()
            if not any(_has(self.members[m].run, view.report) for m in members)
        ]
        title = view.title + (" by family" if by == "family" else "")
        return ViewComparison(
            name=view.name,
            title=title,
            report=view.report,
            by=by,
            long=long,
            columns=self.columns,
            baseline=self.baseline,
            unit=unit_for(view.report, self.normalize),
            totals=self._totals(per_run),
            lacking=lacking,
        )

    def _totals(self, per_run: dict[str, float]) -> dict[str, tuple[float, float]]:
        totals = {}
        for column in self.columns:
            values = pd.Series([per_run[m] for m in self.groups[column]], dtype="float64")
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            totals[column] = (float(values.mean()), std)
        return totals

    def _throughput(self) -> ViewComparison:
        frames = {label: throughput_frame(m.record) for label, m in self.members.items()}
        units: dict[str, str] = {}
        better: dict[str, str] = {}
        for frame in frames.values():
            units.update(zip(frame["name"], frame["unit"], strict=True))
            better.update(zip(frame["name"], frame["better"], strict=True))
        long = compare_groups(frames, self.groups, self.baseline, key="name", value="value")
        if not long.empty:  # metrics in their fixed order, not by impact: they mix units
            order = {name: i for i, name in enumerate(units)}
            long = long.assign(_o=long["name"].map(order)).sort_values("_o", kind="stable")
            long = long.drop(columns="_o").reset_index(drop=True)
        lacking = [
            column
            for column, members in self.groups.items()
            if all(self.members[m].record is None for m in members)
        ]
        return ViewComparison(
            name=THROUGHPUT,
            title="Throughput",
            report=None,
            by="name",
            long=long,
            columns=self.columns,
            baseline=self.baseline,
            unit="",
            lacking=lacking,
            units=units,
            better=better,
        )


def _has(run: Run | None, report: str) -> bool:
    return run is not None and run.summary(report) is not None


# --- preparing ---------------------------------------------------------------------------------


def prepare_comparison(
    entries: Sequence[LoadedRun],
    *,
    baseline: str | None = None,
    labels: LabelMode = "auto",
    repeats: bool = True,
    window: WindowSpec | None = None,
    normalize: Normalize | str = Normalize.NONE,
    cut: Cut | None = None,
) -> Comparison:
    """Prepare the comparison of ``entries`` (two or more): labels, groups, window,
    normalisation, baseline, warnings and caption, as described in the module docstring.

    ``baseline``: the ``key`` of the entry whose column is the baseline (default: the
    first). ``labels``: "file", "config" (runs without a record keep their file label), or
    "auto" (config when every run has a record). ``repeats``: group runs recorded as repeats
    of one config. ``window``: None is the whole capture. ``normalize``: per token or request
    of the window. ``cut(entry, window, label)``: how a run is cut to its window (default
    ``apply_window``); the app passes one that keeps each cut run, since a run cut to a
    window does not depend on the baseline or the labels.

    Raises WindowError when a run cannot take the window (no event times, no such phase),
    NotNormalizable when a run lacks the count to divide by.
    """
    if len(entries) < 2:
        raise LlamaprofError("a comparison needs at least two runs")
    normalize = Normalize(normalize)
    keys = [entry.key for entry in entries]
    if len(set(keys)) < len(keys):
        raise OptionError("a run is given twice")
    records = {entry.key: entry.record for entry in entries}
    by_config = labels == "config" or (
        labels == "auto" and all(r is not None for r in records.values())
    )
    group_of = _groups(entries, repeats)
    run_label, column_label = _labels(entries, group_of, by_config)
    base_key = _baseline_key(baseline, keys, run_label, column_label, group_of)
    groups: dict[str, list[str]] = {}
    for entry in entries:
        groups.setdefault(column_label[group_of[entry.key]], []).append(run_label[entry.key])
    windows = _windows(entries, run_label, window)
    factors = require_divisors(
        {run_label[e.key]: e.record for e in entries},
        normalize,
        {run_label[e.key]: windows[e.key] for e in entries},
    )
    members = {}
    for entry in entries:
        label = run_label[entry.key]
        run = entry.run
        window_of = windows[entry.key]
        if run is not None and window_of is not None:
            if cut is None:
                run = apply_window(run, window_of, label=label)
            else:
                run = cut(entry, window_of, label)
        members[label] = Member(
            label, entry, run, entry.record, windows[entry.key], factors[label][0]
        )
    base_column = column_label[group_of[base_key]]
    window_name = _window_name(windows)
    shown = factors if normalize is not Normalize.NONE else {}
    caption = normalization_caption(normalize, shown, window_name)
    if any(len(m) > 1 for m in groups.values()):
        sizes = "; ".join(
            f"{g}: {len(m)} run{'s' * (len(m) > 1)}"
            for g, m in sorted(groups.items(), key=lambda item: item[0] != base_column)
        )
        caption += (
            f" Repeats grouped ({sizes}): means ± standard deviation; a change within "
            "the spread reads (noise)."
        )
    problems = [
        f"{run_label[e.key]}: {e.record_problem}" for e in entries if e.record_problem
    ]
    warnings = comparability_warnings(
        {label: m.run for label, m in members.items()},
        {label: m.record for label, m in members.items()},
    )
    window_warning = _window_sources_differ(members)
    if window_warning is not None:
        warnings.append(window_warning)
    order = [base_column, *(g for g in groups if g != base_column)]
    return Comparison(
        members=members,
        groups={g: groups[g] for g in order},
        baseline=base_column,
        normalize=normalize,
        window_name=window_name,
        caption=caption,
        warnings=warnings,
        problems=problems,
    )


def _baseline_key(
    baseline: str | None,
    keys: list[str],
    run_label: dict[str, str],
    column_label: dict[str, str],
    group_of: dict[str, str],
) -> str:
    """The entry whose column is the baseline: given by key, run label or column label."""
    if baseline is None:
        return keys[0]
    if baseline in keys:
        return baseline
    for key in keys:
        if baseline in (run_label[key], column_label[group_of[key]]):
            return key
    names = ", ".join(dict.fromkeys([*column_label.values(), *run_label.values()]))
    raise OptionError(f"{baseline!r} is neither one of the runs ({names}) nor a file")


def _groups(entries: Sequence[LoadedRun], repeats: bool) -> dict[str, str]:
    """Entry key -> group id: its record's group when repeats are compared, else itself.

    Runs that would all fall into one group (repeats of a single config) leave nothing to
    compare groups with: they are compared run by run.
    """
    group_of = {}
    for entry in entries:
        record = entry.record
        group_of[entry.key] = f"group:{record.group}" if repeats and record else f"run:{entry.key}"
    if len(set(group_of.values())) < 2:
        return {entry.key: f"run:{entry.key}" for entry in entries}
    return group_of


def _unique(labels: dict[str, str]) -> dict[str, str]:
    """The labels with `` #2``, `` #3``… added where they collide (first one plain)."""
    seen: dict[str, int] = {}
    out = {}
    for key, label in labels.items():
        seen[label] = seen.get(label, 0) + 1
        out[key] = label if seen[label] == 1 else f"{label} #{seen[label]}"
    return out


def file_labels(entries: Sequence[LoadedRun]) -> dict[str, str]:
    """Labels from file names; names that collide get their folder in front, then `` #n``.

    The one labelling rule of llamaprof: the CLI and the app both use it.
    """
    plain = {e.key: e.file_label for e in entries}
    counts = pd.Series(list(plain.values())).value_counts()
    labels = {}
    for entry in entries:
        label = plain[entry.key]
        if counts[label] > 1 and entry.path.parent.name:
            label = f"{entry.path.parent.name}/{label}"
        labels[entry.key] = label
    return _unique(labels)


def _labels(
    entries: Sequence[LoadedRun], group_of: dict[str, str], by_config: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """(entry key -> run label, group id -> column label).

    By config: a config reads what differs between the configs' settings (``-fa on``), the
    runs of one config ``-fa on #1``, ``-fa on #2`` (their repeat index), and a column the
    config when repeats are grouped, else its run. By file: runs read their file labels; a
    group of several reads its first run's label with `` (+1 repeat)``, `` (+2 repeats)``...
    """
    files = file_labels(entries)
    members: dict[str, list[LoadedRun]] = {}
    for entry in entries:
        members.setdefault(group_of[entry.key], []).append(entry)
    if not by_config:
        column = {}
        for g, ms in members.items():
            first = files[ms[0].key]
            more = len(ms) - 1
            column[g] = first if not more else f"{first} (+{more} repeat{'s' * (more > 1)})"
        return files, _unique(column)
    configs: dict[str, list[LoadedRun]] = {}
    for entry in entries:
        config = f"group:{entry.record.group}" if entry.record else f"run:{entry.key}"
        configs.setdefault(config, []).append(entry)
    texts = settings_labels({c: ms[0].record for c, ms in configs.items()})
    config_label = {}
    for c, ms in configs.items():
        record = ms[0].record
        text = texts.get(c)
        if not text and record is not None and len(configs) == 1:
            # one config (its repeats): nothing differs, so all of it, as the capture named it
            text = record.label or " ".join(
                t for k, v in record.settings.items() if (t := setting_label(k, v))
            )
        config_label[c] = text or files[ms[0].key]
    config_label = _unique(_by_set(config_label, {c: ms[0].record for c, ms in configs.items()}))
    run = {}
    for c, ms in configs.items():
        indexes = [e.record.repeat_index if e.record else None for e in ms]
        for position, entry in enumerate(ms, start=1):
            if len(ms) == 1:
                run[entry.key] = config_label[c]
                continue
            index = indexes[position - 1]
            if index is None or indexes.count(index) > 1:
                index = position
            run[entry.key] = f"{config_label[c]} #{index}"
    # a single run of one config can still read like a repeat of another ("-fa on #2"):
    # such a run takes its file label in brackets rather than a second "#"
    seen: set[str] = set()
    for key, label in run.items():
        if label in seen:
            run[key] = f"{label} ({files[key]})"
        seen.add(run[key])
    run = _unique(run)
    column = {}
    for g, ms in members.items():
        if len(ms) > 1 or g.startswith("group:"):
            config = f"group:{ms[0].record.group}" if ms[0].record else f"run:{ms[0].key}"
            column[g] = config_label[config] if len(ms) > 1 else run[ms[0].key]
        else:
            column[g] = run[ms[0].key]
    return run, _unique(column)


def _by_set(labels: dict[str, str], records: dict[str, CaptureRecord | None]) -> dict[str, str]:
    """Config labels that collide (one config captured in two sets) with each one's set in
    brackets (``-fa on [20261204-204349]``) where every colliding config names a set of its
    own; other collisions are left to ``_unique``."""
    out = dict(labels)
    for text in {t for t in labels.values() if list(labels.values()).count(t) > 1}:
        same = [c for c, t in labels.items() if t == text]
        sets = [r.set_id if r is not None else None for r in (records[c] for c in same)]
        if None not in sets and len(set(sets)) == len(sets):
            for c, set_id in zip(same, sets, strict=True):
                out[c] = f"{text} [{set_id}]"
    return out


def _windows(
    entries: Sequence[LoadedRun], run_label: dict[str, str], spec: WindowSpec | None
) -> dict[str, Window | None]:
    """Each entry's window (``window_for``): None for the whole capture (or a record alone)."""
    out: dict[str, Window | None] = {}
    for entry in entries:
        if spec is None or spec.name == "all" or entry.run is None:
            out[entry.key] = None
            continue
        out[entry.key] = window_for(entry.run, entry.record, spec, label=run_label[entry.key])
    return out


#: How people read a window's source (``Window.source``).
_SOURCE_TEXT = {
    "record": "from the capture record",
    "detected": "detected from the GPU work",
    "nvtx": "from NVTX ranges",
}


def _window_sources_differ(members: dict[str, Member]) -> ComparabilityWarning | None:
    """A warning when one window name is found in different ways across runs (the workload
    from one run's capture record, detected from another's GPU work): the bounds then mean
    different things, and so may the numbers inside them."""
    sources = {
        label: m.window.source
        for label, m in members.items()
        if m.window is not None and m.window.source is not None
    }
    if len(set(sources.values())) <= 1:
        return None
    name = next(m.window.name for m in members.values() if m.window is not None)
    by_source: dict[str, list[str]] = {}
    for label, source in sources.items():
        by_source.setdefault(source, []).append(label)
    listing = "; ".join(
        f"{_SOURCE_TEXT.get(s, s)} for {', '.join(labels)}" for s, labels in by_source.items()
    )
    return ComparabilityWarning(
        "window",
        f"The {name} window is found differently: {listing}. Its bounds may not mark the "
        "same part of each capture.",
        tuple(sources),
    )


def _window_name(windows: dict[str, Window | None]) -> str:
    names = {w.name for w in windows.values() if w is not None}
    if not names:
        return "all"
    return names.pop() if len(names) == 1 else ", ".join(sorted(names))


def auto_window(entries: Sequence[LoadedRun]) -> str:
    """The window a comparison takes by default: ``workload`` when every run has events and a
    capture record with request times the export can align, else ``all``."""
    for entry in entries:
        run, record = entry.run, entry.record
        if run is None or run.events is None or record is None or not record.timed:
            return "all"
        if run.events.session_start_utc_ns is None:
            return "all"
    return "workload"


# --- reading a comparison ----------------------------------------------------------------------


def regressions(view: ViewComparison, limit_pct: float) -> list[str]:
    """One line per column that regressed against the baseline by more than ``limit_pct``.

    Summaries: a column's total (its mean total for repeats) above the baseline's total; a
    rise no larger than the spread (the larger standard deviation of the two groups'
    totals) is noise, not a regression. Throughput: each metric in its own direction (a
    drop in tokens/s, a rise in latency); a change within the spread is noise.
    """
    limit = f"(limit +{limit_pct:g}%)"
    lines = []
    if view.report is None:
        for _, row in view.long.iterrows():
            if row["run"] == view.baseline or row["status"] != "changed" or row["noise"]:
                continue
            pct = row["delta_pct"]
            sign = 1 if view.better.get(row["name"]) == "lower" else -1
            if not math.isnan(pct) and sign * pct > limit_pct:
                lines.append(
                    f"{row['run']}: {row['name']} {pct:+.1f}% against {view.baseline} "
                    f"(limit {'+' if sign > 0 else '-'}{limit_pct:g}%)"
                )
        return lines
    base, base_std = view.totals[view.baseline]
    for label, (total, std) in view.totals.items():
        if label == view.baseline or within_spread(total - base, max(std, base_std)):
            continue
        if base:
            pct = (total - base) * 100.0 / base
            if pct > limit_pct:
                lines.append(f"{label}: total {pct:+.1f}% against {view.baseline} {limit}")
        elif total > 0:
            lines.append(f"{label}: total {total:g} against 0 in {view.baseline} {limit}")
    return lines


#: What a finding's detail gets when its change is within the spread of the repeats.
NOISE_REMARK = " (within the spread of the repeats: noise)"


def mark_noise(finding: Finding, view: ViewComparison) -> Finding:
    """``finding`` with ``NOISE_REMARK`` when its change is within the repeats' spread.

    A finding about one kernel (or family) reads the comparison's ``noise`` flag of its row;
    one about a column's total compares the totals against the larger standard deviation of
    the two groups (``within_spread``). Other findings come back unchanged.
    """
    numbers = finding.numbers
    group = str(numbers.get("run", ""))
    long = view.long
    if "name" in numbers:
        rows = long[(long["name"] == numbers["name"]) & (long["run"] == group)]
        noise = bool(len(rows) and rows["noise"].iloc[0])
    elif group in view.totals:
        total, std = view.totals[group]
        base, base_std = view.totals[view.baseline]
        noise = within_spread(total - base, max(std, base_std))
    else:
        noise = False
    if not noise:
        return finding
    return Finding(finding.title, finding.detail.rstrip(".") + NOISE_REMARK + ".", finding.numbers)


def require_data(view: ViewComparison, comparison: Comparison | None = None) -> None:
    """Raise NoData when no run of the comparison holds the view's report (one line; where
    runs have capture records, it points at their throughput)."""
    if view.report is not None and len(view.lacking) == len(view.columns):
        hint = ""
        if comparison is not None and any(r is not None for r in comparison.records.values()):
            hint = (
                " (capture records alone, or captures on a machine without a GPU, hold no "
                "CUDA data); compare their throughput with --report throughput"
            )
        raise NoData(f"none of the runs has the {view.report} report{hint}")
    if view.report is None and view.long.empty:
        raise NoData("none of the runs has a capture record with throughput figures")
