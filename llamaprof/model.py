"""The model of one profiled run, whatever file it came from.

Kept streamlit-free so every layer (CLI, app, benchmarks) can share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pandas as pd

from llamaprof import reports
from llamaprof.events import Events, Window


class ReportFormat(Enum):
    """What kind of file a run was read from."""

    SQLITE = "sqlite"  # nsys export --type sqlite
    NSYS_REP = "nsys-rep"  # .nsys-rep / .qdrep, read through its SQLite export
    STATS_TEXT = "stats-text"  # the tables `nsys stats` prints
    STATS_CSV = "stats-csv"  # `nsys stats --format csv`


class KernelNaming(Enum):
    """Which kernel name groups the kernel summary, as nsys's ``:base``/``:mangled``."""

    DEMANGLED = "demangled"
    BASE = "base"
    MANGLED = "mangled"


@dataclass
class RunInfo:
    """Facts about a run beyond the four summaries; None where the source does not hold them.

    Times are ns, sizes bytes.
    """

    nsys_version: str | None = None  # "2025.1.3" / "2022.4.2.1"
    gpus: list[str] = field(default_factory=list)  # GPU names, one per device
    span_ns: int | None = None  # capture span: last end - first start of any CUDA activity/API
    start_utc: str | None = None  # session start, ISO 8601, UTC
    process_name: str | None = None  # the profiled process
    command_line: str | None = None  # its command line, when recorded
    gpu_busy_ns: int | None = None  # union of kernel/memcpy/memset intervals over all GPUs
    # Peak memory bandwidth of each GPU in ``gpus`` (bytes/s; TARGET_INFO_GPU.memoryBandwidth),
    # None where the export leaves it empty; [] where the export has no such column.
    memory_bandwidth_bps: list[int | None] = field(default_factory=list)
    # Whether kernels run inside CUDA graphs were traced one by one (kernel rows with a
    # ``graphNodeId``: ``--cuda-graph-trace=node``); None where the export cannot say.
    graph_nodes_traced: bool | None = None
    notes: list[str] = field(default_factory=list)  # anything a user should know (quirks seen)
    # Data the reader had to leave out (a table cut off, rows with impossible values): the
    # numbers are incomplete, so the CLI and the app say so wherever they show the run.
    warnings: list[str] = field(default_factory=list)

    @property
    def gpu_busy_share(self) -> float | None:
        """GPU busy time over the capture span, 0..1."""
        if not self.gpu_busy_ns or not self.span_ns:
            return None
        return self.gpu_busy_ns / self.span_ns


def label_from_name(name: str) -> str:
    """A run's default label from its file name: the name without its report extension.

    >>> label_from_name("a.nsys-rep"), label_from_name("b.TXT"), label_from_name("c.bin")
    ('a', 'b', 'c')
    """
    for suffix in (".nsys-rep", ".qdrep", ".sqlite", ".txt", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


@dataclass
class Run:
    """One profiled run: its summaries (see ``llamaprof.reports.COLUMNS``) and facts.

    ``summaries`` holds the reports the source contains, keyed by current report
    name; a report the source does not contain is in ``skipped`` with nsys's
    reason instead (``"does not contain CUDA kernel data."``).

    ``kernel_variants`` holds the kernel summary grouped by other namings where the
    source allows (SQLite exports: base and mangled names); the default
    (demangled) summary is ``summaries[KERNELS]``.

    ``events`` holds every CUDA event where the source has times (SQLite exports and
    ``.nsys-rep``; None for ``nsys stats`` text and CSV): time windows, phases and
    timelines read them (``llamaprof.events``). ``window`` names the time window the
    summaries cover (``llamaprof.analyze.windows``); None means the whole capture.
    """

    path: Path
    format: ReportFormat
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    info: RunInfo = field(default_factory=RunInfo)
    kernel_variants: dict[KernelNaming, pd.DataFrame] = field(default_factory=dict)
    events: Events | None = None
    window: Window | None = None

    @property
    def label(self) -> str:
        """Default label: the file name without its extensions."""
        return label_from_name(self.path.name)

    def summary(self, report: str) -> pd.DataFrame | None:
        """The summary of ``report`` (any alias), or None if the source lacks it."""
        return self.summaries.get(reports.canonical_report_name(report))

    def kernels(self, naming: KernelNaming = KernelNaming.DEMANGLED) -> pd.DataFrame | None:
        """Kernel summary grouped by ``naming``; falls back to the default summary.

        nsys itself falls back to demangled names when a mangled column is absent.
        """
        if naming is not KernelNaming.DEMANGLED and naming in self.kernel_variants:
            return self.kernel_variants[naming]
        return self.summaries.get(reports.KERNELS)
