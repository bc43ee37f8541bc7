"""Normalisation: a run's totals divided by its generated tokens or its requests.

Runs of different length compare once their totals are divided by what they produced. The
counts come from the capture record (``llamaprof.record``) and follow the time window the
totals cover (``llamaprof.analyze.windows.window_tokens``): the whole capture and the
workload divide by every generated token, ``decode`` by the tokens decode produced (each
request's first token comes from its prefill), ``prefill`` by the prompt tokens it
evaluated, ``request:N`` by that request's tokens. Kept streamlit-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.windows import window_tokens
from llamaprof.errors import NotNormalizable
from llamaprof.events import Window
from llamaprof.record import CaptureRecord

__all__ = [
    "Normalize",
    "divisor",
    "normalization_caption",
    "normalize_frames",
    "require_divisors",
    "unit_for",
]


class Normalize(StrEnum):
    """What a report's totals are divided by."""

    NONE = "none"
    PER_TOKEN = "per-token"  # per generated token (of the window)
    PER_REQUEST = "per-request"  # per HTTP request of the workload (of the window)


_PER = {Normalize.NONE: "", Normalize.PER_TOKEN: "/token", Normalize.PER_REQUEST: "/request"}


def divisor(
    record: CaptureRecord | None, mode: Normalize | str, window: Window | None = None
) -> tuple[float | None, str]:
    """What a run's totals are divided by under ``mode`` in ``window``, and its noun.

    ``(1.0, "")`` without normalisation; ``(None, why)`` when the run cannot say (no record,
    no count, a count of 0, a window without one: ``load`` and ``A:B``). The noun reads
    "tokens", "prompt tokens" (the prefill window) or "requests".
    """
    mode = Normalize(mode)
    if mode is Normalize.NONE:
        return 1.0, ""
    if record is None:
        return None, "no capture record"
    name = window.name if window is not None else "all"
    if mode is Normalize.PER_TOKEN:
        value = window_tokens(window, record)
        noun = "prompt tokens" if name == "prefill" else "tokens"
        if name == "decode" and record.concurrency > 1:
            return None, (
                f"no count of tokens in the decode window ({record.concurrency} concurrent "
                "requests: decode time leaves out their prefill, their tokens would not)"
            )
        if name == "prefill" and record.concurrency > 1:
            return None, (
                f"no count of prompt tokens in the prefill window ({record.concurrency} "
                "concurrent requests: its GPU work also decodes the requests past their prefill)"
            )
    else:
        value = _window_requests(record, name)
        noun = "requests"
    if value is None or value <= 0:
        what = noun if name in ("all", "workload") else f"{noun} in the {name} window"
        return None, f"no count of {what}"
    return float(value), noun


def _window_requests(record: CaptureRecord, name: str) -> int | None:
    if name in ("all", "workload", "prefill", "decode"):
        return record.request_count
    if name.startswith("request:"):
        return 1
    return None


def require_divisors(
    records: Mapping[str, CaptureRecord | None],
    mode: Normalize | str,
    windows: Mapping[str, Window | None] | None = None,
) -> dict[str, tuple[float, str]]:
    """Every run's ``divisor``, or NotNormalizable naming the runs that have none.

    The command line refuses to mix normalised and raw totals; the app disables the control
    and says why.
    """
    mode = Normalize(mode)
    windows = windows or {}
    found = {label: divisor(record, mode, windows.get(label)) for label, record in records.items()}
    missing = [label for label, (value, _) in found.items() if value is None]
    if missing:
        reasons = sorted({why for value, why in found.values() if value is None})
        has = "has" if len(missing) == 1 else "have"
        if reasons == ["no capture record"]:
            what = "generated tokens" if mode is Normalize.PER_TOKEN else "requests"
            reason = (
                f"needs a capture record with {what} beside every run; "
                f"{', '.join(missing)} {has} none"
            )
            raise NotNormalizable(
                f"--normalize {mode.value} {reason} (use --normalize none)", reason
            )
        reason = f"{', '.join(missing)} {has} {'; '.join(reasons)}"
        raise NotNormalizable(
            f"--normalize {mode.value}: {reason} (use --normalize none, or another window)", reason
        )
    return {label: (float(value), noun) for label, (value, noun) in found.items() if value}


def unit_for(report: str, mode: Normalize | str = Normalize.NONE) -> str:
    """The unit of a report's values: ``ns``, ``bytes``, ``ns/token``, ``bytes/request``..."""
    base = "bytes" if reports.canonical_report_name(report) == reports.MEM_SIZE else "ns"
    return base + _PER[Normalize(mode)]


def normalize_frames(
    frames: Mapping[str, pd.DataFrame],
    by: Mapping[str, float],
    columns: tuple[str, ...] = ("total_ns", "total_bytes"),
) -> dict[str, pd.DataFrame]:
    """Copies of ``frames`` with ``columns`` divided by each run's divisor (float64).

    A divisor of 1 (or a run missing from ``by``) keeps the exact integers. Counts are never
    divided.
    """
    out: dict[str, pd.DataFrame] = {}
    for label, frame in frames.items():
        factor = by.get(label, 1.0)
        copy = frame.copy()
        if factor != 1.0:  # dividing by 1 would only turn exact ints into floats
            for column in columns:
                if column in copy.columns:
                    copy[column] = copy[column].astype("float64") / factor
        out[label] = copy
    return out


def normalization_caption(
    mode: Normalize | str, by: Mapping[str, tuple[float, str]], window: str | None = None
) -> str:
    """One line saying which normalisation is active and what each run was divided by.

    >>> normalization_caption("per-token", {"a": (512.0, "tokens"), "b": (480.0, "tokens")})
    'Per generated token: a ÷ 512 tokens; b ÷ 480 tokens.'
    >>> normalization_caption("none", {}, "workload")
    'Totals over the workload window (not normalised).'
    """
    mode = Normalize(mode)
    if mode is Normalize.NONE:
        where = "the whole capture" if window in (None, "all") else f"the {window} window"
        return f"Totals over {where} (not normalised)."
    head = "Per generated token" if mode is Normalize.PER_TOKEN else "Per request"
    nouns = {noun for _, noun in by.values()}
    if nouns == {"prompt tokens"}:
        head = "Per prompt token"
    if window not in (None, "all"):
        head += f" in the {window} window"
    parts = [f"{label} ÷ {value:,.0f} {noun}" for label, (value, noun) in by.items()]
    return f"{head}: {'; '.join(parts)}."
