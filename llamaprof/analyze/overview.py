"""One-line facts per run: kernel and API time, bytes by direction, span, GPU busy share,
the GPUs it ran on and its kernel time per GPU.

Kept streamlit-free: the header of the comparison page, the single-run page and the
Markdown report read the same numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import pandas as pd

from llamaprof import reports
from llamaprof.model import Run
from llamaprof.record import CaptureRecord

__all__ = [
    "DEVICE_COLUMNS",
    "DIRECTIONS",
    "GROUP_KEYS",
    "OVERVIEW_COLUMNS",
    "group_overview",
    "kernel_time_by_device",
    "overview_table",
    "run_gpus",
    "run_overview",
]

#: Canonical memory-operation directions (``llamaprof.reports.canonical_op``) counted as
#: host-to-device, device-to-host and device-to-device bytes. CUDA arrays live in device
#: memory, so ``HtoA`` counts as host-to-device; everything else (memset, ``PtoP``, ``HtoH``,
#: ``Unknown``) is ``bytes_other``.
DIRECTIONS: dict[str, frozenset[str]] = {
    "bytes_htod": frozenset({"HtoD", "HtoA", "UM HtoD"}),
    "bytes_dtoh": frozenset({"DtoH", "AtoH", "UM DtoH"}),
    "bytes_dtod": frozenset({"DtoD", "DtoA", "AtoD", "AtoA", "UM DtoD"}),
}

#: Columns of ``overview_table``, in order.
OVERVIEW_COLUMNS = [
    "run",
    "kernel_time_ns",
    "api_time_ns",
    "memops_time_ns",
    "bytes_htod",
    "bytes_dtoh",
    "bytes_dtod",
    "bytes_other",
    "span_ns",
    "gpu_busy_share",
    "nsys_version",
    "gpus",
    "format",
]
_INT_COLUMNS = [c for c in OVERVIEW_COLUMNS if c.endswith("_ns") or c.startswith("bytes_")]


def _total(run: Run, report: str, column: str) -> int | float | None:
    """Sum of ``column`` over a summary; None when the source lacks the report."""
    frame = run.summary(report)
    if frame is None:
        return None
    total = frame[column].sum() if len(frame) else 0
    return total.item() if hasattr(total, "item") else total


def run_overview(run: Run) -> dict[str, object]:
    """The facts of one run, None where the source does not hold them.

    Keys (times ns, sizes bytes):

    - ``kernel_time_ns``: total GPU kernel time (sum over ``cuda_gpu_kern_sum``; concurrent
      kernels add up, as in nsys).
    - ``api_time_ns``: total CUDA API time (runtime and driver calls, ``cuda_api_sum``).
    - ``memops_time_ns``: total memory-operation time (memcpy and memset).
    - ``bytes_htod``, ``bytes_dtoh``, ``bytes_dtod``, ``bytes_other``: bytes moved by
      direction (see ``DIRECTIONS``); memset bytes count as other.
    - ``span_ns``: capture span; ``gpu_busy_share``: GPU busy time over the span, 0..1.
    - ``nsys_version``: str; ``gpus``: list of GPU names (empty when unknown);
      ``format``: the source format (``ReportFormat`` value, "sqlite", "stats-text"…).
    """
    facts: dict[str, object] = {
        "kernel_time_ns": _total(run, reports.KERNELS, "total_ns"),
        "api_time_ns": _total(run, reports.API, "total_ns"),
        "memops_time_ns": _total(run, reports.MEM_TIME, "total_ns"),
    }
    sizes = run.summary(reports.MEM_SIZE)
    if sizes is None:
        facts.update(dict.fromkeys([*DIRECTIONS, "bytes_other"]))
    else:
        known: set[str] = set()
        for column, ops in DIRECTIONS.items():
            picked = sizes["total_bytes"][sizes["op"].isin(ops)].sum() if len(sizes) else 0
            facts[column] = picked.item() if hasattr(picked, "item") else picked
            known |= ops
        rest = sizes["total_bytes"][~sizes["op"].isin(known)].sum() if len(sizes) else 0
        facts["bytes_other"] = rest.item() if hasattr(rest, "item") else rest
    facts.update(
        span_ns=run.info.span_ns,
        gpu_busy_share=run.info.gpu_busy_share,
        nsys_version=run.info.nsys_version,
        gpus=list(run.info.gpus),
        format=run.format.value,
    )
    return facts


def overview_table(runs: Mapping[str, Run]) -> pd.DataFrame:
    """One row per run (label in column ``run``), columns ``OVERVIEW_COLUMNS``.

    Times and sizes are nullable integers (``Int64``; <NA> where unknown; a summary
    printed in ms or MB by ``nsys stats`` is rounded to the nearest ns / byte), the busy
    share a float in 0..1 (NaN where unknown), ``gpus`` the GPU names joined by ", ".
    """
    rows = []
    for label, run in runs.items():
        facts = run_overview(run)
        facts["gpus"] = ", ".join(facts["gpus"]) or None  # type: ignore[arg-type]
        rows.append({"run": label, **facts})
    table = pd.DataFrame(rows, columns=OVERVIEW_COLUMNS)
    for column in _INT_COLUMNS:
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    table["gpu_busy_share"] = pd.to_numeric(table["gpu_busy_share"]).astype("float64")
    return table


#: The numbers of ``run_overview`` that ``group_overview`` averages, in order.
GROUP_KEYS = (
    "kernel_time_ns",
    "api_time_ns",
    "bytes_htod",
    "bytes_dtoh",
    "bytes_dtod",
    "span_ns",
    "gpu_busy_share",
)
_DIVIDED = ("kernel_time_ns", "api_time_ns")


def group_overview(
    runs: Sequence[Run | None], factors: Sequence[float] | None = None
) -> dict[str, tuple[float | None, float]]:
    """The facts of one run, or of the repeats of one config: per key of ``GROUP_KEYS``, the
    mean over the runs that know it and their sample standard deviation (0 for one run);
    ``(None, 0.0)`` where none does (a format without the report, a capture record alone).

    ``factors``: what each run's ``kernel_time_ns`` and ``api_time_ns`` are divided by
    (its normalisation; default 1); bytes, span and busy share stay as they are.

    >>> from pathlib import Path
    >>> from llamaprof.model import ReportFormat, RunInfo
    >>> runs = [Run(Path(f"{n}.txt"), ReportFormat.STATS_TEXT, info=RunInfo(span_ns=n))
    ...         for n in (100, 140)]
    >>> group_overview(runs)["span_ns"], group_overview(runs)["kernel_time_ns"]
    ((120.0, 28.284271247461902), (None, 0.0))
    """
    factors = list(factors) if factors is not None else [1.0] * len(runs)
    facts = [
        (run_overview(run), factor)
        for run, factor in zip(runs, factors, strict=True)
        if run is not None
    ]
    out: dict[str, tuple[float | None, float]] = {}
    for key in GROUP_KEYS:
        values = [
            float(f[key]) / (factor if key in _DIVIDED else 1.0)  # type: ignore[arg-type]
            for f, factor in facts
            if f[key] is not None
        ]
        if not values:
            out[key] = (None, 0.0)
            continue
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = (statistics.fmean(values), std)
    return out


#: Columns of ``kernel_time_by_device``, in order.
DEVICE_COLUMNS = ["device", "gpu", "kernel_time_ns", "std_ns", "kernels", "share"]


def kernel_time_by_device(
    runs: Sequence[Run | None], factors: Sequence[float] | None = None
) -> pd.DataFrame:
    """GPU kernel time per CUDA device, from the kernel events of one run or of the repeats
    of one config (their mean).

    ``factors``: what each run's times are divided by (its normalisation; default 1).
    Columns (``DEVICE_COLUMNS``): ``device`` (the CUDA device id; -1 where the export does
    not say), ``gpu`` (its name where the first run's export lists the GPUs, by device id;
    "" otherwise), ``kernel_time_ns`` (the sum of the device's kernel durations as the kernel
    summary sums them, the mean over the runs; a run without the device counts 0),
    ``std_ns`` (their sample standard deviation, 0 for one run), ``kernels`` (launches,
    mean), ``share`` (of the mean kernel time, 0..1). One row per device, by device id.
    Empty (with those columns) when no run has kernel events: ``nsys stats`` text or CSV, a
    capture record alone, a run without kernels.

    >>> from pathlib import Path
    >>> from llamaprof.events import Events
    >>> from llamaprof.model import ReportFormat, RunInfo
    >>> k = pd.DataFrame({"start_ns": [0, 5, 9], "duration_ns": [30, 10, 60],
    ...                   "name": [0, 0, 1], "device": [1, 0, 1]})
    >>> run = Run(Path("r.sqlite"), ReportFormat.SQLITE, events=Events(kernels=k),
    ...           info=RunInfo(gpus=["A100", "H100"]))
    >>> kernel_time_by_device([run])[["device", "gpu", "kernel_time_ns", "share"]]
       device   gpu  kernel_time_ns  share
    0       0  A100            10.0    0.1
    1       1  H100            90.0    0.9
    """
    factors = list(factors) if factors is not None else [1.0] * len(runs)
    parts = []
    for position, (run, factor) in enumerate(zip(runs, factors, strict=True)):
        kernels = run.events.kernels if run is not None and run.events is not None else None
        if kernels is None or kernels.empty:
            continue
        grouped = kernels.groupby("device", sort=True)["duration_ns"].agg(["sum", "count"])
        parts.append(
            pd.DataFrame(
                {
                    "run": position,
                    "device": grouped.index.astype("int64"),
                    "time": grouped["sum"].to_numpy(dtype="float64") / factor,
                    "kernels": grouped["count"].to_numpy(dtype="float64"),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "device": pd.Series(dtype="int64"),
                "gpu": pd.Series(dtype="object"),
                "kernel_time_ns": pd.Series(dtype="float64"),
                "std_ns": pd.Series(dtype="float64"),
                "kernels": pd.Series(dtype="float64"),
                "share": pd.Series(dtype="float64"),
            }
        )
    data = pd.concat(parts, ignore_index=True)
    devices = sorted(int(d) for d in data["device"].unique())
    times = data.pivot_table(index="device", columns="run", values="time", aggfunc="sum")
    counts = data.pivot_table(index="device", columns="run", values="kernels", aggfunc="sum")
    # Every run counts, a run without kernels (or without one device) as 0.
    times = times.reindex(index=devices, columns=range(len(runs))).fillna(0.0)
    counts = counts.reindex(index=devices, columns=range(len(runs))).fillna(0.0)
    mean = times.mean(axis=1)
    total = float(mean.sum())
    first = next((r for r in runs if r is not None), None)
    names = first.info.gpus if first is not None else []
    return pd.DataFrame(
        {
            "device": pd.Series(devices, dtype="int64"),
            "gpu": [names[d] if 0 <= d < len(names) else "" for d in devices],
            "kernel_time_ns": mean.to_numpy(),
            "std_ns": times.std(axis=1, ddof=1).fillna(0.0).to_numpy() if len(runs) > 1 else 0.0,
            "kernels": counts.mean(axis=1).to_numpy(),
            "share": mean.to_numpy() / total if total else 0.0,
        }
    )


def run_gpus(run: Run | None, record: CaptureRecord | None = None) -> list[str | None]:
    """The GPUs a run had, one entry per GPU: its name, or None where nothing says it.

    Names come from the report (``RunInfo.gpus``, one per device), else from the capture
    record (what ``nvidia-smi`` listed); the count is at least the number of devices its
    kernels and memory operations ran on (an export without a GPU table still has those).
    [] when nothing tells (``nsys stats`` output without a GPU line, no record).

    >>> from pathlib import Path
    >>> from llamaprof.events import Events
    >>> from llamaprof.model import ReportFormat
    >>> k = pd.DataFrame({"start_ns": [0, 1], "duration_ns": [1, 1], "name": [0, 0],
    ...                   "device": [0, 1]})
    >>> run_gpus(Run(Path("r.sqlite"), ReportFormat.SQLITE, events=Events(kernels=k)))
    [None, None]
    """
    names: list[str | None] = list(run.info.gpus) if run is not None else []
    if not names and record is not None:
        names = [str(g["name"]) if g.get("name") else None for g in record.gpus]
    events = run.events if run is not None else None
    devices = events.devices() if events is not None else frozenset()
    used = max(devices) + 1 if devices else 0
    count = max(len(names), len(devices), used if names else len(devices))
    return names + [None] * (count - len(names))
