"""The CUDA activity of a run as columns of events: what time windows, phases and timelines read.

An SQLite export (or an ``.nsys-rep`` through its export) keeps, beside its four summaries,
every CUDA API call, kernel and memory operation as one row of a column frame: its start on
the nsys timeline (ns since the session start, the zero of the export's own timestamps), its
duration, and a small integer that names it through a lookup table. The summaries of the whole
capture and of any window come from these frames by the same code (``llamaprof.summaries``), so
a window's numbers are nsys-style totals of whole events.

Kept streamlit-free; frames hold numpy integers only, so they store as Parquet in the on-disk
cache (``llamaprof.cache``) and load in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from llamaprof.numeric import merge_intervals

__all__ = [
    "API_COLUMNS",
    "KERNEL_COLUMNS",
    "KERNEL_NAME_COLUMNS",
    "MEMCPY",
    "MEMORY_COLUMNS",
    "MEMSET",
    "EventMask",
    "Events",
    "Interval",
    "Window",
    "in_intervals",
]

#: Columns of ``Events.api``: one row per CUDA runtime/driver call, in export (rowid) order.
#: ``name``: index into ``Events.api_names``.
API_COLUMNS = ["start_ns", "duration_ns", "name"]
#: Columns of ``Events.kernels``: one row per kernel; ``name``: index into ``Events.kernel_names``;
#: ``device``: the CUDA device id (-1 where the export does not say).
KERNEL_COLUMNS = ["start_ns", "duration_ns", "name", "device"]
#: Columns of ``Events.kernel_names``, one row per distinct (demangled, base, mangled) name-id
#: triple: the StringIds ids (``mangled_id`` -1 where the kernel has no mangled name) and the
#: names they stand for (``mangled`` None where there is none).
KERNEL_NAME_COLUMNS = ["demangled_id", "base_id", "mangled_id", "demangled", "base", "mangled"]
#: Columns of ``Events.memory``: memcpy rows (``kind`` MEMCPY) then memset rows (``kind``
#: MEMSET), each in export order; ``op``: index into ``Events.memory_ops`` (-1: a memcpy whose
#: copyKind has no label, left out of the summaries as nsys leaves it out, but GPU work all the
#: same); ``bytes``; ``device`` (-1 where the export does not say).
MEMORY_COLUMNS = ["start_ns", "duration_ns", "op", "bytes", "kind", "device"]
MEMCPY, MEMSET = 0, 1


Interval = tuple[int | None, int | None]


@dataclass(frozen=True)
class Window:
    """A time window on the nsys timeline: one or more half-open intervals [start, end) in ns
    since the session start (None: unbounded on that side), and the name people read.

    An event belongs to a window when its start lies in one of the intervals: CUDA API calls
    by their start, GPU work by its GPU start. Nothing is clipped. ``nvtx``: when set, only
    the events inside NVTX ranges of that name are taken besides (``llamaprof.sources.nvtx``).
    """

    name: str
    intervals: tuple[Interval, ...]
    nvtx: str | None = None
    #: where a named window's bounds come from: the phases' source ("record", "detected",
    #: "nvtx"); None for typed bounds and the whole capture
    source: str | None = None

    @property
    def start_ns(self) -> int | None:
        """Where the window begins (None: at the start of the capture)."""
        starts = [low for low, _ in self.intervals]
        return None if not starts or None in starts else min(s for s in starts if s is not None)

    @property
    def end_ns(self) -> int | None:
        """Where the window ends (None: at the end of the capture)."""
        ends = [high for _, high in self.intervals]
        return None if not ends or None in ends else max(e for e in ends if e is not None)

    @property
    def length_ns(self) -> int | None:
        """Total length of the intervals (None when one is unbounded)."""
        total = 0
        for low, high in self.intervals:
            if low is None or high is None:
                return None
            total += max(0, high - low)
        return total

    def to_dict(self) -> dict[str, object]:
        """``{"name", "start_ns", "end_ns"}``, plus ``intervals`` when there are several and
        ``nvtx`` when the events are those inside NVTX ranges of one name."""
        out: dict[str, object] = {
            "name": self.name,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
        }
        if len(self.intervals) > 1:
            out["intervals"] = [list(pair) for pair in self.intervals]
        if self.nvtx is not None:
            out["nvtx"] = self.nvtx
        return out


@dataclass(frozen=True)
class EventMask:
    """Which rows of each ``Events`` frame to keep (boolean arrays as long as the frames; None
    for a frame the run does not have): an event selection that is not a time window, such as
    the events inside NVTX ranges of one name (``llamaprof.sources.nvtx``)."""

    api: np.ndarray | None = None
    kernels: np.ndarray | None = None
    memory: np.ndarray | None = None


@dataclass
class Events:
    """Every CUDA event of one run, as column frames (see the ``*_COLUMNS`` constants).

    A frame is None where the export has no such table (nsys then skips the report); an
    empty frame where the table is there but holds no rows (or none in a window).
    ``session_start_utc_ns``: wall-clock time of the timeline's zero
    (``TARGET_INFO_SESSION_START_TIME.utcEpochNs``), None where the export lacks it.
    ``capture_end_ns``: the end of the last event of the whole capture (the timeline's
    extent, kept when a window selects fewer events).
    """

    api: pd.DataFrame | None = None
    api_names: list[str] = field(default_factory=list)
    kernels: pd.DataFrame | None = None
    kernel_names: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=KERNEL_NAME_COLUMNS)
    )
    memory: pd.DataFrame | None = None
    memory_ops: list[str] = field(default_factory=list)
    session_start_utc_ns: int | None = None
    capture_end_ns: int | None = None
    # ``gpu_union``'s and ``devices``' last results and the frames they came from; never copied by
    # ``dataclasses.replace`` (init=False), never compared
    _union: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _devices: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def select(self, intervals: Sequence[Interval]) -> Events:
        """The events whose start lies in one of ``intervals`` ([start, end), ns; None: open).

        CUDA API calls count by their start, GPU work by its GPU start; nothing is clipped, so
        a selection's summaries are totals of whole events. Lookup tables are shared.
        """

        return self.where(self.in_window(intervals))

    def in_window(self, intervals: Sequence[Interval]) -> EventMask:
        """The rows of each frame whose start lies in one of ``intervals`` (see ``select``)."""

        def mask(frame: pd.DataFrame | None) -> np.ndarray | None:
            return None if frame is None else in_intervals(frame["start_ns"].to_numpy(), intervals)

        return EventMask(mask(self.api), mask(self.kernels), mask(self.memory))

    def where(self, *masks: EventMask) -> Events:
        """The events every mask keeps (masks combine with AND). Lookup tables are shared."""

        def keep(frame: pd.DataFrame | None, parts: list[np.ndarray | None]) -> pd.DataFrame | None:
            if frame is None:
                return None
            chosen = np.ones(len(frame), dtype=bool)
            for part in parts:
                if part is not None:
                    chosen &= part
            return frame[chosen].reset_index(drop=True)

        return replace(
            self,
            api=keep(self.api, [m.api for m in masks]),
            kernels=keep(self.kernels, [m.kernels for m in masks]),
            memory=keep(self.memory, [m.memory for m in masks]),
        )

    def gpu_parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(starts, durations) of all GPU work, one pair per frame (kernels; memory operations
        of any label): what ``llamaprof.numeric.union_length`` takes.

        An interval whose end precedes its start (an edited export) covers nothing: its
        duration reads 0 here, while the summaries still sum it as nsys does.
        """
        parts = []
        for frame in (self.kernels, self.memory):
            if frame is not None and len(frame):
                durations = frame["duration_ns"].to_numpy()
                if durations.min() < 0:
                    durations = np.maximum(durations, 0)
                parts.append((frame["start_ns"].to_numpy(), durations))
        return parts

    def gpu_union(self) -> tuple[np.ndarray, np.ndarray]:
        """The GPU work (``gpu_parts``) as sorted disjoint intervals (lows, highs): what GPU
        busy time per window or per timeline bin is measured on (``numeric.covered_before``).

        Computed once per set of frames and kept (a page measuring many windows of one run
        merges its million kernels once); replacing a frame recomputes it.
        """
        key = (id(self.kernels), id(self.memory))
        if self._union is None or self._union[0] != key:
            parts = self.gpu_parts()
            if parts:
                starts = np.concatenate([s for s, _ in parts])
                ends = starts + np.concatenate([d for _, d in parts])
                lows, highs = merge_intervals(starts, ends)
            else:
                lows = highs = np.empty(0, dtype=np.int64)
            self._union = (key, lows, highs)
        return self._union[1], self._union[2]

    def devices(self) -> frozenset[int]:
        """The CUDA devices GPU work ran on (kernels and memory operations; -1, "the export
        does not say", left out). Kept like ``gpu_union``: the run list asks on every rerun.
        """
        key = (id(self.kernels), id(self.memory))
        if self._devices is None or self._devices[0] != key:
            found: set[int] = set()
            for frame in (self.kernels, self.memory):
                if frame is not None and len(frame):
                    found.update(int(d) for d in frame["device"].unique() if d >= 0)
            self._devices = (key, frozenset(found))
        return self._devices[1]

    def bounds(self) -> tuple[int, int] | None:
        """(first start, last end) over every event, None when there is none."""
        firsts, lasts = [], []
        for frame in (self.api, self.kernels, self.memory):
            if frame is not None and len(frame):
                starts = frame["start_ns"].to_numpy()
                firsts.append(int(starts.min()))
                lasts.append(int((starts + frame["duration_ns"].to_numpy()).max()))
        if not firsts:
            return None
        return min(firsts), max(lasts)

    @property
    def has_cuda(self) -> bool:
        """True when the export holds any CUDA table (API calls, kernels or memory)."""
        return any(f is not None for f in (self.api, self.kernels, self.memory))


def in_intervals(
    values: np.ndarray, intervals: Sequence[Interval]
) -> np.ndarray:
    """Boolean mask: ``values`` lying in any of the half-open ``intervals`` (None: unbounded).

    Intervals may overlap and come in any order. One binary search per value over the merged
    interval edges (a value is inside when an odd number of edges lie at or before it), so a
    window of many intervals (``decode`` over hundreds of requests) costs what one does.

    >>> in_intervals(np.array([0, 5, 10, 15]), [(5, 10), (15, None)]).tolist()
    [False, True, False, True]
    """
    low_end, high_end = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    pairs = sorted(
        (low_end if low is None else low, high_end if high is None else high)
        for low, high in intervals
    )
    edges: list[int] = []
    for low, high in pairs:
        if high <= low:
            continue
        if edges and low <= edges[-1]:  # overlaps or touches the previous one: extend it
            edges[-1] = max(edges[-1], high)
        else:
            edges += [low, high]
    if not edges:
        return np.zeros(len(values), dtype=bool)
    position = np.searchsorted(np.array(edges, dtype=np.int64), values, side="right")
    return (position % 2) == 1
