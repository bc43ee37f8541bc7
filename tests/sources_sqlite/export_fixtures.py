"""SQL text for self-made nsys exports, shared by the tests of this folder."""

from __future__ import annotations

#: The tables and columns of a current (2024+) export that the reader touches, in nsys's
#: column order. Tests add rows with INSERTs; a test that needs an older or edited schema
#: writes its own CREATE TABLEs.
MODERN_SCHEMA = """
CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (
    start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
    globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL,
    returnValue INTEGER NOT NULL, callchainId INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, streamId INTEGER NOT NULL, correlationId INTEGER,
    globalPid INTEGER, demangledName INTEGER NOT NULL, shortName INTEGER NOT NULL,
    mangledName INTEGER, gridX INTEGER NOT NULL DEFAULT 1, gridY INTEGER NOT NULL DEFAULT 1,
    gridZ INTEGER NOT NULL DEFAULT 1, blockX INTEGER NOT NULL DEFAULT 32,
    blockY INTEGER NOT NULL DEFAULT 1, blockZ INTEGER NOT NULL DEFAULT 1);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, streamId INTEGER NOT NULL, correlationId INTEGER,
    globalPid INTEGER, bytes INTEGER NOT NULL, copyKind INTEGER NOT NULL);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (
    start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
    contextId INTEGER NOT NULL, streamId INTEGER NOT NULL, correlationId INTEGER,
    globalPid INTEGER, value INTEGER NOT NULL, bytes INTEGER NOT NULL, memKind INTEGER);
CREATE TABLE ENUM_CUDA_MEMCPY_OPER (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL,
    label TEXT NOT NULL);
INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES
    (0, 'CUDA_MEMCPY_OPER_UNKNOWN', 'Unknown'), (1, 'CUDA_MEMCPY_OPER_HTOD', 'Host-to-Device'),
    (2, 'CUDA_MEMCPY_OPER_DTOH', 'Device-to-Host'), (8, 'CUDA_MEMCPY_OPER_DTOD', 'Device-to-Device');
"""


def synthetic_export_sql(n_kernels: int, n_calls: int) -> str:
    """SQL adding a llama-server-like load to MODERN_SCHEMA, generated inside SQLite.

    300 kernel names (demangled, short and mangled ids), 59 API names with ``_vNNNN``
    suffixes, one memcpy per 20 kernels and one memset per 100; durations are pseudo-random.
    """
    strings = ", ".join(
        [f"({i}, 'cudaFunc{i}_v{7000 + i}')" for i in range(1, 60)]
        + [f"({1000 + i}, 'void kernel_{i}<float, {i}>(float *, int)')" for i in range(300)]
        + [f"({2000 + i}, 'kernel_{i}')" for i in range(300)]
        + [f"({3000 + i}, '_Z8kernel_{i}Pfi')" for i in range(300)]
    )
    series = "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n} - 1)"
    return f"""
    INSERT INTO StringIds VALUES {strings};
    INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL {series.format(n=n_kernels)}
      SELECT 1000000000 + i * 2000 + abs(random()) % 500,
             1000000000 + i * 2000 + 600 + abs(random()) % 3000, 0, 1, 7, i, 1,
             1000 + (i * 7919) % 300, 2000 + (i * 7919) % 300, 3000 + (i * 7919) % 300,
             128, 1, 1, 256, 1, 1 FROM c;
    INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME {series.format(n=n_calls)}
      SELECT 999000000 + i * 2000 + abs(random()) % 500,
             999000000 + i * 2000 + 500 + abs(random()) % 1200, 0, 281474976722001, i,
             1 + (i * 31) % 59, 0, NULL FROM c;
    INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY {series.format(n=max(1, n_kernels // 20))}
      SELECT 1000000000 + i * 40000 + 100, 1000000000 + i * 40000 + 100 + abs(random()) % 5000,
             0, 1, 7, i, 1, abs(random()) % 10000000, CASE i % 3 WHEN 0 THEN 8 ELSE 1 END FROM c;
    INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET {series.format(n=max(1, n_kernels // 100))}
      SELECT 1000000000 + i * 200000 + 300, 1000000000 + i * 200000 + 300 + abs(random()) % 5000,
             0, 1, 7, i, 1, 0, 4096, 1 FROM c;
    """
