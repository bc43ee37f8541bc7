"""Serving findings: start-up apart, the workload, decode and its bound, sync, speed of light."""

from __future__ import annotations

from pathlib import Path

from nsys_builder import Gpu
from serving.scenarios import MS, US, decode_capture

from llamaprof.analyze.findings import Finding
from llamaprof.analyze.phases import phases_of
from llamaprof.analyze.serving import (
    decode_findings,
    serving_findings,
    speed_of_light_finding,
    startup_finding,
)
from llamaprof.model import ReportFormat, Run
from llamaprof.record import read_record
from llamaprof.sources import load_report

HOST_BOUND = {"step_ns": 100 * MS, "kernels": 4, "kernel_ns": 10 * MS, "launch_ns": 5 * US}
LAUNCH_BOUND = {"step_ns": 1200 * US, "kernels": 100, "kernel_ns": 5 * US, "launch_ns": 10 * US}
GPU_BOUND = {
    "step_ns": 1050 * US,
    "kernels": 100,
    "kernel_ns": 10 * US,
    "launch_ns": 20 * US,
    "graphs": True,
}


def _load(write_export, record_too: bool = True, name: str = "run", **options):
    builder, record = decode_capture(**options)
    path = write_export(builder, name, record=record if record_too else None)
    return load_report(path), read_record(path)


def test_every_finding_of_a_host_bound_decode(write_export):
    """Two requests of 4 decode steps of 100 ms, each 40 ms of GPU work from 4 launches:
    every finding, word for word, with its numbers."""
    run, record = _load(write_export, **HOST_BOUND)
    assert serving_findings(run, record) == [
        Finding(
            "Start-up: 500 ms, 2.00 GB uploaded to the GPU",
            "Start-up until the server was ready took 500 ms and copied 2.00 GB to the GPU in 2 "
            "host-to-device copies (200 ms of copy time); the serving numbers leave it out.",
            {
                "load_ns": 500_000_000,
                "upload_bytes": 2_000_000_000,
                "upload_copies": 2,
                "upload_copy_ns": 200_000_000,
                "source": "record",
            },
        ),
        Finding(
            "GPU busy 28.0% of the workload",
            "While the requests ran, the GPU was busy 28.0% of the time (420 ms of 1.50 s), "
            "against 26.5% over the whole capture.",
            {
                "workload_ns": 1_500_000_000,
                "gpu_busy_ns": 420_000_000,  # two 50 ms prefills + 8 steps x 40 ms
                "gpu_busy_pct": 28.0,
                "capture_gpu_busy_pct": 26.5,  # 621 ms of 2,340.005 ms
            },
        ),
        Finding(
            "Decode: GPU busy 40.0%, idle 60.0 ms per token",
            "Over 800 ms of decode (8 tokens after each request's first), the GPU ran work "
            "40.0% of the time and sat idle 60.0 ms per token between kernels.",
            {
                "decode_ns": 800_000_000,
                "decode_tokens": 8,
                "gpu_busy_ns": 320_000_000,
                "gpu_busy_pct": 40.0,
                "gpu_idle_ns_per_token": 60_000_000.0,
            },
        ),
        Finding(
            "Decode: 4.0 kernels and 4.0 launch calls per token",
            "Each decode token ran 4.0 kernels from 4.0 launch calls (no cudaGraphLaunch calls: "
            "CUDA graphs off), which cost the CPU 20.0 µs per token.",
            {
                "kernels": 32,
                "kernels_per_token": 4.0,
                "launch_calls": 32,
                "launch_calls_per_token": 4.0,
                "launch_ns": 160_000,
                "launch_ns_per_token": 20_000.0,
                "graph_launches": 0,
                "cuda_graphs": "off",
            },
        ),
        Finding(
            "Decode waits on host work other than launches",
            "The GPU idles 60.0 ms per token and launch calls explain only 20.0 µs of it: the "
            "CPU is busy elsewhere between steps (sampling, detokenising, HTTP, "
            "synchronisation).",
            {"gpu_busy_pct": 40.0, "launch_share_of_idle_pct": 0.0, "bound": "host"},
        ),
        Finding(
            "Sync calls: 100.0% of CUDA API time, GPU busy 40.0%",
            "Synchronisation calls take 100.0% of CUDA API time in decode while the GPU is busy "
            "40.0%: the waits are the CPU idling until the GPU finishes, not what leaves the GPU "
            "idle 60.0% of the time: that comes from host work between the waits.",
            {
                "sync_ns": 319_880_000,  # 8 x (40 ms + 5 µs - 20 µs)
                "api_ns": 320_040_000,
                "sync_pct_of_api": 100.0,
                "gpu_busy_pct": 40.0,
            },
        ),
        Finding(
            "Decode at 0.9% of peak memory bandwidth",
            "Each decode step reads at least 900 MB of weights; 8 steps in 800 ms of decode move "
            "at least 9.00 GB/s, 0.9% of the GPU's 1.00 TB/s peak (a lower bound: the KV cache "
            "is read on top).",
            {
                "bytes_per_step": 900_000_000,
                "decode_steps": 8,
                "decode_ns": 800_000_000,
                "achieved_bytes_per_s": 9_000_000_000.0,
                "peak_bytes_per_s": 1_000_000_000_000,
                "speed_of_light_pct": 0.9,
            },
        ),
    ]


def test_launch_bound_decode_without_graphs(write_export):
    """100 short kernels per step, each launched by a 10 µs call: the GPU idles 700 µs per
    token while launches take 1 ms, and no cudaGraphLaunch says graphs are off."""
    run, record = _load(write_export, **LAUNCH_BOUND)
    gpu, launches, bound = decode_findings(run, record, phases_of(run.events, record))
    assert gpu.numbers["gpu_busy_pct"] == 41.7
    assert gpu.numbers["gpu_idle_ns_per_token"] == 700_000.0
    assert launches.numbers["launch_calls_per_token"] == 100.0
    assert bound == Finding(
        "Decode is launch-bound",
        "The GPU idles 700 µs per token while the CPU spends 1.00 ms per token in launch calls: "
        "no cudaGraphLaunch calls, so CUDA graphs are off (GGML_CUDA_DISABLE_GRAPHS, or a setup "
        "they do not apply to): with them on, one call launches a whole step.",
        {"gpu_busy_pct": 41.7, "launch_share_of_idle_pct": 142.9, "bound": "launch"},
    )
    light = speed_of_light_finding(run, record, phases_of(run.events, record))
    assert light.numbers["speed_of_light_pct"] == 75.0  # 8 x 900 MB in 9.6 ms = 750 GB/s


def test_gpu_bound_decode_with_graphs(write_export):
    """One cudaGraphLaunch per step (nsys keeps its _v10000 suffix) running 100 kernels back
    to back: 95.2% busy, graphs on, the waits are for a busy GPU."""
    run, record = _load(write_export, **GPU_BOUND)
    found = {f.title: f for f in serving_findings(run, record)}
    launches = found["Decode: 100.0 kernels and 1.0 launch calls per token"]
    assert (launches.numbers["graph_launches"], launches.numbers["cuda_graphs"]) == (8, "on")
    assert "(8 cudaGraphLaunch calls: CUDA graphs on)" in launches.detail
    assert found["Decode is GPU-bound"].detail == (
        "The GPU is busy 95.2% of decode, so faster kernels (a lighter quantisation, flash "
        "attention, fused kernels) are what would speed decode up, not the CPU side."
    )
    sync = found["Sync calls: 98.0% of CUDA API time, GPU busy 95.2%"]
    assert sync.detail.endswith(
        "the CPU waits for a busy GPU, which is how llama-server paces itself, not a bottleneck."
    )


def test_speed_of_light_for_moe_and_concurrency(write_export):
    """MoE: only the used experts' share of the expert tensors counts; with concurrent
    requests the speed of light is not computed; differing GPUs give no percentage."""
    moe = {
        "tensor_bytes": 10_000_000_000,
        "token_embd_bytes": 0,
        "output_tied": True,
        "expert_tensor_bytes": 8_000_000_000,
        "expert_count": 8,
        "expert_used_count": 2,
    }
    run, record = _load(write_export, weights=moe, **HOST_BOUND)
    light = speed_of_light_finding(run, record, phases_of(run.events, record))
    # 10 GB - 6/8 of 8 GB = 4 GB per step, 8 steps in 800 ms
    assert light.numbers["bytes_per_step"] == 4_000_000_000
    assert light.numbers["achieved_bytes_per_s"] == 40_000_000_000.0
    assert light.detail.startswith(
        "Each decode step reads at least 4.00 GB of weights, of the expert tensors only the 2 "
        "of 8 experts used; 8 steps in 800 ms of decode move at least 40.0 GB/s, 4.0% of"
    )
    run, record = _load(write_export, name="concurrent", concurrency=4, **HOST_BOUND)
    assert speed_of_light_finding(run, record, phases_of(run.events, record)) == Finding(
        "Decode speed of light not computed",
        "With 4 concurrent requests a decode step serves several tokens, so the steps (and the "
        "bytes they read) cannot be counted from tokens.",
        {"concurrency": 4},
    )
    builder, rec = decode_capture(**HOST_BOUND)
    builder.gpus = [Gpu("A", 1_000_000_000_000, 0), Gpu("B", 2_000_000_000_000, 1)]
    path = write_export(builder, "two", record=rec)
    two, two_record = load_report(path), read_record(path)
    light = speed_of_light_finding(two, two_record, phases_of(two.events, two_record))
    assert light.title == "Decode reads weights at 9.00 GB/s at least"
    assert "(the GPUs' peak bandwidths differ: no single limit to compare with)" in light.detail
    assert "speed_of_light_pct" not in light.numbers


def test_without_a_record_start_up_is_detected_and_decode_unknown(write_export):
    """No record: start-up comes from the leading copies; decode and speed of light need the
    record's request times and tokens, so they are left out."""
    run, _ = _load(write_export, record_too=False, **HOST_BOUND)
    found = serving_findings(run, None)
    titles = [f.title for f in found]
    assert titles[0] == "Start-up: 300 ms, 2.00 GB uploaded to the GPU"
    assert found[0].detail.startswith(
        "Start-up (its leading host-to-device copies) took 300 ms and copied 2.00 GB"
    )
    assert not any(t.startswith(("Decode", "Decode speed")) for t in titles)
    phases = phases_of(run.events, None)
    assert startup_finding(run, phases).numbers["source"] == "detected"


def test_text_runs_have_no_serving_findings():
    """`nsys stats` text has no events: nothing to say about phases."""
    run = Run(path=Path("seed.txt"), format=ReportFormat.STATS_TEXT)
    assert serving_findings(run, None) == []
