"""Readable short forms of demangled CUDA kernel names, for tables and chart axes.

Kept streamlit-free. Rows are always matched across runs by the full name; the
short form is for display only, with the full name on hover or in an expander.

A demangled name such as ``void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, …)``
reads ``mul_mat_vec``: return type, namespaces, template arguments and parameter list
dropped. Where two different names in one set share that form, ``short_names`` keeps their
template arguments, simplified (``mul_mat_vec<half,half,1,256>``), and numbers what still
collides (``#2``, ``#3``). Names that ``nsys stats`` cut at 99 characters + ``…`` are read
as far as they go.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

__all__ = ["OTHER", "short_kernel_name", "short_names", "split_kernel_name"]

#: The name of the row that sums everything below a top N (``top_n_with_other``); kept as is.
OTHER = "other"

ELLIPSIS = "…"  # nsys cuts names longer than 100 characters to 99 + this
#: Longest short form with template arguments, where shortening keeps names apart.
MAX_SHORT = 80
_UNCUT = 0  # max_len meaning "collapse nested template arguments, never cut the tail"

# Wrapper kernels whose identity is their first template argument (CUTLASS's
# ``cutlass::Kernel2<cutlass_80_wmma_tensorop_…_align8>``); nsys's own base name ("Kernel2")
# says nothing, so the argument is shown instead.
_WRAPPERS = frozenset({"Kernel", "Kernel2", "device_kernel"})
# Last name components too generic to stand alone: keep their enclosing namespace
# (``internal::gemvx::kernel`` reads ``gemvx::kernel``).
_GENERIC = frozenset({"kernel", "Kernel", "Kernel2", "device_kernel", "kernel_entry"})
_ANONYMOUS = re.compile(r"(?:<unnamed>|\(anonymous namespace\)|`anonymous namespace')::")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*")
_OPEN, _CLOSE = "<([", ">)]"


def split_kernel_name(demangled: str) -> tuple[str, str | None]:
    """Split a demangled name into its qualified function name and its template arguments.

    >>> split_kernel_name("void mul_mat_vec<__half, (int)1>(const T1 *, int)")
    ('mul_mat_vec', '__half, (int)1')
    >>> split_kernel_name("scale_f32(const float *, float *, float, int)")
    ('scale_f32', None)

    The return type (everything before the last top-level space) and the parameter list
    go. Template arguments cut by nsys's ``…`` come back as far as they go.
    """
    text = _ANONYMOUS.sub("", demangled.strip())
    if "(" not in text and "<" not in text:
        return text, None  # no signature to read: "turing_h1688gemm_…_tn", "UM DtoH"
    depth = 0
    token_start = 0  # start of the last top-level token (after the return type)
    template_start: int | None = None
    end = len(text)
    for i, char in enumerate(text):
        if char in _OPEN:
            if depth == 0:
                if char == "(":
                    end = i
                    break
                if char == "<":
                    template_start = i
            depth += 1
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
        elif char == " " and depth == 0:
            token_start = i + 1
            template_start = None
    token = text[token_start:end].strip()
    if template_start is None or template_start < token_start:
        return token.rstrip(ELLIPSIS) or token, None
    name = text[token_start:template_start]
    args = text[template_start + 1 : end].strip()
    if args.endswith(">"):
        args = args[:-1]
    return name, args


def _top_level_args(args: str) -> list[str]:
    """Split template arguments on top-level commas."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in args:
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _base_name(name: str, args: str | None) -> str:
    """The readable base: last name component, its namespace kept when too generic."""
    components = [c for c in name.split("::") if c]
    if not components:
        return name
    last = components[-1]
    if last in _WRAPPERS and args:
        first = _top_level_args(args)[0]
        if _IDENTIFIER.fullmatch(first):
            return first.split("::")[-1]
    if last in _GENERIC and len(components) > 1:
        return f"{components[-2]}::{last}"
    return last


_LAMBDA = re.compile(r"\[lambda[^\]]*\]")
_OPERATOR_CALL = re.compile(r"::operator \(\)\([^()]*\)(?: const)?")
_BOOL_CAST = re.compile(r"\(bool\)([01])")
_CAST = re.compile(r"\((?:[A-Za-z_][\w: ]*)\)(?=-?\d)")
_PARAMS = re.compile(r"(?<=[\w>])\([^()]*\)(?: const)?")
_QUALIFIER = re.compile(r"\b(?:[A-Za-z_]\w*::)+(?=[A-Za-z_~])")
_LAMBDA_SUFFIX = re.compile(r"(?<=[\w>])(?:::lambda)+")


def _simplify_args(args: str) -> str:
    """Template arguments in few characters: no casts, namespaces, lambdas or spaces."""
    text = _ANONYMOUS.sub("", args)
    text = _LAMBDA.sub("lambda", text)
    text = _OPERATOR_CALL.sub("", text)
    text = _BOOL_CAST.sub(lambda m: "true" if m.group(1) == "1" else "false", text)
    text = _CAST.sub("", text)
    text = _QUALIFIER.sub("", text)  # before the parameter lists go, so `f(…)::lambda` keeps f
    previous = None
    while previous != text:  # nested parameter lists, innermost first
        previous = text
        text = _PARAMS.sub("", text)
    text = _LAMBDA_SUFFIX.sub("", text)  # silu_kernel::lambda::lambda -> silu_kernel
    text = re.sub(r"\bvoid\s+", "", text)  # return types of functions named in arguments
    text = re.sub(r"(?<=[<,\s])&(?=[A-Za-z_])", "", " " + text)[1:]  # &op_mul -> op_mul
    text = re.sub(r"\b__(?=[a-z])", "", text)  # __half -> half, __nv_bfloat16 -> nv_bfloat16
    text = re.sub(r"\s*([*&,<>])\s*", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text.endswith(ELLIPSIS):
        text = text[:-1].rstrip(",") + ",…"
    return text


def short_kernel_name(
    demangled: str, *, with_args: bool = False, max_len: int | None = None
) -> str:
    """Readable short form of one kernel name.

    >>> short_kernel_name("void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, int)")
    'mul_mat_vec'
    >>> short_kernel_name(
    ...     "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, int)", with_args=True
    ... )
    'mul_mat_vec<half,half,1,256>'
    >>> short_kernel_name("void cutlass::Kernel2<cutlass_75_wmma_h1688gemm_tn>(T1::Params)")
    'cutlass_75_wmma_h1688gemm_tn'

    Names without templates or parameters (``cudaLaunchKernel``, ``HtoD``) come back
    unchanged. ``with_args`` keeps the simplified template arguments; beyond ``max_len``
    characters their nested arguments read ``<…>``, then the tail is cut to ``…>``
    (``max_len=0``: nested arguments collapsed, nothing cut).
    """
    if demangled == OTHER:
        return demangled
    name, args = split_kernel_name(demangled)
    base = _base_name(name, args)
    if not with_args or not args:
        return base
    if base != name.split("::")[-1] and base in args:
        return base  # a wrapper shown by its argument: the argument is its identity
    simple = _simplify_args(args)
    text = f"{base}<{simple}>"
    if max_len is not None and len(text) > max_len:
        text = f"{base}<{_collapse_nested(simple)}>"
        if len(text) > max_len and max_len != _UNCUT:
            text = text[: max(max_len - 2, len(base) + 1)] + "…>"
    return text


def _collapse_nested(args: str) -> str:
    """Replace the contents of nested template arguments with ``…``: ``a<b<c>>`` -> ``a<…>``."""
    out: list[str] = []
    depth = 0
    for char in args:
        if char == "<":
            if depth == 0:
                out.append("<…")
            depth += 1
        elif char == ">" and depth:
            depth -= 1
            if depth == 0:
                out.append(">")
        elif depth == 0:
            out.append(char)
    return "".join(out)


def short_names(names: Iterable[str], *, max_len: int = MAX_SHORT) -> dict[str, str]:
    """Map each distinct full name to a short form that is unique within ``names``.

    >>> short_names(["void f<(int)1>(int)", "void f<(int)2>(int)", "g(float)"])
    {'void f<(int)1>(int)': 'f<1>', 'void f<(int)2>(int)': 'f<2>', 'g(float)': 'g'}

    Names whose plain short form is unique keep it. Names sharing it keep their simplified
    template arguments, in the shortest form that keeps them apart: cut to ``max_len``
    characters, else with nested arguments collapsed to ``<…>``, else in full. What still
    collides (names differing only in their parameter lists, or cut by nsys's ``…`` before
    they differ) gets `` #2``, `` #3``… in the order given. The mapping keeps input order.
    """
    unique = list(dict.fromkeys(names))
    groups: dict[str, list[str]] = {}
    for name in unique:
        groups.setdefault(short_kernel_name(name), []).append(name)
    result: dict[str, str] = {}
    for short, members in groups.items():
        if len(members) == 1:
            result[members[0]] = short
            continue
        # Shortest first: cut to max_len, nested arguments collapsed only, in full.
        candidates = [
            {name: short_kernel_name(name, with_args=True, max_len=limit) for name in members}
            for limit in (max_len, _UNCUT, None)
        ]
        counts = [Counter(level.values()) for level in candidates]
        for name in members:
            result[name] = next(
                (
                    level[name]
                    for level, n in zip(candidates, counts, strict=True)
                    if n[level[name]] == 1
                ),
                candidates[-1][name],
            )
    # Number what still collides, whether within a group or across groups; keep input order.
    seen: Counter[str] = Counter()
    numbered: dict[str, str] = {}
    for name in unique:
        short = result[name]
        seen[short] += 1
        numbered[name] = short if seen[short] == 1 else f"{short} #{seen[short]}"
    return numbered
