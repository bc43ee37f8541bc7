"""Compare the CUDA summaries of several runs against a baseline run.

Kept streamlit-free: the app, the CLI and the Markdown report share these frames, and
tests check them without a Streamlit runtime. As HTA's ``TraceDiff.compare_traces``, the
comparison is an outer join over every key any run has, absent values read 0, and the
plotting lives elsewhere (``llamaprof.charts``).

Values stay in the units of the summaries (ns, bytes); people see them through
``llamaprof.units`` or ``humanize_diff_table``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.analyze.kernel_names import OTHER
from llamaprof.analyze.merge import kernels_by_name
from llamaprof.model import Run
from llamaprof.units import format_bytes, format_ns

__all__ = [
    "LONG_COLUMNS",
    "OTHER",
    "STATUSES",
    "VIEWS",
    "View",
    "change_text",
    "compare_runs",
    "diff_table",
    "humanize_diff_table",
    "signed_text",
    "split_unit",
    "top_n_with_other",
    "unit_formatter",
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

#: Status of a key in one run, against the baseline.
STATUSES = ("same", "changed", "new", "missing", "absent")

#: Columns of ``compare_runs``'s frame, in order.
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
]


def view_frames(runs: Mapping[str, Run], view: str) -> dict[str, pd.DataFrame]:
    """Each run's summary frame for ``view`` (a key of ``VIEWS``), by run label.

    A run whose source lacks the report gets an empty frame with the report's columns
    (``llamaprof.reports.COLUMNS``), so it compares as "every key missing". Kernel
    summaries are merged by name first (nsys 2022.4 split them by grid and block).

    Raises ValueError for an unknown view.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    spec = VIEWS[view]
    frames: dict[str, pd.DataFrame] = {}
    for label, run in runs.items():
        frame = run.summary(spec.report)
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


def _is_integer(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series.dtype)


def compare_runs(
    frames: Mapping[str, pd.DataFrame],
    baseline: str,
    *,
    key: str = "name",
    value: str = "total_ns",
) -> pd.DataFrame:
    """Compare one summary across runs: one row per (key, run) for every key any run has.

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

    Columns:

    - ``name``: the key (a kernel or API name, or a memory-operation direction ``op``).
    - ``run``: the run label, as the keys of ``frames``.
    - ``value``: the run's ``value`` for that key (ns or bytes), summed over duplicate keys;
      0 where the run lacks the key.
    - ``baseline_value``: the baseline run's value for that key (0 where it lacks it).
    - ``delta``: ``value - baseline_value``.
    - ``delta_pct``: ``delta`` in percent of ``baseline_value``; NaN where that is 0.
    - ``status``: "same" (equal to the baseline), "changed", "new" (the baseline lacks the
      key, the run has it), "missing" (the baseline has it, the run lacks it), "absent"
      (neither has it: another run brought the key in). The baseline's own rows are "same"
      (or "absent").
    - ``count``: the run's instances or calls for that key (0 where absent).
    - ``impact``: the largest ``|delta|`` of that key over all runs, to sort by.

    Rows are sorted by impact (largest first), then name, then run in the order of
    ``frames``. ``value``, ``baseline_value``, ``delta`` and ``impact`` are int64 when
    every run's values are integers, else float64.

    Raises ValueError when ``baseline`` is not one of the runs, or a non-empty frame lacks
    the ``key`` or ``value`` column.
    """
    if baseline not in frames:
        raise ValueError(f"baseline {baseline!r} is not one of the runs: {', '.join(frames)}")
    labels = list(frames)
    totals = {label: _totals(label, frame, key, value) for label, frame in frames.items()}
    keys = list(dict.fromkeys(k for t in totals.values() for k in t.index))
    integer = all(_is_integer(t["value"]) for t in totals.values())
    dtype = "int64" if integer else "float64"

    parts = []
    for label in labels:
        t = totals[label].reindex(keys)
        parts.append(
            pd.DataFrame(
                {
                    "name": keys,
                    "run": label,
                    "present": t["value"].notna().to_numpy(),
                    "value": t["value"].fillna(0).to_numpy(),
                    "count": t["count"].fillna(0).to_numpy(),
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    long["name"] = long["name"].astype("str")
    long["value"] = long["value"].astype(dtype)
    long["count"] = long["count"].astype("int64")
    base = long[long["run"] == baseline].set_index("name")
    long["baseline_value"] = long["name"].map(base["value"]).astype(dtype)
    in_baseline = long["name"].map(base["present"]).astype(bool)
    long["delta"] = (long["value"] - long["baseline_value"]).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = long["delta"].astype("float64") * 100.0 / long["baseline_value"].astype("float64")
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
    long["impact"] = long["delta"].abs().groupby(long["name"]).transform("max").astype(dtype)
    long["run_order"] = long["run"].map({label: i for i, label in enumerate(labels)})
    long = long.sort_values(
        ["impact", "name", "run_order"], ascending=[False, True, True], kind="stable"
    )
    return long[LONG_COLUMNS].reset_index(drop=True)


def diff_table(long: pd.DataFrame, runs: list[str], baseline: str) -> pd.DataFrame:
    """The comparison as one row per key, for tables and CSV export.

    ``long`` is ``compare_runs``'s frame. Rows keep its order (largest impact first).
    Columns: ``name``; then ``<run>`` (that run's value, ns or bytes) for each of ``runs``;
    then for each run other than ``baseline``: ``Δ <run>`` (value - baseline value),
    ``Δ% <run>`` (percent; NaN where the baseline lacks the key) and ``status <run>``
    (see ``compare_runs``). Values keep their raw units; ``humanize_diff_table`` formats them.

    An empty comparison gives an empty table with those columns. Raises ValueError when
    ``baseline`` is not in ``runs`` or a run of ``runs`` is not in ``long``.
    """
    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not one of the runs: {', '.join(runs)}")
    if long.empty:  # also a bare ``pd.DataFrame()``: no run had the report
        columns = ["name", *runs]
        for run in runs:
            if run != baseline:
                columns += [f"Δ {run}", f"Δ% {run}", f"status {run}"]
        return pd.DataFrame(columns=columns)
    compared = set(long["run"])
    unknown = [run for run in runs if run not in compared]
    if unknown:
        raise ValueError(f"runs not in the comparison: {', '.join(unknown)}")
    names = list(dict.fromkeys(long["name"]))
    by_run = {run: part.set_index("name").reindex(names) for run, part in long.groupby("run")}
    table = pd.DataFrame({"name": names})
    for run in runs:
        table[run] = by_run[run]["value"].to_numpy()
    for run in runs:
        if run == baseline:
            continue
        table[f"Δ {run}"] = by_run[run]["delta"].to_numpy()
        table[f"Δ% {run}"] = by_run[run]["delta_pct"].to_numpy()
        table[f"status {run}"] = by_run[run]["status"].to_numpy()
    return table


def signed_text(text: str, value: float) -> str:
    """``text`` (``value`` written for people) with a "+" in front when ``value`` is positive.

    >>> signed_text("2.50 µs", 2500), signed_text("-1.00 ms", -1e6), signed_text("0 ns", 0)
    ('+2.50 µs', '-1.00 ms', '0 ns')
    """
    return f"+{text}" if value > 0 else text


def split_unit(unit: str) -> tuple[str, str]:
    """``("ns", "/token")`` from ``"ns/token"``: the base unit and the per-suffix.

    >>> split_unit("ns/token"), split_unit("bytes")
    (('ns', '/token'), ('bytes', ''))

    ValueError for a base unit other than "ns" or "bytes".
    """
    base, _, per = unit.partition("/")
    if base not in _FORMATTERS:
        raise ValueError(f"unknown unit {unit!r}; expected 'ns' or 'bytes' (or ns/token...)")
    return base, f"/{per}" if per else ""


_FORMATTERS = {"ns": format_ns, "bytes": format_bytes}


def _split_unit(unit: str):
    """The formatter of ``unit``'s base unit and its per-suffix (``split_unit``)."""
    base, per = split_unit(unit)
    return _FORMATTERS[base], per


def unit_formatter(unit: str):
    """A function writing a value of ``unit`` for people: ``unit_formatter("ns/token")(2500)``.

    >>> unit_formatter("ns/token")(2500), unit_formatter("bytes")(4_190_000)
    ('2.50 µs/token', '4.19 MB')
    """
    fmt, per = _split_unit(unit)
    return lambda value: fmt(value) + per


#: What a table shows where a run lacks the key (rather than a misleading "0 ns").
LACKING = "—"


def humanize_diff_table(wide: pd.DataFrame, unit: str) -> pd.DataFrame:
    """A copy of ``diff_table``'s frame with values as text for people (``1.23 ms``, ``+4.5%``).

    ``unit`` is "ns" or "bytes", the unit of the values, optionally per something
    (``ns/token``: values read ``12.3 µs/token``). Δ columns get a sign; Δ% of a key the
    baseline lacks reads "new" (or "" where the run lacks it too); status columns stay. A
    run's value (and its Δ where neither it nor the baseline has the key) reads "—" where
    the run lacks the key, not "0 ns".
    """
    fmt, per = _split_unit(unit)
    out = wide.copy()
    statuses = [c for c in wide.columns if c.startswith("status ")]
    # The baseline lacks a key exactly where another run's status is "new" or "absent".
    base_lacks = (
        wide[statuses[0]].isin(("new", "absent")).to_numpy() if statuses else [False] * len(wide)
    )
    value_columns = [
        c for c in wide.columns if c != "name" and not c.startswith(("status ", "Δ% ", "Δ "))
    ]
    for column in wide.columns:
        if column == "name" or column.startswith("status "):
            continue
        if column.startswith("Δ% "):
            status = wide[f"status {column[3:]}"]
            out[column] = [
                change_text(pct, st) for pct, st in zip(wide[column], status, strict=True)
            ]
        elif column.startswith("Δ "):
            status = wide[f"status {column[2:]}"]
            out[column] = [
                LACKING if st == "absent" else signed_text(fmt(v) + per, v)
                for v, st in zip(wide[column], status, strict=True)
            ]
        elif column in value_columns:
            status_column = f"status {column}"
            if status_column in wide:
                lacks = wide[status_column].isin(("missing", "absent")).to_numpy()
            else:
                lacks = base_lacks
            out[column] = [
                LACKING if lack else fmt(v) + per
                for v, lack in zip(wide[column], lacks, strict=True)
            ]
    return out


def change_text(pct: float, status: str) -> str:
    """Δ% for people: "+12.3%", "0.0%", "new", "missing"; "" where neither run has the key.

    >>> change_text(12.34, "changed"), change_text(float("nan"), "new")
    ('+12.3%', 'new')
    """
    if status == "new":
        return "new"
    if status == "missing":
        return "missing"
    if status == "absent" or pd.isna(pct):
        return ""
    if pct == 0:
        return "0.0%"
    return f"{pct:+.1f}%"


def top_n_with_other(long: pd.DataFrame, n: int, *, by: str = "value") -> pd.DataFrame:
    """Keep ``n`` keys of ``compare_runs``'s frame and sum the rest into one ``"other"`` key.

    ``by="value"`` keeps the keys with the largest value in any run (for bar charts of
    time or bytes), ``by="impact"`` the keys with the largest ``impact`` (for charts of
    deltas). Kept keys come first, largest first (ties by name), then ``"other"``; within
    a key, runs keep their order. The ``"other"`` rows sum ``value``, ``baseline_value``,
    ``delta`` and ``count`` over the rest; their ``delta_pct``, ``status`` and ``impact``
    are recomputed from those sums. No ``"other"`` row when nothing is left over.
    Columns as ``compare_runs``.
    """
    if by not in ("value", "impact"):
        raise ValueError(f"unknown order {by!r}; expected 'value' or 'impact'")
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    runs = list(dict.fromkeys(long["run"]))
    rank = long.groupby("name", sort=False)[by].max()
    rank = rank.reset_index().sort_values([by, "name"], ascending=[False, True], kind="stable")
    kept = list(rank["name"][:n])
    rest = long[~long["name"].isin(kept)]
    order = {name: i for i, name in enumerate(kept)}
    top = long[long["name"].isin(kept)].copy()
    top["_key"] = top["name"].map(order)
    top["_run"] = top["run"].map({run: i for i, run in enumerate(runs)})
    top = top.sort_values(["_key", "_run"], kind="stable").drop(columns=["_key", "_run"])
    if rest.empty:
        return top.reset_index(drop=True)
    sums = rest.groupby("run", sort=False)[["value", "baseline_value", "delta", "count"]].sum()
    sums = sums.reindex(runs)
    other = pd.DataFrame(
        {
            "name": OTHER,
            "run": runs,
            "value": sums["value"].to_numpy(),
            "baseline_value": sums["baseline_value"].to_numpy(),
            "delta": sums["delta"].to_numpy(),
            "count": sums["count"].to_numpy(),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = other["delta"].astype("float64") * 100.0 / other["baseline_value"].astype("float64")
    other["delta_pct"] = pct.where(other["baseline_value"] != 0, np.nan)
    other["status"] = np.where(other["delta"] == 0, "same", "changed")
    other["impact"] = other["delta"].abs().max()
    other = other.astype({c: long[c].dtype for c in ("value", "baseline_value", "delta", "impact")})
    return pd.concat([top, other[LONG_COLUMNS]], ignore_index=True)
