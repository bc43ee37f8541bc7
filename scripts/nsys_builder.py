"""Build small nsys SQLite exports with known intervals: for exact tests and the shipped example.

``ExportBuilder`` collects CUDA API calls, kernels, memcpys, memsets and NVTX ranges with the
times a test wants, and ``write(path)`` creates them with the tables and columns of a real
nsys export (2024+ schema, the columns llamaprof reads and the NOT NULL ones beside them):
``StringIds``, ``CUPTI_ACTIVITY_KIND_RUNTIME/KERNEL/MEMCPY/MEMSET`` with ``deviceId``,
``streamId``, ``correlationId``, ``globalPid``/``globalTid``, ``ENUM_CUDA_MEMCPY_OPER``,
``NVTX_EVENTS`` (push/pop and start/end ranges, ``text`` or a registered ``textId``),
``TARGET_INFO_SESSION_START_TIME``, ``TARGET_INFO_GPU`` (with ``memoryBandwidth``),
``PROCESSES`` and ``META_DATA_EXPORT``.

Activity tables are created lazily, as nsys creates them: only when rows were added or the
table is named in ``empty_tables``. Times are ns on the nsys timeline (since the session
start). Deterministic: the same calls write the same rows in the same order.

    >>> b = ExportBuilder()
    >>> corr = b.api("cudaLaunchKernel_v7000", 100, 120)
    >>> b.kernel("void k<float>(float *)", 130, 150, correlation=corr)
    >>> path = b.write(tmp / "a.sqlite")           # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

RUNTIME = "CUPTI_ACTIVITY_KIND_RUNTIME"
KERNEL = "CUPTI_ACTIVITY_KIND_KERNEL"
MEMCPY = "CUPTI_ACTIVITY_KIND_MEMCPY"
MEMSET = "CUPTI_ACTIVITY_KIND_MEMSET"
NVTX = "NVTX_EVENTS"

#: Default serialized ids: process 4242 on vm 1, its main thread (tid == pid).
PID = 4242
GLOBAL_PID = (1 << 48) | (PID << 24)
GLOBAL_TID = GLOBAL_PID | PID
#: 2026-01-02T03:04:05Z, the default session start.
SESSION_START_UTC_NS = 1_767_323_045_000_000_000

#: copyKind ids by the short direction names nsys 2022 printed.
COPY_KINDS = {"HtoD": 1, "DtoH": 2, "DtoD": 8, "HtoH": 9, "PtoP": 10}
#: nsys's ENUM_CUDA_MEMCPY_OPER (identical in every export 2022.4 -> 2026.2).
MEMCPY_LABELS = (
    "Unknown", "Host-to-Device", "Device-to-Host", "Host-to-Array", "Array-to-Host",
    "Array-to-Array", "Array-to-Device", "Device-to-Array", "Device-to-Device", "Host-to-Host",
    "Peer-to-Peer", "Unified Host-to-Device", "Unified Device-to-Host",
    "Unified Device-to-Device",
)  # fmt: skip
#: ENUM_NSYS_EVENT_TYPE ids of NVTX ranges.
NVTX_PUSH_POP, NVTX_START_END = 59, 60

SCHEMA = {
    "StringIds": "id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL",
    RUNTIME: "start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL, "
    "globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL, "
    "returnValue INTEGER NOT NULL, callchainId INTEGER",
    KERNEL: "start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL, "
    "contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, "
    "correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL, "
    "shortName INTEGER NOT NULL, mangledName INTEGER, launchType INTEGER, "
    "cacheConfig INTEGER, registersPerThread INTEGER NOT NULL, gridX INTEGER NOT NULL, "
    "gridY INTEGER NOT NULL, gridZ INTEGER NOT NULL, blockX INTEGER NOT NULL, "
    "blockY INTEGER NOT NULL, blockZ INTEGER NOT NULL, staticSharedMemory INTEGER NOT NULL, "
    "dynamicSharedMemory INTEGER NOT NULL, localMemoryPerThread INTEGER NOT NULL, "
    "localMemoryTotal INTEGER NOT NULL, gridId INTEGER NOT NULL, "
    "sharedMemoryExecuted INTEGER, graphNodeId INTEGER, sharedMemoryLimitConfig INTEGER",
    MEMCPY: "start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL, "
    "contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, "
    "correlationId INTEGER, globalPid INTEGER, bytes INTEGER NOT NULL, "
    "copyKind INTEGER NOT NULL, deprecatedSrcId INTEGER, srcKind INTEGER, dstKind INTEGER, "
    "srcDeviceId INTEGER, srcContextId INTEGER, dstDeviceId INTEGER, dstContextId INTEGER, "
    "migrationCause INTEGER, graphNodeId INTEGER, virtualAddress INTEGER",
    MEMSET: "start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL, "
    "contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, "
    "correlationId INTEGER, globalPid INTEGER, value INTEGER NOT NULL, "
    "bytes INTEGER NOT NULL, graphNodeId INTEGER, memKind INTEGER",
    NVTX: "start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, rangeId INTEGER, "
    "category INTEGER, color INTEGER, text TEXT, globalTid INTEGER, endGlobalTid INTEGER, "
    "textId INTEGER, domainId INTEGER, uint64Value INTEGER, int64Value INTEGER, "
    "doubleValue REAL, uint32Value INTEGER, int32Value INTEGER, floatValue REAL, "
    "jsonTextId INTEGER, jsonText TEXT, binaryData TEXT",
    "ENUM_CUDA_MEMCPY_OPER": "id INTEGER NOT NULL PRIMARY KEY, name TEXT, label TEXT",
    "TARGET_INFO_SESSION_START_TIME": "utcEpochNs INTEGER, utcTime TEXT, localTime TEXT, "
    "systemClockNs INTEGER",
    "TARGET_INFO_GPU": "vmId INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT, "
    "busLocation TEXT, isDiscrete INTEGER, l2CacheSize INTEGER, totalMemory INTEGER, "
    "memoryBandwidth INTEGER, clockRate INTEGER, smCount INTEGER, chipName TEXT, "
    "cuDevice INTEGER, computeMajor INTEGER, computeMinor INTEGER",
    "PROCESSES": "globalPid INTEGER, pid INTEGER, name TEXT",
    "META_DATA_EXPORT": "name TEXT NOT NULL, value TEXT",
}
ACTIVITY_TABLES = (RUNTIME, KERNEL, MEMCPY, MEMSET, NVTX)


@dataclass(frozen=True)
class Gpu:
    """One row of TARGET_INFO_GPU: its name and peak memory bandwidth (bytes/s, None: NULL)."""

    name: str
    memory_bandwidth: int | None = None
    device: int = 0


@dataclass
class ExportBuilder:
    """Rows of a small nsys export, written by ``write``. See the module docstring."""

    session_start_utc_ns: int | None = SESSION_START_UTC_NS
    gpus: list[Gpu] = field(default_factory=lambda: [Gpu("NVIDIA H100 80GB HBM3", None)])
    process_name: str | None = "llama-server"
    nsys_version: str | None = "2026.1.1.204"
    empty_tables: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)  # more META_DATA_EXPORT rows
    strings: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {t: [] for t in ACTIVITY_TABLES})
    next_correlation: int = 1

    def string(self, text: str) -> int:
        """The StringIds id of ``text`` (added on first use, ids from 1 in order of use)."""
        if text not in self.strings:
            self.strings[text] = len(self.strings) + 1
        return self.strings[text]

    def api(
        self,
        name: str,
        start: int,
        end: int,
        *,
        tid: int = GLOBAL_TID,
        correlation: int | None = None,
    ) -> int:
        """One CUDA API call (runtime or driver) on thread ``tid``; returns its correlationId."""
        if correlation is None:
            correlation = self.next_correlation
        self.next_correlation = max(self.next_correlation, correlation + 1)
        event_class = 1 if name.startswith("cu") and not name.startswith("cuda") else 0
        self.rows[RUNTIME].append(
            (start, end, event_class, tid, correlation, self.string(name), 0, None)
        )
        return correlation

    def kernel(
        self,
        name: str,
        start: int,
        end: int,
        *,
        correlation: int | None = None,
        device: int = 0,
        stream: int = 7,
        short: str | None = None,
        mangled: str | None = None,
        pid: int = GLOBAL_PID,
        graph_node: int | None = None,
    ) -> None:
        """One kernel (``short``: its base name, default the name up to ``<`` or ``(``)."""
        if short is None:
            short = name.removeprefix("void ").split("<")[0].split("(")[0]
        self.rows[KERNEL].append(
            (
                start, end, device, 1, None, stream, correlation, pid, self.string(name),
                self.string(short), None if mangled is None else self.string(mangled),
                0, 0, 32, 1, 1, 1, 128, 1, 1, 0, 0, 0, 0, len(self.rows[KERNEL]) + 1, 0,
                graph_node, 0,
            )
        )  # fmt: skip

    def memcpy(
        self,
        start: int,
        end: int,
        nbytes: int,
        kind: str | int = "HtoD",
        *,
        correlation: int | None = None,
        device: int = 0,
        stream: int = 7,
        pid: int = GLOBAL_PID,
    ) -> None:
        """One memcpy; ``kind`` a direction (``HtoD``, ``DtoH``, ``DtoD``...) or a copyKind."""
        copy_kind = COPY_KINDS[kind] if isinstance(kind, str) else kind
        self.rows[MEMCPY].append(
            (
                start, end, device, 1, None, stream, correlation, pid, nbytes, copy_kind,
                None, None, None, None, None, None, None, None, None, None,
            )
        )  # fmt: skip

    def memset(
        self,
        start: int,
        end: int,
        nbytes: int,
        *,
        correlation: int | None = None,
        device: int = 0,
        stream: int = 7,
        pid: int = GLOBAL_PID,
    ) -> None:
        """One memset."""
        self.rows[MEMSET].append(
            (start, end, device, 1, None, stream, correlation, pid, 0, nbytes, None, 2)
        )

    def launch(
        self,
        kernel: str,
        api_start: int,
        api_end: int,
        kernel_start: int,
        kernel_end: int,
        *,
        call: str = "cudaLaunchKernel_v7000",
        tid: int = GLOBAL_TID,
        **kernel_options: object,
    ) -> int:
        """A launch call and the kernel it launched (same correlationId); returns the id."""
        correlation = self.api(call, api_start, api_end, tid=tid)
        self.kernel(kernel, kernel_start, kernel_end, correlation=correlation, **kernel_options)  # type: ignore[arg-type]
        return correlation

    def nvtx(
        self,
        text: str | None,
        start: int,
        end: int | None,
        *,
        tid: int = GLOBAL_TID,
        push_pop: bool = True,
        registered: bool = False,
    ) -> None:
        """One NVTX range: push/pop (eventType 59) or start/end (60); its name in ``text``,
        or registered in StringIds (``textId``) when ``registered``. ``end`` None: never
        closed."""
        event_type = NVTX_PUSH_POP if push_pop else NVTX_START_END
        text_id = self.string(text) if registered and text is not None else None
        self.rows[NVTX].append(
            (
                start, end, event_type, None if push_pop else len(self.rows[NVTX]) + 1, None,
                None, None if registered else text, tid, None if push_pop else tid, text_id,
                0, None, None, None, None, None, None, None, None, None,
            )
        )  # fmt: skip

    def write(self, path: str | Path) -> Path:
        """Write the export to ``path`` (which must not exist) and return it."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(path)
        con = sqlite3.connect(path)
        try:
            with con:
                self._write(con)
        finally:
            con.close()
        return path

    def _write(self, con: sqlite3.Connection) -> None:
        tables = ["StringIds", "ENUM_CUDA_MEMCPY_OPER", "TARGET_INFO_GPU", "PROCESSES"]
        tables += ["META_DATA_EXPORT", "TARGET_INFO_SESSION_START_TIME"]
        tables += [t for t in ACTIVITY_TABLES if self.rows[t] or t in self.empty_tables]
        for table in tables:
            con.execute(f"CREATE TABLE {table} ({SCHEMA[table]})")
        for table in ACTIVITY_TABLES:
            if self.rows[table]:
                marks = ",".join("?" * len(self.rows[table][0]))
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", self.rows[table])
        con.executemany(
            "INSERT INTO StringIds VALUES (?, ?)", [(i, s) for s, i in self.strings.items()]
        )
        con.executemany(
            "INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES (?, ?, ?)",
            [(i, f"CUDA_MEMCPY_OPER_{i}", label) for i, label in enumerate(MEMCPY_LABELS)],
        )
        con.executemany(
            "INSERT INTO TARGET_INFO_GPU (vmId, id, name, memoryBandwidth, cuDevice) "
            "VALUES (?, ?, ?, ?, ?)",
            [(1 << 48, g.device, g.name, g.memory_bandwidth, g.device) for g in self.gpus],
        )
        if self.process_name is not None:
            con.execute(
                "INSERT INTO PROCESSES VALUES (?, ?, ?)", (GLOBAL_PID, PID, self.process_name)
            )
        if self.nsys_version is not None:
            con.execute(
                "INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_PRODUCT_VERSION', ?)",
                (self.nsys_version,),
            )
        con.executemany("INSERT INTO META_DATA_EXPORT VALUES (?, ?)", list(self.meta.items()))
        if self.session_start_utc_ns is not None:
            con.execute(
                "INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (?, NULL, NULL, NULL)",
                (self.session_start_utc_ns,),
            )


# --- the capture record beside an export -------------------------------------------------------


@dataclass(frozen=True)
class TimedRequest:
    """One request of a schema-2 record, its times on the nsys timeline (ns since the session
    start; ``record_json`` turns them into wall-clock ns). ``first_token`` None: not streamed."""

    start: int
    first_token: int | None
    end: int
    prompt_tokens: int = 16
    generated_tokens: int = 8


def record_json(
    requests: list[TimedRequest],
    *,
    name: str = "run",
    session_start_utc_ns: int = SESSION_START_UTC_NS,
    concurrency: int = 1,
    weights: dict | None = None,
    server_ready: int | None = None,
) -> dict:
    """A schema-2 capture record (``llamaprof.record``) for ``requests``: wall-clock request
    times are the timeline times plus ``session_start_utc_ns``; totals are summed."""
    zero = session_start_utc_ns
    rows = []
    for index, r in enumerate(requests):
        rows.append(
            {
                "index": index,
                "start_ns": zero + r.start,
                "first_token_ns": None if r.first_token is None else zero + r.first_token,
                "end_ns": zero + r.end,
                "elapsed_s": (r.end - r.start) / 1e9,
                "timings": {
                    "prompt_n": r.prompt_tokens,
                    "predicted_n": r.generated_tokens,
                    "cache_n": 0,
                },
            }
        )
    clock: dict[str, int | None] = {"capture_start_ns": zero}
    if server_ready is not None:
        clock["server_ready_ns"] = zero + server_ready
    if requests:
        clock["workload_start_ns"] = zero + min(r.start for r in requests)
        clock["workload_end_ns"] = zero + max(r.end for r in requests)
    return {
        "schema": 2,
        "name": name,
        "label": name,
        "profiled": True,
        "workload": {"concurrency": concurrency, "requests": len(requests)},
        "clock": clock,
        "requests": rows,
        "totals": {
            "requests": len(requests),
            "prompt_tokens": sum(r.prompt_tokens for r in requests),
            "generated_tokens": sum(r.generated_tokens for r in requests),
        },
        "model": {"path": "model.gguf", "weights": weights},
    }
