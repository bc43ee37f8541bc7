"""Compare one summary across runs, or groups of repeated runs, against a baseline: numbers only.

Kept streamlit-free, and free of presentation: values stay in the summaries' units (ns,
bytes, or per token), and ``llamaprof.render`` writes them for people. As HTA's
``TraceDiff.compare_traces``, the comparison is an outer join over every key any run has,
absent values read 0, and plotting lives elsewhere (``llamaprof.charts``).

A comparison's columns are groups: the repeats of one config (``llamaprof.analyze.
comparison``), or single runs, each a group of one. A group's value is the mean over its
runs, with their sample standard deviation; a group of one keeps its run's exact value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.analyze.kernel_names import ELLIPSIS
from llamaprof.analyze.merge import kernels_by_name
from llamaprof.model import Run

__all__ = [
    "LONG_COLUMNS",
    "STATUSES",
    "VIEWS",
    "View",
    "compare_groups",
    "compare_runs",
    "is_rest",
    "rank_names",
    "rest_name",
    "top_n",
    "view_frames",
]


@dataclass(frozen=True)
class View:
    """One way of comparing runs: which summary, keyed and valued by which columns."""

    name: str  # "api", "kernels", "memops_time", "memops_size"
    report: str  # a name in llamaprof.reports.REPORT_NAMES
    key: str  # the column rows are matched on across runs
    value: str  # the column compared
    unit: str  # "ns" or "bytes": the unit of ``value``
    title: str  # what people read above the view


#: The comparison views, in the order the app shows them. Memory operations are keyed by the
#: canonical direction ``op`` so runs from nsys versions that print different labels line up.
VIEWS: dict[str, View] = {
    view.name: view
    for view in (
        View("api", reports.API, "name", "total_ns", "ns", "CUDA API time"),
        View("kernels", reports.KERNELS, "name", "total_ns", "ns", "GPU kernel time"),
        View("memops_time", reports.MEM_TIME, "op", "total_ns", "ns", "Memory operations (time)"),
        View(
            "memops_size",
            reports.MEM_SIZE,
            "op",
            "total_bytes",
            "bytes",
            "Memory operations (bytes)",
        ),
    )
}

#: Status of a key in one column, against the baseline.
STATUSES = ("same", "changed", "new", "missing", "absent")

#: Columns of ``compare_groups``' frame, in order.
LONG_COLUMNS = [
    "name",
    "run",
    "value",
    "baseline_value",
    "delta",
    "delta_pct",
    "status",
    "count",
    "impact",
    "std",
    "n",
    "spread",
    "noise",
]


def view_frames(runs: Mapping[str, Run | None], view: str) -> dict[str, pd.DataFrame]:
    """Each run's summary frame for ``view`` (a key of ``VIEWS``), by run label.

    A run whose source lacks the report (or a capture record without a report: None) gets
    an empty frame with the report's columns (``llamaprof.reports.COLUMNS``), so it compares
    as "every key missing". Kernel summaries are merged by name first (nsys 2022.4 split
    them by grid and block).

    Raises ValueError for an unknown view.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    spec = VIEWS[view]
    frames: dict[str, pd.DataFrame] = {}
    for label, run in runs.items():
        frame = run.summary(spec.report) if run is not None else None
        if frame is None:
            frame = pd.DataFrame(columns=reports.COLUMNS[spec.report])
        elif spec.report == reports.KERNELS and "grid" in frame and frame["grid"].notna().any():
            frame = kernels_by_name(frame)
        frames[label] = frame
    return frames


def _totals(label: str, frame: pd.DataFrame, key: str, value: str) -> pd.DataFrame:
    """``value`` and ``count`` summed by ``key``; index = key, columns value, count."""
    if frame.empty:
        return pd.DataFrame({"value": pd.Series(dtype="int64"), "count": pd.Series(dtype="int64")})
    lacking = [column for column in (key, value) if column not in frame]
    if lacking:
        raise ValueError(f"the frame of run {label!r} has no column {lacking[0]!r}")
    counts = frame["count"] if "count" in frame else pd.Series(0, index=frame.index)
    data = pd.DataFrame({"key": frame[key].astype(str), "value": frame[value], "count": counts})
    # Duplicate keys are real: the API report gives two rows one name when two nameIds strip
    # to the same text, and 2022.4 kernel rows are split by launch configuration.
    return data.groupby("key", sort=False).sum()


def match_cut_names(totals: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``_totals`` frames with each name that ``nsys stats`` text cut (``…`` at its end)
    renamed to the whole name it stands for, where the other runs hold exactly one whole
    name that begins with it: the same kernel read from a text dump and from an export is
    one row, not a "missing" and a "new" one.

    >>> cut = pd.DataFrame({"value": [5]}, index=pd.Index(["reduce_kernel[abi:v1,cw5…"]))
    >>> whole = pd.DataFrame({"value": [7]}, index=pd.Index(["reduce_kernel[abi:v1,cw51cX]"]))
    >>> list(match_cut_names({"text": cut, "export": whole})["text"].index)
    ['reduce_kernel[abi:v1,cw51cX]']
    """
    whole = {k for t in totals.values() for k in t.index if not str(k).endswith(ELLIPSIS)}
    out = {}
    for label, frame in totals.items():
        renames = {}
        for name in frame.index:
            if str(name).endswith(ELLIPSIS):
                stem = str(name)[: -len(ELLIPSIS)]
                found = [w for w in whole if str(w).startswith(stem)]
                if len(found) == 1:
                    renames[name] = found[0]
        if renames:
            frame = frame.rename(index=renames).groupby(level=0, sort=False).sum()
        out[label] = frame
    return out


def compare_groups(
    frames: Mapping[str, pd.DataFrame],
    groups: Mapping[str, Sequence[str]],
    baseline: str,
    *,
    key: str = "name",
    value: str = "total_ns",
) -> pd.DataFrame:
    """Compare one summary across groups of runs: one row per (key, group) for every key.

    ``frames``: run label -> summary frame with ``key`` and ``value`` columns; ``groups``:
    group label -> its runs' labels (a run alone is a group of one); ``baseline``: a group.

    Columns (``LONG_COLUMNS``):

    - ``name``: the key (a kernel or API name, a family, a memory direction ``op``).
    - ``run``: the group's label, as the keys of ``groups``.
    - ``value``: the group's mean of ``value`` for that key over its runs (a run lacking the
      key counts 0: a total it did not have); a group of one keeps its run's exact value.
    - ``baseline_value``: the baseline group's value; ``delta``: ``value - baseline_value``;
      ``delta_pct``: ``delta`` in percent of ``baseline_value`` (NaN where that is 0).
    - ``status``: "same" (equal to the baseline), "changed", "new" (no baseline run has the
      key, a run of this group has it), "missing" (the reverse), "absent" (neither has it:
      another group brought the key in). The baseline's own rows are "same" (or "absent").
    - ``count``: instances or calls (the group's mean); ``std``: sample standard deviation
      of the group's values (n - 1; 0 for one run); ``n``: runs in the group.
    - ``spread``: the larger ``std`` of the group and the baseline; ``noise``: the change is
      no larger than the spread (``|delta| <= spread`` with ``spread > 0``): noise, not a
      finding. The baseline's rows are never noise.
    - ``impact``: how much the key matters: the larger of its largest ``|delta|`` and its
      largest ``|value|`` over the groups; rows are ranked by it (``rank_names``).

    Rows are sorted by impact (largest first), then name, then group in the order of
    ``groups``. ``value``, ``baseline_value``, ``delta`` and ``impact`` are int64 when every
    group has one run and every value is an integer, else float64; ``count`` is int64 when
    every group has one run (a group's mean count may have a fraction).

    Raises ValueError when ``baseline`` is not a group, a group names a run without a frame,
    or a non-empty frame lacks the ``key`` or ``value`` column.
    """
    if baseline not in groups:
        raise ValueError(f"baseline {baseline!r} is not one of the runs: {', '.join(groups)}")
    members = [m for group in groups.values() for m in group]
    unknown = [m for m in members if m not in frames]
    if unknown:
        raise ValueError(f"no frame for run(s) {', '.join(unknown)}")
    totals = {label: _totals(label, frames[label], key, value) for label in dict.fromkeys(members)}
    totals = match_cut_names(totals)
    keys = list(dict.fromkeys(k for label in members for k in totals[label].index))
    single = all(len(group) == 1 for group in groups.values())
    integer = single and all(
        pd.api.types.is_integer_dtype(t["value"]) for t in totals.values()
    )
    dtype = "int64" if integer else "float64"
    parts = [
        _group_rows(label, [totals[m] for m in group], keys)
        for label, group in groups.items()
    ]
    long = pd.concat(parts, ignore_index=True)
    long["name"] = long["name"].astype("str")
    base = long[long["run"] == baseline].set_index("name")
    long["baseline_value"] = long["name"].map(base["value"]).astype("float64")
    baseline_std = long["name"].map(base["std"]).astype("float64")
    in_baseline = long["name"].map(base["present"]).astype(bool)
    long["delta"] = long["value"] - long["baseline_value"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = long["delta"] * 100.0 / long["baseline_value"]
    long["delta_pct"] = pct.where(long["baseline_value"] != 0, np.nan)
    long["status"] = np.select(
        [
            long["present"] & in_baseline & (long["delta"] == 0),
            long["present"] & in_baseline,
            long["present"],
            in_baseline,
        ],
        ["same", "changed", "new", "missing"],
        default="absent",
    )
    is_base = long["run"] == baseline
    long["spread"] = np.where(is_base, long["std"], np.maximum(long["std"], baseline_std))
    long["noise"] = ~is_base & (long["spread"] > 0) & (long["delta"].abs() <= long["spread"])
    largest = np.maximum(long["delta"].abs(), long["value"].abs())
    long["impact"] = largest.groupby(long["name"]).transform("max")
    for column in ("value", "baseline_value", "delta", "impact"):
        long[column] = long[column].astype(dtype)
    long["count"] = long["count"].astype("int64" if single else "float64")
    long["n"] = long["n"].astype("int64")
    long["noise"] = long["noise"].astype(bool)
    order = {label: i for i, label in enumerate(groups)}
    long["_order"] = long["run"].map(order)
    long = long.sort_values(
        ["impact", "name", "_order"], ascending=[False, True, True], kind="stable"
    )
    return long[LONG_COLUMNS].reset_index(drop=True)


def _group_rows(label: str, totals: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """One group's rows: mean, std, presence and mean count of each key over its runs."""
    values = np.column_stack(
        [t["value"].reindex(keys).fillna(0).to_numpy(dtype="float64") for t in totals]
    ) if keys else np.zeros((0, len(totals)))
    counts = np.column_stack(
        [t["count"].reindex(keys).fillna(0).to_numpy(dtype="float64") for t in totals]
    ) if keys else np.zeros((0, len(totals)))
    present = np.column_stack(
        [t["value"].reindex(keys).notna().to_numpy() for t in totals]
    ) if keys else np.zeros((0, len(totals)), dtype=bool)
    n = len(totals)
    std = values.std(axis=1, ddof=1) if n > 1 else np.zeros(len(keys))
    return pd.DataFrame(
        {
            "name": keys,
            "run": label,
            "value": values.mean(axis=1) if n else np.zeros(len(keys)),
            "count": counts.mean(axis=1) if n else np.zeros(len(keys)),
            "present": present.any(axis=1),
            "std": std,
            "n": n,
        }
    )


def compare_runs(
    frames: Mapping[str, pd.DataFrame],
    baseline: str,
    *,
    key: str = "name",
    value: str = "total_ns",
) -> pd.DataFrame:
    """``compare_groups`` with every run a group of its own.

    >>> a = pd.DataFrame({"name": ["k1", "k2"], "total_ns": [100, 50], "count": [2, 1]})
    >>> b = pd.DataFrame({"name": ["k1", "k3"], "total_ns": [150, 10], "count": [3, 1]})
    >>> compare_runs({"a": a, "b": b}, "a")[["name", "run", "value", "delta", "status"]]
      name run  value  delta   status
    0   k1   a    100      0     same
    1   k1   b    150     50  changed
    2   k2   a     50      0     same
    3   k2   b      0    -50  missing
    4   k3   a      0      0   absent
    5   k3   b     10     10      new
    """
    return compare_groups(
        frames, {label: [label] for label in frames}, baseline, key=key, value=value
    )


def rank_names(long: pd.DataFrame) -> list[str]:
    """The keys of a comparison by impact, largest first, ties by name."""
    rank = long.groupby("name", sort=False)["impact"].max().reset_index()
    rank = rank.sort_values(["impact", "name"], ascending=[False, True], kind="stable")
    return list(rank["name"])


def rest_name(count: int) -> str:
    """The name of the row that sums the keys left out of a top N: ``(37 more)``.

    Parenthesised so that it never reads as a kernel or a family (llama.cpp's kernel family
    "other" is a real family).
    """
    return f"({count} more)"


def is_rest(name: str) -> bool:
    """True for the row ``top_n`` sums the left-out keys into."""
    return name.startswith("(") and name.endswith(" more)")


def top_n(long: pd.DataFrame, n: int) -> pd.DataFrame:
    """Keep the ``n`` keys of highest impact and sum the rest into one row (``rest_name``).

    The order of ``rank_names`` (impact, then name); within a key, groups keep their order.
    The rest row sums ``value``, ``baseline_value``, ``delta`` and ``count`` over the keys
    left out; its ``delta_pct``, ``status`` and ``impact`` are recomputed from those sums,
    its ``std`` and ``spread`` are NaN (a spread of a sum of means is not known), ``noise``
    False. No rest row when nothing is left out; ``n`` 0 keeps every key. Columns as
    ``compare_groups``.
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    names = rank_names(long)
    if n == 0 or len(names) <= n:
        return long.reset_index(drop=True)
    kept = names[:n]
    runs = list(dict.fromkeys(long["run"]))
    top = long[long["name"].isin(kept)]
    rest = long[~long["name"].isin(kept)]
    sums = rest.groupby("run", sort=False)[["value", "baseline_value", "delta", "count"]].sum()
    sums = sums.reindex(runs)
    n_runs = long.groupby("run", sort=False)["n"].first().reindex(runs)
    other = pd.DataFrame(
        {
            "name": rest_name(len(names) - n),
            "run": runs,
            "value": sums["value"].to_numpy(),
            "baseline_value": sums["baseline_value"].to_numpy(),
            "delta": sums["delta"].to_numpy(),
            "count": sums["count"].to_numpy(),
            "std": np.nan,
            "n": n_runs.to_numpy(),
            "spread": np.nan,
            "noise": False,
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = other["delta"].astype("float64") * 100.0 / other["baseline_value"].astype("float64")
    other["delta_pct"] = pct.where(other["baseline_value"] != 0, np.nan)
    other["status"] = np.where(other["delta"] == 0, "same", "changed")
    other["impact"] = max(other["delta"].abs().max(), other["value"].abs().max())
    dtypes = {c: long[c].dtype for c in ("value", "baseline_value", "delta", "impact", "count")}
    other = other.astype(dtypes)
    return pd.concat([top, other[LONG_COLUMNS]], ignore_index=True)


