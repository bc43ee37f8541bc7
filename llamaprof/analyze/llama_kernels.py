"""What llama.cpp's CUDA kernels do: kernel families and ggml quantisation types.

Kept streamlit-free. ``FAMILIES`` is the one table that maps a kernel name to what it does
(matrix multiply, attention, normalisation, ...); ``kernel_family`` applies it to one name,
``family_summary`` to a kernel summary. ``decode_ggml_types`` reads the ``(ggml_type)N``
template arguments of llama.cpp's quantised kernels (``mul_mat_q<(ggml_type)12, ...>``) as
quantisation names (``Q4_K``).

Names are classified by their base identifier (``mul_mat_vec`` in
``void mul_mat_vec<__half, ...>(...)``), so names that ``nsys stats`` cut at 99 characters
plus ``…``, ``:base`` names and mangled names (``_Z17quantize_mmq_q8_1I...``) all classify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from llamaprof.analyze.kernel_names import short_kernel_name
from llamaprof.rounding import round1

__all__ = [
    "FAMILIES",
    "FAMILY_DESCRIPTIONS",
    "FAMILY_NAMES",
    "GGML_TYPES",
    "OTHER",
    "KernelFamily",
    "annotate_ggml_types",
    "decode_ggml_types",
    "family_breakdown",
    "family_drilldown",
    "family_frame",
    "family_summary",
    "kernel_base_name",
    "kernel_family",
    "with_families",
]

OTHER = "other"


@dataclass(frozen=True)
class KernelFamily:
    """One family: its id, the pattern its kernels' base names start with, and what it does."""

    name: str
    pattern: str
    description: str


# Patterns match at the start of the base name, and the first family that matches wins.
# Order matters where two could match: add_id (MoE) before element-wise add_*, and the
# matmul family's cuBLAS/CUTLASS substrings (anywhere in the name) after the attention,
# quantisation and MoE kernels, so that no llama.cpp kernel is taken for a GEMM.
FAMILIES: tuple[KernelFamily, ...] = (
    KernelFamily(
        "quantize",
        r"quantize_(?:mmq_)?(?:q8_1|mxfp4|nvfp4)",
        "activation quantisation: f32 activations to q8_1 (or FP4) blocks before MMVQ/MMQ "
        "(quantize_q8_1, quantize_mmq_q8_1, quantize_mmq_nvfp4)",
    ),
    KernelFamily(
        "moe",
        r"topk_moe|mmq?_ids_helper|k_copy_src1_to_contiguous|k_copy_dst_from_contiguous"
        r"|add_id|k_argsort|argsort|k_moe|moe_",
        "mixture-of-experts helpers: expert selection (topk_moe, argsort) and row gathering",
    ),
    KernelFamily(
        "attention",
        r"flash_attn|flash_fwd|flash_bwd|soft_max|diag_mask_inf",
        "attention: flash attention (flash_attn_ext*, its stream-k fixup and combine kernels; "
        "FlashAttention's flash_fwd/flash_bwd kernels where a program links it); soft_max and "
        "the causal mask without flash attention",
    ),
    KernelFamily(
        "matmul",
        r"mul_mat|k_compute_batched_ptrs|(?i:.*(?:gemm|gemv|cutlass|cublas|nvjet|splitkreduce))",
        "matrix multiply: mul_mat_vec (float GEMV), mul_mat_vec_q (MMVQ), mul_mat_q (MMQ) and "
        "its stream-k fixup, cuBLAS and CUTLASS GEMMs",
    ),
    KernelFamily(
        "rope",
        r"rope_|k_rope",
        "rotary position embedding (rope_norm, rope_neox, rope_multi, rope_vision)",
    ),
    KernelFamily(
        "norm",
        r"(?:fused_)?(?:rms_|group_|l2_)?norm(?:_|$)",
        "normalisation (rms_norm, norm, group_norm, l2_norm)",
    ),
    KernelFamily(
        "elementwise",
        r"k_bin_bcast|unary|k_repeat|(?:op_)?(?:scale|clamp|softcap|silu|gelu|gelu_quick"
        r"|gelu_erf|relu|leaky_relu|sigmoid|tanh|swiglu|swiglu_oai|geglu|reglu|hardswish"
        r"|hardsigmoid|elu|exp|neg|step|abs|sgn|sqr|sqrt|sin|cos|log|add|sub|mul|div|acc)"
        r"(?:_|$)",
        "element-wise: broadcast add/mul (k_bin_bcast), unary and gated activations, scale",
    ),
    KernelFamily(
        "copy",
        r"cpy|k_cpy|convert_|k_get_rows|get_rows|k_set_rows|set_rows|dequantize_block"
        r"|concat|k_dup|dup_",
        "copies and conversions: cpy (KV cache writes), convert_unary, get_rows, set_rows, "
        "dequantisation for cuBLAS",
    ),
)

#: Every family id in display order, "other" last.
FAMILY_NAMES: tuple[str, ...] = (
    "matmul",
    "attention",
    "norm",
    "rope",
    "elementwise",
    "copy",
    "quantize",
    "moe",
    OTHER,
)

#: Descriptions by family id, "other" included.
FAMILY_DESCRIPTIONS: dict[str, str] = {
    **{family.name: family.description for family in FAMILIES},
    OTHER: "anything not recognised as a llama.cpp kernel family",
}

_COMPILED = tuple((family.name, re.compile(family.pattern)) for family in FAMILIES)

# ggml/include/ggml.h, enum ggml_type (ggml-org/llama.cpp), as gguf-py's GGMLQuantizationType
# 0.19.0 mirrors it (the tests compare the two); 4, 5 and 31-33, 36-38 were removed from the
# enum and never appear in kernels. NVFP4 builds print ``mul_mat_q<(ggml_type)40, ...>``.
GGML_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
    40: "NVFP4",
    41: "Q1_0",
}

_GGML_TYPE_ARG = re.compile(r"\(ggml_type\)\s*(\d+)")
_MANGLED_PART = re.compile(r"(\d+)")


def _mangled_base(name: str) -> str | None:
    """The innermost identifier of an Itanium-mangled name (``_Z17quantize_q8_1PKf...``)."""
    if not name.startswith("_Z"):
        return None
    pos = 2
    if name[pos : pos + 1] == "N":  # nested name: N <len><id> <len><id> ... E
        pos += 1
    last = None
    while True:
        match = _MANGLED_PART.match(name, pos)
        if not match:
            break
        length = int(match.group(1))
        start = match.end()
        ident = name[start : start + length]
        if len(ident) < length or not ident:
            break
        last = ident
        pos = start + length
    return last


def kernel_base_name(name: str) -> str:
    """The identifier a kernel is classified by.

    >>> kernel_base_name("void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, …")
    'mul_mat_vec'
    >>> kernel_base_name("_Z17quantize_mmq_q8_1IL18mmq_q8_1_ds_layout0ELb0EEvPKfPKiPvxxxxxiii")
    'quantize_mmq_q8_1'
    """
    text = name.strip()
    mangled = _mangled_base(text)
    if mangled:
        return mangled
    base = short_kernel_name(text).rstrip("…").strip()
    # A name cut before its parameter list can keep its return type ("void mul_mat_v…").
    return base.split()[-1] if base else base


@lru_cache(maxsize=8192)  # the app classifies the same few hundred names on every rerun
def kernel_family(name: str) -> str:
    """The family id of one kernel name (``"matmul"``, ``"attention"``, ...; ``"other"``).

    >>> kernel_family("void flash_attn_stream_k_fixup<(int)256, (int)4, (int)2>(float *, …")
    'attention'
    >>> kernel_family("turing_h1688gemm_256x64_sliced1x2_ldg8_tn")
    'matmul'
    >>> kernel_family("void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>, true>(…)")
    'attention'
    """
    if not isinstance(name, str) or not name.strip():
        return OTHER
    base = kernel_base_name(name)
    for family, pattern in _COMPILED:
        if pattern.match(base):
            return family
    return OTHER


def decode_ggml_types(name: str) -> list[str]:
    """The ggml types named by ``(ggml_type)N`` template arguments, in order.

    >>> decode_ggml_types("void mul_mat_q<(ggml_type)12, (int)24, (bool)0>(const char *, …")
    ['Q4_K']

    A number missing from ``GGML_TYPES`` (a newer or forked build) reads ``ggml_type(N)``.
    """
    if not isinstance(name, str):
        return []
    return [_type_name(int(number)) for number in _GGML_TYPE_ARG.findall(name)]


def _type_name(number: int) -> str:
    return GGML_TYPES.get(number, f"ggml_type({number})")


def annotate_ggml_types(name: str) -> str:
    """``name`` with each ``(ggml_type)N`` replaced by its type name, for display.

    >>> annotate_ggml_types("void mul_mat_vec_q<(ggml_type)14, (int)1, (bool)0>(…")
    'void mul_mat_vec_q<Q6_K, (int)1, (bool)0>(…'
    """
    return _GGML_TYPE_ARG.sub(lambda m: _type_name(int(m.group(1))), name)


def with_families(kernels: pd.DataFrame) -> pd.DataFrame:
    """A copy of a kernel summary with ``family`` and ``ggml_types`` columns added.

    ``family``: family id of ``name``; ``ggml_types``: the decoded ``(ggml_type)N``
    arguments joined with ``/`` (``"Q4_K"``), ``""`` when the name has none.
    """
    out = kernels.copy()
    names = out["name"].astype(str)
    out["family"] = [kernel_family(n) for n in names]
    out["ggml_types"] = ["/".join(dict.fromkeys(decode_ggml_types(n))) for n in names]
    return out


def _pct(part: int | float, whole: int | float) -> float:
    """Percent with 1 decimal, rounded half away from zero as nsys's SQL does."""
    if not whole:
        return 0.0
    return round1(float(part) * 100.0 / float(whole))


def family_summary(kernels: pd.DataFrame) -> pd.DataFrame:
    """Where GPU kernel time goes, by family.

    ``kernels`` is a kernel summary (``llamaprof.reports.COLUMNS[KERNELS]``: ``name``,
    ``total_ns``, ``count``). Returns one row per family present, largest first (ties in
    ``FAMILY_NAMES`` order), columns:

    - ``family``: family id; ``description``: what it does
    - ``total_ns``: summed kernel time (ns); ``count``: summed instances
    - ``time_pct``: share of all kernel time, percent, 1 decimal
    - ``n_kernels``: how many distinct kernel rows fall in the family
    """
    columns = ["family", "description", "total_ns", "count", "time_pct", "n_kernels"]
    if kernels is None or kernels.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns}).astype(
            {"total_ns": "int64", "count": "int64", "time_pct": "float64", "n_kernels": "int64"}
        )
    tagged = with_families(kernels)
    grouped = tagged.groupby("family", sort=False).agg(
        total_ns=("total_ns", "sum"), count=("count", "sum"), n_kernels=("name", "size")
    )
    whole = grouped["total_ns"].sum()
    order = {name: i for i, name in enumerate(FAMILY_NAMES)}
    out = grouped.reset_index()
    out["rank"] = out["family"].map(order)
    out = out.sort_values(["total_ns", "rank"], ascending=[False, True], kind="stable")
    out["time_pct"] = [_pct(v, whole) for v in out["total_ns"]]
    out["description"] = out["family"].map(FAMILY_DESCRIPTIONS)
    out = out[columns].reset_index(drop=True)
    integer = all(pd.api.types.is_integer_dtype(kernels[c]) for c in ("total_ns", "count"))
    if integer:
        out = out.astype({"total_ns": "int64", "count": "int64"})
    return out.astype({"n_kernels": "int64", "time_pct": "float64"})


def family_frame(kernels: pd.DataFrame | None) -> pd.DataFrame:
    """A kernel summary summed by family, shaped like a summary keyed by ``name``.

    Columns: ``name`` (the family id), ``total_ns``, ``count``, ``time_pct``, so that
    ``compare_groups(..., key="name", value="total_ns")`` diffs families as it diffs kernels.
    An absent or empty summary gives an empty frame with those columns.
    """
    if kernels is None or kernels.empty:
        return pd.DataFrame(
            {
                "name": pd.Series(dtype="object"),
                "total_ns": pd.Series(dtype="int64"),
                "count": pd.Series(dtype="int64"),
                "time_pct": pd.Series(dtype="float64"),
            }
        )
    summary = family_summary(kernels)
    return summary.rename(columns={"family": "name"})[["name", "total_ns", "count", "time_pct"]]


def family_drilldown(long: pd.DataFrame, family: str) -> pd.DataFrame:
    """The rows of a by-kernel comparison (``compare_groups``' frame) whose kernel is in ``family``.

    Keeps the frame's columns and order, with a ``family`` column added; the index restarts
    at 0. Raises ValueError for an unknown family id.
    """
    if family not in FAMILY_NAMES:
        raise ValueError(f"unknown family {family!r}; families: {', '.join(FAMILY_NAMES)}")
    families = long["name"].astype(str).map(kernel_family)
    out = long[families == family].copy()
    out["family"] = family
    return out.reset_index(drop=True)


def family_breakdown(kernel_frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Where each run's GPU kernel time goes, by family: the data of a stacked bar chart.

    ``kernel_frames``: run label -> kernel summary (None or empty for a run without one).
    Columns: ``run``, ``family``, ``description``, ``total_ns``, ``count``, ``time_pct``
    (share of that run's kernel time), ``n_kernels``. Runs keep their order; within a run,
    families follow ``FAMILY_NAMES`` so stacks line up across runs. A run without kernels
    has no rows.
    """
    parts = []
    order = {name: i for i, name in enumerate(FAMILY_NAMES)}
    for label, frame in kernel_frames.items():
        summary = family_summary(frame) if frame is not None else None
        if summary is None or summary.empty:
            continue
        summary = summary.assign(_rank=summary["family"].map(order)).sort_values("_rank")
        parts.append(summary.drop(columns="_rank").assign(run=label))
    columns = ["run", "family", "description", "total_ns", "count", "time_pct", "n_kernels"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
