"""The llama.cpp kernel family table and ggml type decoding, on real kernel names.

Where names come from:

- SEED: the seed's ``nsys stats`` output of llama-server (gemma-3-4b f16, nsys 2025.1.3),
  ../shared/data/nsys/stats-text/seed__llama-server-gemma3-4b-f16__nsys2025.1.3.txt,
  printed exactly (names longer than 100 characters cut to 99 + "…" by nsys).
- LLAMA: kernels defined in ggml-org/llama.cpp ggml/src/ggml-cuda/ (mmq.cuh ``mul_mat_q`` and
  ``mul_mat_q_stream_k_fixup``, mmvq.cu ``mul_mat_vec_q``, quantize.cu ``quantize_q8_1`` and
  ``quantize_mmq_q8_1``, softmax.cu ``soft_max_f32``, set-rows.cu ``k_set_rows``,
  topk-moe.cu ``topk_moe_cuda``, argsort.cu ``k_argsort_f32_i32``, rope.cu ``rope_norm``,
  norm.cu ``norm_f32``, fattn-common.cuh ``flash_attn_combine_results``), spelled as
  public nsys and rocprof traces of llama.cpp print them (found with code search:
  ``void mul_mat_q<(ggml_type)12, (int)24, (bool)0>`` and its fixup in a Q4_K audit note,
  ``void mul_mat_vec_q<(ggml_type)14, 1, false, false>`` in an RPC stall analysis,
  ``void quantize_mmq_q8_1<(mmq_q8_1_ds_layout)0, (bool)0>(...)`` and its mangled form in a
  launch interposer, ``void soft_max_f32<true, 256, 256, float>`` and
  ``k_set_rows<float, int, __half>`` in kernel traces, ``topk_moe_cuda<256>`` in a MoE
  decode table).
- NVFP4: ``void mul_mat_q<(ggml_type)40, (int)24, (bool)0>``, a line of the ``nsys stats``
  kernel summary of llama-server serving an NVFP4 GGUF on a GB10 (sm_121), quoted in a public
  runtime-gate note (found with code search).

ggml type numbers are checked against ``gguf.GGMLQuantizationType`` (llama.cpp's gguf-py,
a test dependency), which mirrors ggml.h's ``enum ggml_type``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from gguf import GGMLQuantizationType

from llamaprof.analyze.compare import compare_runs
from llamaprof.analyze.llama_kernels import (
    FAMILIES,
    FAMILY_NAMES,
    GGML_TYPES,
    annotate_ggml_types,
    decode_ggml_types,
    family_breakdown,
    family_drilldown,
    family_frame,
    family_summary,
    kernel_base_name,
    kernel_family,
    with_families,
)
from llamaprof.sources import load_report

from shared_data import SEED_TEXT, shared_file

# (name, family): every pattern of FAMILIES has cases here (checked below).
CASES = [
    # matmul: SEED
    (
        "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, const float *, const int *, float *,…",
        "matmul",
    ),
    ("turing_h1688gemm_256x64_sliced1x2_ldg8_tn", "matmul"),
    (
        "void cutlass::Kernel2<cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8>(T1::Params)",
        "matmul",
    ),
    (
        "void cublasLt::splitKreduce_kernel<(int)32, (int)16, int, __half, __half, __half, __half, (bool)0, …",
        "matmul",
    ),
    # matmul: LLAMA (MMQ, its stream-k fixup, MMVQ)
    (
        "void mul_mat_q<(ggml_type)12, (int)24, (bool)0>(const char *, const int *, const int *, const int *, …",
        "matmul",
    ),
    (
        "void mul_mat_q_stream_k_fixup<(ggml_type)12, (int)24, (bool)0>(const int *, const int *, float *, con…",
        "matmul",
    ),
    ("void mul_mat_vec_q<(ggml_type)14, 1, false, false>", "matmul"),
    # matmul: GindaChen before/after exports (PyTorch on H100, cuBLAS nvjet GEMMs)
    ("nvjet_tst_192x192_64x4_2x1_v_bz_coopB_bias_TNN", "matmul"),
    # attention: SEED
    (
        "void flash_attn_ext_f16<(int)256, (int)256, (int)4, (int)2, (int)2, (int)1, (bool)0, (bool)0>(const…",
        "attention",
    ),
    (
        "void flash_attn_stream_k_fixup<(int)256, (int)4, (int)2>(float *, const float2 *, int, int, int)",
        "attention",
    ),
    # attention: LLAMA (no flash attention: soft_max; split-K combine)
    ("void soft_max_f32<true, 256, 256, float>", "attention"),
    ("void flash_attn_combine_results<64>(args)", "attention"),
    # norm: SEED, LLAMA
    ("void rms_norm_f32<(int)1024>(const float *, float *, int, long, long, long, float)", "norm"),
    ("void rms_norm_f32<256, true, false>(args)", "norm"),
    ("void norm_f32<(int)1024>(const float *, float *, int, long, long, long, float)", "norm"),
    # rope: SEED, LLAMA
    (
        "void rope_neox<(bool)1, (bool)0, float>(const T3 *, T3 *, int, int, int, int, int, const int *, flo…",
        "rope",
    ),
    (
        "void rope_norm<(bool)1, (bool)0, float>(const T3 *, T3 *, int, int, int, int, int, const int *, flo…",
        "rope",
    ),
    # elementwise: SEED
    (
        "void k_bin_bcast<&op_mul, float, float, float>(const T2 *, const T3 *, T4 *, int, int, int, int, in…",
        "elementwise",
    ),
    (
        "void k_bin_bcast<&op_add, float, float, float>(const T2 *, const T3 *, T4 *, int, int, int, int, in…",
        "elementwise",
    ),
    (
        "void unary_gated_op_kernel<&op_gelu, float>(const T2 *, const T2 *, T2 *, long, long, long, long)",
        "elementwise",
    ),
    ("scale_f32(const float *, float *, float, int)", "elementwise"),
    # copy: SEED, LLAMA
    (
        "void cpy_f32_f16<&cpy_1_f32_f16>(const char *, char *, int, int, int, int, int, int, int, int, int,…",
        "copy",
    ),
    (
        "void k_get_rows_float<float, float>(const T1 *, const int *, T2 *, long, long, unsigned long, unsig…",
        "copy",
    ),
    (
        "void convert_unary<__half, float>(const void *, T2 *, long, long, long, long, long, long)",
        "copy",
    ),
    ("void k_set_rows<float, int, __half>", "copy"),
    # quantize: LLAMA (plain, MMQ layout, and the mangled name nsys keeps with :mangled)
    ("quantize_q8_1", "quantize"),
    (
        "void quantize_mmq_q8_1<(mmq_q8_1_ds_layout)0, (bool)0>(const float *, const int *, void *, long long, long long, long long, long long, long long, int, int, int)",
        "quantize",
    ),
    ("_Z17quantize_mmq_q8_1IL18mmq_q8_1_ds_layout0ELb0EEvPKfPKiPvxxxxxiii", "quantize"),
    # the activation quantisation beside NVFP4 matmuls (mul_mat_q<(ggml_type)40, ...>)
    ("void quantize_mmq_nvfp4<(bool)0>(const float *, const int *, void *, long, long)", "quantize"),
    # moe: LLAMA
    ("topk_moe_cuda<256>", "moe"),
    ("void k_argsort_f32_i32<(ggml_sort_order)1>(const float *, int *, int, int, int)", "moe"),
    # other: GindaChen (PyTorch kernels are not llama.cpp families)
    ("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<(unsigned long)4096>)", "other"),
    (
        "void at::native::vectorized_elementwise_kernel<(int)4, at::native::FillFunctor<float>, std::array<…",
        "other",
    ),
]


@pytest.mark.parametrize(("name", "family"), CASES, ids=[f"{f}:{n[:40]}" for n, f in CASES])
def test_kernel_family(name: str, family: str) -> None:
    """Each real kernel name falls in the family of what it does."""
    assert kernel_family(name) == family


def test_every_family_has_cases() -> None:
    """Adding a family to the table without a test case fails here."""
    covered = {family for _, family in CASES}
    assert covered == {f.name for f in FAMILIES} | {"other"}
    assert set(FAMILY_NAMES) == covered


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("void mul_mat_v…", "matmul"),
        ("void flash_attn_stream_k_fix…", "attention"),
        ("void k_bin_bcast…", "elementwise"),
        ("void rms_norm_f3…", "norm"),
        ("void quantize_mmq…", "other"),  # cut before "q8_1": not enough left to tell
        ("", "other"),
    ],
)
def test_cut_names(name: str, family: str) -> None:
    """Names cut with the ellipsis classify by what is left of them."""
    assert kernel_family(name) == family


def test_base_names() -> None:
    """The identifier classified is the kernel's own name, also inside wrappers and mangling."""
    assert (
        kernel_base_name("void k_bin_bcast<&op_mul, float, float, float>(const T2 *, …")
        == "k_bin_bcast"
    )
    assert (
        kernel_base_name(
            "void cutlass::Kernel2<cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8>(T1::Params)"
        )
        == "cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8"
    )
    assert kernel_base_name("_Z13quantize_q8_1PKfPvllll") == "quantize_q8_1"


def test_seed_family_summary() -> None:
    """The seed's kernel time by family, number for number (sums of its printed rows)."""
    run = load_report(shared_file("stats-text/" + SEED_TEXT.name))
    summary = family_summary(run.summary("cuda_gpu_kern_sum"))
    expected = pd.DataFrame(
        {
            "family": ["matmul", "attention", "elementwise", "norm", "copy", "rope"],
            "total_ns": [
                16_689_998_639,
                1_185_941_186,
                657_170_567,
                545_414_337,
                135_420_272,
                93_407_271,
            ],
            "count": [253_680, 72_148, 362_862, 217_505, 76_862, 72_148],
            "time_pct": [86.4, 6.1, 3.4, 2.8, 0.7, 0.5],
            "n_kernels": [6, 4, 4, 2, 4, 1],
        }
    )
    pd.testing.assert_frame_equal(summary.drop(columns="description"), expected, check_dtype=False)
    assert summary["total_ns"].dtype == "int64"
    assert summary["description"][0].startswith("matrix multiply")


def test_gindachen_family_summary() -> None:
    """A PyTorch run: FlashAttention's flash_fwd_kernel is attention (68 launches, 272_317_378
    ns: the SQL sum of its rows), its nvjet cuBLAS GEMMs matmul, the rest 'other'."""
    before = load_report(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite"))
    summary = family_summary(before.summary("cuda_gpu_kern_sum"))
    assert summary.drop(columns="description").to_dict("records") == [
        {
            "family": "attention",
            "total_ns": 272_317_378,
            "count": 68,
            "time_pct": 50.9,
            "n_kernels": 1,
        },
        {
            "family": "other",
            "total_ns": 205_083_696,
            "count": 3605,
            "time_pct": 38.3,
            "n_kernels": 23,
        },
        {
            "family": "matmul",
            "total_ns": 57_799_576,
            "count": 337,
            "time_pct": 10.8,
            "n_kernels": 3,
        },
    ]


def test_family_summary_empty() -> None:
    """An empty kernel summary gives an empty family summary with the documented columns."""
    empty = pd.DataFrame(
        {
            "name": pd.Series(dtype="object"),
            "total_ns": pd.Series(dtype="int64"),
            "count": pd.Series(dtype="int64"),
        }
    )
    summary = family_summary(empty)
    assert list(summary.columns) == [
        "family",
        "description",
        "total_ns",
        "count",
        "time_pct",
        "n_kernels",
    ]
    assert summary.empty


@pytest.mark.parametrize("member", list(GGMLQuantizationType), ids=lambda m: m.name)
def test_decode_every_ggml_type(member: GGMLQuantizationType) -> None:
    """Every type of gguf's enum decodes from its ``(ggml_type)N`` argument to its enum name."""
    assert decode_ggml_types(f"void mul_mat_q<(ggml_type){member.value}, (int)64, (bool)0>(…") == [
        member.name
    ]


def test_ggml_type_table_is_the_gguf_enum() -> None:
    """The table has gguf's GGMLQuantizationType exactly: every member, same number and name."""
    assert {member.value: member.name for member in GGMLQuantizationType} == GGML_TYPES


def test_decode_a_real_nvfp4_kernel() -> None:
    """An NVFP4 build's MMQ kernel, as nsys printed it, reads as NVFP4, the enum's name for 40."""
    name = "void mul_mat_q<(ggml_type)40, (int)24, (bool)0>"
    assert GGMLQuantizationType(40).name == "NVFP4"
    assert decode_ggml_types(name) == ["NVFP4"]
    assert annotate_ggml_types(name) == "void mul_mat_q<NVFP4, (int)24, (bool)0>"
    assert kernel_family(name) == "matmul"


def test_decode_real_names() -> None:
    """Real MMQ/MMVQ names decode; several type arguments come back in order; none gives []."""
    assert decode_ggml_types(
        "void mul_mat_q_stream_k_fixup<(ggml_type)12, (int)24, (bool)0>(…"
    ) == ["Q4_K"]
    assert decode_ggml_types("void mul_mat_vec_q<(ggml_type)14, 1, false, false>") == ["Q6_K"]
    assert decode_ggml_types("void cpy<(ggml_type)0, (ggml_type)8>(…") == ["F32", "Q8_0"]
    assert decode_ggml_types("void mul_mat_q<(ggml_type)42, (int)24, (bool)0>") == ["ggml_type(42)"]
    assert decode_ggml_types("void mul_mat_vec<__half, __half, (int)1, (int)256>(…") == []


def test_annotate_and_with_families() -> None:
    """Type numbers read as names in display names; with_families adds family and types."""
    assert (
        annotate_ggml_types("void mul_mat_q<(ggml_type)39, (int)128, (bool)1>")
        == "void mul_mat_q<MXFP4, (int)128, (bool)1>"
    )
    frame = pd.DataFrame(
        {
            "name": ["void mul_mat_q<(ggml_type)12, (int)24, (bool)0>", "scale_f32(float)"],
            "total_ns": [10, 5],
            "count": [1, 1],
        }
    )
    tagged = with_families(frame)
    assert tagged["family"].tolist() == ["matmul", "elementwise"]
    assert tagged["ggml_types"].tolist() == ["Q4_K", ""]
    assert "family" not in frame.columns


def _kernels(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "total_ns", "count"])


def test_family_frame_breakdown_and_drilldown() -> None:
    """By-family frames diff like kernels; the drill-down keeps a family's kernel rows."""
    a = _kernels(
        [
            ("void mul_mat_q<(ggml_type)12, (int)24, (bool)0>", 800, 10),
            ("quantize_q8_1", 50, 10),
            ("void soft_max_f32<true, 256, 256, float>", 150, 10),
        ]
    )
    b = _kernels(
        [
            ("void mul_mat_q<(ggml_type)12, (int)24, (bool)0>", 700, 10),
            ("quantize_q8_1", 60, 10),
            ("void flash_attn_ext_f16<(int)128>(…", 90, 10),
        ]
    )
    fam = compare_runs({"a": family_frame(a), "b": family_frame(b)}, "a")
    got = fam[fam["run"] == "b"][["name", "value", "delta", "status"]].to_dict("records")
    assert got == [
        {"name": "matmul", "value": 700, "delta": -100, "status": "changed"},
        {"name": "attention", "value": 90, "delta": -60, "status": "changed"},
        {"name": "quantize", "value": 60, "delta": 10, "status": "changed"},
    ]
    by_kernel = compare_runs({"a": a, "b": b}, "a")
    attention = family_drilldown(by_kernel, "attention")
    assert attention[attention["run"] == "b"][["name", "value", "status"]].to_dict("records") == [
        {"name": "void soft_max_f32<true, 256, 256, float>", "value": 0, "status": "missing"},
        {"name": "void flash_attn_ext_f16<(int)128>(…", "value": 90, "status": "new"},
    ]
    with pytest.raises(ValueError, match="unknown family"):
        family_drilldown(by_kernel, "gemm")
    breakdown = family_breakdown({"a": a, "b": b, "none": None})
    assert breakdown[["run", "family", "total_ns", "time_pct"]].to_dict("records") == [
        {"run": "a", "family": "matmul", "total_ns": 800, "time_pct": 80.0},
        {"run": "a", "family": "attention", "total_ns": 150, "time_pct": 15.0},
        {"run": "a", "family": "quantize", "total_ns": 50, "time_pct": 5.0},
        {"run": "b", "family": "matmul", "total_ns": 700, "time_pct": 82.4},
        {"run": "b", "family": "attention", "total_ns": 90, "time_pct": 10.6},
        {"run": "b", "family": "quantize", "total_ns": 60, "time_pct": 7.1},
    ]
