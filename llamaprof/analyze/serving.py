"""Findings that read a llama-server capture right: start-up apart from serving, then decode.

A capture holds the server's start-up (the weights going up to the GPU), warm-up, the
requests and idle stretches. Summaries over the whole capture mix them: the biggest memcpy
is the weights upload, per-token values divide start-up time by generated tokens. These
findings take each number from its phase (``llamaprof.analyze.phases``: from the capture
record, else detected) and say in one sentence what it means:

- start-up: how long loading took and how many bytes went to the GPU, kept apart;
- the workload: how busy the GPU was while requests ran;
- decode: GPU idle time between kernels per token, kernels and launch calls per token, the
  CPU time launches cost, and whether decode is GPU-bound or launch-bound (and what CUDA
  graphs have to do with it);
- synchronisation: what the share of CUDA API time spent waiting for the GPU means, given
  how busy the GPU was (the CPU waiting for a busy GPU is not a bottleneck);
- decode speed of light, which no profiler reports: the weight bytes a decode step must read
  (``ModelWeights.decode_bytes``) times the decode steps, over the decode time, against the
  GPU's peak memory bandwidth (``RunInfo.memory_bandwidth_bps``).

Every ``Finding`` carries its numbers (ns, bytes, bytes/s, %). Kept streamlit-free; pure
functions of a run (with its events), its capture record and its phases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from llamaprof import reports
from llamaprof.analyze.cuda_calls import is_graph_launch, is_launch_call, is_sync_call
from llamaprof.analyze.findings import Finding, _pct
from llamaprof.analyze.phases import Phase, phases_of
from llamaprof.analyze.windows import busy_ns, parse_window, resolve_window, window_tokens
from llamaprof.errors import WindowError
from llamaprof.events import MEMCPY, Events, Window, in_intervals
from llamaprof.model import Run
from llamaprof.record import CaptureRecord
from llamaprof.units import format_bytes, format_ns

__all__ = [
    "GPU_BOUND_SHARE",
    "LAUNCH_BOUND_SHARE",
    "decode_findings",
    "serving_findings",
    "speed_of_light_finding",
    "startup_finding",
    "sync_finding",
    "workload_finding",
]

#: Decode is GPU-bound when the GPU is busy at least this share of the decode time.
GPU_BOUND_SHARE = 0.90
#: Below that, decode is launch-bound when launch calls take at least this share of the time
#: the GPU sits idle: the CPU spends the gap issuing work.
LAUNCH_BOUND_SHARE = 0.50
#: Synchronisation dominates the CUDA API time from this share (%) up.
SYNC_DOMINANT_PCT = 50.0


def _rate(bytes_per_s: float) -> str:
    return f"{format_bytes(bytes_per_s)}/s"


def _window(phases: Sequence[Phase], name: str) -> Window | None:
    try:
        return resolve_window(parse_window(name), list(phases))
    except WindowError:
        return None


def _bounded(window: Window) -> list[tuple[int, int]]:
    return [(a, b) for a, b in window.intervals if a is not None and b is not None and b > a]


def _api_in(
    events: Events, intervals: list[tuple[int, int]], which: Callable[[str], bool]
) -> tuple[int, int]:
    """(calls, total ns) of the API calls ``which`` accepts by name, starting in ``intervals``."""
    api = events.api
    if api is None or not len(api):
        return 0, 0
    codes = [i for i, n in enumerate(events.api_names) if which(n)]
    rows = np.isin(api["name"].to_numpy(), np.array(codes, dtype=np.int64))
    rows &= in_intervals(api["start_ns"].to_numpy(), intervals)
    return int(rows.sum()), int(api["duration_ns"].to_numpy()[rows].sum())


def _sync_and_api_ns(events: Events, intervals: list[tuple[int, int]]) -> tuple[int, int]:
    """(sync-call ns, all API ns) of the calls starting in ``intervals``."""
    api = events.api
    if api is None or not len(api):
        return 0, 0
    inside = in_intervals(api["start_ns"].to_numpy(), intervals)
    codes = [i for i, n in enumerate(events.api_names) if is_sync_call(n)]
    sync = inside & np.isin(api["name"].to_numpy(), np.array(codes, dtype=np.int64))
    durations = api["duration_ns"].to_numpy()
    return int(durations[sync].sum()), int(durations[inside].sum())


# --- start-up and the workload -----------------------------------------------------------------


def startup_finding(run: Run, phases: Sequence[Phase]) -> Finding | None:
    """How long start-up took and what it uploaded, so serving numbers can leave it out."""
    events = run.events
    load = next((p for p in phases if p.kind == "load"), None)
    if events is None or load is None or load.end_ns <= load.start_ns:
        return None
    copies, copy_ns, uploaded = 0, 0, 0
    memory = events.memory
    if memory is not None and len(memory):
        to_device = [
            i
            for i, label in enumerate(events.memory_ops)
            if reports.is_to_device(label)
        ]
        rows = (memory["kind"].to_numpy() == MEMCPY) & np.isin(
            memory["op"].to_numpy(), np.array(to_device, dtype=np.int64)
        )
        rows &= in_intervals(memory["start_ns"].to_numpy(), [(load.start_ns, load.end_ns)])
        copies = int(rows.sum())
        copy_ns = int(memory["duration_ns"].to_numpy()[rows].sum())
        uploaded = int(memory["bytes"].to_numpy()[rows].sum())
    length = load.end_ns - load.start_ns
    how = (
        "until the server was ready"
        if load.source == "record"
        else "(its leading host-to-device copies)"
    )
    return Finding(
        f"Start-up: {format_ns(length)}, {format_bytes(uploaded)} uploaded to the GPU",
        f"Start-up {how} took {format_ns(length)} and copied {format_bytes(uploaded)} to the "
        f"GPU in {copies:,} host-to-device copies ({format_ns(copy_ns)} of copy time); the "
        "serving numbers leave it out.",
        {
            "load_ns": length,
            "upload_bytes": uploaded,
            "upload_copies": copies,
            "upload_copy_ns": copy_ns,
            "source": load.source,
        },
    )


def workload_finding(run: Run, phases: Sequence[Phase]) -> Finding | None:
    """How busy the GPU was while the workload ran, against the whole capture."""
    events = run.events
    workload = next((p for p in phases if p.kind == "workload"), None)
    if events is None or workload is None or workload.end_ns <= workload.start_ns:
        return None
    span = workload.end_ns - workload.start_ns
    busy = busy_ns(events, [(workload.start_ns, workload.end_ns)])
    share = busy * 100.0 / span
    numbers: dict[str, float | int | str] = {
        "workload_ns": span,
        "gpu_busy_ns": busy,
        "gpu_busy_pct": round(share, 1),
    }
    detail = (
        f"While the requests ran, the GPU was busy {_pct(share)} of the time "
        f"({format_ns(busy)} of {format_ns(span)})"
    )
    whole = run.info.gpu_busy_share
    if whole is not None:
        numbers["capture_gpu_busy_pct"] = round(whole * 100.0, 1)
        detail += f", against {_pct(whole * 100.0)} over the whole capture"
    return Finding(f"GPU busy {_pct(share)} of the workload", detail + ".", numbers)


# --- decode --------------------------------------------------------------------------------------


def decode_findings(
    run: Run, record: CaptureRecord | None, phases: Sequence[Phase]
) -> list[Finding]:
    """Decode's GPU idle time, kernels and launches per token, and what bounds it.

    Per token means per token generated in decode (each request's first comes from its
    prefill). Three findings, or none without a decode window (a record with first-token
    times) or its token count.
    """
    events = run.events
    window = _window(phases, "decode")
    if events is None or window is None:
        return []
    intervals = _bounded(window)
    length = sum(b - a for a, b in intervals)
    tokens = window_tokens(window, record)
    if not length or not tokens:
        return []
    busy = busy_ns(events, intervals)
    idle = length - busy
    share = busy / length
    kernels = 0
    if events.kernels is not None:
        kernels = int(in_intervals(events.kernels["start_ns"].to_numpy(), intervals).sum())
    launches, launch_ns = _api_in(events, intervals, is_launch_call)
    graphs, graph_ns = _api_in(events, intervals, is_graph_launch)
    calls, calls_ns = launches + graphs, launch_ns + graph_ns
    per = {  # per generated token
        "idle": idle / tokens,
        "kernels": kernels / tokens,
        "calls": calls / tokens,
        "call_ns": calls_ns / tokens,
    }
    gpu = Finding(
        f"Decode: GPU busy {_pct(share * 100)}, idle {format_ns(per['idle'])} per token",
        f"Over {format_ns(length)} of decode ({tokens:,} tokens after each request's first), the "
        f"GPU ran work {_pct(share * 100)} of the time and sat idle {format_ns(per['idle'])} per "
        "token between kernels.",
        {
            "decode_ns": length,
            "decode_tokens": tokens,
            "gpu_busy_ns": busy,
            "gpu_busy_pct": round(share * 100, 1),
            "gpu_idle_ns_per_token": round(per["idle"], 1),
        },
    )
    graphs_text = (
        f"{graphs:,} cudaGraphLaunch calls: CUDA graphs on"
        if graphs
        else "no cudaGraphLaunch calls: CUDA graphs off"
    )
    launch = Finding(
        f"Decode: {per['kernels']:,.1f} kernels and {per['calls']:,.1f} launch calls per token",
        f"Each decode token ran {per['kernels']:,.1f} kernels from {per['calls']:,.1f} launch "
        f"calls ({graphs_text}), which cost the CPU {format_ns(per['call_ns'])} per token.",
        {
            "kernels": kernels,
            "kernels_per_token": round(per["kernels"], 2),
            "launch_calls": calls,
            "launch_calls_per_token": round(per["calls"], 2),
            "launch_ns": calls_ns,
            "launch_ns_per_token": round(per["call_ns"], 1),
            "graph_launches": graphs,
            "cuda_graphs": "on" if graphs else "off",
        },
    )
    return [gpu, launch, _bound(share, idle, calls_ns, graphs, per)]


def _bound(share: float, idle: int, calls_ns: int, graphs: int, per: dict[str, float]) -> Finding:
    """GPU-bound, launch-bound, or held back by other host work: what decode waits on."""
    numbers: dict[str, float | int | str] = {
        "gpu_busy_pct": round(share * 100, 1),
        "launch_share_of_idle_pct": round(calls_ns * 100.0 / idle, 1) if idle else 0.0,
    }
    if share >= GPU_BOUND_SHARE:
        numbers["bound"] = "gpu"
        return Finding(
            "Decode is GPU-bound",
            f"The GPU is busy {_pct(share * 100)} of decode, so faster kernels (a lighter "
            "quantisation, flash attention, fused kernels) are what would speed decode up, not "
            "the CPU side.",
            numbers,
        )
    if idle and calls_ns >= LAUNCH_BOUND_SHARE * idle:
        numbers["bound"] = "launch"
        advice = (
            "CUDA graphs are on, so fewer, larger kernels per step are what is left"
            if graphs
            else "no cudaGraphLaunch calls, so CUDA graphs are off (GGML_CUDA_DISABLE_GRAPHS, "
            "or a setup they do not apply to): with them on, one call launches a whole step"
        )
        return Finding(
            "Decode is launch-bound",
            f"The GPU idles {format_ns(per['idle'])} per token while the CPU spends "
            f"{format_ns(per['call_ns'])} per token in launch calls: {advice}.",
            numbers,
        )
    numbers["bound"] = "host"
    return Finding(
        "Decode waits on host work other than launches",
        f"The GPU idles {format_ns(per['idle'])} per token and launch calls explain only "
        f"{format_ns(per['call_ns'])} of it: the CPU is busy elsewhere between steps "
        "(sampling, detokenising, HTTP, synchronisation).",
        numbers,
    )


# --- synchronisation -----------------------------------------------------------------------------


def sync_finding(run: Run, phases: Sequence[Phase]) -> Finding | None:
    """What the share of API time spent waiting for the GPU means, given how busy it was:
    in decode (the steady state of serving) when the phases have it, else in the workload,
    else over the whole capture."""
    events = run.events
    if events is None or events.api is None:
        return None
    decode = _window(phases, "decode")
    workload = next((p for p in phases if p.kind == "workload"), None)
    if decode is not None and _bounded(decode):
        intervals = _bounded(decode)
        where = "in decode"
    elif workload is not None and workload.end_ns > workload.start_ns:
        intervals = [(workload.start_ns, workload.end_ns)]
        where = "in the workload"
    else:
        bounds = events.bounds()
        if bounds is None:
            return None
        intervals = [bounds]
        where = "over the capture"
    sync_ns, api_ns = _sync_and_api_ns(events, intervals)
    if not sync_ns or not api_ns:
        return None
    span = sum(b - a for a, b in intervals)
    busy = busy_ns(events, intervals)
    sync_share, busy_share = sync_ns * 100.0 / api_ns, busy * 100.0 / span
    numbers: dict[str, float | int | str] = {
        "sync_ns": sync_ns,
        "api_ns": api_ns,
        "sync_pct_of_api": round(sync_share, 1),
        "gpu_busy_pct": round(busy_share, 1),
    }
    if sync_share < SYNC_DOMINANT_PCT:
        meaning = "most CUDA API time goes to other calls (launches, copies), not to waiting"
    elif busy_share >= GPU_BOUND_SHARE * 100:
        meaning = (
            "the CPU waits for a busy GPU, which is how llama-server paces itself, not a bottleneck"
        )
    else:
        meaning = (
            "the waits are the CPU idling until the GPU finishes, not what leaves the GPU idle "
            f"{_pct(100 - busy_share)} of the time: that comes from host work between the waits"
        )
    return Finding(
        f"Sync calls: {_pct(sync_share)} of CUDA API time, GPU busy {_pct(busy_share)}",
        f"Synchronisation calls take {_pct(sync_share)} of CUDA API time {where} while the GPU "
        f"is busy {_pct(busy_share)}: {meaning}.",
        numbers,
    )


# --- decode speed of light ---------------------------------------------------------------------


def speed_of_light_finding(
    run: Run, record: CaptureRecord | None, phases: Sequence[Phase]
) -> Finding | None:
    """The weight bytes decode must read over the decode time, against the GPU's peak.

    Steps: generated tokens minus one per request, with one request at a time; with
    concurrent requests a step serves several tokens and the finding says it is not computed.
    None without the model's weights in the record or a decode window.
    """
    if record is None or record.weights is None:
        return None
    window = _window(phases, "decode")
    if window is None:
        return None
    if record.concurrency > 1:
        return Finding(
            "Decode speed of light not computed",
            f"With {record.concurrency} concurrent requests a decode step serves several "
            "tokens, so the steps (and the bytes they read) cannot be counted from tokens.",
            {"concurrency": record.concurrency},
        )
    steps = window_tokens(window, record)
    length = sum(b - a for a, b in _bounded(window))
    if not steps or not length:
        return None
    weights = record.weights
    per_step = weights.decode_bytes
    achieved = per_step * steps / (length / 1e9)
    numbers: dict[str, float | int | str] = {
        "bytes_per_step": per_step,
        "decode_steps": steps,
        "decode_ns": length,
        "achieved_bytes_per_s": round(achieved, 1),
    }
    experts = ""
    if weights.expert_tensor_bytes and weights.expert_count and weights.expert_used_count:
        experts = (
            f", of the expert tensors only the {weights.expert_used_count} of "
            f"{weights.expert_count} experts used"
        )
    detail = (
        f"Each decode step reads at least {format_bytes(per_step)} of weights{experts}; "
        f"{steps:,} steps in {format_ns(length)} of decode move at least {_rate(achieved)}"
    )
    peaks = {p for p in run.info.memory_bandwidth_bps if p}
    title = f"Decode reads weights at {_rate(achieved)} at least"
    if len(peaks) == 1:
        peak = peaks.pop()
        share = achieved * 100.0 / peak
        numbers.update(peak_bytes_per_s=peak, speed_of_light_pct=round(share, 1))
        detail += f", {_pct(share)} of the GPU's {_rate(peak)} peak"
        title = f"Decode at {_pct(share)} of peak memory bandwidth"
    elif len(peaks) > 1:
        detail += " (the GPUs' peak bandwidths differ: no single limit to compare with)"
    detail += " (a lower bound: the KV cache is read on top)."
    return Finding(title, detail, numbers)


def serving_findings(
    run: Run, record: CaptureRecord | None, phases: Sequence[Phase] | None = None
) -> list[Finding]:
    """Every serving finding the run supports, in reading order: start-up, the workload,
    decode (GPU, launches, what bounds it), synchronisation, decode speed of light.
    [] for a run without events (``nsys stats`` text and CSV) or without GPU work (a capture
    on a machine without a GPU: "GPU busy 0 %" would be said of a GPU that was not there).
    ``phases``: the run's ``phases_of``, where the caller has them already."""
    events = run.events
    if events is None or not len(events.gpu_union()[0]):
        return []
    phases = list(phases) if phases is not None else phases_of(events, record)
    found = [
        startup_finding(run, phases),
        workload_finding(run, phases),
        *decode_findings(run, record, phases),
        sync_finding(run, phases),
        speed_of_light_finding(run, record, phases),
    ]
    return [f for f in found if f is not None]
