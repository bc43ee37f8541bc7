"""Integer columns of an SQLite table as numpy arrays, read in rowid-range chunks.

Each chunk is one ``SELECT count(*), group_concat(<expr>), … FROM t WHERE rowid BETWEEN a AND b``:
SQLite prints a whole column as one comma-separated text that ``np.fromstring`` parses in C,
several times faster than fetching rows as Python tuples. Chunks bound the text held at once
(memory grows with the arrays kept, not with the text) and let the chunks of all tables run
in parallel threads (sqlite3 releases the GIL while it steps).

A table is read through a ladder of layouts, tried in order for each chunk; typically a
*packed* one first (several small integers in one, e.g. ``(end - start) * B + nameId``: fewer
values for SQLite to print and numpy to parse), then a *plain* one (one expression per
column). A layout fails for a chunk when a value is NULL or not an integer (a REAL, which is
also what SQLite makes of an integer overflow, or TEXT), when its ``guard`` is false for a row
(e.g. a TEXT ``end``, which SQLite's ``end - start`` would silently read as 0), or when its
decoder refuses the values (a packed layout cannot hold a negative duration). The last layout
is then read again keeping only the rows whose columns are all integers (an export edited
after the fact), and the rows left out are counted.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

#: Rows per chunk: ~3 MB of text per column; enough rows that per-query costs vanish.
CHUNK_ROWS = 1 << 18
#: Up to this many chunks, rowid ranges are used without checking that rowids are dense.
_DENSE_CHUNKS = 64

Decoder = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray] | None]


@dataclass(frozen=True)
class Layout:
    """Integer SQL expressions read per row and how to turn their arrays into columns.

    ``decode`` gets one int64 array per expression (same length) and returns the table's
    columns, or None to refuse them (the next layout then reads the chunk). ``guard``: an SQL
    condition every row must meet for this layout to read the chunk (checked in the same
    pass as ``min(guard)``); rows failing it are left for the filtered pass.
    """

    exprs: dict[str, str]
    decode: Decoder
    guard: str | None = None


@dataclass(frozen=True)
class TablePlan:
    """What to read from one table.

    ``columns``: names of the int64 arrays every layout's decoder returns.
    ``layouts``: tried in order per chunk; the last one is also read with a filter.
    ``raw``: columns that must be integers for a row to be kept by the filter.
    ``minimum`` / ``maximum``: integer expressions whose min / max over the rows read is wanted
    (computed by SQLite in the same pass).
    """

    table: str
    columns: tuple[str, ...]
    layouts: tuple[Layout, ...]
    raw: tuple[str, ...]
    minimum: tuple[str, ...] = ()
    maximum: tuple[str, ...] = ()


@dataclass
class TableData:
    """Columns of the rows kept, rows left out, and the wanted minima / maxima (None: no row)."""

    columns: dict[str, np.ndarray]
    dropped: int = 0
    minimum: dict[str, int | None] = field(default_factory=dict)
    maximum: dict[str, int | None] = field(default_factory=dict)


class _Unreadable(Exception):
    """A chunk whose values do not parse even keeping integer rows only."""


@dataclass
class _Chunk:
    rows: int  # rows kept
    columns: dict[str, np.ndarray]  # empty once written into the table's arrays
    dropped: int
    minimum: dict[str, int | None]
    maximum: dict[str, int | None]


@dataclass
class _Slot:
    """Where a chunk's rows go: ``offset`` in arrays sized for all of the table's rowids
    (None: no such arrays, the chunk keeps its own)."""

    arrays: dict[str, np.ndarray] | None
    offset: int


class ColumnReader:
    """Reads tables' chunks on a pool of threads, each with its own read-only connection.

    ``submit`` returns a function that waits for the table and returns its ``TableData``
    (None when a value cannot be read at all). Use as a context manager.
    """

    def __init__(self, uri: str, workers: int) -> None:
        self.uri = uri
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))

    def __enter__(self) -> ColumnReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for con in self._connections:
            con.close()

    def submit(
        self, plan: TablePlan, ranges: Sequence[tuple[int, int] | None]
    ) -> Callable[[], TableData | None]:
        """Queue the chunks of ``plan`` (see ``rowid_ranges``); call the result to collect.

        Chunks write into arrays sized for the table's rowid span, so the table is never held
        twice (chunk arrays, then their concatenation); rowids left unused (deleted rows,
        rows left out) are squeezed out at the end.
        """
        arrays = None
        if None not in ranges:
            size = sum(high - low + 1 for low, high in ranges)  # type: ignore[misc]
            arrays = {name: np.empty(size, dtype=np.int64) for name in plan.columns}
        slots, offset = [], 0
        for rows in ranges:
            slots.append(_Slot(arrays, offset))
            offset += 0 if rows is None else rows[1] - rows[0] + 1
        futures = [
            self._pool.submit(self._read_chunk, plan, rows, slot)
            for rows, slot in zip(ranges, slots, strict=True)
        ]
        return _Pending(plan, futures, slots)

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
            con.text_factory = bytes  # group_concat text goes to numpy as bytes, undecoded
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    def _read_chunk(self, plan: TablePlan, rows: tuple[int, int] | None, slot: _Slot) -> _Chunk:
        chunk = self._read_rows(plan, rows)
        if slot.arrays is not None:
            for name, values in chunk.columns.items():
                slot.arrays[name][slot.offset : slot.offset + chunk.rows] = values
            chunk.columns = {}
        return chunk

    def _read_rows(self, plan: TablePlan, rows: tuple[int, int] | None) -> _Chunk:
        con = self._connection()
        where = "" if rows is None else f"WHERE rowid BETWEEN {rows[0]} AND {rows[1]}"
        total = 0
        for layout in plan.layouts:
            total, chunk = _read_pass(con, plan, layout, where)
            if chunk is not None:
                return chunk
        last = plan.layouts[-1]
        checks = [*(f'"{c}"' for c in plan.raw), *last.exprs.values()]
        integers = " AND ".join(f"typeof({c}) = 'integer'" for c in checks)
        where = f"{where} AND {integers}" if where else f"WHERE {integers}"
        kept_count, chunk = _read_pass(con, plan, last, where)
        if chunk is None:
            raise _Unreadable
        chunk.dropped = total - kept_count
        return chunk


def rowid_ranges(
    con: sqlite3.Connection, table: str, chunk_rows: int | None = None
) -> list[tuple[int, int] | None]:
    """Rowid ranges of ``chunk_rows`` (default ``CHUNK_ROWS``) covering ``table`` ([None]: the
    whole table at once).

    ``min(rowid)`` and ``max(rowid)``, each alone in its query, are B-tree lookups (together
    in one query they would scan the table). A view has no rowid and an empty table no range:
    both are read in one piece.
    """
    try:
        (low,) = con.execute(f"SELECT min(rowid) FROM {table}").fetchone()
        (high,) = con.execute(f"SELECT max(rowid) FROM {table}").fetchone()
    except sqlite3.Error:
        return [None]
    if not isinstance(low, int) or not isinstance(high, int):
        return [None]
    chunk_rows = chunk_rows or CHUNK_ROWS
    span = high - low + 1
    if span > _DENSE_CHUNKS * chunk_rows:
        # so many rowids that sparse ones (an edited file) would mean countless empty chunks
        # and arrays sized for rows that do not exist: chunk only a mostly dense table
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        if 2 * count < span:
            return [None]
    return [(a, min(a + chunk_rows - 1, high)) for a in range(low, high + 1, chunk_rows)]


def _read_pass(
    con: sqlite3.Connection, plan: TablePlan, layout: Layout, where: str
) -> tuple[int, _Chunk | None]:
    """Row count of one pass and its chunk, None when the values do not parse or decode."""
    concat = ", ".join(f"group_concat({e})" for e in layout.exprs.values())
    extremes = [*(f"min({e})" for e in plan.minimum), *(f"max({e})" for e in plan.maximum)]
    if layout.guard:
        extremes.append(f"min({layout.guard})")
    extra = "".join(f", {x}" for x in extremes)
    count, *values = con.execute(
        f"SELECT count(*), {concat}{extra} FROM {plan.table} {where}"
    ).fetchone()
    if layout.guard:
        *values, guarded = values
        if guarded == 0:  # some row fails the guard: not this layout
            return count, None
    texts, bounds = values[: len(layout.exprs)], values[len(layout.exprs) :]
    if any(b is not None and not isinstance(b, int) for b in bounds):
        return count, None
    arrays = {}
    for name, text in zip(layout.exprs, texts, strict=True):
        try:
            array = np.fromstring(text or b"", sep=",", dtype=np.int64)
        except ValueError:  # a REAL (or integer overflow) or TEXT value in the list
            return count, None
        if len(array) != count:  # group_concat skips NULLs
            return count, None
        arrays[name] = array
    columns = layout.decode(arrays)
    if columns is None:
        return count, None
    minimum = dict(zip(plan.minimum, bounds[: len(plan.minimum)], strict=True))
    maximum = dict(zip(plan.maximum, bounds[len(plan.minimum) :], strict=True))
    return count, _Chunk(count, columns, 0, minimum, maximum)


class _Pending:
    """A table being read; calling it waits for the table, once, and then forgets it (so the
    arrays live only as long as the caller keeps the ``TableData``)."""

    def __init__(self, plan: TablePlan, futures: list[Future[_Chunk]], slots: list[_Slot]):
        self._state: tuple | None = (plan, futures, slots)

    def __call__(self) -> TableData | None:
        if self._state is None:
            raise RuntimeError("table already collected")
        state, self._state = self._state, None
        return _collect(*state)


def _collect(
    plan: TablePlan, futures: list[Future[_Chunk]], slots: list[_Slot]
) -> TableData | None:
    """The table's columns in rowid order; rows left out counted, minima and maxima combined."""
    try:
        chunks = [f.result() for f in futures]
    except _Unreadable:
        for f in futures:
            f.cancel()
        return None
    arrays = slots[0].arrays
    if arrays is None:  # read in one piece
        columns = chunks[0].columns
    elif sum(c.rows for c in chunks) == len(next(iter(arrays.values()))):
        columns = arrays  # every rowid held a row: the arrays are full
    else:
        columns = {
            name: np.concatenate(
                [values[s.offset : s.offset + c.rows] for c, s in zip(chunks, slots, strict=True)]
            )
            for name, values in arrays.items()
        }
    data = TableData(columns, sum(c.dropped for c in chunks))
    for name in plan.minimum:
        lows = [v for c in chunks if (v := c.minimum[name]) is not None]
        data.minimum[name] = min(lows) if lows else None
    for name in plan.maximum:
        highs = [v for c in chunks if (v := c.maximum[name]) is not None]
        data.maximum[name] = max(highs) if highs else None
    return data


# --- pieces every reader of an export shares ------------------------------------------------

#: Threads reading chunks; more only add memory in flight.
MAX_WORKERS = 4
#: globalTid -> globalPid: the low 24 bits are the thread id.
GLOBAL_PID_MASK = ~0xFFFFFF
#: Guard of the plain layouts: a TEXT/REAL start or end would make ``end - start`` a number
#: that means nothing (TEXT reads as 0), so such rows go to the filtered pass and are left out.
INTEGER_TIMES = "typeof(start) = 'integer' AND typeof(\"end\") = 'integer'"


def connect(uri: str) -> sqlite3.Connection:
    """A connection (``uri``: ``file:...?mode=ro`` or ``immutable=1``) whose text never fails
    to decode (a damaged file may hold invalid UTF-8; names then show U+FFFD instead of the
    read failing)."""
    con = sqlite3.connect(uri, uri=True)
    con.text_factory = lambda raw: raw.decode("utf-8", "replace")
    return con


def as_read(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A ``Layout`` decoder that keeps the columns as read (negative durations included:
    nsys sums them too)."""
    return columns
