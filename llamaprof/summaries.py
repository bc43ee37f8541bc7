"""The four CUDA summaries of ``nsys stats``, computed from a run's events.

One computation for the whole capture (the SQLite reader calls it once per export) and for
any time window (``llamaprof.analyze.windows`` calls it on the events a window selects), so
both give the rows, order and rounding current nsys (2024+) prints
(``shared/docs/nsys-stats-semantics.md`` §1-3). Vectorised numpy (``llamaprof.numeric``):
no Python loop per event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.events import Events
from llamaprof.model import KernelNaming
from llamaprof.numeric import factorize, group_stats, order_by_total, size_frame, time_frame

__all__ = ["MEMSET_LABEL", "Summaries", "summarize"]

#: The label nsys gives memset rows in the memory summaries.
MEMSET_LABEL = "[CUDA memset]"

#: (summaries by report name, reports skipped -> nsys's reason, kernel summaries by naming)
Summaries = tuple[dict[str, pd.DataFrame], dict[str, str], dict[KernelNaming, pd.DataFrame]]


def summarize(events: Events) -> Summaries:
    """The four summaries of ``events`` (``llamaprof.reports.COLUMNS``; ns, bytes).

    A report whose table the export lacks is skipped with nsys's wording; a table with no
    rows (in the window) gives an empty summary. Kernels are also summarised by base and
    mangled name (``KernelNaming``), from the same grouping.
    """
    summaries: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    variants: dict[KernelNaming, pd.DataFrame] = {}
    if events.api is not None:
        summaries[reports.API] = api_summary(events)
    else:
        skipped[reports.API] = reports.SKIP_REASONS[reports.API]
    if events.kernels is not None:
        default, base, mangled = kernel_summaries(events)
        summaries[reports.KERNELS] = default
        variants[KernelNaming.BASE] = base
        variants[KernelNaming.MANGLED] = mangled
    else:
        skipped[reports.KERNELS] = reports.SKIP_REASONS[reports.KERNELS]
    if events.memory is not None:
        summaries[reports.MEM_TIME], summaries[reports.MEM_SIZE] = memory_summaries(events)
    else:
        for report in (reports.MEM_TIME, reports.MEM_SIZE):
            skipped[report] = reports.SKIP_REASONS[report]
    return summaries, skipped, variants


def api_summary(events: Events) -> pd.DataFrame:
    """``cuda_api_sum``: calls grouped by name id (two ids whose names strip to one text stay
    two rows, as in nsys), ``ORDER BY total DESC`` with ties in name-id order."""
    api = events.api
    assert api is not None
    keys, codes = factorize(api["name"].to_numpy())
    stats = group_stats(codes, len(keys), api["duration_ns"].to_numpy())
    names = [events.api_names[k] for k in keys.tolist()]
    return order_by_total(time_frame(stats, names), "total_ns")[reports.COLUMNS[reports.API]]


def kernel_summaries(events: Events) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Kernel summary by demangled (default), base and mangled name, from one grouping.

    Rows are grouped once by their (demangled, base, mangled) id triple; a naming whose
    groups are exactly those triples (the usual case) reuses that grouping's statistics.
    A kernel without a mangled name falls back to its demangled one, as nsys does.
    """
    kernels = events.kernels
    assert kernels is not None
    present, codes = factorize(kernels["name"].to_numpy())
    table = events.kernel_names.iloc[present]
    triples = table[["demangled_id", "base_id", "mangled_id"]].to_numpy(dtype=np.int64)
    d = kernels["duration_ns"].to_numpy()
    fine = group_stats(codes, len(triples), d)
    names = _Names(events.kernel_names)
    mangled_or_demangled = np.where(triples[:, 2] < 0, triples[:, 0], triples[:, 2])
    return (
        _kernel_frame(triples[:, 0], triples, codes, d, fine, names),
        _kernel_frame(triples[:, 1], triples, codes, d, fine, names),
        _kernel_frame(mangled_or_demangled, triples, codes, d, fine, names),
    )


class _Names:
    """StringIds id -> text, for the ids of the kernel-name table."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.text: dict[int, str | None] = {}
        for id_column, text_column in (
            ("demangled_id", "demangled"),
            ("base_id", "base"),
            ("mangled_id", "mangled"),
        ):
            pairs = zip(table[id_column].tolist(), table[text_column].tolist(), strict=True)
            self.text.update((i, t) for i, t in pairs if i >= 0)

    def __call__(self, ids: np.ndarray) -> list[str | None]:
        return [None if i < 0 else self.text[i] for i in ids.tolist()]


def _kernel_frame(
    naming: np.ndarray,
    triples: np.ndarray,
    codes: np.ndarray,
    d: np.ndarray,
    fine: dict[str, np.ndarray],
    names: _Names,
) -> pd.DataFrame:
    """Kernel summary grouped by ``naming`` (one name id per triple).

    The name columns take each group's lowest id, so a demangled name that maps to
    several short names shows the first.
    """
    keys, group_of_triple = factorize(naming)
    if len(keys) == len(triples):  # one triple per group: reorder, don't recompute
        order = np.argsort(group_of_triple)
        stats = {name: values[order] for name, values in fine.items()}
    else:
        stats = group_stats(group_of_triple[codes], len(keys), d)
    big = np.iinfo(np.int64).max
    name_ids = []
    for column in range(3):
        lowest = np.full(len(keys), big, dtype=np.int64)
        ids = triples[:, column]
        np.minimum.at(lowest, group_of_triple, np.where(ids >= 0, ids, big))
        name_ids.append(np.where(lowest == big, -1, lowest))
    frame = time_frame(stats, names(keys))  # type: ignore[arg-type]
    frame["demangled_name"] = names(name_ids[0])
    frame["base_name"] = names(name_ids[1])
    frame["mangled_name"] = pd.Series(names(name_ids[2]), dtype="str")
    frame["grid"] = pd.Series(None, index=frame.index, dtype="str")
    frame["block"] = pd.Series(None, index=frame.index, dtype="str")
    # 2024+: ORDER BY total DESC, instances ASC, name ASC
    frame = frame.sort_values(
        ["total_ns", "count", "name"], ascending=[False, True, True], kind="stable"
    )
    return frame.reset_index(drop=True)[reports.COLUMNS[reports.KERNELS]]


def memory_summaries(events: Events) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``cuda_gpu_mem_time_sum`` and ``cuda_gpu_mem_size_sum``: memcpy rows labelled by copyKind
    UNION ALL memset rows, grouped by label; ties of the total in label order."""
    memory = events.memory
    assert memory is not None
    known = memory["op"].to_numpy() >= 0
    keys, codes = factorize(memory["op"].to_numpy()[known].astype(np.int64))
    time_stats = group_stats(codes, len(keys), memory["duration_ns"].to_numpy()[known])
    size_stats = group_stats(codes, len(keys), memory["bytes"].to_numpy()[known])
    names = [events.memory_ops[k] for k in keys.tolist()]
    ops = [reports.canonical_op(n) for n in names]
    # GROUP BY name, ORDER BY total DESC: ties come out in name order
    by_name = sorted(range(len(names)), key=names.__getitem__)

    times = time_frame(time_stats, names).rename(columns={"name": "operation"})
    times["op"] = pd.Series(ops, dtype="str")
    bytes_ = size_frame(size_stats)
    bytes_["operation"] = pd.Series(names, dtype="str")
    bytes_["op"] = pd.Series(ops, dtype="str")
    return (
        order_by_total(times.iloc[by_name], "total_ns")[reports.COLUMNS[reports.MEM_TIME]],
        order_by_total(bytes_.iloc[by_name], "total_bytes")[reports.COLUMNS[reports.MEM_SIZE]],
    )
