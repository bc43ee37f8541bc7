"""The compare page's "Download the whole comparison (Markdown)": the CLI's tables, per view.

The download is ``llamaprof compare --format md`` of every view under the page's setup
(``views.comparison_document``): the same labels, normalisation, kernels by name or family.
"""

from __future__ import annotations

from pathlib import Path

from app.support import GENERATED, SEED, downloaded, make_app

from llamaprof.sources.sqlite_export import read_sqlite
from llamaprof.ui.compare_setup import CompareSetup
from llamaprof.ui.views import comparison_document

from shared_data import shared_file

S, G = SEED.stem, GENERATED.stem

#: The download of the two shipped examples with the page's defaults (top 10, by name).
#: Values as the tables of tests/app/test_app.py: cudaStreamSynchronize +119_139_294 ns,
#: mul_mat_vec 16_650_623_556 -> 17_803_903_556 ns, kernel totals 19_307_352_272 ->
#: 19_426_491_566 ns. The examples are text without the size summary.
EXPECTED = f"""\
# llamaprof comparison: {G} vs {S}

**CUDA API Summary (cuda_api_sum)**, by name; baseline `{S}`

Totals over the whole capture (not normalised).

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| cudaStreamSynchronize | 18.8 s | 18.9 s | +119 ms | +0.6% |
| cudaLaunchKernel | 1.78 s | 1.84 s | +60.7 ms | +3.4% |
| cuGetProcAddress_v2 | 136 µs | 136 µs | 0 ns | 0.0% |
| cuInit | 4.40 µs | 4.40 µs | 0 ns | 0.0% |
| cuKernelGetFunction | 583 µs | 583 µs | 0 ns | 0.0% |
| cuLaunchKernel | 332 µs | 332 µs | 0 ns | 0.0% |
| cuLibraryGetKernel | 15.7 µs | 15.7 µs | 0 ns | 0.0% |
| cuLibraryLoadData | 3.08 ms | 3.08 ms | 0 ns | 0.0% |
| cuMemAddressFree | 15.5 µs | 15.5 µs | 0 ns | 0.0% |
| cuMemAddressReserve | 9.73 µs | 9.73 µs | 0 ns | 0.0% |
| other | 2.56 s | 2.56 s | 0 ns | 0.0% |
| **Total** | 23.1 s | 23.3 s | +180 ms | +0.8% |

**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**, by name; baseline `{S}`

Totals over the whole capture (not normalised).

| Name | Family | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---|---:|---:|---:|---:|
| `mul_mat_vec` | matmul | 16.7 s | 17.8 s | +1.15 s | +6.9% |
| `flash_attn_ext_f16<256,256,4,2,2,1,false,false>` | attention | 958 ms | 0 ns | -958 ms | missing |
| `flash_attn_stream_k_fixup<256,4,2>` | attention | 225 ms | 0 ns | -225 ms | missing |
| `soft_max_f32` | attention | 0 ns | 152 ms | +152 ms | new |
| `flash_attn_ext_f16<256,256,16,2,4,2,false,false>` | attention | 1.74 ms | 0 ns | -1.74 ms | missing |
| `flash_attn_stream_k_fixup<256,16,2>` | attention | 583 µs | 0 ns | -583 µs | missing |
| `scale_f32` | elementwise | 41.0 ms | 41.0 ms | 0 ns | 0.0% |
| `turing_h1688gemm_256x64_ldg8_stages_32x1_tn` | matmul | 10.2 ms | 10.2 ms | 0 ns | 0.0% |
| `turing_h1688gemm_256x64_sliced1x2_ldg8_tn` | matmul | 12.5 ms | 12.5 ms | 0 ns | 0.0% |
| `convert_unary` | copy | 1.08 ms | 1.08 ms | 0 ns | 0.0% |
| other |  | 1.41 s | 1.41 s | 0 ns | 0.0% |
| **Total** |  | 19.3 s | 19.4 s | +119 ms | +0.6% |

**CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum)**, by name; baseline `{S}`

Totals over the whole capture (not normalised).

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| DtoH | 339 ms | 339 ms | 0 ns | 0.0% |
| HtoD | 2.53 s | 2.53 s | 0 ns | 0.0% |
| memset | 18.8 ms | 18.8 ms | 0 ns | 0.0% |
| **Total** | 2.89 s | 2.89 s | 0 ns | 0.0% |

**CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum)**: no run has this report.
"""

#: The kernel section once the page shows kernels by family (attention: the fa run's four
#: flash_attn rows, 1_185_941_186 ns, against soft_max_f32's 151_800_480 ns).
FAMILY_SECTION = f"""\
**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**, by family; baseline `{S}`

Totals over the whole capture (not normalised).

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| matmul | 16.7 s | 17.8 s | +1.15 s | +6.9% |
| attention | 1.19 s | 152 ms | -1.03 s | -87.2% |
| copy | 135 ms | 135 ms | 0 ns | 0.0% |
| elementwise | 657 ms | 657 ms | 0 ns | 0.0% |
| norm | 545 ms | 545 ms | 0 ns | 0.0% |
| rope | 93.4 ms | 93.4 ms | 0 ns | 0.0% |
| **Total** | 19.3 s | 19.4 s | +119 ms | +0.6% |"""


def test_download_of_the_shipped_examples_is_the_cli_markdown(examples_dir: Path, downloads):
    """With the page's defaults the download holds each view's CLI table, exact to the byte."""
    at = make_app(examples_dir).run()
    assert not at.exception, [e.message for e in at.exception]
    assert downloaded(at, "compare_markdown").decode("utf-8") == EXPECTED


def test_download_follows_kernels_by_family_and_top_n(examples_dir: Path, downloads):
    """Kernels by family on the page give the family table; Top N cuts every view the same."""
    at = make_app(examples_dir).run()
    at.segmented_control(key="compare_kernels_by").set_value("family").run()
    text = downloaded(at, "compare_markdown").decode("utf-8")
    assert text.split("\n\n**CUDA GPU MemOps")[0].split("\n\n**CUDA GPU Kernel")[1] == (
        FAMILY_SECTION.removeprefix("**CUDA GPU Kernel")
    )
    at.number_input(key="compare_top_n").set_value(3).run()
    text = downloaded(at, "compare_markdown").decode("utf-8")
    api = text.split("**CUDA API Summary (cuda_api_sum)**")[1].split("\n\n**")[0]
    assert [line.split(" | ")[0] for line in api.splitlines() if line.startswith("| ")][1:] == [
        "| cudaStreamSynchronize", "| cudaLaunchKernel", "| cuGetProcAddress_v2", "| other",
        "| **Total**",
    ]  # fmt: skip


def test_document_of_a_real_sqlite_pair_has_the_size_view():
    """Two real SQLite exports: the memory-size view is there, DtoD shrank by 851 MB."""
    runs = {
        "before": read_sqlite(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite")),
        "after": read_sqlite(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_after.sqlite")),
    }
    setup = CompareSetup(runs=runs, baseline="before", records={"before": None, "after": None})
    text = comparison_document(setup, top=3)
    size = text.split("**CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum)**")[1]
    # 8_046_134_272 and 7_195_376_640 bytes device to device (tests/analyze_compare).
    assert size.splitlines()[6:] == [
        "| DtoD | 8.05 GB | 7.20 GB | -851 MB | -10.6% |",
        "| memset | 1.08 kB | 968 B | -108 B | -10.0% |",
        "| HtoD | 272 B | 256 B | -16.0 B | -5.9% |",
        "| **Total** | 8.05 GB | 7.20 GB | -851 MB | -10.6% |",
    ]
