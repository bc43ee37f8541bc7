#!/usr/bin/env python3
"""Write the generated llama-server captures shipped in ``reports/``: two SQLite exports and
their capture records, one A/B set (``-fa on`` / ``-fa off``), so the first page compares
configs with start-up and serving apart, and a timeline.

GENERATED, NOT MEASURED. ``reports/serving-timeline-generated.sqlite`` is an nsys SQLite
export (the tables and columns of a 2026 export that llamaprof reads, written by
``scripts/nsys_builder.py``) shaped like llama-server serving a small f16 model on one GPU
under ``nsys profile --trace=cuda,nvtx,osrt --cuda-graph-trace=node``;
``reports/serving-timeline-generated.llamaprof.json`` is its schema-2 capture record. Every
time is made up, from fixed formulas (no random numbers: the same script writes the same
rows anywhere). What it holds, on the nsys timeline:

- start-up: CUDA initialisation and allocations (250-400 ms), then the weights going up to
  the GPU: 290 host-to-device copies of 2.2 GB in all at about 25 GB/s, each a
  ``cudaMemcpyAsync`` and its ``cudaStreamSynchronize``; a warm-up decode step; the server
  ready at 1.25 s;
- the workload from 1.30 s: 4 requests one after the other (48, 96, 64 and 80 prompt tokens,
  16 tokens generated each), streamed. Each prefill runs every kernel of an 8-layer model
  (cuBLAS GEMMs, flash attention) launched one ``cudaLaunchKernel`` each; each of the 15
  decode steps is one ``cudaGraphLaunch`` (CUDA graphs on) of 68 kernels
  (``mul_mat_vec_f``, ``flash_attn_ext_vec``, ``rms_norm_f32``, ``rope_neox``, ...; about
  2.6 ms of GPU time), the logits copied back and waited for, then about 0.3 ms of host work
  (sampling) before the next step;
- the GPU: an "NVIDIA GeForce RTX 4090" reporting 1,008 GB/s peak memory bandwidth; the
  model's weights in the record: 2.2 GB of tensors, a 131 MB embedding table.

``reports/serving-timeline-generated-nofa.*`` is the same capture with flash attention off,
30 s later: where a layer ran one flash-attention kernel, it runs K·Q (``mul_mat_vec_f`` in
decode, a GEMM in prefill), ``soft_max_f32`` and ·V, a little slower. Both records name one
set (``set``, ``repeat.group`` per config) as ``llamaprof capture --config "-fa on" --config
"-fa off"`` writes it, and llama-server's timings (prompt to first token, generation after).

Run: ``.venv/bin/python scripts/make_example_export.py`` (writes into ``reports/``; ``--out
DIR`` elsewhere). ``tests/serving/test_example_export.py`` checks the shipped files hold what
this script writes.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from nsys_builder import SESSION_START_UTC_NS, ExportBuilder, Gpu, TimedRequest, record_json

from llamaprof.capture.workload import summarize

ROOT = Path(__file__).resolve().parents[1]
NAME = "serving-timeline-generated"
#: The flash-attention-off counterpart: with NAME, an A/B set of two configs.
NOFA_NAME = "serving-timeline-generated-nofa"
SET_ID = "20260102-030405"
US, MS = 1_000, 1_000_000
LAYERS = 8
TENSORS = 290
WEIGHT_BYTES = 2_200_000_000
EMBEDDING_BYTES = 131_072_000
UPLOAD_BYTES_PER_NS = 25  # 25 GB/s
PROMPTS = (48, 96, 64, 80)
GENERATED = 16
WORKLOAD_START = 1_300 * MS
READY = 1_250 * MS

LAUNCH = "cudaLaunchKernel_v7000"
GRAPH = "cudaGraphLaunch_v10000"
COPY = "cudaMemcpyAsync_v3020"
SYNC = "cudaStreamSynchronize_v3020"

RMS_NORM = (
    "void rms_norm_f32<(int)1024, (bool)1, (bool)0>(const float *, float *, int, "
    "long, long, long, float)"
)
MMV = (
    "void mul_mat_vec_f<__half, float, (int)1, (int)128, (bool)0>(const __half *, "
    "const float *, const int *, float *, int, int, int, int)"
)
ROPE = (
    "void rope_neox<(bool)1, (bool)0, float>(const float *, float *, int, int, int, "
    "int, int, const int *, float, float, float, float)"
)
FA_VEC = (
    "void flash_attn_ext_vec<(int)64, (int)1, (ggml_type)1, (ggml_type)1, "
    "(bool)0>(const char *, const char *, const char *, const char *, float2 *, "
    "float *)"
)
FA = (
    "void flash_attn_ext_f16<(int)64, (int)64, (int)4, (int)1, (bool)0, "
    "(bool)0>(const char *, const char *, const char *, const char *, float2 *, "
    "float *)"
)
ADD = (
    "void k_bin_bcast<&op_add, float, float, float>(const float *, const float *, "
    "float *, int, int, int, int, int, int)"
)
SILU = (
    "void unary_gated_op_kernel<&op_silu, float>(const float *, const float *, "
    "float *, long, long, long, long)"
)
SET_ROWS = "void k_set_rows<float, __half>(const float *, const long *, __half *, long, long)"
GET_ROWS = (
    "void k_get_rows_float<float, float>(const float *, const int *, float *, long, "
    "long, long, long)"
)
SOFT_MAX = (
    "void soft_max_f32<(bool)1, (int)0, (int)0, float>(const float *, const float *, "
    "const float *, float *, soft_max_params)"
)
GEMM = (  # cuBLAS
    "sm80_xmma_gemm_f16f16_f16f32_f32_tn_n_tilesize128x128x32_stage3_warpsize2x2x1_"
    "tensor16x8x16_kernel"
)
TO_HALF = "void convert_unary<float, __half>(const void *, __half *, long, long, long, long)"

#: One decode layer: (kernel, GPU time in ns). 8 per layer, 64 for the model.
DECODE_LAYER = (
    (RMS_NORM, 3_100),
    (MMV, 61_000),  # fused QKV projection
    (ROPE, 2_900),
    (SET_ROWS, 2_400),  # K and V into the cache
    (FA_VEC, 9_800),
    (MMV, 20_500),  # output projection
    (ADD, 2_300),
    (MMV, 218_000),  # gate+up and down projections, one row for the pair
)
#: The same without flash attention (``-fa off``): K·Q, softmax, then ·V, three kernels.
DECODE_LAYER_NOFA = (
    *DECODE_LAYER[:4],
    (MMV, 4_600),  # K·Q
    (SOFT_MAX, 3_300),
    (MMV, 4_900),  # ·V
    *DECODE_LAYER[5:],
)
#: Before the layers and after them: embedding lookup; final norm, output head, a copy.
DECODE_HEAD = ((GET_ROWS, 2_600), (RMS_NORM, 3_000), (MMV, 138_000), (ADD, 2_100))
#: One prefill layer: (kernel, base ns, ns per prompt token where the work grows with it).
PREFILL_LAYER = (
    (RMS_NORM, 3_000, 30),
    (TO_HALF, 2_000, 20),
    (GEMM, 40_000, 900),  # QKV
    (ROPE, 3_000, 40),
    (SET_ROWS, 2_500, 25),
    (FA, 20_000, 400),
    (GEMM, 20_000, 300),  # output
    (ADD, 2_200, 20),
    (RMS_NORM, 3_000, 30),
    (GEMM, 60_000, 2_400),  # gate+up
    (SILU, 2_500, 30),
    (GEMM, 35_000, 1_200),  # down
    (ADD, 2_200, 20),
)


#: One prefill layer without flash attention.
PREFILL_LAYER_NOFA = (
    *PREFILL_LAYER[:5],
    (GEMM, 11_000, 260),  # K·Q
    (SOFT_MAX, 4_000, 130),
    (GEMM, 11_000, 260),  # ·V
    *PREFILL_LAYER[6:],
)


def _jitter(i: int, spread: int) -> int:
    """A fixed pseudo-random offset in [0, spread): the same on every machine."""
    return (i * 7_919 + (i * i) % 1_013) % spread if spread > 0 else 0


def _startup(b: ExportBuilder) -> int:
    """CUDA initialisation, allocations and the weights upload; returns when it ends."""
    t = 250 * MS
    for name, length in (
        ("cuInit", 41 * MS),
        ("cudaGetDeviceCount_v3020", 12 * US),
        ("cudaGetDeviceProperties_v2_v12000", 980 * US),
        ("cudaMemGetInfo_v3020", 38 * US),
        ("cudaMalloc_v3020", 15_800 * US),  # the weights' buffer
        ("cudaMallocHost_v3020", 54 * MS),  # a pinned staging buffer
        ("cudaMalloc_v3020", 3_100 * US),  # the KV cache
        ("cudaMalloc_v3020", 1_200 * US),  # compute buffers
    ):
        b.api(name, t, t + length)
        t += length + 200 * US
    rest = (WEIGHT_BYTES - EMBEDDING_BYTES) // (TENSORS - 1)
    sizes = [EMBEDDING_BYTES] + [rest] * (TENSORS - 1)
    sizes[-1] += WEIGHT_BYTES - sum(sizes)
    for i, size in enumerate(sizes):
        call = b.api(COPY, t, t + 9 * US + _jitter(i, 4 * US))
        start = t + 12 * US
        end = start + size // UPLOAD_BYTES_PER_NS
        b.memcpy(start, end, size, "HtoD", correlation=call)
        b.api(SYNC, t + 15 * US, end + 4 * US)
        t = end + 30 * US + _jitter(i, 20 * US)
    return t


def _decode_step(b: ExportBuilder, t: int, step: int, layer=DECODE_LAYER) -> int:
    """One decode step from ``t``: input token up, one graph launch, kernels, logits back,
    the wait, then host work (sampling). Returns when the next step may begin."""
    b.memcpy(t + 9 * US, t + 11 * US, 4, "HtoD", correlation=b.api(COPY, t, t + 8 * US))
    graph = b.api(GRAPH, t + 10 * US, t + 24 * US + _jitter(step, 6 * US))
    kernels = [DECODE_HEAD[0], *(layer * LAYERS), *DECODE_HEAD[1:]]
    gpu = t + 28 * US
    for i, (name, length) in enumerate(kernels):
        length += _jitter(step * 97 + i, max(1, length // 20))
        b.kernel(name, gpu, gpu + length, correlation=graph, graph_node=i + 1)
        gpu += length + 1_200 + _jitter(i + step, 600)
    call = b.api(COPY, t + 30 * US, t + 37 * US)
    b.memcpy(gpu, gpu + 9 * US, 262_144, "DtoH", correlation=call)
    b.api(SYNC, t + 38 * US, gpu + 12 * US)
    return gpu + 12 * US + 280 * US + _jitter(step, 90 * US)


def _prefill(b: ExportBuilder, t: int, tokens: int, seed: int, layer=PREFILL_LAYER) -> int:
    """One prompt's batch: every kernel launched one call each; returns the first token."""
    b.memcpy(t + 9 * US, t + 12 * US, 4 * tokens, "HtoD", correlation=b.api(COPY, t, t + 8 * US))
    api = t + 15 * US
    gpu = api
    kernels = [(GET_ROWS, 2_600, 10), *(layer * LAYERS), (RMS_NORM, 3_000, 30)]
    kernels.append((GEMM, 150_000, 0))  # the output head, last token only
    for i, (name, base, per_token) in enumerate(kernels):
        length = base + per_token * tokens + _jitter(seed + i, 1_000)
        call = b.api(LAUNCH, api, api + 4 * US + _jitter(i, 2 * US))
        api += 6 * US + _jitter(i + seed, 2 * US)
        gpu = max(gpu, api) + 1_500
        b.kernel(name, gpu, gpu + length, correlation=call)
        gpu += length
    call = b.api(COPY, api, api + 7 * US)
    b.memcpy(gpu, gpu + 9 * US, 262_144, "DtoH", correlation=call)
    b.api(SYNC, api + 8 * US, gpu + 12 * US)
    return gpu + 12 * US + 300 * US


#: The set's second capture began this long after the first (its own session start).
NOFA_LATER_NS = 30_000_000_000


def build(fa: bool = True) -> tuple[ExportBuilder, dict]:
    """The export's rows and the capture record, as ``write`` saves them: flash attention
    on (``NAME``), or off (``NOFA_NAME``), the two configs of one A/B set."""
    session_start = SESSION_START_UTC_NS + (0 if fa else NOFA_LATER_NS)
    b = ExportBuilder(
        gpus=[Gpu("NVIDIA GeForce RTX 4090", 1_008_096_000_000)],
        meta={"SYNTHETIC_BY": "scripts/make_example_export.py (generated, not measured)"},
        session_start_utc_ns=session_start,
    )
    decode_layer = DECODE_LAYER if fa else DECODE_LAYER_NOFA
    prefill_layer = PREFILL_LAYER if fa else PREFILL_LAYER_NOFA
    t = _startup(b)
    _decode_step(b, t + 5 * MS, 0, decode_layer)  # llama-server's warm-up run
    requests = []
    t = WORKLOAD_START
    for r, prompt in enumerate(PROMPTS):
        start = t
        token = _prefill(b, start + 400 * US, prompt, r * 31, prefill_layer)
        step_at = token
        for step in range(GENERATED - 1):
            step_at = _decode_step(b, step_at, r * 100 + step + 1, decode_layer)
        end = step_at + 150 * US
        requests.append(TimedRequest(start, token, end, prompt, GENERATED))
        t = end + 2 * MS + _jitter(r, MS)
    weights = {
        "tensor_bytes": WEIGHT_BYTES,
        "token_embd_bytes": EMBEDDING_BYTES,
        "output_tied": False,
        "architecture": "llama",
    }
    name = NAME if fa else NOFA_NAME
    record = record_json(
        requests,
        name=name,
        session_start_utc_ns=session_start,
        weights=weights,
        server_ready=READY,
    )
    # llama-server's own timings, as a capture keeps them: prompt processing to the first
    # token, generation the rest; then the totals a capture computes from them
    for row in record["requests"]:
        row["timings"]["prompt_ms"] = (row["first_token_ns"] - row["start_ns"]) / MS
        row["timings"]["predicted_ms"] = (row["end_ns"] - row["first_token_ns"]) / MS
    wall_s = (requests[-1].end - requests[0].start) / 1e9
    record["totals"] = summarize(record["requests"], wall_s)
    config = "-fa on" if fa else "-fa off"
    index = 0 if fa else 1
    record.update(
        label=config,
        generated="scripts/make_example_export.py: made up, not measured",
        started="2026-01-02T03:04:05+00:00" if fa else "2026-01-02T03:04:35+00:00",
        settings={"args": ["-ngl", "99", *config.split()], "env": {}},
        versions={"nsys": "2026.1.1.204", "llama_server": "generated"},
        # one A/B set, as ``llamaprof capture --config "-fa on" --config "-fa off"`` writes
        set={"id": SET_ID, "configs": ["-fa on", "-fa off"], "config_index": index},
        repeat={"group": f"{SET_ID}/{index + 1}", "index": 1, "of": 1},
    )
    record["clock"]["stop_ns"] = session_start + t + 100 * MS
    return b, record


def write(folder: Path, fa: bool = True) -> tuple[Path, Path]:
    """Write ``<name>.sqlite`` and ``<name>.llamaprof.json`` into ``folder`` (replacing them),
    ``NAME`` with flash attention, ``NOFA_NAME`` without."""
    builder, record = build(fa)
    name = NAME if fa else NOFA_NAME
    export = folder / f"{name}.sqlite"
    export.unlink(missing_ok=True)
    builder.write(export)
    con = sqlite3.connect(export)
    try:
        con.execute("VACUUM")  # compact: the file ships with the app
    finally:
        con.close()
    path = folder / f"{name}.llamaprof.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return export, path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="folder to write into")
    args = parser.parse_args(argv)
    for fa in (True, False):
        export, record = write(args.out, fa)
        print(f"wrote {export} ({export.stat().st_size:,} bytes) and {record.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
