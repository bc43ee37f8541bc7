"""Phases of a llama-server capture: start-up, the workload, each request, prefill and decode.

A capture holds the server's start-up (the weights going up to the GPU), warm-up, the
requests and idle stretches. llamaprof drove the workload, so the capture record knows when
each request ran (wall-clock ns, ``llamaprof.record``); the export's session start
(``Events.session_start_utc_ns``) puts those times on the nsys timeline. Without a record
(or with a schema-1 one, whose times are not wall-clock), the phases are detected from the
data and say so (``source`` "detected"): the model upload (the leading run of
host-to-device copies) and bursts of GPU work separated by idle gaps.

Times are ns on the nsys timeline: since the session start, the zero of the export's own
timestamps. Kept streamlit-free.

With concurrent requests (``--concurrency`` above 1) requests overlap and one kernel serves
several: a request's prefill is its start to its first streamed token, its decode the rest;
the ``prefill`` window is every moment some request awaits its first token, the ``decode``
window every moment requests are generating and none awaits its first token (so its kernels
are decode steps only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.events import Events, Interval
from llamaprof.numeric import merge_intervals
from llamaprof.record import CaptureRecord

__all__ = [
    "BURST_GAP_NS",
    "MAX_NVTX_PHASES",
    "PHASE_COLUMNS",
    "Phase",
    "decode_intervals",
    "detected_phases",
    "nvtx_phases",
    "phases_frame",
    "phases_of",
    "prefill_intervals",
    "record_phases",
]

#: Idle GPU time that separates two bursts of GPU work (detected phases): longer than the
#: gaps between decode steps (µs to a few ms), shorter than a pause between requests.
BURST_GAP_NS = 100_000_000
#: At most this many bursts are listed; the rest are summed into the last one listed.
MAX_BURSTS = 200
#: At most this many top-level NVTX ranges are listed as phases (the first ones in time).
MAX_NVTX_PHASES = 50
#: Columns of ``phases_frame``.
PHASE_COLUMNS = ["name", "start_ns", "end_ns", "duration_ns", "source"]


@dataclass(frozen=True)
class Phase:
    """One phase: ``name`` ("load", "workload", "request 3", "prefill 3", "decode 3",
    "burst 2"), [``start_ns``, ``end_ns``) on the nsys timeline, ``source`` ("record",
    "detected" or "nvtx"), ``kind`` (the name without its number) and the 1-based
    ``request`` number for request, prefill and decode phases."""

    name: str
    start_ns: int
    end_ns: int
    source: str
    kind: str
    request: int | None = None

    def to_dict(self) -> dict[str, object]:
        """``{"name", "start_ns", "end_ns", "source"}``, as ``llamaprof phases`` prints it."""
        return {
            "name": self.name,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "source": self.source,
        }


def phases_of(events: Events | None, record: CaptureRecord | None) -> list[Phase]:
    """The phases of a run: from its capture record when it has wall-clock request times and
    the export its session start, else detected from its events ([] without events)."""
    if events is None:
        return []
    phases = record_phases(events, record) if record is not None else []
    return phases or detected_phases(events)


def _aligned(record: CaptureRecord, events: Events) -> list[tuple[int, int, int | None]]:
    """(start, end, first token) of each request on the nsys timeline, in start order."""
    zero = events.session_start_utc_ns
    if zero is None or not record.timed:
        return []
    rows = []
    for request in record.requests:
        assert request.start_ns is not None and request.end_ns is not None  # record.timed
        first = request.first_token_ns
        rows.append(
            (
                request.start_ns - zero,
                request.end_ns - zero,
                None if first is None else first - zero,
            )
        )
    return sorted(rows, key=lambda row: row[0])


def record_phases(events: Events, record: CaptureRecord) -> list[Phase]:
    """Phases from the capture record: load, workload, and per request its span, prefill and
    decode ([] when the record has no wall-clock times or the export no session start).

    ``load`` runs from the session start to the server's readiness (``clock.server_ready_ns``,
    /health answered) or, without it, to the first request; ``workload`` from the first
    request's start to the last request's end; ``request N`` (1-based, in start order) from
    its start to its end, ``prefill N`` to its first streamed token, ``decode N`` the rest.
    """
    rows = _aligned(record, events)
    if not rows:
        return []
    first = rows[0][0]
    last = max(end for _, end, _ in rows)
    load_end = max(0, first)
    ready = record.clock.server_ready_ns
    if ready is not None and events.session_start_utc_ns is not None:
        # the server answered /health: start-up is over, whatever idle time follows
        load_end = min(load_end, max(0, ready - events.session_start_utc_ns))
    phases = [
        Phase("load", 0, load_end, "record", "load"),
        Phase("workload", first, last, "record", "workload"),
    ]
    for number, (start, end, token) in enumerate(rows, start=1):
        phases.append(Phase(f"request {number}", start, end, "record", "request", number))
        if token is not None:
            phases.append(Phase(f"prefill {number}", start, token, "record", "prefill", number))
            phases.append(Phase(f"decode {number}", token, end, "record", "decode", number))
    return phases


def prefill_intervals(phases: Sequence[Phase]) -> list[Interval]:
    """Every moment some request awaits its first token: the prefill phases merged."""
    return _merged([(p.start_ns, p.end_ns) for p in phases if p.kind == "prefill"])


def decode_intervals(phases: Sequence[Phase]) -> list[Interval]:
    """Every moment requests are generating and none awaits its first token: the decode
    phases merged, minus the prefill ones (with one request at a time they never overlap)."""
    decode = _merged([(p.start_ns, p.end_ns) for p in phases if p.kind == "decode"])
    prefill = prefill_intervals(phases)
    if not decode or not prefill:
        return decode
    # Both are sorted and disjoint: walk their edges together. Inside decode and outside
    # prefill is where the decode depth is 1 and the prefill depth 0.
    # merged phase intervals are bounded on both sides
    edges: list[tuple[int, int, int]] = []
    for which, intervals in enumerate((decode, prefill)):
        for a, b in intervals:
            assert a is not None and b is not None
            edges += [(a, which, 1), (b, which, -1)]
    points = sorted(edges)
    out: list[Interval] = []
    depth = [0, 0]
    opened: int | None = None
    for at, which, step in points:
        depth[which] += step
        inside = depth[0] > 0 and depth[1] == 0
        if inside and opened is None:
            opened = at
        elif not inside and opened is not None:
            if at > opened:
                out.append((opened, at))
            opened = None
    return out


def _merged(intervals: list[tuple[int, int]]) -> list[Interval]:
    if not intervals:
        return []
    lows, highs = merge_intervals(
        np.array([a for a, _ in intervals], dtype=np.int64),
        np.array([b for _, b in intervals], dtype=np.int64),
    )
    return [(int(a), int(b)) for a, b in zip(lows.tolist(), highs.tolist(), strict=True)]


# --- detected from the data -------------------------------------------------------------------


def detected_phases(events: Events, gap_ns: int = BURST_GAP_NS) -> list[Phase]:
    """Phases the data shows, without a record (``source`` "detected").

    - ``load``: the model upload, from the session start to the end of the last
      host-to-device copy that starts before the first kernel (none without such copies);
    - ``workload``: from the end of ``load`` (or the first GPU work) to the end of the last
      GPU work;
    - ``burst N``: stretches of GPU work in the workload separated by more than ``gap_ns`` of
      idle GPU (at most ``MAX_BURSTS``; the last one listed then runs to the end of the GPU
      work). The upload belongs to ``load``: the first burst starts at the workload's start
      at the earliest, so bursts divide the workload and never reach back into ``load``.
    """
    lows, highs = events.gpu_union()
    if not len(lows):
        return []
    phases: list[Phase] = []
    load_end = _upload_end(events)
    if load_end is not None:
        phases.append(Phase("load", 0, load_end, "detected", "load"))
    work_start = load_end if load_end is not None else int(lows[0])
    work_end = int(highs[-1])
    if work_end > work_start:
        phases.append(Phase("workload", work_start, work_end, "detected", "workload"))
    in_work = highs > work_start
    lows, highs = np.maximum(lows[in_work], work_start), highs[in_work]
    if not len(lows):
        return phases
    breaks = np.flatnonzero(lows[1:] - highs[:-1] > gap_ns)
    burst_starts = np.concatenate([[lows[0]], lows[breaks + 1]])
    burst_ends = np.concatenate([highs[breaks], [highs[-1]]])
    if len(burst_starts) > MAX_BURSTS:
        burst_starts = burst_starts[:MAX_BURSTS]
        burst_ends = np.concatenate([burst_ends[: MAX_BURSTS - 1], [highs[-1]]])
    for number, (low, high) in enumerate(
        zip(burst_starts.tolist(), burst_ends.tolist(), strict=True), start=1
    ):
        phases.append(Phase(f"burst {number}", int(low), int(high), "detected", "burst"))
    return phases


def _upload_end(events: Events) -> int | None:
    """End of the leading host-to-device copies: those starting before the first kernel."""
    memory = events.memory
    if memory is None or not len(memory):
        return None
    to_device = {
        code
        for code, label in enumerate(events.memory_ops)
        if reports.is_to_device(label)
    }
    ops = memory["op"].to_numpy()
    mask = np.isin(ops, np.array(sorted(to_device), dtype=ops.dtype))
    if events.kernels is not None and len(events.kernels):
        first_kernel = int(events.kernels["start_ns"].min())
        mask &= memory["start_ns"].to_numpy() < first_kernel
    if not mask.any():
        return None
    ends = memory["start_ns"].to_numpy()[mask] + memory["duration_ns"].to_numpy()[mask]
    return int(ends.max())


# --- NVTX ranges, and phases as a table ------------------------------------------------------


def nvtx_phases(top_level: pd.DataFrame, limit: int = MAX_NVTX_PHASES) -> tuple[list[Phase], int]:
    """Top-level NVTX ranges (``llamaprof.sources.nvtx.top_level_ranges``: ``start_ns``,
    ``end_ns``, ``name``) as phases (``source`` "nvtx", ``kind`` "nvtx"), the first ``limit``
    in time order, and how many more there are."""
    shown = top_level.head(limit)
    phases = [
        Phase(str(name), int(start), int(end), "nvtx", "nvtx")
        for start, end, name in zip(
            shown["start_ns"].tolist(),
            shown["end_ns"].tolist(),
            shown["name"].tolist(),
            strict=True,
        )
    ]
    return phases, max(0, len(top_level) - limit)


def phases_frame(phases: Sequence[Phase]) -> pd.DataFrame:
    """Phases as a table: ``name``, ``start_ns``, ``end_ns``, ``duration_ns`` (ns on the nsys
    timeline), ``source`` ("record", "detected" or "nvtx"), in the order given.

    >>> phases_frame([Phase("load", 0, 5, "record", "load")]).values.tolist()
    [['load', 0, 5, 5, 'record']]
    """
    return pd.DataFrame(
        {
            "name": pd.Series([p.name for p in phases], dtype="object"),
            "start_ns": pd.Series([p.start_ns for p in phases], dtype="int64"),
            "end_ns": pd.Series([p.end_ns for p in phases], dtype="int64"),
            "duration_ns": pd.Series([p.end_ns - p.start_ns for p in phases], dtype="int64"),
            "source": pd.Series([p.source for p in phases], dtype="object"),
        },
        columns=PHASE_COLUMNS,
    )
