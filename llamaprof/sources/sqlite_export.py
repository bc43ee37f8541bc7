"""Read an nsys SQLite export (``nsys export --type sqlite``, 2020.5 → 2026.2) into a ``Run``.

The four summaries are computed the way current nsys (2024+) ``nsys stats`` computes them
(see ``shared/docs/nsys-stats-semantics.md`` §1-3): same rows, order and rounding.

Speed: a seed-scale export holds ~1M kernel and ~1M runtime rows. Each activity table is
read once, in rowid-range chunks that hand whole columns to numpy as ``group_concat`` text,
several small integers packed into one where they fit (``sqlite_columns``); the chunks of all
tables run in parallel threads. Grouping, medians, standard deviations and the GPU busy-time
union are vectorised numpy (``sqlite_stats``). No Python loop runs per row; memory grows
with the arrays kept, not with the text.

Rows with a NULL or non-integer value where nsys writes an integer (start, end, name ids,
copyKind, bytes) are left out, and ``run.info.warnings`` says how many; nsys itself never writes
such rows, so they only appear in files edited after export. Integer rows whose ``end`` precedes
their ``start`` are kept: nsys sums ``end - start`` whatever its sign, and so does this reader
(the GPU busy time counts such an interval as empty).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.events import MEMCPY as MEMCPY_KIND
from llamaprof.events import MEMSET as MEMSET_KIND
from llamaprof.events import Events
from llamaprof.model import ReportFormat, Run, RunInfo
from llamaprof.numeric import factorize, union_length
from llamaprof.sources.magic import SQLITE_MAGIC
from llamaprof.sources.sqlite_columns import (
    GLOBAL_PID_MASK,
    INTEGER_TIMES,
    MAX_WORKERS,
    ColumnReader,
    Layout,
    TableData,
    TablePlan,
    as_read,
    connect,
    rowid_ranges,
)
from llamaprof.summaries import MEMSET_LABEL, summarize

RUNTIME = "CUPTI_ACTIVITY_KIND_RUNTIME"
KERNEL = "CUPTI_ACTIVITY_KIND_KERNEL"
MEMCPY = "CUPTI_ACTIVITY_KIND_MEMCPY"
MEMSET = "CUPTI_ACTIVITY_KIND_MEMSET"
MEMCPY_ENUM = "ENUM_CUDA_MEMCPY_OPER"

#: Columns each activity table must have for its report (picked by name, never position).
REQUIRED_COLUMNS = {
    RUNTIME: ("start", "end", "nameId"),
    KERNEL: ("start", "end", "demangledName"),
    MEMCPY: ("start", "end", "copyKind", "bytes"),
    MEMSET: ("start", "end", "bytes"),
}

#: Labels of pre-2022.4 scripts (CTE ``MemcpyOperStrs``), used when the export has no ENUM table.
_OLD_MEMCPY_LABELS = [f"[CUDA memcpy {kind}]" for kind in reports.MEMCPY_SHORT[:11]] + [
    f"[CUDA Unified Memory memcpy {kind}]" for kind in ("HtoD", "DtoH", "DtoD")
]

_PROCESS_SAMPLES = 101  # rows looked at to find the profiled process (rowid lookups, O(1))


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
        con = connect(uri)
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


def _check_header(path: Path) -> None:
    """Refuse empty and non-SQLite files before SQLite would create or misread them."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ReportParseError(path, "is empty")
    if head != SQLITE_MAGIC:
        raise ReportParseError(path, "is not an SQLite database (no SQLite header)")


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
        self.warnings: list[str] = []  # data left out: the numbers are incomplete
        self._strings: dict[int, str] = {}
        self.id_bound = 0  # StringIds bound of the kernel name-id packing (see _kernel_plan)
        # Whether some kernel row has a graphNodeId (1/0), taken in the kernel read's own pass;
        # None until read, or where that read does not take it
        self._graph_nodes: int | None = None
        self._graph_launch: bool | None = None  # see _graph_launch_named

    # -- top level ---------------------------------------------------------------------------

    def read(self) -> Run:
        self._check_is_export()
        plans = self._plans()
        ranges = {table: rowid_ranges(self.con, table) for table in plans}
        workers = min(MAX_WORKERS, os.cpu_count() or 1, sum(map(len, ranges.values())) or 1)
        events = Events(session_start_utc_ns=self._session_start_ns())
        with ColumnReader(self.uri, workers) as reader:
            # queued in this order: the API events are built while kernel chunks are read
            pending = {table: reader.submit(plan, ranges[table]) for table, plan in plans.items()}
            if RUNTIME in pending:
                self._api_events(self._collect(RUNTIME, pending), events)
            kernel, memcpy, memset = (
                self._collect(table, pending) if table in pending else None
                for table in (KERNEL, MEMCPY, MEMSET)
            )
        if kernel is not None and not self._kernel_ids_fit(kernel):
            # an edited export names ids the packing cannot hold: read the ids apart
            plan = self._kernel_plan(self.id_bound, packed=False)
            with ColumnReader(self.uri, workers) as reader:
                kernel = self._collect(KERNEL, {KERNEL: reader.submit(plan, ranges[KERNEL])})
        if kernel is not None:
            self._graph_nodes = kernel.maximum.get(_GRAPH_NODE)
            self._kernel_events(kernel, events)
            del kernel
        if memcpy is not None or memset is not None:
            self._memory_events(memcpy, memset, events)
            del memcpy, memset
        bounds = events.bounds()
        events.capture_end_ns = bounds[1] if bounds else None
        summaries, skipped, variants = summarize(events)
        run = Run(
            path=self.path,
            format=ReportFormat.SQLITE,
            summaries=summaries,
            skipped=skipped,
            kernel_variants=variants,
            events=events,
        )
        run.info = self._run_info(events)
        return run

    def _plans(self) -> dict[str, TablePlan]:
        """What to read from each activity table present (see ``sqlite_columns``)."""
        plans = {}
        bound = self._string_id_bound()  # ids < bound - 1; bound - 1 marks "no mangled name"
        if RUNTIME in self.tables:
            times = {"d": "end - start", "start": "start"}
            plain = Layout({"nameId": "nameId", **times}, as_read, INTEGER_TIMES)
            layouts: tuple[Layout, ...] = (plain,)
            if bound < 2**31:
                # duration and name id in one integer; an id out of range gives NULL (next
                # layout), never a wrong split; a negative duration gives a negative value
                # (read plain)
                packed = (
                    f"CASE WHEN nameId BETWEEN 0 AND {bound - 2} "
                    f"THEN (end - start) * {bound} + nameId END"
                )
                unpack = _unpacker(bound, "d", "nameId")
                layouts = (Layout({"p": packed, "start": "start"}, unpack), plain)
            plans[RUNTIME] = TablePlan(
                RUNTIME, ("nameId", "d", "start"), layouts, REQUIRED_COLUMNS[RUNTIME]
            )
        if KERNEL in self.tables:
            plans[KERNEL] = self._kernel_plan(bound)
        if MEMCPY in self.tables:
            exprs = {"kind": "copyKind", "start": "start", "d": "end - start", "bytes": "bytes"}
            exprs["device"] = self._device_expr(MEMCPY)
            layout = Layout(exprs, as_read, INTEGER_TIMES)
            plans[MEMCPY] = TablePlan(MEMCPY, tuple(exprs), (layout,), REQUIRED_COLUMNS[MEMCPY])
        if MEMSET in self.tables:
            exprs = {"start": "start", "d": "end - start", "bytes": "bytes"}
            exprs["device"] = self._device_expr(MEMSET)
            layout = Layout(exprs, as_read, INTEGER_TIMES)
            plans[MEMSET] = TablePlan(MEMSET, tuple(exprs), (layout,), REQUIRED_COLUMNS[MEMSET])
        return plans

    def _device_expr(self, table: str) -> str:
        """The CUDA device of a row (-1 where the export does not say: never a row left out)."""
        if "deviceId" not in self._columns(table):
            return "-1"
        return "CASE WHEN typeof(deviceId) = 'integer' THEN deviceId ELSE -1 END"

    def _kernel_plan(self, bound: int, *, packed: bool = True) -> TablePlan:
        """Kernel rows: start, duration and the (demangled, base, mangled) name ids.

        nsys names a kernel by ``coalesce(<naming column>, demangledName)``; a missing column
        falls back likewise. When ids are small enough, one integer per row carries all three
        ids (``key = (dem * B + base) * B + mangled``) and, when the duration fits beside it,
        the duration too (``(end - start) * B³ + key``): fewer values to print and parse.
        ``B`` exceeds every StringIds id, so ids of an nsys-written export always fit. The same
        pass takes the smallest and largest of the three ids (``IDS_LOW``/``IDS_HIGH``); when
        an edited export holds ids outside ``0..B-2``, ``read`` reads the table again with the
        ids apart (``packed=False``), so a misfit id can never change a duration.
        """
        columns = self._columns(KERNEL)
        base = "coalesce(shortName, demangledName)" if "shortName" in columns else "demangledName"
        has_mangled = "mangledName" in columns
        mangled = f"coalesce(mangledName, {bound - 1})" if has_mangled else str(bound - 1)
        device = self._device_expr(KERNEL)
        times = {"d": "end - start", "start": "start", "device": device}
        raw = REQUIRED_COLUMNS[KERNEL]
        self.id_bound = bound
        # graph nodes traced one by one (``RunInfo.graph_nodes_traced``), in the same pass;
        # only where a graph was launched (else none can be a node), a price of about 6 %
        graph = (_GRAPH_NODE,) if "graphNodeId" in columns and self._graph_launch_named() else ()
        if not packed or bound**3 >= 2**63:
            ids = {"dem": "demangledName", "base": base, "mangled": mangled}
            exprs = {**ids, **times}
            layout = Layout(exprs, as_read, INTEGER_TIMES)
            return TablePlan(KERNEL, tuple(exprs), (layout,), raw, maximum=graph)
        key = f"(demangledName * {bound} + {base}) * {bound} + {mangled}"
        plain = Layout({"key": key, **times}, as_read, INTEGER_TIMES)
        # a duration too long to fit beside the key overflows to REAL, a negative one makes
        # ``p`` negative: that chunk reads plain
        fused = {"p": f"(end - start) * {bound**3} + {key}", "start": "start", "device": device}
        layouts = (Layout(fused, _unpacker(bound**3, "d", "key")), plain)
        low, high = _id_extremes(columns)
        self._id_exprs = (low, high)
        return TablePlan(
            KERNEL,
            ("key", "d", "start", "device"),
            layouts,
            raw,
            minimum=(low,),
            maximum=(high, *graph),
        )

    def _kernel_ids_fit(self, data: TableData) -> bool:
        """Whether every kernel name id read fits the packing (see ``_kernel_plan``)."""
        if not data.minimum:  # read with the ids apart: nothing to check
            return True
        low, high = data.minimum[self._id_exprs[0]], data.maximum[self._id_exprs[1]]
        return (low is None or low >= 0) and (high is None or high <= self.id_bound - 2)

    def _collect(self, table: str, pending: dict[str, Callable[[], TableData | None]]) -> TableData:
        """The table's data once read; a note when rows were left out."""
        data = pending[table]()
        if data is None:
            raise ReportParseError(self.path, f"table {table} holds unreadable values")
        if data.dropped:
            rows = "1 row" if data.dropped == 1 else f"{data.dropped} rows"
            self.warnings.append(f"{rows} of {table} with a missing or non-integer value left out.")
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
        for table, required in REQUIRED_COLUMNS.items():
            if table in self.tables:
                missing = [c for c in required if c not in self._columns(table)]
                if missing:
                    raise ReportParseError(
                        self.path, f"table {table} lacks column(s) {', '.join(missing)}"
                    )

    # -- events --------------------------------------------------------------------------------

    def _api_events(self, data: TableData, events: Events) -> None:
        """API calls as events; one name code per distinct nameId, in nameId order (nsys's
        GROUP BY), its text with the ``_vNNNN`` ABI suffix cut."""
        cols = data.columns
        keys, codes = factorize(cols.pop("nameId"))
        events.api_names = [_strip_abi_suffix(n) for n in self._names(keys)]
        events.api = pd.DataFrame(
            {"start_ns": cols.pop("start"), "duration_ns": cols.pop("d"), "name": codes}
        )

    def _kernel_events(self, data: TableData, events: Events) -> None:
        """Kernels as events; one name code per distinct (demangled, base, mangled) id triple."""
        cols = data.columns
        bound = self.id_bound
        if "key" in cols:
            keys, codes = factorize(cols.pop("key"))
            triples = np.stack([keys // bound**2, keys // bound % bound, keys % bound], 1)
        else:
            ids = [cols.pop(name) for name in ("dem", "base", "mangled")]
            triples, codes = np.unique(np.stack(ids, axis=1), axis=0, return_inverse=True)
            codes = codes.reshape(-1).astype(np.int32)
        triples[triples[:, 2] == bound - 1, 2] = -1  # no mangled name
        mangled = self._names(triples[:, 2])
        events.kernel_names = pd.DataFrame(
            {
                "demangled_id": triples[:, 0],
                "base_id": triples[:, 1],
                "mangled_id": triples[:, 2],
                "demangled": self._names(triples[:, 0]),
                "base": self._names(triples[:, 1]),
                "mangled": _or_none(triples[:, 2], mangled),
            }
        )
        events.kernels = pd.DataFrame(
            {
                "start_ns": cols.pop("start"),
                "duration_ns": cols.pop("d"),
                "name": codes,
                "device": cols.pop("device").astype(np.int16),
            }
        )

    def _memory_events(
        self, memcpy: TableData | None, memset: TableData | None, events: Events
    ) -> None:
        """memcpy rows (labelled by copyKind) then memset rows, as events.

        Labels are every memcpy label the export knows, in text order, then the memset label;
        a copyKind without a label gets op -1 (nsys INNER JOINs the labels: such rows vanish
        from its summaries, yet they are GPU work).
        """
        label_names: list[str] = []
        frames = []
        if memcpy is not None:
            cols = memcpy.columns
            kind_labels = self._memcpy_labels()
            label_names = sorted(set(kind_labels.values()))
            kinds = np.array(sorted(kind_labels), dtype=np.int64)
            label_of_kind = np.array(
                [label_names.index(kind_labels[k]) for k in kinds.tolist()], dtype=np.int64
            )
            known = np.isin(cols["kind"], kinds)
            if not known.all():
                self.notes.append(
                    f"{int((~known).sum())} memcpy rows with an unknown copyKind were left out, "
                    "as nsys does."
                )
            op = np.full(len(cols["kind"]), -1, dtype=np.int64)
            op[known] = label_of_kind[np.searchsorted(kinds, cols["kind"][known])]
            frames.append(_memory_frame(cols, op, MEMCPY_KIND))
        if memset is not None:
            if MEMSET_LABEL not in label_names:
                label_names.append(MEMSET_LABEL)
            cols = memset.columns
            op = np.full(len(cols["d"]), label_names.index(MEMSET_LABEL), dtype=np.int64)
            frames.append(_memory_frame(cols, op, MEMSET_KIND))
        events.memory_ops = label_names
        events.memory = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

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

    def _run_info(self, events: Events) -> RunInfo:
        info = RunInfo(
            nsys_version=self._export_meta("EXPORT_PRODUCT_VERSION"),
            gpus=self._gpus(),
            memory_bandwidth_bps=self._memory_bandwidths(),
            graph_nodes_traced=self._graph_nodes_traced(),
            start_utc=self._start_utc(),
            command_line=self._command_line(),
            notes=self.notes,
            warnings=self.warnings,
        )
        bounds = events.bounds()
        if bounds is not None:
            info.span_ns = bounds[1] - bounds[0]
        if events.kernels is not None or events.memory is not None:
            info.gpu_busy_ns = union_length(events.gpu_parts())
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

    def _memory_bandwidths(self) -> list[int | None]:
        """Peak memory bandwidth (bytes/s) of each GPU that ``_gpus`` names from
        TARGET_INFO_GPU, in the same order; [] when the table or its column is absent."""
        table = "TARGET_INFO_GPU"
        if table not in self.tables:
            return []
        columns = self._columns(table)
        if not {"name", "memoryBandwidth"} <= columns:
            return []
        order = next((c for c in ("id", "deviceId", "cudaId") if c in columns), "rowid")
        return [
            value if isinstance(value, int) and value > 0 else None
            for (value,) in self.con.execute(
                f'SELECT memoryBandwidth FROM {table} WHERE name IS NOT NULL ORDER BY "{order}"'
            )
        ]

    def _graph_nodes_traced(self) -> bool | None:
        """True when some kernel was traced as a node of a CUDA graph (its ``graphNodeId``
        set); False when none was; None without a kernel table with that column (older nsys).
        Taken by the kernel read where a graph launch is named (else no kernel is a node)."""
        if KERNEL not in self.tables or "graphNodeId" not in self._columns(KERNEL):
            return None
        return bool(self._graph_nodes)

    def _session_start_ns(self) -> int | None:
        """Wall-clock ns of the timeline's zero (``TARGET_INFO_SESSION_START_TIME.utcEpochNs``)."""
        table = "TARGET_INFO_SESSION_START_TIME"
        if table not in self.tables or "utcEpochNs" not in self._columns(table):
            return None
        row = self.con.execute(f"SELECT utcEpochNs FROM {table} LIMIT 1").fetchone()
        return row[0] if row and isinstance(row[0], int) else None

    def _start_utc(self) -> str | None:
        table = "TARGET_INFO_SESSION_START_TIME"
        if table not in self.tables:
            return None
        epoch_ns = self._session_start_ns()
        if epoch_ns is not None:
            stamp = datetime.fromtimestamp(epoch_ns // 1_000_000_000, tz=UTC)
            return stamp.isoformat(timespec="seconds")
        if "utcTime" in self._columns(table):
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
            pids = [v & GLOBAL_PID_MASK for (v,) in values if isinstance(v, int)]
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

    def _graph_launch_named(self) -> bool:
        """Whether StringIds names a CUDA graph launch (``cudaGraphLaunch*``,
        ``cuGraphLaunch*``): without one no kernel can be a graph node. A scan of the strings
        (thousands), not of the kernels (a million)."""
        if self._graph_launch is None:
            row = self.con.execute(
                "SELECT EXISTS (SELECT 1 FROM StringIds WHERE value GLOB 'cudaGraphLaunch*' "
                "OR value GLOB 'cuGraphLaunch*')"
            ).fetchone()
            self._graph_launch = bool(row[0])
        return self._graph_launch

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


# -- helpers ------------------------------------------------------------------------------


def _strip_abi_suffix(name: str) -> str:
    """``cudaLaunchKernel_v7000`` -> ``cudaLaunchKernel``; only ``_v`` + exactly 4 characters.

    nsys: ``CASE substr(value, -6, 2) WHEN '_v' THEN substr(value, 1, length(value) - 6)``.
    """
    return name[:-6] if len(name) >= 6 and name[-6:-4] == "_v" else name


#: 1 for a kernel row traced as a CUDA graph node, else 0 (an integer whatever the column
#: holds, so that an odd value never fails the read).
_GRAPH_NODE = "graphNodeId IS NOT NULL"


def _id_extremes(columns: set[str] | list[str]) -> tuple[str, str]:
    """SQL for the smallest and largest kernel name id of a row (NULL names count as 0)."""
    ids = ["demangledName"]
    ids += [f"coalesce({c}, 0)" for c in ("shortName", "mangledName") if c in columns]
    if len(ids) == 1:
        return ids[0], ids[0]
    return f"min({', '.join(ids)})", f"max({', '.join(ids)})"


def _unpacker(base: int, high: str, low: str) -> Callable[[dict], dict | None]:
    """Decoder splitting column ``p = high * base + low`` (0 <= low < base) into two columns.

    A negative ``p`` means a negative duration (the high part), which the split cannot hold:
    refused, so the chunk is read by the plain layout.
    """

    def decode(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        packed = columns.pop("p")
        if len(packed) and packed.min() < 0:
            return None
        quotient, remainder = np.divmod(packed, base)
        return {high: quotient, low: remainder, **columns}

    return decode


def _memory_frame(cols: dict[str, np.ndarray], op: np.ndarray, kind: int) -> pd.DataFrame:
    """One memory table's rows as ``Events.memory`` rows."""
    return pd.DataFrame(
        {
            "start_ns": cols["start"],
            "duration_ns": cols["d"],
            "op": op.astype(np.int16),
            "bytes": cols["bytes"],
            "kind": np.full(len(op), kind, dtype=np.int8),
            "device": cols["device"].astype(np.int16),
        }
    )


def _or_none(ids: np.ndarray, names: list[str]) -> list[str | None]:
    """``names``, None where the id is negative (no such name)."""
    return [None if i < 0 else n for i, n in zip(ids.tolist(), names, strict=True)]
