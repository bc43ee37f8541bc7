"""Exports with known intervals shared by the serving tests (built with scripts/nsys_builder.py)."""

from __future__ import annotations

from nsys_builder import ExportBuilder, TimedRequest, record_json

ALPHA = "void alpha<float>(float *)"
BETA = "void beta<float>(float *)"
LAUNCH = "cudaLaunchKernel_v7000"
COPY = "cudaMemcpyAsync_v3020"
SYNC = "cudaStreamSynchronize_v3020"


def around_window() -> ExportBuilder:
    """Events before, across, inside and after the window [1800, 3000)."""
    b = ExportBuilder()
    b.memcpy(50, 90, 1000, "HtoD", correlation=b.api(COPY, 40, 45))
    b.launch(ALPHA, 100, 200, 250, 900)
    b.launch(BETA, 1000, 1100, 1150, 1900)  # starts before 1800, runs into the window
    b.api(SYNC, 1500, 2500)  # starts before, ends inside
    b.launch(ALPHA, 2000, 2100, 2150, 2400)
    b.launch(BETA, 2200, 2230, 2400, 2410)
    b.memcpy(2500, 2600, 16, "DtoH", correlation=b.api(COPY, 2450, 2460))
    b.memset(2990, 3100, 64)  # starts inside, ends after
    b.launch(ALPHA, 3000, 3050, 3060, 3100)  # starts at the window's end: outside
    return b


def inside_window() -> ExportBuilder:
    """Only the events of ``_around_window`` that start in [1800, 3000)."""
    b = ExportBuilder()
    b.launch(ALPHA, 2000, 2100, 2150, 2400)
    b.launch(BETA, 2200, 2230, 2400, 2410)
    b.memcpy(2500, 2600, 16, "DtoH", correlation=b.api(COPY, 2450, 2460))
    b.memset(2990, 3100, 64)
    return b


def sequential() -> tuple[ExportBuilder, dict]:
    """Two requests one after the other, each a prefill kernel then two decode kernels."""
    b = ExportBuilder()
    b.memcpy(10, 400, 4096, "HtoD")  # model upload
    times = [(1_000, 1_100, 1_500), (2_000, 2_050, 2_400)]
    for start, token, _end in times:
        b.launch(ALPHA, start + 5, start + 10, start + 20, token - 10)  # prefill
        b.launch(BETA, token + 5, token + 10, token + 20, token + 120)  # decode step
        b.launch(BETA, token + 130, token + 135, token + 140, token + 240)
    requests = [TimedRequest(s, t, e, prompt_tokens=10, generated_tokens=3) for s, t, e in times]
    return b, record_json(requests)


MS = 1_000_000
US = 1_000
#: One tensor of 1 GB, its 100 MB embedding table not tied to the output: 900 MB per step.
WEIGHTS = {"tensor_bytes": 1_000_000_000, "token_embd_bytes": 100_000_000, "architecture": "llama"}


def decode_capture(
    *,
    step_ns: int,
    kernels: int,
    kernel_ns: int,
    launch_ns: int,
    graphs: bool = False,
    concurrency: int = 1,
    weights: dict | None = None,
    bandwidth: int | None = 1_000_000_000_000,
) -> tuple[ExportBuilder, dict]:
    """A llama-server-like capture: 2 GB of weights uploaded at 100-300 ms, a warm-up kernel,
    the server ready at 500 ms, then two requests (at 1 s and 2 s) each with a 50 ms prefill
    kernel and 4 decode steps of ``step_ns``: ``kernels`` kernels of ``kernel_ns``, launched
    one call each (``launch_ns`` long, back to back) or by one cudaGraphLaunch, then a
    cudaStreamSynchronize until the last kernel ends. 5 tokens generated per request."""
    from nsys_builder import Gpu

    b = ExportBuilder(gpus=[Gpu("NVIDIA H100 80GB HBM3", bandwidth)])
    b.memcpy(100 * MS, 200 * MS, 1_000_000_000, "HtoD")
    b.memcpy(200 * MS, 300 * MS, 1_000_000_000, "HtoD")
    b.kernel("void warmup<float>(float *)", 400 * MS, 401 * MS)
    requests = []
    for r in range(2):
        start = (1000 + 1000 * r) * MS
        b.launch(
            "void mul_mat_q<(ggml_type)12, (int)64>(const char *)",
            start,
            start + 5 * US,
            start + MS,
            start + 51 * MS,
        )
        token = start + 100 * MS
        for j in range(4):
            t = token + j * step_ns
            if graphs:
                corr = b.api("cudaGraphLaunch_v10000", t, t + launch_ns)
                ends = [t + launch_ns + (i + 1) * kernel_ns for i in range(kernels)]
                for end in ends:
                    b.kernel(_DECODE_KERNEL, end - kernel_ns, end, correlation=corr)
                last_api = t + launch_ns
            else:
                end = 0
                for i in range(kernels):
                    issued = t + (i + 1) * launch_ns
                    begin = max(issued, end)
                    end = begin + kernel_ns
                    b.launch(_DECODE_KERNEL, issued - launch_ns, issued, begin, end)
                ends = [end]
                last_api = t + kernels * launch_ns
            b.api("cudaStreamSynchronize_v3020", last_api, max(ends))
        requests.append(
            TimedRequest(start, token, token + 4 * step_ns, prompt_tokens=32, generated_tokens=5)
        )
    record = record_json(
        requests, concurrency=concurrency, weights=weights or WEIGHTS, server_ready=500 * MS
    )
    return b, record


_DECODE_KERNEL = "void mul_mat_vec_q<(ggml_type)12, (int)1>(const void *, const void *, float *)"
