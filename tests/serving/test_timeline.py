"""The timeline: GPU busy, GPU time by kernel family and CPU waits per bin, exact in ns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from nsys_builder import ExportBuilder

from llamaprof.analyze.llama_kernels import FAMILY_NAMES
from llamaprof.analyze.timeline import timeline
from llamaprof.events import Events
from llamaprof.sources import load_report

MMV = "void mul_mat_vec<__half, __half, (int)1, (int)256>(const __half *, const __half *, float *)"
FA = "void flash_attn_ext_f16<(int)128, (int)128, (int)4>(const char *, const char *, float *)"
NORM = "void rms_norm_f32<(int)1024>(const float *, float *, int, float)"


def _binned() -> ExportBuilder:
    b = ExportBuilder()
    b.launch(MMV, 0, 5, 10, 60, stream=7)
    b.kernel(FA, 40, 250, stream=8)  # overlaps the first; spans three bins
    b.kernel(NORM, 300, 320, device=1)
    b.memcpy(90, 130, 64, "HtoD")
    b.memset(350, 360, 64)
    b.api("cudaStreamSynchronize_v3020", 50, 330)
    return b


def test_timeline_bins_exactly(write_export):
    """Per 100 ns bin: busy is the union (overlaps once), family and memory times are sums
    split across the bins each interval spans, sync is the CPU's wait split the same way."""
    run = load_report(write_export(_binned()))
    frame = timeline(run.events, bin_ns=100)
    assert frame["bin_start_ns"].tolist() == [0, 100, 200, 300]
    assert frame["bin_end_ns"].tolist() == [100, 200, 300, 400]
    assert frame["gpu_busy_ns"].tolist() == [90, 100, 50, 30]
    assert frame["gpu_busy_pct"].tolist() == [90.0, 100.0, 50.0, 30.0]
    assert frame["kernel_ns"].tolist() == [110, 100, 50, 20]  # 50 + 60 overlap in bin 0
    assert frame["matmul_ns"].tolist() == [50, 0, 0, 0]
    assert frame["attention_ns"].tolist() == [60, 100, 50, 0]
    assert frame["norm_ns"].tolist() == [0, 0, 0, 20]
    assert frame["memory_ns"].tolist() == [10, 30, 0, 10]
    assert frame["sync_ns"].tolist() == [50, 100, 100, 30]
    assert frame["kernels"].tolist() == [2, 0, 0, 1]
    assert list(frame.columns) == [
        "bin_start_ns",
        "bin_end_ns",
        "gpu_busy_ns",
        "gpu_busy_pct",
        "kernel_ns",
        *(f"{f}_ns" for f in FAMILY_NAMES),
        "memory_ns",
        "sync_ns",
        "kernels",
    ]


def test_timeline_range_and_origin(write_export):
    """Bins align on the origin and cover the range asked with whole bins; work outside the
    bins is not counted."""
    run = load_report(write_export(_binned()))
    frame = timeline(run.events, bin_ns=100, start_ns=120, end_ns=260, origin_ns=50)
    assert frame["bin_start_ns"].tolist() == [50, 150, 250]
    assert frame["gpu_busy_ns"].tolist() == [100, 100, 20]  # [250, 350) holds the norm kernel
    assert frame["attention_ns"].tolist() == [100, 100, 0]
    assert frame["memory_ns"].tolist() == [40, 0, 0]  # the memset at 350 is past the last bin
    assert frame["sync_ns"].tolist() == [100, 100, 80]
    assert frame["kernels"].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="longer than 0 ns"):
        timeline(run.events, bin_ns=0)
    with pytest.raises(ValueError, match="bins of 1 ns: more than"):
        timeline(run.events, bin_ns=1, start_ns=0, end_ns=10**8)


def test_timeline_matches_a_brute_force_count():
    """On 3,000 random kernels, memcpys and syncs (overlapping, spanning bins, on several
    devices), every column equals a per-event, per-nanosecond count."""
    rng = np.random.default_rng(7)
    n = 3000
    names = [MMV, FA, NORM, "void k_unknown<int>(int *)"]
    kernels = pd.DataFrame(
        {
            "start_ns": rng.integers(0, 20_000, n),
            "duration_ns": rng.integers(0, 700, n),
            "name": rng.integers(0, len(names), n).astype(np.int32),
            "device": rng.integers(0, 2, n).astype(np.int16),
        }
    )
    memory = pd.DataFrame(
        {
            "start_ns": rng.integers(0, 20_000, 200),
            "duration_ns": rng.integers(0, 3000, 200),
            "op": np.zeros(200, dtype=np.int16),
            "bytes": np.ones(200, dtype=np.int64),
            "kind": np.zeros(200, dtype=np.int8),
            "device": np.zeros(200, dtype=np.int16),
        }
    )
    api = pd.DataFrame(
        {
            "start_ns": rng.integers(0, 20_000, 300),
            "duration_ns": rng.integers(0, 2000, 300),
            "name": rng.integers(0, 2, 300).astype(np.int32),
        }
    )
    table = pd.DataFrame(
        {
            "demangled_id": range(4),
            "base_id": range(4),
            "mangled_id": [-1] * 4,
            "demangled": names,
            "base": names,
            "mangled": [None] * 4,
        }
    )
    events = Events(
        api=api,
        api_names=["cudaStreamSynchronize", "cudaLaunchKernel"],
        kernels=kernels,
        kernel_names=table,
        memory=memory,
        memory_ops=["[CUDA memcpy Host-to-Device]"],
    )
    bin_ns = 333
    frame = timeline(events, bin_ns=bin_ns, start_ns=0, end_ns=23_000)
    edges = np.arange(0, 23_310 + bin_ns, bin_ns)[: len(frame) + 1]

    def per_bin(starts, durations):
        total = np.zeros(len(frame), dtype=np.int64)
        for s, d in zip(starts.tolist(), durations.tolist(), strict=True):
            for i in range(len(frame)):
                total[i] += max(0, min(s + d, edges[i + 1]) - max(s, edges[i]))
        return total

    covered = np.zeros(edges[-1], dtype=bool)
    for frame_ in (kernels, memory):
        for s, d in zip(frame_["start_ns"].tolist(), frame_["duration_ns"].tolist(), strict=True):
            covered[s : s + d] = True
    busy = [int(covered[edges[i] : edges[i + 1]].sum()) for i in range(len(frame))]
    assert frame["gpu_busy_ns"].tolist() == busy
    family_of = {MMV: "matmul", FA: "attention", NORM: "norm", names[3]: "other"}
    for code, name in enumerate(names):
        rows = kernels[kernels["name"] == code]
        assert (
            frame[f"{family_of[name]}_ns"].tolist()
            == per_bin(rows["start_ns"], rows["duration_ns"]).tolist()
        )
    assert (
        frame["memory_ns"].tolist() == per_bin(memory["start_ns"], memory["duration_ns"]).tolist()
    )
    syncs = api[api["name"] == 0]
    assert frame["sync_ns"].tolist() == per_bin(syncs["start_ns"], syncs["duration_ns"]).tolist()
    counts = np.histogram(kernels["start_ns"], bins=edges)[0]
    assert frame["kernels"].tolist() == counts.tolist()
