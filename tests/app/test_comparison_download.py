"""The compare page's downloads and tables: one renderer for the screen and the files.

The Markdown download is ``render.comparison.comparison_document`` of the page's own
comparison (``llamaprof compare --format md`` of every view): the same labels, window,
normalisation, kernels by name or family. Each tab's table is ``render.comparison.table``
of its view, and its CSV ``to_csv``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app.support import GENERATED, SEED, downloaded, make_app, open_tab, tab

from llamaprof.analyze.comparison import prepare_comparison
from llamaprof.loading import load_entry
from llamaprof.render.comparison import comparison_document, table

from shared_data import shared_file

S, G = SEED.stem, GENERATED.stem

#: The download of the two shipped examples with the page's defaults (top 10, by name).
#: Values as the tables of tests/app/test_app.py: cudaStreamSynchronize +119_139_294 ns,
#: mul_mat_vec 16_650_623_556 -> 17_803_903_556 ns, kernel totals 19_307_352_272 ->
#: 19_426_491_566 ns. Rows by impact (the larger of a key's value and change), the rest
#: summed into one row. The examples are text without the size summary.
EXPECTED = f"""\
# llamaprof comparison: {G} vs {S}

Totals over the whole capture (not normalised).

**CUDA API Summary (cuda_api_sum)**, by name; baseline `{S}`

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| cudaStreamSynchronize | 18.8 s | 18.9 s | +119 ms | +0.6% |
| cudaMemcpyAsync | 2.31 s | 2.31 s | 0 ns | 0.0% |
| cudaLaunchKernel | 1.78 s | 1.84 s | +60.7 ms | +3.4% |
| cudaMemGetInfo | 140 ms | 140 ms | 0 ns | 0.0% |
| cudaMallocHost | 54.7 ms | 54.7 ms | 0 ns | 0.0% |
| cudaFreeHost | 25.4 ms | 25.4 ms | 0 ns | 0.0% |
| cudaMalloc | 16.9 ms | 16.9 ms | 0 ns | 0.0% |
| cudaFree | 10.5 ms | 10.5 ms | 0 ns | 0.0% |
| cuLibraryLoadData | 3.08 ms | 3.08 ms | 0 ns | 0.0% |
| cuMemUnmap | 2.26 ms | 2.26 ms | 0 ns | 0.0% |
| (24 more) | 4.61 ms | 4.61 ms | 0 ns | 0.0% |
| **Total** | 23.1 s | 23.3 s | +180 ms | +0.8% |

**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**, by name; baseline `{S}`

| Name | Family | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---|---:|---:|---:|---:|
| `mul_mat_vec` | matmul | 16.7 s | 17.8 s | +1.15 s | +6.9% |
| `flash_attn_ext_f16` | attention | 958 ms | — | -958 ms | missing |
| `k_bin_bcast<op_mul,float,float,float>` | elementwise | 417 ms | 417 ms | 0 ns | 0.0% |
| `rms_norm_f32<1024>` | norm | 407 ms | 407 ms | 0 ns | 0.0% |
| `flash_attn_stream_k_fixup` | attention | 225 ms | — | -225 ms | missing |
| `soft_max_f32` | attention | — | 152 ms | +152 ms | new |
| `rms_norm_f32<32>` | norm | 138 ms | 138 ms | 0 ns | 0.0% |
| `k_bin_bcast<op_add,float,float,float>` | elementwise | 131 ms | 131 ms | 0 ns | 0.0% |
| `cpy_f32_f16` | copy | 130 ms | 130 ms | 0 ns | 0.0% |
| `rope_neox` | rope | 93.4 ms | 93.4 ms | 0 ns | 0.0% |
| (12 more) |  | 157 ms | 154 ms | -2.32 ms | -1.5% |
| **Total** |  | 19.3 s | 19.4 s | +119 ms | +0.6% |

**CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum)**, by name; baseline `{S}`

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| HtoD | 2.53 s | 2.53 s | 0 ns | 0.0% |
| DtoH | 339 ms | 339 ms | 0 ns | 0.0% |
| memset | 18.8 ms | 18.8 ms | 0 ns | 0.0% |
| **Total** | 2.89 s | 2.89 s | 0 ns | 0.0% |

**CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum)**: no run has this report.
"""

#: The kernel section once the page shows kernels by family (attention: the fa run's four
#: flash_attn rows, 1_185_941_186 ns, against soft_max_f32's 151_800_480 ns).
FAMILY_SECTION = f"""\
**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**, by family; baseline `{S}`

| Name | {S} (baseline) | {G} | Δ {G} | Δ% {G} |
|---|---:|---:|---:|---:|
| matmul | 16.7 s | 17.8 s | +1.15 s | +6.9% |
| attention | 1.19 s | 152 ms | -1.03 s | -87.2% |
| elementwise | 657 ms | 657 ms | 0 ns | 0.0% |
| norm | 545 ms | 545 ms | 0 ns | 0.0% |
| copy | 135 ms | 135 ms | 0 ns | 0.0% |
| rope | 93.4 ms | 93.4 ms | 0 ns | 0.0% |
| **Total** | 19.3 s | 19.4 s | +119 ms | +0.6% |"""


def _examples(folder: Path):
    """The examples as ``llamaprof compare`` loads them (keys: paths in the folder)."""
    return [load_entry(folder / name, key=name) for name in (SEED.name, GENERATED.name)]


def test_download_of_the_shipped_examples_is_the_cli_markdown(examples_dir: Path, downloads):
    """With the page's defaults the download holds each view's CLI table, exact to the byte."""
    at = make_app(examples_dir).run()
    assert not at.exception, [e.message for e in at.exception]
    assert downloaded(at, "compare_markdown").decode("utf-8") == EXPECTED


def test_download_is_the_document_of_the_same_comparison(examples_dir: Path, downloads):
    """The download equals ``comparison_document`` of the comparison the CLI prepares for the
    same files and options (baseline switched, top 5, by family)."""
    at = make_app(examples_dir).run()
    at.selectbox(key="compare_baseline").select(GENERATED.name).run()
    at.number_input(key="compare_top_n").set_value(5).run()
    at = open_tab(at, "Kernels")
    at.segmented_control(key="compare_kernels_by").set_value("family").run()
    cli = prepare_comparison(_examples(examples_dir), baseline=GENERATED.name)
    assert downloaded(at, "compare_markdown").decode("utf-8") == comparison_document(
        cli, top=5, kernels_by="family"
    )


@pytest.mark.parametrize(
    ("title", "views"),
    [("CUDA API", ["api"]), ("Kernels", ["kernels"]), ("Memory operations", ["memops_time"])],
)
def test_page_tables_are_the_renderers_tables(examples_dir: Path, title: str, views: list[str]):
    """Each tab shows ``render.comparison.table`` of its view (compact), cell for cell."""
    at = open_tab(make_app(examples_dir).run(), title)
    assert not at.exception, [e.message for e in at.exception]
    cli = prepare_comparison(_examples(examples_dir))
    shown = [d.value for d in tab(at, title).dataframe]
    expected = [table(cli.view(name), 10, compact=True) for name in views]
    assert len(shown) == len(expected)
    for page, renderer in zip(shown, expected, strict=True):
        assert page.values.tolist() == renderer.values.tolist()
        assert list(page.columns) == list(renderer.columns)


def test_download_follows_kernels_by_family_and_top_n(examples_dir: Path, downloads):
    """Kernels by family on the page give the family table; Top N cuts every view the same."""
    at = open_tab(make_app(examples_dir).run(), "Kernels")
    at.segmented_control(key="compare_kernels_by").set_value("family").run()
    text = downloaded(at, "compare_markdown").decode("utf-8")
    assert text.split("\n\n**CUDA GPU MemOps")[0].split("\n\n**CUDA GPU Kernel")[1] == (
        FAMILY_SECTION.removeprefix("**CUDA GPU Kernel")
    )
    at.number_input(key="compare_top_n").set_value(3).run()
    text = downloaded(at, "compare_markdown").decode("utf-8")
    api = text.split("**CUDA API Summary (cuda_api_sum)**")[1].split("\n\n**")[0]
    assert [line.split(" | ")[0] for line in api.splitlines() if line.startswith("| ")][1:] == [
        "| cudaStreamSynchronize", "| cudaMemcpyAsync", "| cudaLaunchKernel", "| (31 more)",
        "| **Total**",
    ]  # fmt: skip


def test_document_of_a_real_sqlite_pair_has_the_size_view(tmp_path: Path):
    """Two real SQLite exports: the memory-size view is there, DtoD shrank by 851 MB."""
    entries = [
        load_entry(shared_file(f"sqlite/GindaChen__nsys-ai__mfu_2gpu_{name}.sqlite"), key=name)
        for name in ("before", "after")
    ]
    text = comparison_document(prepare_comparison(entries), top=3)
    size = text.split("**CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum)**")[1]
    # 8_046_134_272 and 7_195_376_640 bytes device to device (tests/analyze_compare).
    assert size.splitlines()[4:] == [
        "| DtoD | 8.05 GB | 7.20 GB | -851 MB | -10.6% |",
        "| memset | 1.08 kB | 968 B | -108 B | -10.0% |",
        "| HtoD | 272 B | 256 B | -16.0 B | -5.9% |",
        "| **Total** | 8.05 GB | 7.20 GB | -851 MB | -10.6% |",
    ]
