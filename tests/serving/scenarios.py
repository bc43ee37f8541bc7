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
