"""Per-group statistics and interval unions over integer arrays, vectorised with numpy.

Pure functions over integer arrays: grouping (``factorize``), total/count/avg/median/min/max/
stddev per group (``group_stats``), the summary frames (rounded by ``llamaprof.rounding``)
(``time_frame``, ``size_frame``), ``ORDER BY total DESC`` (``order_by_total``), the GPU
busy time (``union_length``) and busy time between points (``merge_intervals``,
``covered_before``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llamaprof.rounding import round1_array as round1

#: Ids below this are grouped by counting (bincount) instead of hashing.
_SMALL_IDS = 1 << 22
_BLOCK = 1 << 20  # elements per block of a blockwise computation


def factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (ascending, int64) and each row's index into them (int32), in O(n).

    Small non-negative keys (name ids) are counted with ``bincount``; others are hashed.
    """
    if len(keys) and keys.min() >= 0 and keys.max() < _SMALL_IDS:
        present = np.bincount(keys) > 0
        code_of_key = np.cumsum(present, dtype=np.int32) - 1
        return np.flatnonzero(present).astype(np.int64), code_of_key[keys]
    codes, uniques = pd.factorize(keys, sort=True)
    return np.asarray(uniques, dtype=np.int64), codes.astype(np.int32, copy=False)


def group_stats(codes: np.ndarray, n_groups: int, values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group total, count, avg, median, min, max and sample stddev of integer ``values``.

    ``codes`` gives each row's group (0 … n_groups - 1). Returns arrays indexed by group:
    ``total``, ``count``, ``min``, ``max`` (int64), ``avg``, ``med``, ``stddev`` (float64,
    unrounded). Median of an even count is the mean of the two middle values; stddev uses
    n - 1 and is 0.0 for a single value, as nsys's SQL functions do.
    """
    counts = np.bincount(codes, minlength=n_groups).astype(np.int64)
    # rows of a group side by side; numpy's stable sort of 16-bit codes is a radix sort
    small = codes.astype(np.uint16) if n_groups <= 1 << 16 else codes
    order = np.argsort(small, kind="stable")
    del small
    v = values[order]
    del order, values  # a caller handing over its only reference frees the values here
    starts = np.cumsum(counts) - counts
    if len(v):
        total = np.add.reduceat(v, starts)
        minimum = np.minimum.reduceat(v, starts)
        maximum = np.maximum.reduceat(v, starts)
    else:
        total = minimum = maximum = np.empty(0, dtype=np.int64)
    med = np.empty(n_groups, dtype=np.float64)
    for i, (a, n) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
        # the middle value, or the mean of the two middle ones; partitions ``v`` in place
        # (order within a group matters to nothing after this)
        group = v[a : a + n]
        middle = n // 2
        group.partition(middle)
        upper = int(group[middle])
        lower = upper if n % 2 else int(group[:middle].max())
        med[i] = (lower + upper) / 2
    avg = total / counts if n_groups else np.empty(0)
    # two-pass variance (no cancellation on large values), in place: one float array at a time
    dev = np.repeat(avg, counts)
    np.subtract(v, dev, out=dev)
    del v
    np.multiply(dev, dev, out=dev)
    squares = np.add.reduceat(dev, starts) if len(dev) else avg
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


def order_by_total(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``ORDER BY total DESC``; rows with equal totals keep their current (GROUP BY) order."""
    order = np.argsort(-frame[column].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def time_frame(stats: dict[str, np.ndarray], names: list[str]) -> pd.DataFrame:
    """time_pct, total_ns … stddev_ns, name; % of this report's total, values rounded as nsys."""
    grand = int(stats["total"].sum())
    pct = stats["total"] * 100.0 / grand if grand else np.zeros(len(names))
    return pd.DataFrame(
        {
            "time_pct": round1(pct),
            "total_ns": stats["total"],
            "count": stats["count"],
            "avg_ns": round1(stats["avg"]),
            "med_ns": round1(stats["med"]),
            "min_ns": stats["min"],
            "max_ns": stats["max"],
            "stddev_ns": round1(stats["stddev"]),
            "name": pd.Series(names, dtype="str"),
        }
    )


def size_frame(stats: dict[str, np.ndarray]) -> pd.DataFrame:
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


def union_length(parts: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """Total length of the union of ``[start, start + duration)`` intervals of several tables.

    ``parts``: (starts, durations) per table, durations >= 0. The largest table (kernels) is
    measured without copies of its intervals beyond two arrays; the others (memcpy, memset:
    few rows) are merged into disjoint intervals whose overlap with it is subtracted.
    """
    parts = sorted((p for p in parts if len(p[0])), key=lambda p: len(p[0]), reverse=True)
    if not parts:
        return 0
    coverage = _Coverage(*parts[0])
    if len(parts) == 1:
        return coverage.total
    starts = np.concatenate([p[0] for p in parts[1:]])
    ends = np.concatenate([p[0] + p[1] for p in parts[1:]])
    lows, highs = merge_intervals(starts, ends)
    overlap = int((coverage.upto(highs) - coverage.upto(lows)).sum())
    return coverage.total + int((highs - lows).sum()) - overlap


class _Coverage:
    """Covered length of one set of intervals, in total and up to given points."""

    def __init__(self, starts: np.ndarray, durations: np.ndarray) -> None:
        ends = starts + durations
        if not (starts[1:] >= starts[:-1]).all():  # nsys mostly writes rows in start order
            order = np.argsort(starts, kind="stable")
            starts, ends = starts[order], ends[order]
        self.starts = starts
        self.reach = np.maximum.accumulate(ends)  # furthest end so far
        # length each interval adds to those before it: end - max(start, reach before), >= 0;
        # in blocks, so the temporary stays small however many intervals there are
        ends[0] -= starts[0]
        for a in range(1, len(ends), _BLOCK):
            b = min(a + _BLOCK, len(ends))
            ends[a:b] -= np.maximum(starts[a:b], self.reach[a - 1 : b - 1])
        np.clip(ends, 0, None, out=ends)
        self.cumulative = np.cumsum(ends, out=ends)
        self.total = int(self.cumulative[-1])

    def upto(self, points: np.ndarray) -> np.ndarray:
        """Covered length before each point. The intervals starting before ``x`` cover
        ``cumulative`` in all, of which ``reach - x`` (one piece, from the interval reaching
        furthest) lies beyond ``x``; later intervals lie wholly beyond it."""
        i = np.searchsorted(self.starts, points, side="right")
        last = np.maximum(i - 1, 0)
        covered = self.cumulative[last] - np.maximum(self.reach[last] - points, 0)
        return np.where(i > 0, covered, 0)


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted disjoint intervals (lows, highs) covering the same points as the given ones.

    >>> merge_intervals(np.array([0, 5, 2, 20]), np.array([3, 8, 4, 25]))
    (array([ 0,  5, 20]), array([ 4,  8, 25]))
    """
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    first = np.ones(len(starts), dtype=bool)  # an interval that starts a new piece
    first[1:] = starts[1:] > reach[:-1]
    heads = np.flatnonzero(first)
    return starts[heads], reach[np.append(heads[1:] - 1, len(starts) - 1)]


def covered_before(lows: np.ndarray, highs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Length of the disjoint sorted intervals (``merge_intervals``) lying before each point.

    The covered length inside [a, b) is ``covered_before(b) - covered_before(a)``: GPU busy
    time per window or per timeline bin, overlapping work counted once.

    >>> covered_before(np.array([0, 10]), np.array([4, 20]), np.array([-1, 2, 5, 15, 30]))
    array([ 0,  2,  4,  9, 14])
    """
    lengths = highs - lows
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    i = np.searchsorted(lows, points, side="right")  # intervals starting at or before a point
    last = np.maximum(i - 1, 0)
    inside = np.clip(points - lows[last], 0, lengths[last]) if len(lows) else 0
    return np.where(i > 0, cumulative[last] + inside, 0).astype(np.int64)
