"""Read an nsys SQLite export (``nsys export --type sqlite``, 2020.5 → 2026.2) into a ``Run``.

The four summaries are computed the way current nsys (2024+) ``nsys stats`` computes them
(see ``shared/docs/nsys-stats-semantics.md`` §1-3): same rows, order and rounding.

Speed: a seed-scale export holds ~1M kernel and ~1M runtime rows. Each activity table is
read in one SQLite pass that hands whole columns to numpy as ``group_concat`` text (parsed by
``np.fromstring`` in C), the tables in parallel threads (sqlite3 releases the GIL while it
steps); grouping, medians, standard deviations and the GPU busy-time union are vectorised
numpy. No Python loop runs per row.

Rows with a NULL or non-integer value where nsys writes an integer (start, end, name ids,
copyKind, bytes) are left out, and ``run.info.notes`` says how many; nsys itself never writes
such rows, so they only appear in files edited after export.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import KernelNaming, ReportFormat, Run, RunInfo

RUNTIME = "CUPTI_ACTIVITY_KIND_RUNTIME"
KERNEL = "CUPTI_ACTIVITY_KIND_KERNEL"
MEMCPY = "CUPTI_ACTIVITY_KIND_MEMCPY"
MEMSET = "CUPTI_ACTIVITY_KIND_MEMSET"
MEMCPY_ENUM = "ENUM_CUDA_MEMCPY_OPER"
MEMSET_LABEL = "[CUDA memset]"

#: Columns each activity table must have for its report (picked by name, never position).
_REQUIRED = {
    RUNTIME: ("start", "end", "nameId"),
    KERNEL: ("start", "end", "demangledName"),
    MEMCPY: ("start", "end", "copyKind", "bytes"),
    MEMSET: ("start", "end", "bytes"),
}

#: Labels of pre-2022.4 scripts (CTE ``MemcpyOperStrs``), used when the export has no ENUM table.
_OLD_MEMCPY_LABELS = [f"[CUDA memcpy {kind}]" for kind in reports.MEMCPY_SHORT[:11]] + [
    f"[CUDA Unified Memory memcpy {kind}]" for kind in ("HtoD", "DtoH", "DtoD")
]

_GLOBAL_PID_MASK = ~0xFFFFFF  # globalTid -> globalPid: the low 24 bits are the thread id
_PROCESS_SAMPLES = 101  # rows looked at to find the profiled process (rowid lookups, O(1))
_ONE_DECIMAL = Decimal("0.1")


def read_sqlite(path: str | Path) -> Run:
    """Read the four CUDA summaries and run facts from an nsys SQLite export.

    >>> run = read_sqlite("report1.sqlite")          # doctest: +SKIP
    >>> run.summaries["cuda_api_sum"].columns[:3]    # doctest: +SKIP
    Index(['time_pct', 'total_ns', 'count'], dtype='object')

    Summaries have the columns of ``llamaprof.reports.COLUMNS`` (ns, bytes); reports whose
    tables are absent go to ``run.skipped`` with nsys's wording. ``run.kernel_variants`` holds
    the kernel summary grouped by base (short) and mangled names.

    Raises ReportParseError with a one-line reason for a file that is not a readable SQLite
    database or not an nsys export.
    """
    path = Path(path)
    _check_header(path)
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        con = _connect(uri)
    except sqlite3.Error as exc:
        raise ReportParseError(path, f"cannot be opened as SQLite ({exc})") from None
    try:
        return _Reader(path, uri, con).read()
    except sqlite3.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportParseError(path, f"is not a readable SQLite database ({reason})") from None
    except UnicodeDecodeError:  # SQLite's own error message quoted undecodable schema bytes
        raise ReportParseError(path, "is not a readable SQLite database (damaged schema)") from None
    finally:
        con.close()


def _connect(uri: str) -> sqlite3.Connection:
    """A read-only connection whose text never fails to decode (a damaged file may hold
    invalid UTF-8; names then show U+FFFD instead of the read failing)."""
    con = sqlite3.connect(uri, uri=True)
    con.text_factory = lambda raw: raw.decode("utf-8", "replace")
    return con


def _check_header(path: Path) -> None:
    """Refuse empty and non-SQLite files before SQLite would create or misread them."""
    from llamaprof.sources import SQLITE_MAGIC

    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ReportParseError(path, "is empty")
    if head != SQLITE_MAGIC:
        raise ReportParseError(path, "is not an SQLite database (no SQLite header)")


@dataclass(frozen=True)
class _Query:
    """Integer expressions to read from every row of one table (see ``_fetch``).

    ``raw``: the columns the expressions read, checked for type on the slow path.
    ``aggregates``: SQL aggregates computed in the same pass, returned as 0-d arrays.
    ``id_bound``: for kernels, the base that packs three name ids into one integer.
    """

    table: str
    exprs: dict[str, str]
    raw: tuple[str, ...]
    aggregates: tuple[str, ...] = ()
    id_bound: int = 0


def _fetch(uri: str, query: _Query) -> tuple[dict[str, np.ndarray], int] | None:
    """Arrays of ``query`` (int64, one per expression) and how many rows were left out.

    Each expression comes back as one ``group_concat`` string that numpy parses in C,
    several times faster than fetching rows as Python tuples. Opens its own connection so
    tables can be read in parallel threads.

    The fast pass has no filter. If a value is NULL or not an integer the arrays would not
    line up (or not parse), so the table is read again keeping only rows whose ``raw``
    columns and expressions are all integers. A negative duration also takes that second
    pass, so a text ``end`` (which SQLite reads as 0) cannot pass unseen. None when even
    that does not parse.
    """
    con = _connect(uri)
    try:
        fast = _fetch_pass(con, query, where="")
        if fast is not None and not ("d" in fast and (fast["d"] < 0).any()):
            return fast, 0
        checks = [*(f'"{c}"' for c in query.raw), *query.exprs.values()]
        where = "WHERE " + " AND ".join(f"typeof({c}) = 'integer'" for c in checks)
        kept = _fetch_pass(con, query, where)
        if kept is None:
            return None
        (total,) = con.execute(f"SELECT count(*) FROM {query.table}").fetchone()
        return kept, total - len(kept[next(iter(query.exprs))])
    finally:
        con.close()


def _fetch_pass(con: sqlite3.Connection, query: _Query, where: str) -> dict[str, np.ndarray] | None:
    """One ``group_concat`` pass; None when the columns do not parse into aligned arrays."""
    concat = ", ".join(f"group_concat({e})" for e in query.exprs.values())
    extra = "".join(f", {a}" for a in query.aggregates)
    count, *texts = con.execute(
        f"SELECT count(*), {concat}{extra} FROM {query.table} {where}"
    ).fetchone()
    arrays = {}
    for name, text in zip(query.exprs, texts, strict=False):
        try:
            values = np.fromstring(text or "", sep=",", dtype=np.int64)
        except ValueError:  # a REAL or TEXT value in the list
            return None
        if len(values) != count:  # group_concat skips NULLs
            return None
        arrays[name] = values
    for aggregate, value in zip(query.aggregates, texts[len(query.exprs) :], strict=True):
        if value is not None and not isinstance(value, int):
            return None
        arrays[aggregate] = np.array(value)
    return arrays


class _Reader:
    """One pass over one export: schema first, then each activity table once."""

    def __init__(self, path: Path, uri: str, con: sqlite3.Connection) -> None:
        self.path = path
        self.uri = uri
        self.con = con
        self.tables = {
            name
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        self.notes: list[str] = []
        self._strings: dict[int, str] = {}
        # start/end arrays of GPU work, for the busy-time union and the span
        self.gpu_starts: list[np.ndarray] = []
        self.gpu_ends: list[np.ndarray] = []
        self.span_bounds: list[tuple[int, int]] = []

    # -- top level ---------------------------------------------------------------------------

    def read(self) -> Run:
        self._check_is_export()
        queries = self._plan()
        data = self._fetch_all(queries)
        run = Run(path=self.path, format=ReportFormat.SQLITE)
        if RUNTIME in data:
            run.summaries[reports.API] = self._api_summary(data[RUNTIME])
        else:
            run.skipped[reports.API] = reports.SKIP_REASONS[reports.API]
        if KERNEL in data:
            default, base, mangled = self._kernel_summaries(data[KERNEL], queries[KERNEL])
            run.summaries[reports.KERNELS] = default
            run.kernel_variants[KernelNaming.BASE] = base
            run.kernel_variants[KernelNaming.MANGLED] = mangled
        else:
            run.skipped[reports.KERNELS] = reports.SKIP_REASONS[reports.KERNELS]
        if MEMCPY in data or MEMSET in data:
            time_frame, size_frame = self._mem_summaries(data.get(MEMCPY), data.get(MEMSET))
            run.summaries[reports.MEM_TIME], run.summaries[reports.MEM_SIZE] = (
                time_frame,
                size_frame,
            )
        else:
            for report in (reports.MEM_TIME, reports.MEM_SIZE):
                run.skipped[report] = reports.SKIP_REASONS[report]
        run.info = self._run_info()
        return run

    def _plan(self) -> dict[str, _Query]:
        """What to read from each activity table present."""
        queries = {}
        if RUNTIME in self.tables:
            queries[RUNTIME] = _Query(
                RUNTIME,
                {"nameId": "nameId", "d": "end - start"},
                _REQUIRED[RUNTIME],
                ("min(start)", "max(end)"),  # the API calls' span, without fetching start
            )
        if KERNEL in self.tables:
            queries[KERNEL] = self._kernel_query()
        if MEMCPY in self.tables:
            exprs = {"kind": "copyKind", "start": "start", "d": "end - start", "bytes": "bytes"}
            queries[MEMCPY] = _Query(MEMCPY, exprs, _REQUIRED[MEMCPY])
        if MEMSET in self.tables:
            exprs = {"start": "start", "d": "end - start", "bytes": "bytes"}
            queries[MEMSET] = _Query(MEMSET, exprs, _REQUIRED[MEMSET])
        return queries

    def _kernel_query(self) -> _Query:
        """Kernel rows: start, duration and the (demangled, base, mangled) name ids.

        nsys names a kernel by ``coalesce(<naming column>, demangledName)``; a missing column
        falls back likewise. When ids are small enough, one integer per row carries all three
        ids (``(dem * B + base) * B + mangled``): a third of the text to print and parse.
        """
        columns = self._columns(KERNEL)
        base = "coalesce(shortName, demangledName)" if "shortName" in columns else "demangledName"
        bound = self._string_id_bound()  # ids < bound - 1; bound - 1 marks "no mangled name"
        has_mangled = "mangledName" in columns
        mangled = f"coalesce(mangledName, {bound - 1})" if has_mangled else str(bound - 1)
        times = {"start": "start", "d": "end - start"}
        raw = _REQUIRED[KERNEL]
        if bound**3 < 2**63:
            key = f"(demangledName * {bound} + {base}) * {bound} + {mangled}"
            return _Query(KERNEL, {"key": key, **times}, raw, id_bound=bound)
        ids = {"dem": "demangledName", "base": base, "mangled": mangled}
        return _Query(KERNEL, {**ids, **times}, raw, id_bound=bound)

    def _fetch_all(self, queries: dict[str, _Query]) -> dict[str, dict[str, np.ndarray]]:
        """Run the queries, in parallel threads where there are several CPUs."""
        workers = max(1, min(len(queries), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {t: pool.submit(_fetch, self.uri, q) for t, q in queries.items()}
            results = {table: future.result() for table, future in futures.items()}
        data = {}
        for table, result in results.items():
            if result is None:
                raise ReportParseError(self.path, f"table {table} holds unreadable values")
            arrays, dropped = result
            if dropped:
                self.notes.append(
                    f"{dropped} rows of {table} with a missing or non-integer value were left out."
                )
            data[table] = arrays
        return data

    def _check_is_export(self) -> None:
        nsys_tables = [t for t in self.tables if t.startswith(("CUPTI_", "TARGET_INFO_"))]
        if "StringIds" not in self.tables:
            if not nsys_tables:
                raise ReportParseError(
                    self.path,
                    "is an SQLite database but not an nsys export "
                    "(no StringIds, CUPTI_* or TARGET_INFO_* tables)",
                )
            raise ReportParseError(
                self.path, "is an nsys export without its StringIds table; names cannot be read"
            )
        for table, required in _REQUIRED.items():
            if table in self.tables:
                missing = [c for c in required if c not in self._columns(table)]
                if missing:
                    raise ReportParseError(
                        self.path, f"table {table} lacks column(s) {', '.join(missing)}"
                    )

    # -- the four summaries ------------------------------------------------------------------

    def _api_summary(self, cols: dict[str, np.ndarray]) -> pd.DataFrame:
        if cols["d"].size:
            self.span_bounds.append((int(cols["min(start)"]), int(cols["max(end)"])))
        keys, codes = _factorize(cols["nameId"])
        stats = _group_stats(codes, len(keys), cols["d"])
        names = [_strip_abi_suffix(n) for n in self._names(keys)]
        # ORDER BY total DESC; ties keep the GROUP BY (nameId) order
        return _order_by_total(_time_frame(stats, names), "total_ns")[reports.COLUMNS[reports.API]]

    def _kernel_summaries(
        self, cols: dict[str, np.ndarray], query: _Query
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Kernel summary by demangled (default), base and mangled name, from one table pass.

        Rows are grouped once by their (demangled, base, mangled) id triple; a naming whose
        groups are exactly those triples (the usual case) reuses that grouping's statistics.
        """
        bound = query.id_bound
        if "key" in cols:
            keys, codes = _factorize(cols["key"])
            triples = np.stack([keys // bound**2, keys // bound % bound, keys % bound], axis=1)
        else:
            stacked = np.stack([cols["dem"], cols["base"], cols["mangled"]], axis=1)
            triples, codes = np.unique(stacked, axis=0, return_inverse=True)
            codes = codes.reshape(-1)
        self._note_gpu_work(cols["start"], cols["start"] + cols["d"])
        fine = _group_stats(codes, len(triples), cols["d"])
        no_mangled = triples[:, 2] == bound - 1
        triples[no_mangled, 2] = -1
        mangled_or_demangled = np.where(no_mangled, triples[:, 0], triples[:, 2])
        return (
            self._kernel_frame(triples[:, 0], triples, codes, cols["d"], fine),
            self._kernel_frame(triples[:, 1], triples, codes, cols["d"], fine),
            self._kernel_frame(mangled_or_demangled, triples, codes, cols["d"], fine),
        )

    def _kernel_frame(
        self,
        naming: np.ndarray,
        triples: np.ndarray,
        codes: np.ndarray,
        d: np.ndarray,
        fine: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        """Kernel summary grouped by ``naming`` (one name id per triple).

        The name columns take each group's lowest id, so a demangled name that maps to
        several short names shows the first.
        """
        keys, group_of_triple = _factorize(naming)
        if len(keys) == len(triples):  # one triple per group: reorder, don't recompute
            order = np.argsort(group_of_triple)
            stats = {name: values[order] for name, values in fine.items()}
        else:
            stats = _group_stats(group_of_triple[codes], len(keys), d)
        big = np.iinfo(np.int64).max
        name_ids = []
        for column in range(3):
            lowest = np.full(len(keys), big, dtype=np.int64)
            ids = triples[:, column]
            np.minimum.at(lowest, group_of_triple, np.where(ids >= 0, ids, big))
            name_ids.append(np.where(lowest == big, -1, lowest))
        frame = _time_frame(stats, self._names(keys))
        frame["demangled_name"] = self._names(name_ids[0])
        frame["base_name"] = self._names(name_ids[1])
        mangled = self._names(name_ids[2])
        frame["mangled_name"] = pd.Series(
            [None if i < 0 else n for i, n in zip(name_ids[2], mangled, strict=True)], dtype="str"
        )
        frame["grid"] = pd.Series(None, index=frame.index, dtype="str")
        frame["block"] = pd.Series(None, index=frame.index, dtype="str")
        # 2024+: ORDER BY total DESC, instances ASC, name ASC
        frame = frame.sort_values(
            ["total_ns", "count", "name"], ascending=[False, True, True], kind="stable"
        )
        return frame.reset_index(drop=True)[reports.COLUMNS[reports.KERNELS]]

    def _mem_summaries(
        self, memcpy: dict[str, np.ndarray] | None, memset: dict[str, np.ndarray] | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """memcpy rows labelled by copyKind UNION ALL memset rows, grouped by label."""
        label_names: list[str] = []  # label index -> printed operation
        labels, durations, sizes = [], [], []
        if memcpy is not None:
            cols = memcpy
            kind_labels = self._memcpy_labels()
            known = np.isin(cols["kind"], np.array(list(kind_labels), dtype=np.int64))
            if not known.all():  # nsys INNER JOINs the labels: such rows vanish
                self.notes.append(
                    f"{int((~known).sum())} memcpy rows with an unknown copyKind were left out, "
                    "as nsys does."
                )
            label_names = sorted(set(kind_labels.values()))
            kinds = np.array(sorted(kind_labels), dtype=np.int64)
            label_of_kind = np.array([label_names.index(kind_labels[k]) for k in kinds.tolist()])
            label_of_kind = label_of_kind.astype(np.int64)
            # the GPU was busy whatever the label: busy time keeps unknown kinds
            self._note_gpu_work(cols["start"], cols["start"] + cols["d"])
            labels.append(label_of_kind[np.searchsorted(kinds, cols["kind"][known])])
            durations.append(cols["d"][known])
            sizes.append(cols["bytes"][known])
        if memset is not None:
            cols = memset
            self._note_gpu_work(cols["start"], cols["start"] + cols["d"])
            if MEMSET_LABEL not in label_names:
                label_names.append(MEMSET_LABEL)
            labels.append(np.full(len(cols["d"]), label_names.index(MEMSET_LABEL)))
            durations.append(cols["d"])
            sizes.append(cols["bytes"])
        keys, codes = _factorize(np.concatenate(labels).astype(np.int64))
        time_stats = _group_stats(codes, len(keys), np.concatenate(durations))
        size_stats = _group_stats(codes, len(keys), np.concatenate(sizes))
        names = [label_names[k] for k in keys.tolist()]
        ops = [reports.canonical_op(n) for n in names]
        # GROUP BY name, ORDER BY total DESC: ties come out in name order
        by_name = sorted(range(len(names)), key=names.__getitem__)

        time_frame = _time_frame(time_stats, names).rename(columns={"name": "operation"})
        time_frame["op"] = pd.Series(ops, dtype="str")
        size_frame = _size_frame(size_stats)
        size_frame["operation"] = pd.Series(names, dtype="str")
        size_frame["op"] = pd.Series(ops, dtype="str")
        return (
            _order_by_total(time_frame.iloc[by_name], "total_ns")[
                reports.COLUMNS[reports.MEM_TIME]
            ],
            _order_by_total(size_frame.iloc[by_name], "total_bytes")[
                reports.COLUMNS[reports.MEM_SIZE]
            ],
        )

    def _memcpy_labels(self) -> dict[int, str]:
        """copyKind -> printed label: ENUM table (2022.4+) or the old hard-coded list."""
        if MEMCPY_ENUM in self.tables and {"id", "label"} <= self._columns(MEMCPY_ENUM):
            return {
                int(kind): f"[CUDA memcpy {label}]"
                for kind, label in self.con.execute(f"SELECT id, label FROM {MEMCPY_ENUM}")
                if isinstance(kind, int) and label is not None
            }
        return dict(enumerate(_OLD_MEMCPY_LABELS))

    # -- facts -------------------------------------------------------------------------------

    def _run_info(self) -> RunInfo:
        info = RunInfo(
            nsys_version=self._export_meta("EXPORT_PRODUCT_VERSION"),
            gpus=self._gpus(),
            start_utc=self._start_utc(),
            command_line=self._command_line(),
            notes=self.notes,
        )
        if self.span_bounds:
            info.span_ns = max(e for _, e in self.span_bounds) - min(s for s, _ in self.span_bounds)
        if self.gpu_starts:
            info.gpu_busy_ns = _union_length(
                np.concatenate(self.gpu_starts), np.concatenate(self.gpu_ends)
            )
        info.process_name = self._process_name()
        return info

    def _export_meta(self, key: str) -> str | None:
        for table in ("META_DATA_EXPORT", "EXPORT_META_DATA"):
            if table in self.tables and {"name", "value"} <= self._columns(table):
                row = self.con.execute(
                    f"SELECT value FROM {table} WHERE name = ? LIMIT 1", (key,)
                ).fetchone()
                if row and row[0] is not None:
                    return str(row[0]).strip()
        return None

    def _gpus(self) -> list[str]:
        for table in ("TARGET_INFO_GPU", "TARGET_INFO_CUDA_GPU", "TARGET_INFO_CUDA_DEVICE"):
            if table not in self.tables or "name" not in (columns := self._columns(table)):
                continue
            order = next((c for c in ("id", "deviceId", "cudaId") if c in columns), "rowid")
            names = [
                str(name).strip()
                for (name,) in self.con.execute(f'SELECT name FROM {table} ORDER BY "{order}"')
                if name is not None
            ]
            if names:
                return names
        return []

    def _start_utc(self) -> str | None:
        table = "TARGET_INFO_SESSION_START_TIME"
        if table not in self.tables:
            return None
        columns = self._columns(table)
        if "utcEpochNs" in columns:
            row = self.con.execute(f"SELECT utcEpochNs FROM {table} LIMIT 1").fetchone()
            if row and isinstance(row[0], int):
                stamp = datetime.fromtimestamp(row[0] // 1_000_000_000, tz=UTC)
                return stamp.isoformat(timespec="seconds")
        if "utcTime" in columns:
            row = self.con.execute(f"SELECT utcTime FROM {table} LIMIT 1").fetchone()
            if row and row[0]:
                return f"{row[0]}+00:00"
        return None

    def _command_line(self) -> str | None:
        """The launched command (``nsys profile <command>``), 2023.3+ exports only."""
        table = "META_DATA_CAPTURE"
        if table not in self.tables or not {"name", "value"} <= self._columns(table):
            return None
        rows = self.con.execute(
            f"SELECT name, value FROM {table} "
            "WHERE name = 'PROCESS_0:COMMAND' OR name LIKE 'PROCESS\\_0:ARGUMENT\\_%' ESCAPE '\\'"
        ).fetchall()
        command = next((str(v) for n, v in rows if n == "PROCESS_0:COMMAND"), None)
        if command is None:
            return None
        args = []
        for name, value in rows:
            index = name.rsplit("_", 1)[-1]
            if name != "PROCESS_0:COMMAND" and index.isdigit():
                args.append((int(index), str(value)))
        return shlex.join([command, *(arg for _, arg in sorted(args))])

    def _process_name(self) -> str | None:
        """Name of the process with CUDA activity (the most common among sampled API rows)."""
        pids = self._sample_global_pids()
        if not pids:
            return None
        names: Counter[str] = Counter()
        for global_pid, hits in Counter(pids).items():
            name = self._name_of_process(global_pid)
            if name:
                names[name] += hits
        if not names:
            return None
        if len(names) > 1:
            self.notes.append(
                "CUDA activity comes from several processes: " + ", ".join(sorted(names)) + "."
            )
        return names.most_common(1)[0][0]

    def _sample_global_pids(self) -> list[int]:
        for table, column in ((RUNTIME, "globalTid"), (KERNEL, "globalPid")):
            if table not in self.tables or column not in self._columns(table):
                continue
            (top,) = self.con.execute(f"SELECT max(rowid) FROM {table}").fetchone()
            if not isinstance(top, int):
                continue
            rowids = sorted(
                {1 + i * (top - 1) // (_PROCESS_SAMPLES - 1) for i in range(_PROCESS_SAMPLES)}
            )
            marks = ",".join("?" * len(rowids))
            values = self.con.execute(
                f"SELECT {column} FROM {table} WHERE rowid IN ({marks})", rowids
            ).fetchall()
            pids = [v & _GLOBAL_PID_MASK for (v,) in values if isinstance(v, int)]
            if pids:
                return pids
        return []

    def _name_of_process(self, global_pid: int) -> str | None:
        if "PROCESSES" in self.tables and {"globalPid", "name"} <= self._columns("PROCESSES"):
            row = self.con.execute(
                "SELECT name FROM PROCESSES WHERE globalPid = ? AND name IS NOT NULL LIMIT 1",
                (global_pid,),
            ).fetchone()
            if row:
                return str(row[0])
        if "ThreadNames" in self.tables and {"globalTid", "nameId"} <= self._columns("ThreadNames"):
            # before PROCESSES existed (< 2022): the main thread (tid == pid) carries the name
            main_tid = global_pid + ((global_pid >> 24) & 0xFFFFFF)
            row = self.con.execute(
                "SELECT s.value FROM ThreadNames t JOIN StringIds s ON s.id = t.nameId "
                "WHERE t.globalTid = ? LIMIT 1",
                (main_tid,),
            ).fetchone()
            if row and row[0] is not None:
                return str(row[0])
        return None

    # -- helpers -----------------------------------------------------------------------------

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.con.execute(f'PRAGMA table_info("{table}")')}

    def _note_span(self, starts: np.ndarray, ends: np.ndarray) -> None:
        if len(starts):
            self.span_bounds.append((int(starts.min()), int(ends.max())))

    def _note_gpu_work(self, starts: np.ndarray, ends: np.ndarray) -> None:
        self._note_span(starts, ends)
        self.gpu_starts.append(starts)
        self.gpu_ends.append(ends)

    def _string_id_bound(self) -> int:
        """One more than any StringIds id, plus one spare value (a cheap PRIMARY KEY lookup)."""
        (top,) = self.con.execute("SELECT max(id) FROM StringIds").fetchone()
        if not isinstance(top, int) or top < 0:
            return 2**62  # an edited table: the caller fetches ids one by one
        return top + 2

    def _names(self, ids: np.ndarray) -> list[str]:
        """StringIds values of ``ids``, looked up in batches and cached."""
        wanted = [i for i in set(ids.tolist()) if i not in self._strings]
        for chunk in range(0, len(wanted), 500):
            batch = wanted[chunk : chunk + 500]
            marks = ",".join("?" * len(batch))
            for string_id, value in self.con.execute(
                f"SELECT id, value FROM StringIds WHERE id IN ({marks})", batch
            ):
                if value is not None:
                    self._strings[string_id] = str(value)
        # an export edited after the fact may have lost a string; nsys would print NULL
        return [self._strings.get(i, f"<missing StringIds {i}>") for i in ids.tolist()]


# -- statistics (pure numpy) ----------------------------------------------------------------


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (ascending, int64) and each row's index into them; a hash pass, O(n)."""
    codes, uniques = pd.factorize(keys, sort=True)
    return np.asarray(uniques, dtype=np.int64), codes.astype(np.int64)


def _group_stats(codes: np.ndarray, n_groups: int, values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group total, count, avg, median, min, max and sample stddev of integer ``values``.

    ``codes`` gives each row's group (0 … n_groups - 1). Returns arrays indexed by group:
    ``total``, ``count``, ``min``, ``max`` (int64), ``avg``, ``med``, ``stddev`` (float64,
    unrounded). Median of an even count is the mean of the two middle values; stddev uses
    n - 1 and is 0.0 for a single value, as nsys's SQL functions do.
    """
    counts = np.bincount(codes, minlength=n_groups).astype(np.int64)
    # rows of a group side by side; numpy's stable sort of 16-bit codes is a radix sort
    small = codes.astype(np.uint16) if n_groups <= 1 << 16 else codes
    v = values[np.argsort(small, kind="stable")]
    starts = np.cumsum(counts) - counts
    if len(v):
        total = np.add.reduceat(v, starts)
        minimum = np.minimum.reduceat(v, starts)
        maximum = np.maximum.reduceat(v, starts)
    else:
        total = minimum = maximum = np.empty(0, dtype=np.int64)
    med = np.empty(n_groups, dtype=np.float64)
    for i, (a, n) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
        lo, hi = (n - 1) // 2, n // 2  # the middle value, or the two middle ones
        part = np.partition(v[a : a + n], [lo, hi] if lo != hi else lo)
        med[i] = (int(part[lo]) + int(part[hi])) / 2
    avg = total / counts if n_groups else np.empty(0)
    dev = v - np.repeat(avg, counts)  # two-pass variance: no cancellation on large values
    squares = np.add.reduceat(dev * dev, starts) if len(v) else avg
    stddev = np.sqrt(squares / np.maximum(counts - 1, 1))
    return {
        "total": total.astype(np.int64),
        "count": counts,
        "min": minimum.astype(np.int64),
        "max": maximum.astype(np.int64),
        "avg": avg.astype(np.float64),
        "med": med,
        "stddev": np.where(counts > 1, stddev, 0.0),
    }


def _order_by_total(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``ORDER BY total DESC``; rows with equal totals keep their current (GROUP BY) order."""
    order = np.argsort(-frame[column].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def _round1(values: np.ndarray) -> np.ndarray:
    """Round to 1 decimal like SQLite's ``round(x, 1)``: half away from zero on the decimal.

    Python's ``round`` would give 0.2 for 0.25 and 1.4 for 1.45; nsys prints 0.3 and 1.5.
    """
    return np.array(
        [float(Decimal(repr(float(x))).quantize(_ONE_DECIMAL, ROUND_HALF_UP)) for x in values],
        dtype=np.float64,
    )


def _time_frame(stats: dict[str, np.ndarray], names: list[str]) -> pd.DataFrame:
    """time_pct, total_ns … stddev_ns, name; % of this report's total, values rounded as nsys."""
    grand = int(stats["total"].sum())
    pct = stats["total"] * 100.0 / grand if grand else np.zeros(len(names))
    return pd.DataFrame(
        {
            "time_pct": _round1(pct),
            "total_ns": stats["total"],
            "count": stats["count"],
            "avg_ns": _round1(stats["avg"]),
            "med_ns": _round1(stats["med"]),
            "min_ns": stats["min"],
            "max_ns": stats["max"],
            "stddev_ns": _round1(stats["stddev"]),
            "name": pd.Series(names, dtype="str"),
        }
    )


def _size_frame(stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """total_bytes … stddev_bytes, unrounded: nsys's SQL returns raw bytes here."""
    return pd.DataFrame(
        {
            "total_bytes": stats["total"],
            "count": stats["count"],
            "avg_bytes": stats["avg"],
            "med_bytes": stats["med"],
            "min_bytes": stats["min"],
            "max_bytes": stats["max"],
            "stddev_bytes": stats["stddev"],
        }
    )


def _strip_abi_suffix(name: str) -> str:
    """``cudaLaunchKernel_v7000`` -> ``cudaLaunchKernel``; only ``_v`` + exactly 4 characters.

    nsys: ``CASE substr(value, -6, 2) WHEN '_v' THEN substr(value, 1, length(value) - 6)``.
    """
    return name[:-6] if len(name) >= 6 and name[-6:-4] == "_v" else name


def _union_length(starts: np.ndarray, ends: np.ndarray) -> int:
    """Total length of the union of [start, end) intervals (GPU busy time, all GPUs together)."""
    if len(starts) == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    s = starts[order]
    e = ends[order]
    reach = np.maximum.accumulate(e)  # furthest end seen so far
    covered_before = np.r_[s[0], reach[:-1]]
    return int(np.clip(e - np.maximum(s, covered_before), 0, None).sum())
