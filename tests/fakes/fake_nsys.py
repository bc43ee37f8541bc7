#!/usr/bin/env python3
"""A STAND-IN for NVIDIA Nsight Systems' ``nsys`` that makes up CUDA data.

This is not nsys and profiles nothing. The capture tests run the real nsys (Debian's
2022.4.2), which on these GPU-less machines records no CUDA work; this script remains only
for tests that need CUDA data in a captured report (each says so). It is simpler than nsys
in what matters for process hygiene (no detached agent, no session of its own for the
target, it passes SIGTERM on): never use it to test stopping, cancelling or hangs.
It behaves like ``nsys profile`` in what the capture relies on:

- ``nsys --version`` prints ``NVIDIA Nsight Systems version 2025.1.3.140-251234567890v0``.
- ``nsys profile [-o NAME] [--trace=...] [--cuda-graph-trace=...] [--force-overwrite=...]
  TARGET ARGS...`` runs TARGET as its child, passes SIGINT/SIGTERM on to it (it does not
  exit on them itself), waits for it, and only AFTER the target has exited writes
  ``NAME.nsys-rep``; it then exits with the target's status (128+N after signal N).
- ``nsys export --type sqlite --output OUT [--force-overwrite true] REPORT`` turns that
  report into an SQLite file.

The ``.nsys-rep`` it writes starts with ``NVIDIA Tegra Profiler Report`` and a version,
like a real one, followed by an SQL script (not nsys's real binary format) describing a
tiny run in the tables of a real SQLite export (``StringIds``,
``CUPTI_ACTIVITY_KIND_RUNTIME``/``KERNEL``/``MEMCPY``/``MEMSET``...), spread over the
target's real wall time.

Knobs for failure tests (environment): ``FAKE_NSYS_EXPORT_FAIL=1`` makes ``export`` write a
partial file and fail; ``FAKE_NSYS_NO_REPORT=1`` makes ``profile`` write no report;
``FAKE_NSYS_WRITE_SECONDS=S`` makes it take S seconds to write the report (a big profile);
``FAKE_NSYS_LOG=PATH`` appends one JSON line per event (start, signal, target exit).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

VERSION_LINE = "NVIDIA Nsight Systems version 2025.1.3.140-251234567890v0"
HEADER = "NVIDIA Tegra Profiler Report 2025@1@3@140\n"
PAYLOAD_MARK = "-- llamaprof stand-in nsys: SQL payload --\n"

# Options of `nsys profile` that take a separate value (when not written as --opt=value).
_VALUE_OPTIONS = {
    "-o",
    "--output",
    "-t",
    "--trace",
    "--cuda-graph-trace",
    "-f",
    "--force-overwrite",
    "-s",
    "--sample",
    "--cpuctxsw",
    "-d",
    "--duration",
    "--delay",
    "-y",
    "--stats",
    "--capture-range",
    "-c",
    "--capture-range-end",
    "-e",
    "--env-var",
}


def _log(event: str, **fields) -> None:
    path = os.environ.get("FAKE_NSYS_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")


def _parse_options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Options before the target command, and the target command."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        token = argv[i]
        if token.startswith("--") and "=" in token:
            key, value = token.split("=", 1)
            i += 1
        elif token in _VALUE_OPTIONS:
            if i + 1 >= len(argv):
                raise SystemExit(f"nsys: option {token} needs a value")
            key, value = token, argv[i + 1]
            i += 2
        else:
            print(f"unrecognised option '{token}'", file=sys.stderr)
            raise SystemExit(1)
        options[key] = value
    return options, argv[i:]


def _payload(wall_ns: int, start_epoch_ns: int, command: list[str]) -> str:
    """An SQL script for a tiny, plausible llama-server run lasting ``wall_ns``."""
    names = [
        "cudaLaunchKernel_v7000",
        "cudaStreamSynchronize_v3020",
        "cudaMemcpyAsync_v3020",
        "void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, const float *)",
        "mul_mat_vec",
        "void rms_norm_f32<(int)1024>(const float *, float *, int)",
        "rms_norm_f32",
        "cudaMemsetAsync_v3020",
    ]
    step = max(wall_ns // 20, 10)
    runtime = []
    for i in range(6):
        runtime.append((i * step, i * step + 1500 + 100 * i, 0, 1, i + 1, 1, 0))
    runtime += [
        (7 * step, 8 * step, 0, 1, 7, 2, 0),
        (9 * step, 10 * step, 0, 1, 8, 2, 0),
        (11 * step, 11 * step + 4000, 0, 1, 9, 3, 0),
        (12 * step, 12 * step + 3000, 0, 1, 10, 3, 0),
        (13 * step, 13 * step + 900, 0, 1, 11, 8, 0),
    ]
    kernels = [
        (
            i * step + 2000,
            i * step + 2000 + (60000 if i % 3 else 2500),
            i + 1,
            4 if i % 3 else 6,
            5 if i % 3 else 7,
        )
        for i in range(6)
    ]
    sql = [
        "CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);",
        "CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL,"
        " eventClass INTEGER NOT NULL, globalTid INTEGER, correlationId INTEGER,"
        " nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, callchainId INTEGER);",
        "CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL,"
        " deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,"
        " correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL,"
        " shortName INTEGER NOT NULL, mangledName INTEGER, gridX INTEGER NOT NULL,"
        " gridY INTEGER NOT NULL, gridZ INTEGER NOT NULL, blockX INTEGER NOT NULL,"
        " blockY INTEGER NOT NULL, blockZ INTEGER NOT NULL, graphNodeId INTEGER);",
        "CREATE TABLE ENUM_CUDA_MEMCPY_OPER (id INTEGER NOT NULL PRIMARY KEY, name TEXT,"
        " label TEXT);",
        "CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER NOT NULL, end INTEGER NOT NULL,"
        " deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,"
        " correlationId INTEGER, globalPid INTEGER, bytes INTEGER NOT NULL,"
        " copyKind INTEGER NOT NULL);",
        "CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (start INTEGER NOT NULL, end INTEGER NOT NULL,"
        " deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,"
        " correlationId INTEGER, globalPid INTEGER, value INTEGER NOT NULL,"
        " bytes INTEGER NOT NULL, memKind INTEGER);",
        "CREATE TABLE TARGET_INFO_SESSION_START_TIME (utcEpochNs INTEGER, utcTime TEXT,"
        " localTime TEXT);",
        "CREATE TABLE TARGET_INFO_GPU (vmId INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT);",
        "CREATE TABLE META_DATA_EXPORT (name TEXT NOT NULL, value TEXT);",
        "CREATE TABLE PROCESSES (globalPid INTEGER, pid INTEGER, name TEXT);",
    ]
    sql += [f"INSERT INTO StringIds VALUES ({i + 1}, {_q(n)});" for i, n in enumerate(names)]
    sql += [
        f"INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES ({', '.join(map(str, r))}, NULL);"
        for r in runtime
    ]
    sql += [
        f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES ({s}, {e}, 0, 1, 7, {c}, 1, {d}, {b},"
        f" NULL, 256, 1, 1, 32, 1, 1, NULL);"
        for s, e, c, d, b in kernels
    ]
    labels = ["Unknown", "Host-to-Device", "Device-to-Host"]
    sql += [
        f"INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES ({i}, 'CUDA_MEMCPY_OPER_{i}', {_q(lb)});"
        for i, lb in enumerate(labels)
    ]
    sql += [
        f"INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES ({11 * step + 500}, {11 * step + 3500},"
        " 0, 1, 7, 9, 1, 1048576, 1);",
        f"INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES ({12 * step + 500}, {12 * step + 2500},"
        " 0, 1, 7, 10, 1, 4096, 2);",
        f"INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES ({13 * step + 100}, {13 * step + 700},"
        " 0, 1, 7, 11, 1, 0, 65536, 2);",
        f"INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES ({start_epoch_ns},"
        f" {_q(time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start_epoch_ns / 1e9)))}, NULL);",
        "INSERT INTO TARGET_INFO_GPU VALUES (0, 0, 'Stand-in GPU (not a real device)');",
        "INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_PRODUCT_NAME', 'NVIDIA Nsight Systems');",
        "INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_PRODUCT_VERSION', '2025.1.3.140');",
        "INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_STAND_IN', 'llamaprof tests/fakes/fake_nsys.py');",
        f"INSERT INTO PROCESSES VALUES (1, 1, {_q(os.path.basename(command[0]))});",
    ]
    return "\n".join(sql) + "\n"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def profile(argv: list[str]) -> int:
    options, target = _parse_options(argv)
    if not target:
        print("nsys profile: no application to profile", file=sys.stderr)
        return 1
    output = options.get("-o") or options.get("--output") or "report1"
    if not output.endswith(".nsys-rep"):
        output += ".nsys-rep"
    force = (options.get("-f") or options.get("--force-overwrite") or "false") == "true"
    if os.path.exists(output) and not force:
        print(f"File {output} already exists.", file=sys.stderr)
        return 1
    start_epoch_ns = time.time_ns()
    t0 = time.monotonic_ns()
    try:
        child = subprocess.Popen(target)
    except OSError as exc:
        print(f"nsys: cannot launch {target[0]}: {exc}", file=sys.stderr)
        return 1
    _log("start", child=child.pid, target=target, options=options)

    def forward(signum, _frame):
        _log("signal", signal=signal.Signals(signum).name, forwarded_to=child.pid)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    status = child.wait()
    wall_ns = time.monotonic_ns() - t0
    _log("target-exit", child=child.pid, status=status)
    time.sleep(float(os.environ.get("FAKE_NSYS_WRITE_SECONDS") or 0))
    if os.environ.get("FAKE_NSYS_NO_REPORT") != "1":
        # Written only now, after the target has exited, as nsys does.
        print(f"Generating '/tmp/nsys-report-{os.getpid():x}.qdstrm'", flush=True)
        part = output + ".part"
        with open(part, "w", encoding="utf-8") as f:
            f.write(HEADER)
            f.write(PAYLOAD_MARK)
            f.write(_payload(wall_ns, start_epoch_ns, target))
        os.replace(part, output)
        print(f"Generated:\n    {os.path.abspath(output)}", flush=True)
    return status if status >= 0 else 128 - status


def export(argv: list[str]) -> int:
    options: dict[str, str] = {}
    report = None
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" in token:
            key, value = token.split("=", 1)
            options[key] = value
            i += 1
        elif token.startswith("-"):
            options[token] = argv[i + 1]
            i += 2
        else:
            report = token
            i += 1
    kind = options.get("--type") or options.get("-t")
    output = options.get("--output") or options.get("-o")
    force = (options.get("--force-overwrite") or options.get("-f") or "false") == "true"
    if kind != "sqlite" or report is None:
        print("nsys export: only --type sqlite with a report is supported", file=sys.stderr)
        return 1
    if output is None:
        output = report.rsplit(".", 1)[0] + ".sqlite"
    if os.path.exists(output):
        if not force:
            print(f"File {output} already exists.", file=sys.stderr)
            return 1
        os.unlink(output)
    try:
        with open(report, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nsys export: cannot read {report}: {exc}", file=sys.stderr)
        return 1
    if not text.startswith("NVIDIA Tegra Profiler Report") or PAYLOAD_MARK not in text:
        print(f"nsys export: {report} is not a report", file=sys.stderr)
        return 1
    if os.environ.get("FAKE_NSYS_EXPORT_FAIL") == "1":
        with open(output, "wb") as f:
            f.write(b"SQLite format 3\x00 (partial)")
        print(
            "Exporting failed: stand-in export failure (FAKE_NSYS_EXPORT_FAIL=1)", file=sys.stderr
        )
        return 1
    db = sqlite3.connect(output)
    try:
        db.executescript(text.split(PAYLOAD_MARK, 1)[1])
        db.commit()
    finally:
        db.close()
    print(f"Exported {report} to {output}")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: nsys [--version] <command> [<args>]", file=sys.stderr)
        return 1
    if argv[0] in ("--version", "-v"):
        print(VERSION_LINE)
        return 0
    if argv[0] == "profile":
        return profile(argv[1:])
    if argv[0] == "export":
        return export(argv[1:])
    print(f"nsys: unknown command '{argv[0]}' (stand-in supports profile, export)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
