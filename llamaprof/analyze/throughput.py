"""Throughput of a captured run, from its capture record: tokens/s and request latency.

llama-server's own ``timings`` of each request (kept exactly as returned in the record) give
prompt and generation speed; the workload's wall clock gives latency. Every metric has its
unit and the direction that is better, since a comparison mixes them: a rise in tokens/s is
an improvement, a rise in latency a regression. Kept streamlit-free.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from llamaprof.record import CaptureRecord

__all__ = ["METRICS", "Metric", "throughput_frame"]


@dataclass(frozen=True)
class Metric:
    """One throughput metric: its row name, unit, better direction and how a record gives it."""

    name: str
    unit: str  # "tokens/s" or "ns"
    better: str  # "higher" | "lower"
    of: Callable[[CaptureRecord], float | None]


def _total(key: str) -> Callable[[CaptureRecord], float | None]:
    def get(record: CaptureRecord) -> float | None:
        value = record.totals.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            return None
        return float(value)

    return get


def _mean_latency_ns(record: CaptureRecord) -> float | None:
    """Mean request latency: wall-clock end - start (schema 2), else the client's elapsed."""
    values = []
    for request in record.requests:
        if request.start_ns is not None and request.end_ns is not None:
            values.append(float(request.end_ns - request.start_ns))
        elif request.elapsed_s is not None:
            values.append(request.elapsed_s * 1e9)
    return statistics.fmean(values) if values else None


def _mean_first_token_ns(record: CaptureRecord) -> float | None:
    """Mean time to the first streamed token (schema 2 records only)."""
    values = [
        float(r.first_token_ns - r.start_ns)
        for r in record.requests
        if r.first_token_ns is not None and r.start_ns is not None
    ]
    return statistics.fmean(values) if values else None


#: The metrics, in the order a comparison lists them.
METRICS: tuple[Metric, ...] = (
    Metric("generation tokens/s", "tokens/s", "higher", _total("predicted_per_second")),
    Metric("prompt tokens/s", "tokens/s", "higher", _total("prompt_per_second")),
    Metric(
        "generated tokens/s (wall clock)",
        "tokens/s",
        "higher",
        _total("generated_per_wall_second"),
    ),
    Metric("request latency", "ns", "lower", _mean_latency_ns),
    Metric("time to first token", "ns", "lower", _mean_first_token_ns),
)


def throughput_frame(record: CaptureRecord | None) -> pd.DataFrame:
    """One run's throughput metrics: columns ``name``, ``value`` (float64), ``unit``,
    ``better``; one row per metric the record holds (none without a record).

    ``generation tokens/s``, ``prompt tokens/s``: llama-server's own speed, token-weighted
    over the requests (``totals.predicted_per_second``, ``totals.prompt_per_second``);
    ``generated tokens/s (wall clock)``: generated tokens over the workload's wall time (the
    throughput concurrent clients see); ``request latency``, ``time to first token``: means
    over the requests, ns.
    """
    rows = []
    for metric in METRICS:
        value = metric.of(record) if record is not None else None
        if value is not None:
            rows.append(
                {"name": metric.name, "value": value, "unit": metric.unit, "better": metric.better}
            )
    frame = pd.DataFrame(rows, columns=["name", "value", "unit", "better"])
    return frame.astype({"value": "float64"})
