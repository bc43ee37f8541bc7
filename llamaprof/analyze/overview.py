"""One-line facts per run: kernel and API time, bytes by direction, span, GPU busy share.

Kept streamlit-free: the header of the comparison page, the single-run page and the
Markdown report read the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from llamaprof import reports
from llamaprof.model import Run

__all__ = ["DIRECTIONS", "OVERVIEW_COLUMNS", "overview_table", "run_overview"]

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
