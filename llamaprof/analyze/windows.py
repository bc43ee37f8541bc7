"""Time windows: ``--window load|workload|prefill|decode|request:N|A:B`` and what they select.

A window is one or more intervals [A, B) on the nsys timeline (ns since the session start,
the zero of the export's own timestamps; the same timeline ``llamaprof phases`` prints).
An event belongs to a window when its **start** lies in it: CUDA API calls by their start,
GPU work (kernels, memcpy, memset) by its GPU start. Nothing is clipped, so every number of a
windowed summary stays an nsys-style total of whole events. Only GPU busy time, a measure of
time rather than of events, counts the part of the GPU work that overlaps the window.

Named windows come from the run's phases (``llamaprof.analyze.phases``: from the capture
record, else detected); ``A:B`` takes times like ``1.5s``, ``250ms``, ``120us``, ``800ns`` or
plain nanoseconds, either side may be empty (``2s:``). ``all`` is the whole capture.
Reports without times (``nsys stats`` text and CSV) refuse a window (WindowError).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from llamaprof.analyze.phases import Phase, decode_intervals, phases_of, prefill_intervals
from llamaprof.errors import WindowError
from llamaprof.events import EventMask, Events, Interval, Window
from llamaprof.model import Run
from llamaprof.numeric import covered_before
from llamaprof.record import CaptureRecord
from llamaprof.summaries import summarize
from llamaprof.units import format_ns

__all__ = [
    "NAMED",
    "WHOLE",
    "WindowSpec",
    "apply_window",
    "busy_ns",
    "parse_duration",
    "parse_window",
    "resolve_window",
    "window_tokens",
]

#: Window names a user may give, besides ``request:N`` and ``A:B``.
NAMED = ("all", "load", "workload", "prefill", "decode")
#: The whole capture.
WHOLE = Window("all", ((None, None),))

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s)?\s*$")
_REQUEST = re.compile(r"^request[: ](\d+)$")


@dataclass(frozen=True)
class WindowSpec:
    """A window as a user wrote it, before it meets a run: a name (``NAMED``), a request
    number, or explicit bounds (``start_ns``/``end_ns``, None: open)."""

    text: str
    name: str | None = None  # one of NAMED
    request: int | None = None  # request:N, 1-based
    start_ns: int | None = None
    end_ns: int | None = None
    from_workload: bool = False  # workload+A:B: bounds counted from the workload's start

    @property
    def needs_phases(self) -> bool:
        """True when the window is named after a phase of the run, or counted from one (not
        ``all`` nor ``A:B``)."""
        return self.request is not None or self.from_workload or self.name not in (None, "all")


def parse_duration(text: str) -> int:
    """A time as ns: ``1.5s``, ``250ms``, ``120us``, ``800ns`` or plain nanoseconds.

    >>> [parse_duration(t) for t in ("1.5s", "250ms", "120us", "7")]
    [1500000000, 250000000, 120000, 7]

    Raises WindowError for anything else.
    """
    match = _DURATION.match(text)
    if match is None:
        raise WindowError(f"not a time: {text!r} (write 1.5s, 250ms, 120us, 800ns or nanoseconds)")
    number, unit = match.groups()
    value = float(number) * _UNITS[unit or "ns"]
    return round(value)


def parse_window(text: str) -> WindowSpec:
    """A ``--window`` value: ``all``, ``load``, ``workload``, ``prefill``, ``decode``,
    ``request:N``, ``A:B`` (on the nsys timeline) or ``workload+A:B`` (counted from each
    run's workload start: what a range brushed on the app's timeline becomes, since runs are
    drawn aligned there).

    >>> parse_window("2s:").start_ns, parse_window("2s:").end_ns
    (2000000000, None)
    >>> parse_window("request:3").request
    3
    >>> spec = parse_window("workload+100ms:350ms")
    >>> spec.from_workload, spec.start_ns, spec.end_ns
    (True, 100000000, 350000000)

    ``+A:B`` is short for ``workload+A:B`` (and what a selector left holding ``workload``
    keeps of a ``workload+A:B`` typed over it):

    >>> parse_window("+100ms:350ms").text
    'workload+100ms:350ms'

    Raises WindowError with the accepted forms for anything else.
    """
    value = text.strip().lower()
    if value.startswith("+") and ":" in value:
        text = value = _FROM_WORKLOAD + value[1:]
    if value in NAMED:
        return WindowSpec(text, name=value)
    request = _REQUEST.match(value)
    if request:
        number = int(request.group(1))
        if number < 1:
            raise WindowError("request numbers start at 1 (request:1 is the first request)")
        return WindowSpec(text, request=number)
    from_workload = value.startswith(_FROM_WORKLOAD)
    if from_workload:
        value = value[len(_FROM_WORKLOAD) :]
    if ":" in value:
        low, _, high = value.partition(":")
        # counted from the workload's start, a bound may lie before it (in the start-up)
        start = _signed(low, from_workload) if low.strip() else None
        end = _signed(high, from_workload) if high.strip() else None
        if start is not None and end is not None and end <= start:
            raise WindowError(f"empty window {text!r}: its end is not after its start")
        return WindowSpec(text, start_ns=start, end_ns=end, from_workload=from_workload)
    raise WindowError(
        f"unknown window {text!r}; use one of {', '.join(NAMED)}, request:N, A:B or "
        "workload+A:B (times like 1.5s, 250ms, 120us or nanoseconds; either side may be empty)"
    )


def _signed(text: str, negative_ok: bool) -> int:
    """``parse_duration``, with a leading ``-`` where ``negative_ok``."""
    text = text.strip()
    if negative_ok and text.startswith("-"):
        return -parse_duration(text[1:])
    return parse_duration(text)


#: The prefix of a window counted from the workload's start.
_FROM_WORKLOAD = "workload+"


def resolve_window(spec: WindowSpec, phases: list[Phase], *, label: str = "the run") -> Window:
    """The ``Window`` ``spec`` means for a run with ``phases`` (``phases_of``).

    Raises WindowError when the run lacks the phase (no capture record with request times,
    nothing detected, a request number beyond the workload).
    """
    if spec.name == "all":
        return WHOLE
    if spec.from_workload:
        start = next((p.start_ns for p in phases if p.kind == "workload"), None)
        if start is None:
            raise WindowError(f"{label} has no workload phase to count from: {_WHY_NO_RECORD}")
        low = None if spec.start_ns is None else start + spec.start_ns
        high = None if spec.end_ns is None else start + spec.end_ns
        source = next(p.source for p in phases if p.kind == "workload")
        return Window(
            spec.text.strip(),  # as typed: exact, and a --window value again
            ((low if low is not None else start, high),),
            source=source,
        )
    if spec.name is None and spec.request is None:
        return Window(spec.text.strip(), ((spec.start_ns, spec.end_ns),))
    if spec.request is not None:
        for phase in phases:
            if phase.kind == "request" and phase.request == spec.request:
                return Window(
                    f"request:{spec.request}",
                    ((phase.start_ns, phase.end_ns),),
                    source=phase.source,
                )
        count = sum(1 for p in phases if p.kind == "request")
        if count:
            raise WindowError(f"{label} has {count} requests; there is no request:{spec.request}")
        raise WindowError(f"{label} has no request times: {_WHY_NO_RECORD}")
    name = spec.name
    assert name is not None
    if name in ("prefill", "decode"):
        intervals = prefill_intervals(phases) if name == "prefill" else decode_intervals(phases)
        if not intervals:
            if any(p.kind == "request" for p in phases):
                why = "its capture record has no first-token times (requests not streamed)"
                raise WindowError(f"{label} has no {name} times: {why}")
            raise WindowError(f"{label} has no {name} times: {_WHY_NO_RECORD}")
        sources = {p.source for p in phases if p.kind == name}
        return Window(name, tuple(intervals), source=sources.pop() if len(sources) == 1 else None)
    for phase in phases:
        if phase.kind == name:
            return Window(name, ((phase.start_ns, phase.end_ns),), source=phase.source)
    raise WindowError(f"{label} has no {name} phase: {_WHY_NO_RECORD}")


_WHY_NO_RECORD = (
    "phases come from a capture record with request times (schema 2, written by "
    "`llamaprof capture`) beside an export that has its session start, or are detected "
    "from the GPU work"
)


def window_for(
    run: Run, record: CaptureRecord | None, spec: WindowSpec, *, label: str | None = None
) -> Window:
    """``spec`` resolved against ``run``'s phases (record first, else detected).

    Bounds a user typed (``A:B``, ``workload+A:B``) are cut to the capture's extent (first
    event start to last event end), so a window's span and GPU busy share measure the
    capture, not the typed length; a window wholly outside the capture is refused
    (WindowError). Bounds from the capture record stay as recorded.
    """
    label = label or run.path.name
    if run.events is None:
        raise WindowError(_no_times(run, label, spec.text))
    phases = phases_of(run.events, record) if spec.needs_phases else []
    window = resolve_window(spec, phases, label=label)
    typed = spec.start_ns is not None or spec.end_ns is not None
    return _within_capture(window, run.events, label) if typed else window


def _no_times(run: Run, label: str, window: str) -> str:
    return (
        f"{label} is `nsys stats` {run.format.value.replace('stats-', '')} output, which has "
        f"no event times: the {window} window needs the SQLite export or the .nsys-rep"
    )


def _within_capture(window: Window, events: Events, label: str) -> Window:
    """``window`` with its bounded sides cut to the capture's extent (open sides stay open:
    ``_clip`` closes them at the same extent)."""
    extent = _clip(((None, None),), events)
    if not extent:
        return window
    first, last = extent[0]
    kept: list[Interval] = []
    for low, high in window.intervals:
        a = None if low is None else max(low, first)
        b = None if high is None else min(high, last)
        if (a if a is not None else first) < (b if b is not None else last):
            kept.append((a, b))
    if not kept:
        raise WindowError(
            f"{label}: the window {window.name} lies outside the capture "
            f"({format_ns(first)} to {format_ns(last)} on the nsys timeline)"
        )
    return replace(window, intervals=tuple(kept))


def apply_window(
    run: Run, window: Window, *, mask: EventMask | None = None, label: str | None = None
) -> Run:
    """A copy of ``run`` whose summaries, events and facts cover ``window`` only.

    Summaries: the events starting in the window, summarised as nsys would (``summarize``);
    with ``mask`` (the events inside NVTX ranges of ``window.nvtx``, ``sources.nvtx``), only
    those of them the mask keeps. ``info.span_ns``: the window's length within the capture;
    ``info.gpu_busy_ns``: GPU work overlapping the window (with a mask, the GPU work it
    keeps), overlaps counted once. ``WHOLE`` without a mask returns ``run`` itself.
    Raises WindowError for a run without event times.
    """
    if window == WHOLE and mask is None and run.window is None:
        return run
    events = run.events
    if events is None:
        raise WindowError(_no_times(run, label or run.path.name, window.name))
    masks = [events.in_window(window.intervals)] + ([mask] if mask is not None else [])
    selected = events.where(*masks)
    summaries, skipped, variants = summarize(selected)
    clipped = _clip(window.intervals, events)
    busy_source = events if mask is None else events.where(mask)
    info = replace(
        run.info,
        span_ns=sum(high - low for low, high in clipped),
        gpu_busy_ns=busy_ns(busy_source, clipped) if run.info.gpu_busy_ns is not None else None,
    )
    return replace(
        run,
        summaries=summaries,
        skipped=skipped,
        kernel_variants=variants,
        events=selected,
        window=window,
        info=info,
    )


def _clip(intervals: tuple[Interval, ...], events: Events) -> list[tuple[int, int]]:
    """The intervals with their open sides closed at the capture's extent (first event start,
    last event end). Bounded sides stay as given: a request's times come from the capture
    record, and its last tokens may reach the client after the last CUDA event."""
    bounds = events.bounds()
    first = bounds[0] if bounds is not None else None
    last = max(bounds[1], events.capture_end_ns or bounds[1]) if bounds is not None else None
    out = []
    for low, high in intervals:
        a = first if low is None else low
        b = last if high is None else high
        if a is not None and b is not None and b > a:
            out.append((a, b))
    return out


def busy_ns(events: Events, intervals: list[tuple[int, int]]) -> int:
    """GPU busy time inside ``intervals``: the union of all GPU work (kernels, memory
    operations; every stream and device) overlapping them, each instant counted once."""
    lows, highs = events.gpu_union()
    if not len(lows) or not intervals:
        return 0
    edges = np.array([x for pair in intervals for x in pair], dtype=np.int64)
    covered = covered_before(lows, highs, edges)
    return int((covered[1::2] - covered[0::2]).sum())


def window_tokens(window: Window | None, record: CaptureRecord | None) -> int | None:
    """Generated tokens a per-token value divides by in ``window``; None when unknown.

    ``all`` and ``workload`` (and no window): every generated token of the workload;
    ``request:N``: that request's; ``decode``: every generated token but each request's
    first, which its prefill produces; ``prefill``: the prompt tokens evaluated. ``load`` and
    ``A:B`` windows have no token count (None: per-token values are not offered there), nor
    has ``decode`` with concurrent requests: the decode window then leaves out the moments
    another request is in prefill, while the tokens generated then would still count.
    """
    if record is None:
        return None
    name = window.name if window is not None else "all"
    if name in ("all", "workload"):
        return record.generated_tokens
    if name.startswith("request:"):
        requests = sorted(
            (r for r in record.requests if r.start_ns is not None), key=lambda r: r.start_ns or 0
        )
        number = int(name.split(":", 1)[1])
        return requests[number - 1].generated_tokens if 1 <= number <= len(requests) else None
    if name not in ("decode", "prefill") or (name == "decode" and record.concurrency > 1):
        return None
    counts = [r.generated_tokens if name == "decode" else r.prompt_tokens for r in record.requests]
    if not counts or any(c is None for c in counts):
        return None
    if name == "decode":  # each request's first token comes from its prefill
        return sum(max(0, c - 1) for c in counts if c is not None) or None
    return sum(c for c in counts if c is not None) or None
