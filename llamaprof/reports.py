"""The four nsys CUDA summaries: names, aliases and their columns.

One registry that the readers, renderers, CLI and app share, so a report name
or a column is spelled in exactly one place.
"""

from __future__ import annotations

API = "cuda_api_sum"
KERNELS = "cuda_gpu_kern_sum"
MEM_TIME = "cuda_gpu_mem_time_sum"
MEM_SIZE = "cuda_gpu_mem_size_sum"

#: The four reports, in the order ``nsys stats`` runs them.
REPORT_NAMES: tuple[str, ...] = (API, KERNELS, MEM_TIME, MEM_SIZE)

#: Pre-2023 report names (``nsys stats --report gpukernsum``) -> current names.
OLD_NAMES: dict[str, str] = {
    "cudaapisum": API,
    "gpukernsum": KERNELS,
    "gpumemtimesum": MEM_TIME,
    "gpumemsizesum": MEM_SIZE,
}

#: Human titles, as current nsys prints them after `` ** ``.
TITLES: dict[str, str] = {
    API: "CUDA API Summary",
    KERNELS: "CUDA GPU Kernel Summary",
    MEM_TIME: "CUDA GPU MemOps Summary (by Time)",
    MEM_SIZE: "CUDA GPU MemOps Summary (by Size)",
}

#: What nsys says when a report has nothing to read.
SKIP_REASONS: dict[str, str] = {
    API: "does not contain CUDA trace data.",
    KERNELS: "does not contain CUDA kernel data.",
    MEM_TIME: "does not contain GPU memory data.",
    MEM_SIZE: "does not contain GPU memory data.",
}

# Columns of the summary DataFrames (the model of a run). Durations are ns,
# sizes are bytes, ``time_pct`` is percent rounded to 1 decimal as nsys rounds.
# Integer columns are int64 when the source gives exact integers (SQLite, text
# printed in ns) and float64 otherwise (text printed in ms, sizes printed in MB).
TIME_STATS = ["total_ns", "count", "avg_ns", "med_ns", "min_ns", "max_ns", "stddev_ns"]
SIZE_STATS = [
    "total_bytes",
    "count",
    "avg_bytes",
    "med_bytes",
    "min_bytes",
    "max_bytes",
    "stddev_bytes",
]

COLUMNS: dict[str, list[str]] = {
    # name: API call name as nsys prints it (``_vNNNN`` ABI suffix cut).
    API: ["time_pct", *TIME_STATS, "name"],
    # name: the kernel name in the naming chosen (demangled by default);
    # demangled_name/base_name/mangled_name: every name the source has (NA if it
    # has not); grid/block: "   1    1    1" strings, only where nsys 2022.4 split
    # rows by launch configuration, else NA.
    KERNELS: [
        "time_pct",
        *TIME_STATS,
        "name",
        "demangled_name",
        "base_name",
        "mangled_name",
        "grid",
        "block",
    ],
    # operation: the label as the source printed it ("[CUDA memcpy Host-to-Device]");
    # op: canonical direction shared by every nsys version (see ``canonical_op``).
    MEM_TIME: ["time_pct", *TIME_STATS, "operation", "op"],
    MEM_SIZE: [*SIZE_STATS, "operation", "op"],
}


def canonical_report_name(name: str) -> str:
    """Map a current or pre-2023 report name to the current one.

    >>> canonical_report_name("gpukernsum")
    'cuda_gpu_kern_sum'

    Raises ValueError for a name that is none of the four CUDA summaries.
    """
    key = name.strip().lower()
    if key in REPORT_NAMES:
        return key
    if key in OLD_NAMES:
        return OLD_NAMES[key]
    known = ", ".join([*REPORT_NAMES, *OLD_NAMES])
    raise ValueError(f"unknown report {name!r}; known reports: {known}")


# Canonical memory-operation directions. Index = copyKind / ENUM_CUDA_MEMCPY_OPER id.
MEMCPY_SHORT = [
    "Unknown",
    "HtoD",
    "DtoH",
    "HtoA",
    "AtoH",
    "AtoA",
    "AtoD",
    "DtoA",
    "DtoD",
    "HtoH",
    "PtoP",
    "UM HtoD",
    "UM DtoH",
    "UM DtoD",
]
#: Labels of ``ENUM_CUDA_MEMCPY_OPER.label`` (nsys 2022.4+), same index.
MEMCPY_LONG = [
    "Unknown",
    "Host-to-Device",
    "Device-to-Host",
    "Host-to-Array",
    "Array-to-Host",
    "Array-to-Array",
    "Array-to-Device",
    "Device-to-Array",
    "Device-to-Device",
    "Host-to-Host",
    "Peer-to-Peer",
    "Unified Host-to-Device",
    "Unified Device-to-Host",
    "Unified Device-to-Device",
]
MEMSET = "memset"

_OP_BY_LABEL: dict[str, str] = {}
for _short, _long in zip(MEMCPY_SHORT, MEMCPY_LONG, strict=True):
    _OP_BY_LABEL[f"[CUDA memcpy {_long}]".lower()] = _short
    _OP_BY_LABEL[f"[CUDA memcpy {_short}]".lower()] = _short
for _i, _kind in ((11, "HtoD"), (12, "DtoH"), (13, "DtoD")):
    _OP_BY_LABEL[f"[CUDA Unified Memory memcpy {_kind}]".lower()] = MEMCPY_SHORT[_i]
_OP_BY_LABEL["[cuda memset]"] = MEMSET


def is_to_device(label: str) -> bool:
    """Whether a memory-operation label is a copy from the host to the GPU (plain or unified
    memory): the weights going up at start-up.

    >>> is_to_device("[CUDA memcpy Host-to-Device]"), is_to_device("[CUDA memcpy DtoH]")
    (True, False)
    """
    return canonical_op(label) in ("HtoD", "UM HtoD")


def canonical_op(label: str) -> str:
    """Canonical direction of a memory-operation label printed by any nsys version.

    >>> canonical_op("[CUDA memcpy Host-to-Device]"), canonical_op("[CUDA memcpy HtoD]")
    ('HtoD', 'HtoD')
    >>> canonical_op("[CUDA memset]")
    'memset'

    A label no nsys version prints comes back unchanged, so nothing is lost.
    """
    text = label.strip()
    return _OP_BY_LABEL.get(text.lower(), text)
