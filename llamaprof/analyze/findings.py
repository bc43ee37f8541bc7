"""Plain-language findings about one run and about a comparison, each citing its numbers.

Kept streamlit-free. In the spirit of the walkthrough's "关键发现" (key findings): which
API call dominates and what that usually means, the largest single transfer, the launch
overhead per kernel, how idle the GPU was, which kernel family dominates; for a comparison,
the biggest regressions and improvements with their family. Every ``Finding`` carries the
numbers it rests on (``numbers``: name -> value, times in ns, sizes in bytes, shares in
percent), so the app and the command line can show them next to the sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.cuda_calls import is_launch_call
from llamaprof.analyze.kernel_names import short_kernel_name
from llamaprof.analyze.llama_kernels import (
    FAMILY_NAMES,
    OTHER,
    decode_ggml_types,
    family_summary,
    kernel_family,
)
from llamaprof.model import Run
from llamaprof.units import format_bytes, format_ns, signed_text

__all__ = ["API_MEANINGS", "Finding", "comparison_findings", "run_findings"]


@dataclass(frozen=True)
class Finding:
    """One finding: a short ``title``, a one-sentence ``detail``, and the numbers behind it."""

    title: str
    detail: str
    numbers: dict[str, float | int | str] = field(default_factory=dict)


#: What a dominant CUDA API call usually means for llama-server, by call name prefix.
API_MEANINGS: dict[str, str] = {
    "cudaStreamSynchronize": "the CPU waits on the GPU: the host blocks until queued work "
    "finishes, so GPU time, not the host, sets the pace",
    "cudaDeviceSynchronize": "the CPU waits for the whole device to finish",
    "cudaEventSynchronize": "the CPU waits on GPU events",
    "cudaMemcpyAsync": "host-device transfers: weights at load time or logits and inputs "
    "every step",
    "cudaMemcpy": "blocking host-device transfers",
    "cudaLaunchKernel": "launch overhead: many small kernels, each launched by the CPU; CUDA "
    "graphs cut it",
    "cuLaunchKernel": "launch overhead: many small kernels, each launched by the CPU",
    "cudaGraphLaunch": "CUDA graph replays: kernels run as graphs (trace with "
    "--cuda-graph-trace=node to see them)",
    "cudaMalloc": "device allocations, usually at start-up (model and KV cache)",
    "cudaMallocHost": "pinned host allocations, usually at start-up",
    "cudaFree": "freeing device memory, usually at shutdown",
    "cudaFreeHost": "freeing pinned host memory, usually at shutdown",
    "cudaMemGetInfo": "free-memory queries, usually at start-up while fitting layers",
}


def _meaning(name: str) -> str:
    for prefix in sorted(API_MEANINGS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "_"):
            return API_MEANINGS[prefix]
    return "a CUDA call the host spends its time in"


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _dominant_api(api: pd.DataFrame) -> Finding | None:
    if api is None or api.empty:
        return None
    total = float(api["total_ns"].sum())
    if not total:
        return None
    top = api.sort_values("total_ns", ascending=False, kind="stable").iloc[0]
    share = float(top["total_ns"]) * 100.0 / total
    name = str(top["name"])
    return Finding(
        f"{name} dominates the CUDA API time ({_pct(share)})",
        f"{name} takes {_pct(share)} of CUDA API time ({format_ns(top['total_ns'])} over "
        f"{int(top['count']):,} calls, avg {format_ns(top['avg_ns'])}, max "
        f"{format_ns(top['max_ns'])}): usually {_meaning(name)}.",
        {
            "api_call": name,
            "time_pct": round(share, 1),
            "total_ns": int(top["total_ns"]),
            "count": int(top["count"]),
            "avg_ns": float(top["avg_ns"]),
            "max_ns": int(top["max_ns"]),
        },
    )


def _largest_transfer(
    mem_time: pd.DataFrame | None, mem_size: pd.DataFrame | None
) -> Finding | None:
    numbers: dict[str, float | int | str] = {}
    parts = []
    copies_time = None if mem_time is None else mem_time[mem_time["op"] != reports.MEMSET]
    if copies_time is not None and not copies_time.empty:
        row = copies_time.sort_values("max_ns", ascending=False, kind="stable").iloc[0]
        numbers.update(
            max_ns=int(row["max_ns"]), time_operation=str(row["op"]), time_count=int(row["count"])
        )
        parts.append(
            f"the longest single copy took {format_ns(row['max_ns'])} "
            f"({row['op']}, one of {int(row['count']):,})"
        )
    copies_size = None if mem_size is None else mem_size[mem_size["op"] != reports.MEMSET]
    if copies_size is not None and not copies_size.empty:
        row = copies_size.sort_values("max_bytes", ascending=False, kind="stable").iloc[0]
        numbers.update(max_bytes=int(row["max_bytes"]), size_operation=str(row["op"]))
        parts.append(f"the largest moved {format_bytes(row['max_bytes'])} ({row['op']})")
    if not parts:
        return None
    title = "Largest single transfer"
    if "max_ns" in numbers:
        title += f": {format_ns(int(numbers['max_ns']))} ({numbers['time_operation']})"
    detail = "; ".join(parts)
    return Finding(title, detail[0].upper() + detail[1:] + ".", numbers)


def _launch_overhead(api: pd.DataFrame | None, kernels: pd.DataFrame | None) -> Finding | None:
    if api is None or api.empty:
        return None
    names = api["name"].astype(str)
    launches = api[names.map(is_launch_call).astype(bool)]
    count = int(launches["count"].sum())
    if not count:
        return None
    launch_ns = float(launches["total_ns"].sum())
    per_launch = launch_ns / count
    numbers: dict[str, float | int | str] = {
        "launch_total_ns": int(launch_ns),
        "launches": count,
        "launch_avg_ns": round(per_launch, 1),
    }
    detail = (
        f"{count:,} kernel launches cost {format_ns(launch_ns)} of CPU time, "
        f"{format_ns(per_launch)} per launch"
    )
    if kernels is not None and not kernels.empty and int(kernels["count"].sum()):
        kernel_avg = float(kernels["total_ns"].sum()) / int(kernels["count"].sum())
        ratio = per_launch / kernel_avg if kernel_avg else math.nan
        numbers.update(kernel_avg_ns=round(kernel_avg, 1), launch_to_kernel=round(ratio, 3))
        detail += (
            f", against {format_ns(kernel_avg)} of GPU time per kernel on average "
            f"(launch/kernel {ratio:.2f})"
        )
        if ratio >= 0.5:
            detail += ": kernels are short enough that launching them can limit throughput"
    return Finding(f"Launch overhead: {format_ns(per_launch)} per kernel", detail + ".", numbers)


def _gpu_idle(run: Run) -> Finding | None:
    share = run.info.gpu_busy_share
    if share is None:
        return None
    idle = (1.0 - share) * 100.0
    # a run cut to a window (``apply_window``) has the window's span and busy time
    scope = "capture" if run.window is None else f"{run.window.name} window"
    return Finding(
        f"GPU idle {_pct(idle)} of the {scope}",
        f"The GPU ran kernels or copies for {format_ns(run.info.gpu_busy_ns)} of the "
        f"{format_ns(run.info.span_ns)} {scope} span, idle {_pct(idle)} of it.",
        {
            "gpu_busy_ns": int(run.info.gpu_busy_ns or 0),
            "span_ns": int(run.info.span_ns or 0),
            "idle_pct": round(idle, 1),
        },
    )


def _dominant_family(kernels: pd.DataFrame | None) -> Finding | None:
    if kernels is None or kernels.empty:
        return None
    families = family_summary(kernels)
    top = families.iloc[0]
    top_kernel = kernels.sort_values("total_ns", ascending=False, kind="stable").iloc[0]
    kernel_share = float(top_kernel["total_ns"]) * 100.0 / float(kernels["total_ns"].sum())
    short = short_kernel_name(str(top_kernel["name"]))
    share = _pct(top["time_pct"])
    if top["family"] == OTHER:
        title = f"{share} of GPU kernel time is in kernels outside llama.cpp's families"
        subject = "Kernels llamaprof does not recognise as llama.cpp's"
    else:
        title = f"{top['family']} kernels take {share} of GPU kernel time"
        subject = f"The {top['family']} family"
    n_kernels, launches = int(top["n_kernels"]), int(top["count"])
    return Finding(
        title,
        f"{subject} ({n_kernels} kernel{'s' if n_kernels != 1 else ''}, "
        f"{launches:,} launch{'es' if launches != 1 else ''}) take"
        f"{'s' if top['family'] != OTHER else ''} {share} of GPU kernel time; the largest "
        f"kernel, {short} ({kernel_family(str(top_kernel['name']))}), alone takes "
        f"{_pct(kernel_share)}.",
        {
            "family": str(top["family"]),
            "family_time_pct": float(top["time_pct"]),
            "family_total_ns": int(top["total_ns"]),
            "top_kernel": str(top_kernel["name"]),
            "top_kernel_time_pct": round(kernel_share, 1),
        },
    )


def run_findings(run: Run) -> list[Finding]:
    """Findings about one run, most telling first; only those its summaries support.

    In order: the dominant CUDA API call and what it usually means, the largest single
    transfer, launch overhead per kernel, GPU idle share (SQLite exports only), the
    dominant kernel family.
    """
    api = run.summary(reports.API)
    kernels = run.summary(reports.KERNELS)
    candidates = [
        _dominant_api(api),
        _largest_transfer(run.summary(reports.MEM_TIME), run.summary(reports.MEM_SIZE)),
        _launch_overhead(api, kernels),
        _gpu_idle(run),
        _dominant_family(kernels),
    ]
    return [finding for finding in candidates if finding is not None]


def comparison_findings(
    diff: pd.DataFrame,
    baseline: str | None = None,
    *,
    unit: str = "ns",
    top: int = 3,
    min_pct: float = 1.0,
) -> list[Finding]:
    """The biggest regressions and improvements of a kernel comparison, with their family.

    ``diff`` is ``compare_groups``' long frame (``name``, ``run``, ``value``,
    ``baseline_value``, ``delta``, ``delta_pct``, ``status``); ``baseline`` its baseline
    run, which gets no findings (default: runs whose every delta is 0 are skipped). For
    each other run: first its total change, then up to ``top`` regressions (largest
    ``delta`` > 0) and ``top`` improvements (largest ``-delta``), skipping changes under
    ``min_pct`` percent of the baseline's total. ``unit`` names what ``value`` holds
    (``ns``, ``ns/token``, ``bytes``). Kernel and by-family frames both work: a family
    row's family is itself.
    """
    findings: list[Finding] = []
    fmt = format_bytes if unit.startswith("bytes") else format_ns
    suffix = unit[unit.index("/") :] if "/" in unit else ""
    for run, rows in diff.groupby("run", sort=False):
        if run == baseline or (baseline is None and not rows["delta"].any()):
            continue
        base_total = float(rows["baseline_value"].sum())
        total = float(rows["value"].sum())
        change = total - base_total
        change_pct = change * 100.0 / base_total if base_total else math.nan
        direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
        findings.append(
            Finding(
                f"{run}: total {direction} {abs(change_pct):.1f}%"
                if base_total
                else f"{run}: total {fmt(total)}{suffix}",
                f"{run} totals {fmt(total)}{suffix} against the baseline's "
                f"{fmt(base_total)}{suffix} ({signed_text(fmt(change), change)}{suffix}).",
                {
                    "run": str(run),
                    "total": total,
                    "baseline_total": base_total,
                    "delta": change,
                    "delta_pct": round(change_pct, 1) if base_total else math.nan,
                },
            )
        )
        floor = abs(base_total) * min_pct / 100.0
        moved = rows[rows["delta"].abs() >= max(floor, 1e-12)]
        worse = moved[moved["delta"] > 0].sort_values("delta", ascending=False, kind="stable")
        better = moved[moved["delta"] < 0].sort_values("delta", ascending=True, kind="stable")
        for kind, chosen in (("regression", worse.head(top)), ("improvement", better.head(top))):
            for _, row in chosen.iterrows():
                findings.append(_kernel_change(str(run), kind, row, fmt, suffix))
    return findings


def _display_name(name: str) -> str:
    """Short kernel name, with its decoded ggml types: ``mul_mat_q [Q4_K]``."""
    if name in FAMILY_NAMES:
        return name
    types = list(dict.fromkeys(decode_ggml_types(name)))
    short = short_kernel_name(name)
    return f"{short} [{'/'.join(types)}]" if types else short


def _kernel_change(run: str, kind: str, row: pd.Series, fmt, suffix: str) -> Finding:
    name = str(row["name"])
    family = name if name in FAMILY_NAMES else kernel_family(name)
    short = _display_name(name)
    pct = row["delta_pct"]
    if row["status"] == "new":
        pct_text = "new"
    elif row["status"] == "missing":
        pct_text = "gone"
    else:
        pct_text = f"{pct:+.1f}%"
    where = f"{family}: {short}" if short != family else family
    change = signed_text(fmt(row["delta"]), row["delta"])
    return Finding(
        f"{run}: {kind} in {where} ({pct_text})",
        f"{short if short == family else f'{short} ({family})'} went from "
        f"{fmt(row['baseline_value'])}{suffix} to "
        f"{fmt(row['value'])}{suffix} ({change}{suffix}, {pct_text}).",
        {
            "run": run,
            "kind": kind,
            "name": name,
            "family": family,
            "baseline_value": float(row["baseline_value"]),
            "value": float(row["value"]),
            "delta": float(row["delta"]),
            "delta_pct": float(pct) if pct is not None and not pd.isna(pct) else math.nan,
        },
    )
