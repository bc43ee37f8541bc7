#!/usr/bin/env python3
"""Benchmark reading a seed-scale nsys SQLite export: bare scan, cold read, warm read.

Writes a synthetic export shaped like the seed's llama-server capture (``scripts/synth.py``:
real nsys 2026.1 schema, 1,055,205 kernels and 1,076,916 CUDA API calls at ``--scale 1``)
into a temporary folder, deleted afterwards, then measures ``--runs`` times each:

- bare scan: ``SELECT sum(end - start), count(*), sum(<name id>)`` over the runtime, kernel
  and memcpy tables, on a fresh connection: the floor any reader of these columns pays;
- cold read: ``load_report`` into the four summaries and the run's facts, in a fresh child
  process each time (so its peak RSS is the read's own), no llamaprof cache; also its CPU
  time over all threads (what the read costs where no core is free);
- warm read: ``load_run_cached`` once the on-disk cache holds the run;
- a selection: ``--selection`` (8) cached runs loaded one after the other, as the app does
  when that many runs are selected;
- serving views from the cache: with a schema-2 capture record written beside the export
  (``--requests`` (8) requests one after the other over its kernel span), the phases, the
  ``decode`` window's summaries and a 10 ms timeline: in this process after a warm read, and
  as commands (``llamaprof phases``, ``stats --window decode``, ``timeline``) in fresh
  processes, measured over a fresh process's start-up (``llamaprof --version``, which
  imports the same modules). Budget: 0.3 s over start-up each.

Scan and cold read alternate, so both see the same load on a shared machine. It prints
the medians and, last, ``ratio cold/scan = X.XX`` (median cold over median scan). The OS
file cache is warm for all three (the file was just written), so the ratio compares CPU
work, not disk speed.

    .venv/bin/python scripts/bench_read.py               # seed scale, 5 runs
    .venv/bin/python scripts/bench_read.py --scale 10    # growth check: ten times the seed
    .venv/bin/python scripts/bench_read.py --profile     # + where a cold read spends its time

Not a test: figures depend on the machine. The README's Performance section quotes them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Tables of the bare scan and the name-id column summed in each.
SCAN_COLUMNS = {
    "CUPTI_ACTIVITY_KIND_RUNTIME": "nameId",
    "CUPTI_ACTIVITY_KIND_KERNEL": "demangledName",
    "CUPTI_ACTIVITY_KIND_MEMCPY": "copyKind",
}

#: Run in a child process: one cold read, its time and the process's peak RSS. VmHWM (the
#: high-water mark of this process image) rather than ru_maxrss, which on Linux carries the
#: parent's peak across fork + exec.
_CHILD = """
import json, resource, sys, time
from pathlib import Path

def peak_kib():
    try:
        with open("/proc/self/status") as fh:
            return int(next(l for l in fh if l.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

from llamaprof.sources import load_report
before = peak_kib()
start = time.perf_counter()
cpu = time.process_time()
run = load_report(Path(sys.argv[1]))
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu
peak = peak_kib()
kernels = run.summaries["cuda_gpu_kern_sum"]
print(json.dumps({"seconds": seconds, "cpu": cpu, "imports_kib": before, "peak_kib": peak,
                  "instances": int(kernels["count"].sum())}))
"""


def bare_scan(path: Path) -> float:
    """Seconds for the three aggregate queries on a fresh read-only connection."""
    start = time.perf_counter()
    con = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
    try:
        for table, name_id in SCAN_COLUMNS.items():
            con.execute(
                f"SELECT sum(end - start), count(*), sum({name_id}) FROM {table}"
            ).fetchone()
    finally:
        con.close()
    return time.perf_counter() - start


def cold_read(path: Path) -> dict:
    """One ``load_report`` in a fresh interpreter: seconds, peak RSS, kernel instances."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"cold read failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm_reads(path: Path, cache_dir: Path, runs: int) -> tuple[float, list[float]]:
    """Seconds of the first (filling) cached read, then of ``runs`` cache hits."""
    from llamaprof.cache import cached_run, load_run_cached

    start = time.perf_counter()
    load_run_cached(path, cache_dir=cache_dir)
    fill = time.perf_counter() - start
    if cached_run(path, cache_dir=cache_dir) is None:
        raise SystemExit("the run was not cached; warm reads would measure cold reads")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        load_run_cached(path, cache_dir=cache_dir)
        times.append(time.perf_counter() - start)
    return fill, times


def selection_reads(path: Path, folder: Path, count: int, runs: int) -> list[float]:
    """Seconds to load ``count`` cached runs (hard links of one export), ``runs`` times."""
    from llamaprof.cache import load_run_cached

    links = []
    for i in range(count):
        link = folder / f"run{i + 1}.sqlite"
        os.link(path, link)
        links.append(link)
        load_run_cached(link, cache_dir=folder / "cache")  # fill
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for link in links:
            load_run_cached(link, cache_dir=folder / "cache")
        times.append(time.perf_counter() - start)
    return times


#: Serving views measured from the cache, as commands: (label, arguments after the path).
SERVING_COMMANDS = (
    ("phases", ["phases", "--format", "json"]),
    ("stats --window decode", ["stats", "--window", "decode", "--format", "csv"]),
    ("timeline --bin 10ms", ["timeline", "--bin", "10ms"]),
)
#: The budget of each serving view over a fresh process's start-up (seconds).
SERVING_BUDGET_S = 0.3
_CLI = "import sys; from llamaprof.cli import main; sys.exit(main())"


def write_serving_record(path: Path, requests: int) -> int:
    """A schema-2 capture record beside ``path``: ``requests`` requests one after the other
    splitting the export's kernel span, each streaming its first token 5 % in and generating
    100 tokens. Returns the number of decode intervals."""
    from llamaprof.sources import load_report

    run = load_report(path)
    assert run.events is not None and run.events.kernels is not None
    zero = run.events.session_start_utc_ns
    if zero is None:
        raise SystemExit("the export has no session start: request times cannot be placed")
    kernels = run.events.kernels
    first = int(kernels["start_ns"].min())
    last = int((kernels["start_ns"] + kernels["duration_ns"]).max())
    step = (last - first) // requests
    rows = []
    for i in range(requests):
        start = first + i * step
        rows.append(
            {
                "index": i,
                "start_ns": zero + start,
                "first_token_ns": zero + start + step // 20,
                "end_ns": zero + start + step,
                "timings": {"prompt_n": 64, "predicted_n": 100, "cache_n": 0},
            }
        )
    record = {
        "schema": 2,
        "name": path.stem,
        "requests": rows,
        "totals": {"requests": requests, "generated_tokens": 100 * requests},
        "workload": {"concurrency": 1},
    }
    path.with_name(path.stem + ".llamaprof.json").write_text(json.dumps(record))
    return requests


def serving_views(path: Path, cache_dir: Path, runs: int) -> dict[str, list[float]]:
    """Seconds of each serving view in this process, the run loaded from the cache each time
    (the load included): phases, the decode window's summaries, a 10 ms timeline."""
    from llamaprof.analyze.phases import phases_of
    from llamaprof.analyze.timeline import timeline
    from llamaprof.analyze.windows import apply_window, parse_window, window_for
    from llamaprof.cache import load_run_cached
    from llamaprof.record import read_record

    def phases() -> None:
        run = load_run_cached(path, cache_dir=cache_dir)
        phases_of(run.events, read_record(path))

    def decode() -> None:
        run = load_run_cached(path, cache_dir=cache_dir)
        apply_window(run, window_for(run, read_record(path), parse_window("decode")))

    def bins() -> None:
        run = load_run_cached(path, cache_dir=cache_dir)
        timeline(run.events, bin_ns=10_000_000)

    times: dict[str, list[float]] = {}
    for label, view in (("phases", phases), ("decode window", decode), ("timeline", bins)):
        times[label] = []
        for _ in range(runs):
            start = time.perf_counter()
            view()
            times[label].append(time.perf_counter() - start)
    return times


def _command_seconds(args: list[str], cache_dir: Path) -> float:
    """Wall seconds of ``llamaprof ARGS`` in a fresh interpreter, output discarded."""
    env = {**os.environ, "LLAMAPROF_CACHE_DIR": str(cache_dir)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"llamaprof {' '.join(args)} failed:\n{done.stderr.strip()}")
    return seconds


def serving_commands(path: Path, cache_dir: Path, runs: int) -> dict[str, list[float]]:
    """Wall seconds of the serving commands and of ``llamaprof --version`` (start-up), each in
    fresh processes, interleaved so they see the same machine load."""
    times: dict[str, list[float]] = {"start-up": []}
    times.update({label: [] for label, _ in SERVING_COMMANDS})
    for _ in range(runs):
        times["start-up"].append(_command_seconds(["--version"], cache_dir))
        for label, args in SERVING_COMMANDS:
            times[label].append(_command_seconds([args[0], str(path), *args[1:]], cache_dir))
    return times


def report_serving(views: dict[str, list[float]], commands: dict[str, list[float]]) -> None:
    """Medians of the serving views, and each command over start-up against the budget."""
    warm = ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in views.items())
    print(f"serving views from the cache, in process (median, load included): {warm}")
    startup = statistics.median(commands["start-up"])
    print(f"fresh process start-up (llamaprof --version) median {startup:.3f} s")
    for label, _ in SERVING_COMMANDS:
        median = statistics.median(commands[label])
        over = median - startup
        verdict = "within" if over <= SERVING_BUDGET_S else "OVER"
        print(
            f"  llamaprof {label:<22} median {median:.3f} s = start-up + {over:.3f} s "
            f"({median / startup:.2f}x start-up; {verdict} the {SERVING_BUDGET_S} s budget)"
        )


def profile_cold_read(path: Path, top: int = 25) -> str:
    """cProfile of one cold read in this process, top functions by cumulative time."""
    from llamaprof.sources import load_report

    profiler = cProfile.Profile()
    profiler.runcall(load_report, path)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = the seed (default)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measure (median)")
    parser.add_argument(
        "--selection", type=int, default=8, help="cached runs loaded together (0: skip)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile one cold read")
    parser.add_argument(
        "--requests", type=int, default=8, help="requests of the serving record (0: skip)"
    )
    parser.add_argument("--keep", type=Path, help="write the export here and keep it")
    args = parser.parse_args(argv)

    from synth import write_seed_scale_export  # scripts/synth.py, beside this script

    folder = Path(tempfile.mkdtemp(prefix="llamaprof-bench-"))
    try:
        path = (args.keep or folder) / f"seed-scale-x{args.scale:g}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        rows = write_seed_scale_export(path, scale=args.scale)
        size = path.stat().st_size
        print(
            f"export (scale {args.scale:g}): {rows['kernel']:,} kernels, "
            f"{rows['runtime']:,} API calls, {rows['memcpy']:,} memcpy, {rows['memset']:,} "
            f"memset; {size / 2**20:.1f} MiB, written in {time.perf_counter() - start:.1f} s"
        )
        scans, colds = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            scans.append(bare_scan(path))
            colds.append(cold_read(path))
        if colds[0]["instances"] != rows["kernel"]:
            raise SystemExit(f"read {colds[0]['instances']} kernel instances, not {rows['kernel']}")
        fill, warms = warm_reads(path, folder / "cache", args.runs)

        scan = statistics.median(scans)
        cold = statistics.median(c["seconds"] for c in colds)
        warm = statistics.median(warms)
        peak = max(c["peak_kib"] for c in colds)
        imports = statistics.median(c["imports_kib"] for c in colds)
        print(f"bare scan   median {scan:.3f} s   ({', '.join(f'{s:.3f}' for s in scans)})")
        cold_runs = ", ".join(f"{c['seconds']:.3f}" for c in colds)
        print(f"cold read   median {cold:.3f} s   ({cold_runs})")
        cpu = statistics.median(c["cpu"] for c in colds)
        print(f"  CPU time  median {cpu:.3f} s (all threads; {cpu / scan:.2f}x the scan)")
        print(
            f"  peak RSS  {_mib(peak)} (process; {_mib(imports)} after imports, "
            f"+{_mib(peak - imports)} for the read)"
        )
        print(f"first cached read (read + cache write) {fill:.3f} s")
        print(f"warm read   median {warm * 1000:.1f} ms   ({len(warms)} cache hits)")
        if args.selection:
            selection = statistics.median(selection_reads(path, folder, args.selection, args.runs))
            print(f"{args.selection} cached runs together: median {selection * 1000:.0f} ms")
        if args.requests:
            write_serving_record(path, args.requests)
            views = serving_views(path, folder / "cache", args.runs)
            commands = serving_commands(path, folder / "cache", args.runs)
            report_serving(views, commands)
        if args.profile:
            print(profile_cold_read(path))
        pairs = statistics.median(c["seconds"] / s for c, s in zip(colds, scans, strict=True))
        print(f"median of per-run ratios {pairs:.2f}")
        print(f"ratio cold/scan = {cold / scan:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
