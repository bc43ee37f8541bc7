"""Write a synthetic nsys SQLite export shaped like the seed's llama-server capture.

The seed (gemma-3-4b f16 under llama-server, nsys 2025.1.3) recorded 1,055,137 kernel
launches and about 1.08 million CUDA API calls; users keep dozens of such exports. This
module writes an export of that size with the real schema of nsys 2026.1.1 (the CREATE TABLE
statements below are those of a real export, comments dropped), so readers and caches can be
measured on seed-scale input without shipping a 120 MB file.

What is reproduced from the seed's ``nsys stats`` output: the API and kernel names, the
number of calls/instances per name, and durations drawn so that min and max match exactly,
the total (mean) within about 1 % at scale 1 and the median roughly; memcpy HtoD/DtoH and
memset likewise (their byte sizes are made up: the seed's text has no size table). Kernel names
past the 99 characters nsys prints are reconstructed from llama.cpp's signatures. The
timeline is consistent: every kernel, memcpy and memset runs after the API call that
issued it (same correlationId), kernels one at a time on one stream.

``write_seed_scale_export(path, scale=1)`` is the entry point; ``scale=10`` writes ten
times the seed. Generation is vectorised (numpy) and takes ~5 s per seed on one core.

Test and benchmark data, so it lives in ``scripts/`` and not in the installed package: the
benchmark scripts beside it and the tests (``scripts`` is on pytest's ``pythonpath``) import it
as ``synth``.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Tables the generator fills, as nsys 2026.1.1 creates them (MEMSET from 2026.2.1: the
#: 2026.1.1 source file had no memset, and nsys creates tables lazily).
SCHEMA = """\
CREATE TABLE StringIds (
    id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL
);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (
    start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
    globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL,
    returnValue INTEGER NOT NULL, callchainId INTEGER
);
CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL,
    shortName INTEGER NOT NULL, mangledName INTEGER, launchType INTEGER,
    cacheConfig INTEGER, registersPerThread INTEGER NOT NULL, gridX INTEGER NOT NULL,
    gridY INTEGER NOT NULL, gridZ INTEGER NOT NULL, blockX INTEGER NOT NULL,
    blockY INTEGER NOT NULL, blockZ INTEGER NOT NULL, staticSharedMemory INTEGER NOT NULL,
    dynamicSharedMemory INTEGER NOT NULL, localMemoryPerThread INTEGER NOT NULL,
    localMemoryTotal INTEGER NOT NULL, gridId INTEGER NOT NULL,
    sharedMemoryExecuted INTEGER, graphNodeId INTEGER, sharedMemoryLimitConfig INTEGER,
    qmdBulkReleaseDone INTEGER, qmdPreexitDone INTEGER, qmdLastCtaDone INTEGER,
    graphId INTEGER, clusterX INTEGER, clusterY INTEGER, clusterZ INTEGER,
    clusterSchedulingPolicy INTEGER, maxPotentialClusterSize INTEGER,
    maxActiveClusters INTEGER, sharedMemoryRequestedPercentage INTEGER
);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, bytes INTEGER NOT NULL,
    copyKind INTEGER NOT NULL, deprecatedSrcId INTEGER, srcKind INTEGER, dstKind INTEGER,
    srcDeviceId INTEGER, srcContextId INTEGER, dstDeviceId INTEGER, dstContextId INTEGER,
    migrationCause INTEGER, graphNodeId INTEGER, virtualAddress INTEGER, copyCount INTEGER
);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, value INTEGER NOT NULL,
    bytes INTEGER NOT NULL, graphNodeId INTEGER, memKind INTEGER
);
CREATE TABLE ENUM_CUDA_MEMCPY_OPER (
    id INTEGER NOT NULL PRIMARY KEY, name TEXT, label TEXT
);
CREATE TABLE ENUM_CUDA_MEM_KIND (
    id INTEGER NOT NULL PRIMARY KEY, name TEXT, label TEXT
);
CREATE TABLE META_DATA_EXPORT (
    name TEXT NOT NULL, value TEXT
);
CREATE TABLE TARGET_INFO_GPU (
    vmId INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT, busLocation TEXT,
    isDiscrete INTEGER, l2CacheSize INTEGER, totalMemory INTEGER, memoryBandwidth INTEGER,
    clockRate INTEGER, smCount INTEGER, pwGpuId INTEGER, uuid TEXT, luid INTEGER,
    chipName TEXT, cuDevice INTEGER, ctxswDevPath TEXT, ctrlDevPath TEXT, revision INTEGER,
    nodeMask INTEGER, constantMemory INTEGER, maxIPC INTEGER, maxRegistersPerBlock INTEGER,
    maxShmemPerBlock INTEGER, maxShmemPerBlockOptin INTEGER, maxShmemPerSm INTEGER,
    maxRegistersPerSm INTEGER, threadsPerWarp INTEGER, asyncEngines INTEGER,
    maxWarpsPerSm INTEGER, maxBlocksPerSm INTEGER, maxThreadsPerBlock INTEGER,
    maxBlockDimX INTEGER, maxBlockDimY INTEGER, maxBlockDimZ INTEGER, maxGridDimX INTEGER,
    maxGridDimY INTEGER, maxGridDimZ INTEGER, computeMajor INTEGER, computeMinor INTEGER,
    smMajor INTEGER, smMinor INTEGER
);
CREATE TABLE TARGET_INFO_SESSION_START_TIME (
    utcEpochNs INTEGER, utcTime TEXT, localTime TEXT, systemClockNs INTEGER
);
CREATE TABLE PROCESSES (
    globalPid INTEGER, pid INTEGER, name TEXT
);
"""

#: The seed's CUDA API calls: raw name (with nsys's ``_vNNNN`` ABI suffix), calls, avg, med,
#: min, max (ns). eventClass 1 (driver) for ``cu*`` names, 0 (runtime) otherwise.
SEED_API: tuple[tuple[str, int, float, float, int, int], ...] = (
    ("cudaStreamSynchronize_v3020", 13185, 1424683.3, 6991.0, 306, 26541226),
    ("cudaMemcpyAsync_v3020", 6810, 338740.9, 2772.5, 1153, 413139275),
    ("cudaLaunchKernel_v7000", 1055137, 1688.6, 1547.0, 1399, 21880618),
    ("cudaMemGetInfo_v3020", 3, 46714692.7, 37087.0, 28224, 140078767),
    ("cudaMallocHost_v3020", 2, 27336624.5, 27336624.5, 574638, 54098611),
    ("cudaFreeHost_v3020", 2, 12699043.0, 12699043.0, 635453, 24762633),
    ("cudaMalloc_v3020", 7, 2410539.6, 143525.0, 3083, 15853845),
    ("cudaFree_v3020", 8, 1315901.9, 1214730.0, 24559, 3369309),
    ("cuLibraryLoadData", 4, 768815.8, 769219.5, 209398, 1327426),
    ("cuMemUnmap", 1, 2260349.0, 2260349.0, 2260349, 2260349),
    ("cudaGetDeviceProperties_v2_v12000", 2, 987411.0, 987411.0, 922431, 1052391),
    ("cuMemSetAccess", 2, 359172.5, 359172.5, 66360, 651985),
    ("cuKernelGetFunction", 68, 8567.7, 148.5, 143, 569861),
    ("cudaEventRecord_v3020", 101, 5226.9, 1402.0, 793, 161138),
    ("cuLaunchKernel", 68, 4889.3, 1609.0, 1390, 30410),
    ("cuGetProcAddress_v2", 838, 162.4, 138.0, 73, 4072),
    ("cudaMemsetAsync_v3020", 6, 12776.2, 11467.5, 3590, 24162),
    ("cuMemCreate", 2, 34314.5, 34314.5, 22629, 46000),
    ("cudaStreamDestroy_v5050", 1, 39030.0, 39030.0, 39030, 39030),
    ("cuStreamGetCaptureInfo_v2", 606, 52.7, 43.0, 37, 984),
    ("cudaDeviceSynchronize_v3020", 4, 5312.8, 3251.5, 1966, 12782),
    ("cudaEventDestroy_v3020", 18, 982.7, 762.5, 479, 4059),
    ("cuLibraryGetKernel", 5, 3146.6, 3520.0, 444, 4435),
    ("cuMemAddressFree", 1, 15477.0, 15477.0, 15477, 15477),
    ("cudaStreamCreateWithFlags_v5000", 1, 13237.0, 13237.0, 13237, 13237),
    ("cuMemAddressReserve", 1, 9735.0, 9735.0, 9735, 9735),
    ("cudaEventCreateWithFlags_v3020", 18, 529.1, 290.0, 229, 2234),
    ("cuMemMap", 2, 2893.5, 2893.5, 2639, 3148),
    ("cuInit", 4, 1099.8, 1249.5, 626, 1274),
    ("cudaEventQuery_v3020", 1, 4155.0, 4155.0, 4155, 4155),
    ("cuMemGetAllocationGranularity", 1, 3589.0, 3589.0, 3589, 3589),
    ("cuModuleGetLoadingMode", 3, 372.0, 164.0, 132, 820),
    ("cudaGetDriverEntryPoint_v11030", 2, 495.0, 495.0, 331, 659),
    ("cuMemRelease", 2, 176.5, 176.5, 145, 208),
)
#: API calls that issue GPU work, matched to kernels / memcpys / memsets in time order.
LAUNCH_CALLS = ("cudaLaunchKernel_v7000", "cuLaunchKernel")
MEMCPY_CALL = "cudaMemcpyAsync_v3020"
MEMSET_CALL = "cudaMemsetAsync_v3020"


@dataclass(frozen=True)
class SeedKernel:
    """One row of the seed's kernel summary, with the names and launch shape to write."""

    demangled: str
    base: str
    mangled: str
    instances: int
    avg: float
    med: float
    min: int
    max: int
    grids: tuple[int, ...]  # gridX values drawn from (gridY = gridZ = 1)
    block: tuple[int, int, int]
    registers: int


_MMV = "const T1 *, const float *, const int *, float *, " + ", ".join(["int"] * 12)
_FA = (
    "const char *, const char *, const char *, const char *, const char *, const int *, "
    "float *, float2 *, float, float, float, float, unsigned int, float, "
    + ", ".join(["int"] * 11)
    + ", long, int, int, long, int, int, int, int, int, long"
)
_BCAST = "const T2 *, const T3 *, T4 *, " + ", ".join(["int"] * 18)
_ULONG9 = ", ".join(["unsigned long"] * 9)

#: The seed's kernels (nsys prints the first 99 characters of a name; the rest follows
#: llama.cpp's signatures).
# fmt: off
SEED_KERNELS: tuple[SeedKernel, ...] = (
    SeedKernel(f"void mul_mat_vec<__half, __half, (int)1, (int)256>({_MMV})", "mul_mat_vec",
               "_Z11mul_mat_vecI6__halfS0_Li1ELi256EEvPKT_PKfPKiPfiiiiiiiiiiii",
               253109, 65784.4, 20736.0, 10976, 5023823, (2560, 10240, 262144), (256, 1, 1), 40),
    SeedKernel("void flash_attn_ext_f16<(int)256, (int)256, (int)4, (int)2, (int)2, (int)1, "
               f"(bool)0, (bool)0>({_FA})", "flash_attn_ext_f16",
               "_Z18flash_attn_ext_f16ILi256ELi256ELi4ELi2ELi2ELi1ELb0ELb0EEvPKcS1_S1_S1_S1_PKi"
               "PfP6float2ffffjfiiiiiiiiiiiliiliiiiil",
               36040, 26593.6, 25632.0, 21088, 1551515, (8, 16), (32, 4, 1), 255),
    SeedKernel(f"void k_bin_bcast<&op_mul, float, float, float>({_BCAST})", "k_bin_bcast",
               "_Z11k_bin_bcastIXadL_Z6op_mulffEEfffEvPKT0_PKT1_PT2_iiiiiiiiiiiiiiiiii",
               217505, 1916.3, 1952.0, 1663, 20928, (20, 80), (128, 1, 1), 32),
    SeedKernel("void rms_norm_f32<(int)1024>(const float *, float *, int, long, long, long, float)",
               "rms_norm_f32", "_Z12rms_norm_f32ILi1024EEvPKfPfilllf",
               145357, 2800.6, 2720.0, 2399, 17472, (1,), (1024, 1, 1), 26),
    SeedKernel("void flash_attn_stream_k_fixup<(int)256, (int)4, (int)2>(float *, const float2 *, "
               "int, int, int)", "flash_attn_stream_k_fixup",
               "_Z25flash_attn_stream_k_fixupILi256ELi4ELi2EEvPfPK6float2iii",
               36040, 6248.2, 6240.0, 5120, 370527, (8,), (256, 1, 1), 40),
    SeedKernel("void rms_norm_f32<(int)32>(const float *, float *, int, long, long, long, float)",
               "rms_norm_f32", "_Z12rms_norm_f32ILi32EEvPKfPfilllf",
               72148, 1917.4, 2112.0, 1567, 18144, (8, 16), (32, 1, 1), 24),
    SeedKernel(f"void k_bin_bcast<&op_add, float, float, float>({_BCAST})", "k_bin_bcast",
               "_Z11k_bin_bcastIXadL_Z6op_addffEEfffEvPKT0_PKT1_PT2_iiiiiiiiiiiiiiiiii",
               72148, 1818.9, 1824.0, 1504, 17440, (20,), (128, 1, 1), 32),
    SeedKernel("void cpy_f32_f16<&cpy_1_f32_f16>(const char *, char *, "
               + ", ".join(["int"] * 13) + ", char **, int)", "cpy_f32_f16",
               "_Z11cpy_f32_f16IXadL_Z13cpy_1_f32_f16PKcPcEEEvS1_S2_iiiiiiiiiiiiiPS2_i",
               74270, 1744.1, 1696.0, 1631, 17856, (4, 8), (64, 1, 1), 30),
    SeedKernel("void rope_neox<(bool)1, (bool)0, float>(const T3 *, T3 *, int, int, int, int, int, "
               "const int *, float, float, float, float, rope_corr_dims, const float *, "
               "mrope_sections, const int *)", "rope_neox",
               "_Z9rope_neoxILb1ELb0EfEvPKT1_PS0_iiiiiPKiffff14rope_corr_dimsPKf14mrope_sectionsS5_",
               72148, 1294.7, 1280.0, 1184, 20127, (8, 4), (1, 256, 1), 38),
    SeedKernel("void unary_gated_op_kernel<&op_gelu, float>(const T2 *, const T2 *, T2 *, long, "
               "long, long, long)", "unary_gated_op_kernel",
               "_Z20unary_gated_op_kernelIXadL_Z7op_gelufEEfEvPKT0_S3_PS1_llll",
               36074, 1890.3, 1856.0, 1760, 18144, (40,), (256, 1, 1), 22),
    SeedKernel("scale_f32(const float *, float *, float, int)", "scale_f32", "_Z9scale_f32PKfPffi",
               37135, 1102.9, 1088.0, 992, 13600, (10,), (256, 1, 1), 16),
    SeedKernel(f"void mul_mat_vec<__half, __half, (int)2, (int)256>({_MMV})", "mul_mat_vec",
               "_Z11mul_mat_vecI6__halfS0_Li2ELi256EEvPKT_PKfPKiPfiiiiiiiiiiii",
               235, 61489.0, 22688.0, 12448, 1269181, (2560, 10240), (256, 1, 1), 48),
    SeedKernel("turing_h1688gemm_256x64_sliced1x2_ldg8_tn",
               "turing_h1688gemm_256x64_sliced1x2_ldg8_tn",
               "turing_h1688gemm_256x64_sliced1x2_ldg8_tn",
               66, 189461.2, 164304.0, 159168, 1805209, (40, 160), (256, 1, 1), 232),
    SeedKernel("turing_h1688gemm_256x64_ldg8_stages_32x1_tn",
               "turing_h1688gemm_256x64_ldg8_stages_32x1_tn",
               "turing_h1688gemm_256x64_ldg8_stages_32x1_tn",
               101, 100818.0, 39296.0, 30816, 1614491, (40, 160), (128, 1, 1), 232),
    SeedKernel("void k_get_rows_float<float, float>(const T1 *, const int *, T2 *, long, long, "
               f"{_ULONG9})", "k_get_rows_float",
               "_Z16k_get_rows_floatIffEvPKT_PKiPT0_llmmmmmmmmm",
               2122, 1787.5, 1984.0, 1472, 2656, (1,), (256, 1, 1), 30),
    SeedKernel("void cutlass::Kernel2<cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8>"
               "(T1::Params)", "Kernel2",
               "_ZN7cutlass7Kernel2I55cutlass_75_wmma_tensorop_h161616gemm_32x32_128x2_tn_align8EE"
               "vNT_6ParamsE",
               68, 25882.3, 25968.0, 25056, 26368, (80,), (128, 1, 1), 128),
    SeedKernel("void flash_attn_ext_f16<(int)256, (int)256, (int)16, (int)2, (int)4, (int)2, "
               f"(bool)0, (bool)0>({_FA})", "flash_attn_ext_f16",
               "_Z18flash_attn_ext_f16ILi256ELi256ELi16ELi2ELi4ELi2ELb0ELb0EEvPKcS1_S1_S1_S1_PKi"
               "PfP6float2ffffjfiiiiiiiiiiiliiliiiiil",
               34, 51192.1, 50591.5, 49056, 67776, (8,), (32, 4, 1), 255),
    SeedKernel("void convert_unary<__half, float>(const void *, T2 *, long, long, long, long, "
               "long, long)", "convert_unary", "_Z13convert_unaryI6__halffEvPKvPT0_llllll",
               235, 4591.8, 3456.0, 2208, 9023, (40, 160), (256, 1, 1), 20),
    SeedKernel("void convert_unary<float, __half>(const void *, T2 *, long, long, long, long, "
               "long, long)", "convert_unary", "_Z13convert_unaryIf6__halfEvPKvPT0_llllll",
               235, 4326.9, 3648.0, 3008, 10304, (40, 160), (256, 1, 1), 20),
    SeedKernel("void flash_attn_stream_k_fixup<(int)256, (int)16, (int)2>(float *, const float2 *, "
               "int, int, int)", "flash_attn_stream_k_fixup",
               "_Z25flash_attn_stream_k_fixupILi256ELi16ELi2EEvPfPK6float2iii",
               34, 17133.2, 17120.0, 17056, 17568, (8,), (256, 1, 1), 40),
    SeedKernel("void cublasLt::splitKreduce_kernel<(int)32, (int)16, int, __half, __half, __half, "
               "__half, (bool)0, __half, __half, __half, (bool)1, (bool)0, (bool)0>"
               "(cublasLt::cublasSplitKParams<T6>, const T4 *, const T5 *, T5 *, const T6 *, "
               "const T6 *, const T7 *, const T4 *, T7 *, void *, long, T6 *, int *, T6 *, T6 *)",
               "splitKreduce_kernel",
               "_ZN8cublasLt19splitKreduce_kernelILi32ELi16Ei6__halfS1_S1_S1_Lb0ES1_S1_S1_Lb1ELb0E"
               "Lb0EEEvNS_18cublasSplitKParamsIT5_EEPKT3_PKT4_PSA_PKS5_SF_PKT6_SC_PSG_PvlPS5_PiSL_SL_",
               101, 4733.8, 4480.0, 3744, 12096, (40, 160), (32, 16, 1), 32),
)
# fmt: on

#: The seed's memory operations: copyKind (1 HtoD, 2 DtoH; None = memset), count, avg, med,
#: min, max (ns), bytes per operation drawn from (sizes are not in the seed's text output).
SEED_MEMOPS: tuple[tuple[int | None, int, float, float, int, int, tuple[int, ...]], ...] = (
    (1, 5749, 439631.1, 1600.0, 319, 413623340, (4, 1024, 8192, 10240, 1048576)),
    (2, 1061, 319487.5, 319103.0, 318719, 332639, (1048576,)),
    (None, 6, 3126317.7, 2499002.0, 320127, 7067246, (8388608, 16777216)),
)

# fmt: off
_MEMCPY_LABELS = (
    "Unknown", "Host-to-Device", "Device-to-Host", "Host-to-Array", "Array-to-Host",
    "Array-to-Array", "Array-to-Device", "Device-to-Array", "Device-to-Device", "Host-to-Host",
    "Peer-to-Peer", "Unified Host-to-Device", "Unified Device-to-Host", "Unified Device-to-Device",
)
_MEMCPY_NAMES = (
    "UNKNOWN", "HTOD", "DTOH", "HTOA", "ATOH", "ATOA", "ATOD", "DTOA", "DTOD", "HTOH", "PTOP",
    "UVM_HTOD", "UVM_DTOH", "UVM_DTOD",
)
_MEM_KINDS = (
    "Pageable", "Pinned", "Device", "Array", "Managed", "Device Static", "Managed Static",
    "Unknown",
)
# fmt: on

PID = 3112851
GLOBAL_PID = (1 << 48) | (PID << 24)  # nsys's serialized GlobalId: vm 1, pid in bits 24..47
GLOBAL_TID = GLOBAL_PID | PID
SESSION_UTC_NS = 1_745_000_000_000_000_000  # 2025-04-18T18:13:20Z
T0 = 1_500_000_000  # first API call, ns on the session timeline
_CHUNK_ROWS = 200_000


def seed_counts(scale: float) -> dict[str, int]:
    """Rows per table that ``scale`` gives: RUNTIME, KERNEL, MEMCPY, MEMSET.

    >>> seed_counts(1)
    {'runtime': 1076916, 'kernel': 1055205, 'memcpy': 6810, 'memset': 6}
    """
    return {
        "runtime": sum(_scaled(row[1], scale) for row in SEED_API),
        "kernel": sum(_scaled(k.instances, scale) for k in SEED_KERNELS),
        "memcpy": sum(_scaled(m[1], scale) for m in SEED_MEMOPS if m[0] is not None),
        "memset": sum(_scaled(m[1], scale) for m in SEED_MEMOPS if m[0] is None),
    }


def _scaled(count: int, scale: float) -> int:
    # Every name keeps at least one row, so a small scale still has the seed's names.
    return max(1, round(count * scale))


def _durations(
    rng: np.random.Generator, n: int, avg: float, med: float, lo: int, hi: int, quantum: int = 1
) -> np.ndarray:
    """``n`` durations (ns): min ``lo``, max ``hi``, median near ``med``, mean near ``avg``.

    A narrow log-normal body around the median, clipped to [lo, hi], its extremes set to lo
    and hi; then the gap to the target total n*avg is spread over the upper half
    (mean above median: a long tail, as cudaStreamSynchronize has) or taken from the lower
    half (mean below median), weighted by distance from the median and capped at the
    bounds, so the median, min and max stay put.
    """
    if n == 1:
        return np.array([round(avg)], dtype=np.int64)
    # Narrow enough that the body rarely reaches a close bound (cudaLaunchKernel's min is 10 %
    # below its median, DtoH copies span +-2 %): values piled up there would shift the mean.
    sigma = min(0.25, math.log(med / lo) / 3, math.log(hi / med) / 3) if 0 < lo < med < hi else 0.01
    d = med * np.exp(sigma * rng.standard_normal(n))
    if quantum > 1:
        d = np.round(d / quantum) * quantum
    d = np.sort(np.clip(d, lo, hi))
    d[0], d[-1] = lo, hi
    half = n // 2
    for _ in range(8):  # a few rounds: what the cap clips off is spread again
        gap = avg * n - d.sum()
        if abs(gap) < 1:
            break
        part = d[n - half :] if gap > 0 else d[:half]
        room = (hi - part) if gap > 0 else (part - lo)
        weight = np.abs(part - med) + 1.0
        weight[room <= 0] = 0.0
        if weight.sum() == 0:
            break
        step = np.minimum(abs(gap) * weight / weight.sum(), room)
        part += step if gap > 0 else -step
    if quantum > 1:
        d[1:-1] = np.round(d[1:-1] / quantum) * quantum
    return np.clip(np.round(d), lo, hi).astype(np.int64)


def _draw(
    rng: np.random.Generator, rows: Sequence[tuple[int, float, float, int, int]], quantum: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(group index, duration) per row for (count, avg, med, min, max) groups, shuffled."""
    groups = np.repeat(np.arange(len(rows)), [r[0] for r in rows])
    durs = np.concatenate([_durations(rng, *r, quantum=quantum) for r in rows])
    order = rng.permutation(len(groups))
    return groups[order], durs[order]


def _spread(targets: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices into ``targets`` in time order (identity when the counts match)."""
    if len(targets) == 0:
        raise ValueError("no API call to issue the GPU work from")
    return targets[np.linspace(0, len(targets) - 1, n).round().astype(np.int64)]


def _insert(
    con: sqlite3.Connection, table: str, columns: dict[str, np.ndarray | int | None]
) -> None:
    """Insert one row per array element; scalar columns are written as SQL literals.

    Rows go in chunks, so at ten times the seed the Python objects of one chunk at a time
    exist, not those of 10 million rows.
    """
    arrays = [v for v in columns.values() if isinstance(v, np.ndarray)]
    values = []
    for v in columns.values():
        if isinstance(v, np.ndarray):
            values.append("?")
        else:
            values.append("NULL" if v is None else str(int(v)))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"
    rows = len(arrays[0]) if arrays else 0
    for start in range(0, rows, _CHUNK_ROWS):
        chunk = [a[start : start + _CHUNK_ROWS].tolist() for a in arrays]
        con.executemany(sql, zip(*chunk, strict=True))


def write_seed_scale_export(path: str | Path, scale: float = 1.0, seed: int = 0) -> dict[str, int]:
    """Write a seed-shaped nsys SQLite export to ``path`` (overwritten); return rows per table.

    ``scale`` multiplies every count (1 = the seed: 1,055,205 kernels, 1,076,916 API calls;
    10 = ten times). The same ``seed`` gives the same file content.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    path = Path(path)
    path.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(path)
    try:
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        strings = _StringTable()
        counts = _write_activity(con, rng, scale, strings)
        _insert(
            con,
            "StringIds",
            {
                "id": np.arange(len(strings.values)),
                "value": np.array(strings.values, dtype=object),
            },
        )
        _write_metadata(con)
        con.commit()
    finally:
        con.close()
    return counts


class _StringTable:
    """StringIds content: ids in order of first use, after nsys's own strings."""

    def __init__(self) -> None:
        self.values: list[str] = ["[NSys]", "[NSys Comms]", "llama-server", "llama-server"]
        self._ids: dict[str, int] = {}

    def id(self, value: str) -> int:
        if value not in self._ids:
            self._ids[value] = len(self.values)
            self.values.append(value)
        return self._ids[value]


def _write_activity(
    con: sqlite3.Connection, rng: np.random.Generator, scale: float, strings: _StringTable
) -> dict[str, int]:
    # CUDA API calls on one thread, back to back with short gaps, in random name order.
    api_rows = [(_scaled(r[1], scale), *r[2:]) for r in SEED_API]
    api_group, api_dur = _draw(rng, api_rows)
    n_api = len(api_group)
    api_gap = rng.integers(200, 2000, n_api)
    api_start = T0 + np.concatenate([[0], np.cumsum(api_dur + api_gap)[:-1]])
    api_ids = np.array([strings.id(r[0]) for r in SEED_API])
    event_class = np.array(
        [1 if r[0].startswith("cu") and not r[0].startswith("cuda") else 0 for r in SEED_API]
    )
    correlation = np.arange(1, n_api + 1)
    _insert(
        con,
        "CUPTI_ACTIVITY_KIND_RUNTIME",
        {
            "start": api_start,
            "end": api_start + api_dur,
            "eventClass": event_class[api_group],
            "globalTid": GLOBAL_TID,
            "correlationId": correlation,
            "nameId": api_ids[api_group],
            "returnValue": 0,
        },
    )
    by_name = {r[0]: i for i, r in enumerate(SEED_API)}

    def calls_of(*names: str) -> np.ndarray:
        return np.flatnonzero(np.isin(api_group, [by_name[n] for n in names]))

    # Kernels, one stream: each starts once its launch call has run and the previous kernel
    # has ended: s_i = max(e_{i-1} + gap_i, ready_i). With C = cumsum(gap + dur) this is
    # e_i = C_i + running max of (ready_j - gap_j - C_{j-1}), which numpy does at once.
    k_rows = [(_scaled(k.instances, scale), k.avg, k.med, k.min, k.max) for k in SEED_KERNELS]
    k_group, k_dur = _draw(rng, k_rows, quantum=32)
    n_k = len(k_group)
    launch = _spread(calls_of(*LAUNCH_CALLS), n_k)
    ready = api_start[launch] + rng.integers(2_000, 6_000, n_k)
    k_gap = rng.integers(500, 1_500, n_k)
    c = np.cumsum(k_gap + k_dur)
    k_end = c + np.maximum.accumulate(ready - k_gap - (c - k_gap - k_dur))
    k_start = k_end - k_dur
    names = {
        f: np.array([strings.id(getattr(k, f)) for k in SEED_KERNELS])
        for f in ("demangled", "base", "mangled")
    }
    grid_x = _choose_per_group(rng, k_group, [k.grids for k in SEED_KERNELS])
    blocks = np.array([k.block for k in SEED_KERNELS])
    regs = np.array([k.registers for k in SEED_KERNELS])
    _insert(
        con,
        "CUPTI_ACTIVITY_KIND_KERNEL",
        {
            "start": k_start,
            "end": k_end,
            "deviceId": 0,
            "contextId": 1,
            "greenContextId": 0,
            "streamId": 13,
            "correlationId": correlation[launch],
            "globalPid": GLOBAL_PID,
            "demangledName": names["demangled"][k_group],
            "shortName": names["base"][k_group],
            "mangledName": names["mangled"][k_group],
            "launchType": 0,
            "cacheConfig": 0,
            "registersPerThread": regs[k_group],
            "gridX": grid_x,
            "gridY": 1,
            "gridZ": 1,
            "blockX": blocks[k_group, 0],
            "blockY": blocks[k_group, 1],
            "blockZ": blocks[k_group, 2],
            "staticSharedMemory": 0,
            "dynamicSharedMemory": 0,
            "localMemoryPerThread": 0,
            "localMemoryTotal": 127_401_984,
            "gridId": np.arange(1, n_k + 1),
            "sharedMemoryExecuted": 0,
            "sharedMemoryLimitConfig": 0,
            "clusterX": 0,
            "clusterY": 0,
            "clusterZ": 0,
            "clusterSchedulingPolicy": 0,
            "maxPotentialClusterSize": 0,
            "maxActiveClusters": 0,
        },
    )

    # Memcpys and memsets, each shortly after the call that issued it.
    copies = [m for m in SEED_MEMOPS if m[0] is not None]
    c_group, c_dur = _draw(rng, [(_scaled(m[1], scale), *m[2:6]) for m in copies])
    n_c = len(c_group)
    issued = _spread(calls_of(MEMCPY_CALL), n_c)
    c_start = api_start[issued] + rng.integers(300, 1_500, n_c)
    kinds = np.array([m[0] for m in copies])
    sizes = _choose_per_group(rng, c_group, [m[6] for m in copies])
    _insert(
        con,
        "CUPTI_ACTIVITY_KIND_MEMCPY",
        {
            "start": c_start,
            "end": c_start + c_dur,
            "deviceId": 0,
            "contextId": 1,
            "greenContextId": 0,
            "streamId": 13,
            "correlationId": correlation[issued],
            "globalPid": GLOBAL_PID,
            "bytes": sizes,
            "copyKind": kinds[c_group],
            "srcKind": np.where(kinds[c_group] == 1, 1, 2),
            "dstKind": np.where(kinds[c_group] == 1, 2, 1),
            "copyCount": 1,
        },
    )
    sets = [m for m in SEED_MEMOPS if m[0] is None]
    s_group, s_dur = _draw(rng, [(_scaled(m[1], scale), *m[2:6]) for m in sets])
    n_s = len(s_group)
    issued = _spread(calls_of(MEMSET_CALL), n_s)
    s_start = api_start[issued] + rng.integers(300, 1_500, n_s)
    _insert(
        con,
        "CUPTI_ACTIVITY_KIND_MEMSET",
        {
            "start": s_start,
            "end": s_start + s_dur,
            "deviceId": 0,
            "contextId": 1,
            "greenContextId": 0,
            "streamId": 13,
            "correlationId": correlation[issued],
            "globalPid": GLOBAL_PID,
            "value": 0,
            "bytes": _choose_per_group(rng, s_group, [m[6] for m in sets]),
            "memKind": 2,
        },
    )
    return {"runtime": n_api, "kernel": n_k, "memcpy": n_c, "memset": n_s}


def _choose_per_group(
    rng: np.random.Generator, groups: np.ndarray, choices: Sequence[Iterable[int]]
) -> np.ndarray:
    """Per row, a value drawn uniformly from its group's choices."""
    out = np.empty(len(groups), dtype=np.int64)
    for g, options in enumerate(choices):
        rows = np.flatnonzero(groups == g)
        out[rows] = rng.choice(np.array(list(options)), len(rows))
    return out


def _write_metadata(con: sqlite3.Connection) -> None:
    """The small tables a reader takes the run's facts from (version, GPU, start, process)."""
    con.executemany(
        "INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES (?, ?, ?)",
        [
            (i, f"CUDA_MEMCPY_KIND_{n}", label)
            for i, (n, label) in enumerate(zip(_MEMCPY_NAMES, _MEMCPY_LABELS, strict=True))
        ],
    )
    con.executemany(
        "INSERT INTO ENUM_CUDA_MEM_KIND VALUES (?, ?, ?)",
        [
            (i, "CUDA_MEMOPR_MEMORY_KIND_" + label.upper().replace(" ", "_"), label)
            for i, label in enumerate(_MEM_KINDS)
        ],
    )
    con.executemany(
        "INSERT INTO META_DATA_EXPORT VALUES (?, ?)",
        [
            ("EXPORT_PRODUCT_NAME", "NVIDIA Nsight Systems"),
            ("EXPORT_PRODUCT_VERSION", "2026.1.1.204"),
            ("EXPORT_PRODUCT_DATE", "2026.1"),
            ("EXPORT_SCHEMA_VERSION", "3.24.14"),
            ("EXPORT_SCHEMA_VERSION_MAJOR", "3"),
            ("EXPORT_SCHEMA_VERSION_MINOR", "24"),
            ("EXPORT_SCHEMA_VERSION_MICRO", "14"),
            ("EXPORT_PLATFORM", "linux-desktop"),
            ("EXPORT_ARCH", "x64"),
            ("EXPORT_TIME_UTC", "2025-04-18T18:20:00"),
            ("EXPORT_PARAM_EXPORT_TYPE", "SQLite"),
            ("EXPORT_PARAM_INPUT_FILE", "seed-scale.nsys-rep"),
            ("EXPORT_PARAM_OUTPUT_FILE", "seed-scale.sqlite"),
            ("EXPORT_PARAM_TIME_NORMALIZE", "false"),
            ("EXPORT_CONFIG_TIME_SHIFT", "0"),
            # Not an nsys key: marks the file as made here.
            ("SYNTHETIC_BY", "llamaprof scripts/synth.py"),
        ],
    )
    con.execute(
        "INSERT INTO TARGET_INFO_GPU (vmId, id, name, busLocation, isDiscrete, l2CacheSize, "
        "totalMemory, clockRate, smCount, chipName, cuDevice, computeMajor, computeMinor, "
        "smMajor, smMinor) VALUES (?, 0, 'Quadro RTX 6000', '0000:3b:00.0', 1, 6291456, "
        "25383469056, 1770000000, 72, 'TU102', 0, 7, 5, 7, 5)",
        (1 << 48,),
    )
    con.execute(
        "INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (?, ?, ?, ?)",
        (SESSION_UTC_NS, "2025-04-18T18:13:20", "2025-04-18T18:13:20", 9_000_000_000),
    )
    con.execute(
        "INSERT INTO PROCESSES VALUES (?, ?, ?)",
        (GLOBAL_PID, PID, "llama-server"),
    )
