"""NVTX ranges of an nsys SQLite export, and which CUDA events lie inside ranges of a name.

Read on demand, never by the cold read of an export (``sqlite_export``): most llama-server
captures hold no NVTX ranges, and the columns matching events to ranges (``globalTid``,
``correlationId``) would slow every read.

Ranges are the push/pop and start/end ranges of ``NVTX_EVENTS`` (eventType 59 and 60, and
their NVTXT file twins 70 and 71), named by ``text`` or, for registered strings, by
``StringIds(textId)``. A range never closed (``end`` NULL) is left out.

Membership (``nvtx_masks``), the rule ``llamaprof stats --nvtx NAME`` applies: a CUDA API call
belongs to a range when it **starts inside** a range of that name **on its own thread**
(``globalTid``; [start, end), half-open as time windows are); GPU work (kernels, memcpy,
memset) belongs when the API call that launched it (same ``correlationId`` in the same
process) does, wherever and whenever the GPU ran it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof.errors import ReportParseError, WindowError
from llamaprof.events import EventMask, Events, in_intervals
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.sqlite_columns import (
    GLOBAL_PID_MASK,
    INTEGER_TIMES,
    MAX_WORKERS,
    ColumnReader,
    Layout,
    TablePlan,
    as_read,
    connect,
    rowid_ranges,
)
from llamaprof.sources.sqlite_export import KERNEL, MEMCPY, MEMSET, REQUIRED_COLUMNS, RUNTIME

__all__ = [
    "NVTX_TABLE",
    "RANGE_COLUMNS",
    "export_of",
    "nvtx_masks",
    "read_nvtx_ranges",
    "top_level_ranges",
]

NVTX_TABLE = "NVTX_EVENTS"
#: ENUM_NSYS_EVENT_TYPE ids of ranges: NvtxPushPopRange, NvtxStartEndRange and the NVTXT twins.
RANGE_TYPES = (59, 60, 70, 71)
#: Columns of ``read_nvtx_ranges``: the range's [start_ns, end_ns) on the nsys timeline, its
#: ``name``, the thread that opened it (``tid``: globalTid, -1 where the export does not say).
RANGE_COLUMNS = ["start_ns", "end_ns", "name", "tid"]

_INTEGER = "CASE WHEN typeof({0}) = 'integer' THEN {0} ELSE -1 END"


@dataclass(frozen=True)
class Ranges:
    """NVTX ranges read from an export (``RANGE_COLUMNS``) and how many were left out."""

    frame: pd.DataFrame
    unclosed: int = 0  # ranges without an end


def export_of(run: Run) -> Path | None:
    """The SQLite export holding ``run``'s events: the file itself, or the export of an
    ``.nsys-rep`` made earlier (None when it is gone, or for ``nsys stats`` text/CSV)."""
    if run.format is ReportFormat.SQLITE:
        return run.path
    if run.format is ReportFormat.NSYS_REP:
        from llamaprof.sources.nsys_rep import existing_export

        return existing_export(run.path)
    return None


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f'PRAGMA table_info("{table}")')}


def read_nvtx_ranges(path: str | Path, name: str | None = None) -> Ranges | None:
    """The NVTX ranges of the export at ``path`` (only those called ``name`` when given), in
    start order; None when the export has no ``NVTX_EVENTS`` table.

    Raises ReportParseError when the file cannot be read as SQLite.
    """
    path = Path(path)
    try:
        con = connect(path.absolute().as_uri() + "?mode=ro")
        try:
            return _read_ranges(con, name)
        finally:
            con.close()
    except sqlite3.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportParseError(path, f"cannot read its NVTX ranges ({reason})") from None


def _read_ranges(con: sqlite3.Connection, name: str | None) -> Ranges | None:
    tables = {t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if NVTX_TABLE not in tables:
        return None
    columns = _columns(con, NVTX_TABLE)
    if not {"start", "end", "eventType"} <= columns:
        return Ranges(pd.DataFrame(columns=RANGE_COLUMNS))
    texts = []
    join = ""
    if "text" in columns:
        texts.append("e.text")
    if "textId" in columns and "StringIds" in tables:
        texts.append("s.value")
        join = "LEFT JOIN StringIds s ON s.id = e.textId"
    label = f"coalesce({', '.join(texts)})" if texts else "NULL"
    tid = _INTEGER.format("e.globalTid") if "globalTid" in columns else "-1"
    types = ", ".join(map(str, RANGE_TYPES))
    where = f"e.eventType IN ({types}) AND typeof(e.start) = 'integer'"
    params: tuple[str, ...] = ()
    if name is not None:
        where += f" AND {label} = ?"
        params = (name,)
    rows = con.execute(
        f'SELECT e.start, e."end", {label}, {tid} FROM {NVTX_TABLE} e {join} '
        f"WHERE {where} ORDER BY e.start, e.rowid",
        params,
    ).fetchall()
    closed = [r for r in rows if isinstance(r[1], int) and r[2] is not None]
    frame = pd.DataFrame(closed, columns=RANGE_COLUMNS)
    frame = frame.astype({"start_ns": np.int64, "end_ns": np.int64, "tid": np.int64})
    unclosed = sum(1 for r in rows if not isinstance(r[1], int))
    return Ranges(frame, unclosed)


def top_level_ranges(ranges: pd.DataFrame) -> pd.DataFrame:
    """The ranges not starting inside an earlier range of the same thread, in start order
    (columns as ``RANGE_COLUMNS``): what a thread was doing at the outermost level.

    >>> r = pd.DataFrame({"start_ns": [0, 5, 20, 21], "end_ns": [10, 8, 30, 25],
    ...                   "name": ["step", "fwd", "step", "x"], "tid": [1, 1, 1, 2]})
    >>> top_level_ranges(r)["name"].tolist()
    ['step', 'step', 'x']
    """
    if ranges.empty:
        return ranges.copy()
    ordered = ranges.sort_values(
        ["tid", "start_ns", "end_ns"], ascending=[True, True, False], kind="stable"
    )
    reach = ordered.groupby("tid")["end_ns"].cummax()
    before = reach.groupby(ordered["tid"]).shift(1)
    top = before.isna() | (ordered["start_ns"] >= before)
    chosen = ordered[top.to_numpy()]
    return chosen.sort_values(["start_ns", "tid"], kind="stable").reset_index(drop=True)


# --- membership ---------------------------------------------------------------------------------


def nvtx_masks(
    path: str | Path, name: str, events: Events, *, label: str | None = None
) -> EventMask:
    """Which of ``events`` (the run read from the export at ``path``) lie inside NVTX ranges
    called ``name``; see the module docstring for the rule.

    Raises WindowError when the export has no NVTX ranges, none called ``name``, or rows
    that cannot be matched to the run's events (an export edited after it was read).
    """
    path = Path(path)
    label = label or path.name
    ranges = read_nvtx_ranges(path, name)
    if ranges is None:
        raise WindowError(
            f"{label} holds no NVTX ranges (no {NVTX_TABLE} table: capture with "
            "--trace=cuda,nvtx and ranges in the program)"
        )
    if ranges.frame.empty:
        raise WindowError(f"{label} has no NVTX range named {name!r}{_known_names(path)}")
    try:
        return _masks(path, ranges.frame, events, label)
    except sqlite3.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportParseError(path, f"cannot match events to NVTX ranges ({reason})") from None


def _known_names(path: Path, shown: int = 5) -> str:
    """``; ranges there: a, b, c`` (the most frequent top-level names), or nothing."""
    ranges = read_nvtx_ranges(path)
    if ranges is None or ranges.frame.empty:
        return " (it holds no NVTX ranges)"
    names = top_level_ranges(ranges.frame)["name"].value_counts(sort=True)
    listed = ", ".join(repr(n) for n in names.index[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"; top-level ranges there: {listed}{more}"


def _masks(path: Path, ranges: pd.DataFrame, events: Events, label: str) -> EventMask:
    uri = path.absolute().as_uri() + "?mode=ro"
    con = connect(path.absolute().as_uri() + "?mode=ro")
    try:
        tables = {t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        plans = {
            table: (plan, rowid_ranges(con, table)) for table, plan in _plans(con, tables).items()
        }
    finally:
        con.close()
    with ColumnReader(uri, min(MAX_WORKERS, os.cpu_count() or 1)) as reader:
        pending = {t: reader.submit(plan, chunks) for t, (plan, chunks) in plans.items()}
        data = {t: get() for t, get in pending.items()}
    if any(d is None for d in data.values()):
        raise WindowError(f"{label}: its activity tables hold unreadable values")
    columns = {t: d.columns for t, d in data.items() if d is not None}

    api_mask = None
    members: dict[int, np.ndarray] = {}  # process -> correlation ids of the calls inside
    if events.api is not None and RUNTIME in columns:
        cols = columns[RUNTIME]
        _check_rows(cols["start"], events.api, RUNTIME, label)
        api_mask = _inside_on_own_thread(cols["start"], cols["tid"], ranges)
        linked = api_mask & (cols["corr"] >= 0)  # a call without a correlationId links nothing
        pids = cols["tid"][linked] & GLOBAL_PID_MASK
        correlations = cols["corr"][linked]
        for pid in np.unique(pids).tolist():
            members[pid] = np.unique(correlations[pids == pid])
    kernel_mask = None
    if events.kernels is not None:
        if KERNEL in columns:
            _check_rows(columns[KERNEL]["start"], events.kernels, KERNEL, label)
            kernel_mask = _launched_inside(columns[KERNEL], members)
        else:
            kernel_mask = np.zeros(len(events.kernels), dtype=bool)
    memory_mask = None
    if events.memory is not None:
        parts = [_launched_inside(columns[t], members) for t in (MEMCPY, MEMSET) if t in columns]
        starts = [columns[t]["start"] for t in (MEMCPY, MEMSET) if t in columns]
        _check_rows(
            np.concatenate(starts) if starts else np.empty(0), events.memory, "memory", label
        )
        memory_mask = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    return EventMask(api=api_mask, kernels=kernel_mask, memory=memory_mask)


def _plans(con: sqlite3.Connection, tables: set[str]) -> dict[str, TablePlan]:
    """Per activity table: each row's start, its thread or process, its correlationId, read in
    the reader's row order (rowid) with the reader's rule for rows left out."""
    plans = {}
    # the columns the reader requires in each table: rows it leaves out are left out here too
    for table, raw in REQUIRED_COLUMNS.items():
        if table not in tables:
            continue
        columns = _columns(con, table)
        # calls carry their thread (globalTid), GPU work its process (globalPid)
        key, owner = ("tid", "globalTid") if table == RUNTIME else ("pid", "globalPid")
        exprs = {
            "start": "start",
            "d": "end - start",  # as the reader reads it: the same rows are left out
            key: _INTEGER.format(owner) if owner in columns else "-1",
            "corr": _INTEGER.format("correlationId") if "correlationId" in columns else "-1",
        }
        layout = Layout(exprs, as_read, INTEGER_TIMES)
        plans[table] = TablePlan(table, tuple(exprs), (layout,), raw)
    return plans


def _check_rows(starts: np.ndarray, frame: pd.DataFrame, table: str, label: str) -> None:
    """The rows read here are the run's events, one for one (same starts, same order)."""
    if len(starts) != len(frame) or not np.array_equal(starts, frame["start_ns"].to_numpy()):
        raise WindowError(
            f"{label}: the rows of {table} no longer match the run read earlier (the export "
            "changed, or holds rows llamaprof left out); read it again"
        )


def _inside_on_own_thread(starts: np.ndarray, tids: np.ndarray, ranges: pd.DataFrame) -> np.ndarray:
    """Calls starting inside a range opened on their own thread."""
    mask = np.zeros(len(starts), dtype=bool)
    for tid, own in ranges.groupby("tid", sort=True):
        rows = np.flatnonzero(tids == tid)
        if len(rows):
            intervals = list(zip(own["start_ns"].tolist(), own["end_ns"].tolist(), strict=True))
            mask[rows] = in_intervals(starts[rows], intervals)
    return mask


def _launched_inside(columns: dict[str, np.ndarray], members: dict[int, np.ndarray]) -> np.ndarray:
    """GPU rows whose launching call (same process and correlationId) is inside a range; a
    row whose process the export does not say matches on the correlationId alone."""
    pids, correlations = columns["pid"], columns["corr"]
    mask = np.zeros(len(pids), dtype=bool)
    if not members:
        return mask
    for pid, ids in members.items():
        rows = np.flatnonzero(pids == pid)
        mask[rows] = np.isin(correlations[rows], ids)
    unknown = np.flatnonzero(pids < 0)
    if len(unknown):
        every = np.unique(np.concatenate(list(members.values())))
        mask[unknown] = np.isin(correlations[unknown], every)
    return mask
