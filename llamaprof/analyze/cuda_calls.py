"""What a CUDA API call is, by its name: a kernel launch, a graph launch, a wait for the GPU.

One set of rules for every analysis (findings, serving findings, comparability warnings,
the timeline), so the pages and commands count the same calls. Names are matched without the
suffixes nsys leaves on them (``api_base_name``).
"""

from __future__ import annotations

import re

__all__ = [
    "GRAPH_CALLS",
    "LAUNCH_CALLS",
    "SYNC_CALLS",
    "api_base_name",
    "is_graph_launch",
    "is_launch_call",
    "is_sync_call",
]

#: Calls that launch one kernel each.
LAUNCH_CALLS = frozenset(
    {"cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx"}
)
#: Calls that launch a whole CUDA graph (its kernels are traced only with
#: ``--cuda-graph-trace=node``).
GRAPH_CALLS = frozenset({"cudaGraphLaunch", "cuGraphLaunch"})
#: CUDA runtime and driver calls in which the CPU waits for the GPU.
SYNC_CALLS = frozenset(
    {
        "cudaStreamSynchronize",
        "cudaDeviceSynchronize",
        "cudaEventSynchronize",
        "cudaThreadSynchronize",
        "cuStreamSynchronize",
        "cuCtxSynchronize",
        "cuEventSynchronize",
    }
)
# ``_v2``/``_v7000`` ABI suffixes, ``_ptsz``/``_ptds`` per-thread default-stream variants
_SUFFIXES = re.compile(r"(?:_v\d+|_pt[sd][sz]?)+$")


def api_base_name(name: str) -> str:
    """A CUDA API name without the suffixes nsys leaves on it: ABI versions it does not cut
    (``_v10000``, ``_v2``) and the per-thread default-stream variants (``_ptsz``, ``_ptds``).

    >>> api_base_name("cudaGraphLaunch_v10000"), api_base_name("cudaMemcpyAsync_ptsz")
    ('cudaGraphLaunch', 'cudaMemcpyAsync')
    """
    return _SUFFIXES.sub("", name)


def is_launch_call(name: str) -> bool:
    """Whether a CUDA API call launches one kernel.

    >>> [is_launch_call(n) for n in ("cudaLaunchKernel_v7000", "cudaLaunchKernel_ptsz",
    ...  "cuLaunchKernelEx", "cudaGraphLaunch", "cudaLaunchHostFunc")]
    [True, True, True, False, False]
    """
    return api_base_name(name) in LAUNCH_CALLS


def is_graph_launch(name: str) -> bool:
    """Whether a CUDA API call launches a CUDA graph.

    >>> [is_graph_launch(n) for n in ("cudaGraphLaunch_v10000", "cuGraphLaunch_ptsz",
    ...  "cudaGraphInstantiate")]
    [True, True, False]
    """
    return api_base_name(name) in GRAPH_CALLS


def is_sync_call(name: str) -> bool:
    """Whether a CUDA API name is a wait for the GPU.

    >>> [is_sync_call(n) for n in ("cudaStreamSynchronize", "cuStreamSynchronize_v2",
    ...  "cudaStreamSynchronize_ptsz", "cudaStreamWaitEvent", "cudaLaunchKernel")]
    [True, True, True, False, False]
    """
    return api_base_name(name) in SYNC_CALLS
