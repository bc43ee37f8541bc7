"""A run's activity over time, in fixed bins: GPU busy, GPU time by kernel family, CPU waits.

Per bin of ``bin_ns`` (default 10 ms) on the nsys timeline:

- GPU busy: the union of kernel, memcpy and memset intervals over every stream and device,
  clipped to the bin, so work overlapping on two streams counts once;
- GPU time by llama.cpp kernel family (``llama_kernels.kernel_family``) and of memory
  operations: each kernel's (operation's) time split across the bins it spans, summed, so
  concurrent kernels add up (a family's share of a bin can pass 100 % with several streams);
- CUDA API synchronisation time (``SYNC_CALLS``: the CPU waiting for the GPU), split across
  bins the same way, summed over threads.

Exact integer nanoseconds, vectorised: one pass of numpy per measure, no Python loop per event
(a seed-scale capture holds a million kernels). Kept streamlit-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llamaprof.analyze.cuda_calls import is_sync_call
from llamaprof.analyze.llama_kernels import FAMILY_NAMES, kernel_family
from llamaprof.analyze.phases import Phase, phases_of
from llamaprof.events import Events
from llamaprof.numeric import covered_before
from llamaprof.record import CaptureRecord

__all__ = [
    "DEFAULT_BIN_NS",
    "MAX_BINS",
    "Aligned",
    "aligned_timelines",
    "family_column",
    "nice_bin_ns",
    "timeline",
]

DEFAULT_BIN_NS = 10_000_000
#: More bins than this is refused (a bin far too small for the range asked).
MAX_BINS = 2_000_000


def family_column(family: str) -> str:
    """The timeline column of a kernel family: ``matmul`` -> ``matmul_ns``."""
    return f"{family}_ns"


def timeline(
    events: Events,
    *,
    bin_ns: int = DEFAULT_BIN_NS,
    start_ns: int | None = None,
    end_ns: int | None = None,
    origin_ns: int | None = None,
) -> pd.DataFrame:
    """Activity per bin of ``events`` over [``start_ns``, ``end_ns``) (default: the capture,
    first event to last end), bins aligned on ``origin_ns`` (default ``start_ns``): every bin
    is [origin + k·bin, origin + (k+1)·bin), whole bins covering the range.

    Columns (one row per bin, times in ns, shares in % of the bin's length):

    - ``bin_start_ns``, ``bin_end_ns``;
    - ``gpu_busy_ns``, ``gpu_busy_pct``: the union of all GPU work inside the bin (the share
      rounded to 3 decimals);
    - ``kernel_ns``: kernel time inside the bin, summed over kernels (overlaps add up);
    - one ``<family>_ns`` per kernel family in ``FAMILY_NAMES`` order (``matmul_ns`` …
      ``other_ns``), always all of them;
    - ``memory_ns``: memcpy and memset time inside the bin, summed;
    - ``sync_ns``: CPU time in synchronisation calls (``SYNC_CALLS``) inside the bin, summed;
    - ``kernels``: kernels starting in the bin.

    Raises ValueError for a bin that is not positive or would make more than ``MAX_BINS``.
    """
    if bin_ns <= 0:
        raise ValueError(f"the bin must be longer than 0 ns, not {bin_ns}")
    bounds = events.bounds()
    first = bounds[0] if bounds else 0
    last = max(bounds[1], events.capture_end_ns or 0) if bounds else 0
    start = first if start_ns is None else start_ns
    end = last if end_ns is None else end_ns
    origin = start if origin_ns is None else origin_ns
    k0 = (start - origin) // bin_ns
    k1 = -((origin - end) // bin_ns)  # ceil((end - origin) / bin)
    count = max(0, k1 - k0)
    if count > MAX_BINS:
        raise ValueError(
            f"{count:,} bins of {bin_ns:,} ns: more than {MAX_BINS:,}; use a longer bin"
        )
    edges = origin + (k0 + np.arange(count + 1, dtype=np.int64)) * bin_ns
    grid = _Grid(origin + k0 * bin_ns, bin_ns, count)
    frame = pd.DataFrame({"bin_start_ns": edges[:-1], "bin_end_ns": edges[1:]})

    busy = np.zeros(count, dtype=np.int64)
    lows, highs = events.gpu_union()
    if len(lows) and count:
        busy = np.diff(covered_before(lows, highs, edges))
    frame["gpu_busy_ns"] = busy
    frame["gpu_busy_pct"] = np.round(busy * 100.0 / bin_ns, 3)

    families = np.zeros((len(FAMILY_NAMES), count), dtype=np.int64)
    started = np.zeros(count, dtype=np.int64)
    kernels = events.kernels
    if kernels is not None and len(kernels) and count:
        names = events.kernel_names["demangled"].tolist()
        family_of_code = np.array(
            [FAMILY_NAMES.index(kernel_family(str(n))) for n in names], dtype=np.int64
        )
        k_start = kernels["start_ns"].to_numpy()
        groups = family_of_code[kernels["name"].to_numpy()]
        families = grid.spread(
            k_start, kernels["duration_ns"].to_numpy(), groups, len(FAMILY_NAMES)
        )
        started = grid.tally(k_start)
    frame["kernel_ns"] = families.sum(axis=0)
    for index, family in enumerate(FAMILY_NAMES):
        frame[family_column(family)] = families[index]

    memory = events.memory
    frame["memory_ns"] = (
        grid.spread(memory["start_ns"].to_numpy(), memory["duration_ns"].to_numpy())[0]
        if memory is not None and len(memory) and count
        else np.zeros(count, dtype=np.int64)
    )
    api = events.api
    sync = np.zeros(count, dtype=np.int64)
    if api is not None and len(api) and count:
        codes = [i for i, name in enumerate(events.api_names) if is_sync_call(name)]
        rows = np.isin(api["name"].to_numpy(), np.array(codes, dtype=np.int64))
        if rows.any():
            sync = grid.spread(
                api["start_ns"].to_numpy()[rows], api["duration_ns"].to_numpy()[rows]
            )[0]
    frame["sync_ns"] = sync
    frame["kernels"] = started
    return frame


class _Grid:
    """``count`` bins of ``width`` ns from ``low``; what intervals put in each."""

    def __init__(self, low: int, width: int, count: int) -> None:
        self.low, self.width, self.count = low, width, count
        self.high = low + width * count

    def tally(self, starts: np.ndarray) -> np.ndarray:
        """How many of ``starts`` fall in each bin."""
        inside = starts[(starts >= self.low) & (starts < self.high)]
        counts = np.bincount((inside - self.low) // self.width, minlength=self.count)
        return counts.astype(np.int64)

    def spread(
        self,
        starts: np.ndarray,
        durations: np.ndarray,
        groups: np.ndarray | None = None,
        n_groups: int = 1,
    ) -> np.ndarray:
        """(n_groups, bins) int64: each interval's length inside each bin, summed per group.

        An interval within one bin adds its length there; one spanning bins adds its head to
        the first, its tail to the last and a whole bin to each between (a difference array).
        Negative durations count as empty, as in the GPU busy time.
        """
        width, count = self.width, self.count
        s = np.clip(starts, self.low, self.high) - self.low
        e = np.clip(starts + np.maximum(durations, 0), self.low, self.high) - self.low
        keep = e > s
        s, e = s[keep], e[keep]
        g = np.zeros(len(s), dtype=np.int64) if groups is None else groups[keep]
        b0, b1 = s // width, (e - 1) // width
        cells = n_groups * count
        same = b0 == b1
        out = np.bincount(
            g[same] * count + b0[same], weights=(e - s)[same], minlength=cells
        ).astype(np.float64)
        span = ~same
        if span.any():
            g_s, s_s, e_s, b0_s, b1_s = g[span], s[span], e[span], b0[span], b1[span]
            out += np.bincount(
                g_s * count + b0_s, weights=(b0_s + 1) * width - s_s, minlength=cells
            )
            out += np.bincount(g_s * count + b1_s, weights=e_s - b1_s * width, minlength=cells)
            whole = np.zeros(cells + 1, dtype=np.int64)  # bins strictly between b0 and b1
            np.add.at(whole, g_s * count + b0_s + 1, 1)
            np.add.at(whole, g_s * count + b1_s, -1)
            runs = np.cumsum(whole[:-1].reshape(n_groups, count), axis=1)
            out += (runs * width).reshape(-1)
        # float64 sums of integers stay exact below 2**53 ns (104 days) per cell
        return np.rint(out).astype(np.int64).reshape(n_groups, count)


def nice_bin_ns(span_ns: int, bins: int = 400) -> int:
    """A round bin length (1, 2 or 5 × 10^k ns, at least 1 µs) that cuts ``span_ns`` into at
    most about ``bins`` bins.

    >>> nice_bin_ns(4_000_000_000), nice_bin_ns(1_000_000), nice_bin_ns(0)
    (10000000, 5000, 1000)
    """
    wanted = max(1, -(-span_ns // bins))
    size = 1_000
    while True:
        for step in (1, 2, 5):
            if size * step >= wanted:
                return size * step
        size *= 10


@dataclass(frozen=True)
class Aligned:
    """Timelines of several runs drawn together: ``timelines`` (label -> ``timeline``
    frame, one bin length for all), ``origins`` (label -> the run's workload start, else its
    first event: where x = 0 is drawn), ``phases`` (label -> its phases), ``bin_ns``."""

    timelines: dict[str, pd.DataFrame]
    origins: dict[str, int]
    phases: dict[str, list[Phase]]
    bin_ns: int


def aligned_timelines(
    runs: Mapping[str, tuple[Events, CaptureRecord | None]], *, bins: int = 400
) -> Aligned:
    """Whole-capture timelines of ``runs`` (label -> (events, record)), aligned at each
    run's workload start (from its record, else detected) so an A/B reads at a glance: bins
    of one round length (``nice_bin_ns`` of the longest capture) counted from that origin."""
    phases = {label: phases_of(events, record) for label, (events, record) in runs.items()}
    origins: dict[str, int] = {}
    spans = []
    for label, (events, _) in runs.items():
        bounds = events.bounds()
        first, last = bounds if bounds else (0, 0)
        workload = next((p.start_ns for p in phases[label] if p.kind == "workload"), None)
        origins[label] = workload if workload is not None else first
        spans.append(max(last, events.capture_end_ns or last) - min(first, origins[label]))
    bin_ns = nice_bin_ns(max(spans, default=0), bins)
    timelines = {
        label: timeline(events, bin_ns=bin_ns, origin_ns=origins[label])
        for label, (events, _) in runs.items()
    }
    return Aligned(timelines, origins, phases, bin_ns)
