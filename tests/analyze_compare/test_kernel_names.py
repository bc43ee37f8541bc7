"""Short kernel names on real names: the llama-server seed and a PyTorch/CUTLASS capture."""

from __future__ import annotations

import csv

from llamaprof.analyze.kernel_names import (
    OTHER,
    short_kernel_name,
    short_names,
    split_kernel_name,
)

from shared_data import SEED_TEXT, shared_file

#: Every kernel of the seed's cuda_gpu_kern_sum, as nsys printed it (cut at 99 chars + "…"),
#: with the short form short_names gives it within that set.
SEED_KERNELS = [
    (
        "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, const float *, const int *, float *,…",
        "mul_mat_vec<half,half,1,256>",
    ),
    (
        "void flash_attn_ext_f16<(int)256, (int)256, (int)4, (int)2, (int)2, (int)1, (bool)0, (bool)0>(const…",
        "flash_attn_ext_f16<256,256,4,2,2,1,false,false>",
    ),
    (
        "void k_bin_bcast<&op_mul, float, float, float>(const T2 *, const T3 *, T4 *, int, int, int, int, in…",
        "k_bin_bcast<op_mul,float,float,float>",
    ),
    (
        "void rms_norm_f32<(int)1024>(const float *, float *, int, long, long, long, float)",
        "rms_norm_f32<1024>",
    ),
    (
        "void flash_attn_stream_k_fixup<(int)256, (int)4, (int)2>(float *, const float2 *, int, int, int)",
        "flash_attn_stream_k_fixup<256,4,2>",
    ),
    (
        "void rms_norm_f32<(int)32>(const float *, float *, int, long, long, long, float)",
        "rms_norm_f32<32>",
    ),
    (
        "void k_bin_bcast<&op_add, float, float, float>(const T2 *, const T3 *, T4 *, int, int, int, int, in…",
        "k_bin_bcast<op_add,float,float,float>",
    ),
    (
        "void cpy_f32_f16<&cpy_1_f32_f16>(const char *, char *, int, int, int, int, int, int, int, int, int,…",
        "cpy_f32_f16",
    ),
    (
        "void rope_neox<(bool)1, (bool)0, float>(const T3 *, T3 *, int, int, int, int, int, const int *, flo…",
        "rope_neox",
    ),
    (
        "void unary_gated_op_kernel<&op_gelu, float>(const T2 *, const T2 *, T2 *, long, long, long, long)",
        "unary_gated_op_kernel",
    ),
    ("scale_f32(const float *, float *, float, int)", "scale_f32"),
    (
        "void mul_mat_vec<__half, __half, (int)2, (int)256>(const T1 *, const float *, const int *, float *,…",
        "mul_mat_vec<half,half,2,256>",
    ),
    ("turing_h1688gemm_256x64_sliced1x2_ldg8_tn", "turing_h1688gemm_256x64_sliced1x2_ldg8_tn"),
    ("turing_h1688gemm_256x64_ldg8_stages_32x1_tn", "turing_h1688gemm_256x64_ldg8_stages_32x1_tn"),
    (
        "void k_get_rows_float<float, float>(const T1 *, const int *, T2 *, long, long, unsigned long, unsig…",
        "k_get_rows_float",
    ),
    (
        "void cutlass::Kernel2<cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8>(T1::Params)",
        "cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8",
    ),
    (
        "void flash_attn_ext_f16<(int)256, (int)256, (int)16, (int)2, (int)4, (int)2, (bool)0, (bool)0>(cons…",
        "flash_attn_ext_f16<256,256,16,2,4,2,false,false>",
    ),
    (
        "void convert_unary<__half, float>(const void *, T2 *, long, long, long, long, long, long)",
        "convert_unary<half,float>",
    ),
    (
        "void convert_unary<float, __half>(const void *, T2 *, long, long, long, long, long, long)",
        "convert_unary<float,half>",
    ),
    (
        "void flash_attn_stream_k_fixup<(int)256, (int)16, (int)2>(float *, const float2 *, int, int, int)",
        "flash_attn_stream_k_fixup<256,16,2>",
    ),
    (
        "void cublasLt::splitKreduce_kernel<(int)32, (int)16, int, __half, __half, __half, __half, (bool)0, …",
        "splitKreduce_kernel",
    ),
]

CODEGANDEE = "stats-csv/CodeGandee__llm-perf-opt__all-stage__summary_cuda_gpu_kern_sum.csv"


def test_seed_names_are_the_seeds_own():
    """The literal names above are copied from the seed's kernel table, in its order."""
    text = shared_file(SEED_TEXT.relative_to(SEED_TEXT.parents[1]).as_posix()).read_text()
    positions = [text.index(name) for name, _ in SEED_KERNELS]
    assert positions == sorted(positions)


def test_short_names_of_the_seed_kernels():
    """Variants (mul_mat_vec ncols 1 and 2, rms_norm 1024 and 32) keep their template args."""
    names = [name for name, _ in SEED_KERNELS]
    assert short_names(names) == dict(SEED_KERNELS)


def seed_name(start: str) -> str:
    """The one seed kernel name that starts with ``start``."""
    (name,) = [name for name, _ in SEED_KERNELS if name.startswith(start)]
    return name


def test_plain_short_form_drops_return_type_templates_and_parameters():
    """Alone, a name reads as its bare function name; wrappers read as their argument."""
    assert short_kernel_name(seed_name("void mul_mat_vec<__half, __half, (int)2")) == "mul_mat_vec"
    assert short_kernel_name(seed_name("scale_f32")) == "scale_f32"
    cutlass = seed_name("void cutlass::Kernel2")
    assert (
        short_kernel_name(cutlass) == "cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8"
    )
    assert short_kernel_name(cutlass, with_args=True) == short_kernel_name(cutlass)


def test_template_arguments_cut_by_nsys_read_as_far_as_they_go():
    """A name cut inside its template arguments keeps what is left and marks the cut."""
    name = seed_name("void cublasLt::splitKreduce_kernel")
    assert split_kernel_name(name) == (
        "cublasLt::splitKreduce_kernel",
        "(int)32, (int)16, int, __half, __half, __half, __half, (bool)0, …",
    )
    assert short_kernel_name(name, with_args=True) == (
        "splitKreduce_kernel<32,16,int,half,half,half,half,false,…>"
    )


def test_names_without_templates_or_parameters_are_unchanged():
    """API calls, memory directions and "other" come back as they are."""
    names = ["cudaLaunchKernel", "cuGetProcAddress_v2", "HtoD", "UM DtoH", "memset", OTHER]
    assert short_names(names) == {name: name for name in names}


def test_long_pytorch_and_cutlass_names_from_a_real_csv():
    """113 real kernel names (CSV, never cut) get 113 distinct short forms; spot checks."""
    with shared_file(CODEGANDEE).open(newline="") as fh:
        names = [row[-1] for row in list(csv.reader(fh))[1:]]
    short = short_names(names)
    assert len(names) == 113
    assert len(set(short.values())) == 113
    assert [short[names[i]] for i in (0, 1, 2, 6, 8, 20)] == [
        # two gemvx variants that differ in one argument: nested arguments collapsed
        "gemvx::kernel<int,int,nv_bfloat16,nv_bfloat16,nv_bfloat16,float,false,true,true,false,7,false,cublasGemvParamsEx<…>>",
        "gemvx::kernel<int,int,nv_bfloat16,nv_bfloat16,nv_bfloat16,float,false,true,true,false,6,false,cublasGemvParamsEx<…>>",
        # CUTLASS's Kernel2 wrapper reads as the kernel it wraps
        "cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8",
        # a lambda argument reads as the function that holds it
        "vectorized_elementwise_kernel<4,silu_kernel,array<char*,2>>",
        "fmha_cutlassF_bf16_aligned_64x64_rf_sm80",
        "flash_fwd_splitkv_combine_kernel<Flash_fwd_kernel_traits<…>,4,3,true>",
    ]
    # Two direct-copy kernels differ only in their lambdas' instance numbers: numbered.
    copies = [s for s in short.values() if s.startswith("unrolled_elementwise_kernel<direct_copy")]
    assert len(copies) == 2
    assert copies[1] == copies[0] + " #2"


def test_collisions_left_after_template_arguments_are_numbered():
    """Overloads that differ only in their parameters get #2, #3 in the order given."""
    names = ["void f<(int)1>(int)", "void f<(int)1>(float)", "void f<(int)1>(char)", "g()"]
    assert short_names(names) == {
        "void f<(int)1>(int)": "f<1>",
        "void f<(int)1>(float)": "f<1> #2",
        "void f<(int)1>(char)": "f<1> #3",
        "g()": "g",
    }
