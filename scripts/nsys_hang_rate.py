#!/usr/bin/env python3
"""How often ``nsys profile`` hangs after llama-server exits, per set of nsys options.

Runs ``llamaprof capture`` again and again (one request each), the option sets taking
turns so that the machine's load weighs on all alike, and sorts each capture: ``ok`` (nsys
wrote its report and exited), ``hung`` (llamaprof stopped nsys after --report-timeout), or
``failed`` (anything else, with its line). After each capture it checks that no process it
started is left (every process carries this script's mark in its environment).

    .venv/bin/python scripts/nsys_hang_rate.py --runs 10
    .venv/bin/python scripts/nsys_hang_rate.py --runs 5 --set "mine=--sample=none"

Defaults: the real nsys (``/usr/lib/nsight-systems/bin/nsys``, else PATH), the CPU llama-server
of the test extras (``.venv/bin/llama-server-vulkan``) and a tiny model written into a
temporary folder (tests/fakes/tiny_model.py). The option sets, by default: llamaprof's
defaults (no CPU sampling, no context switches), nsys's own defaults (sampling on, which
also traces context switches), and sampling off with context switches on.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "llamaprof defaults (--sample=none --cpuctxsw=none)": "",
    "nsys defaults (--sample=process-tree, context switches too)": "--sample=process-tree",
    "sampling off, context switches on": "--sample=none --cpuctxsw=process-tree",
}
MARK_ENV = "LLAMAPROF_HANG_RATE_MARK"


def _tiny_model(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("tiny_model", ROOT / "tests/fakes/tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model(folder / "tiny.gguf")


def _left(mark: str) -> list[str]:
    """Live processes carrying ``mark`` in their environment."""
    wanted = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def _capture(args, nsys_args: str, reports: Path, name: str, mark: str) -> tuple[str, str, float]:
    command = [
        str(ROOT / ".venv/bin/llamaprof"), "capture", "--server", args.server,
        "--model", args.model, "--nsys", args.nsys, "--reports", str(reports),
        "--name", name, "--requests", "1", "--n-predict", "8",
        "--report-timeout", str(args.report_timeout), "--nsys-args", nsys_args,
        "--", "-c", "512", "-np", "1",
    ]  # fmt: skip
    t0 = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, MARK_ENV: mark}
    )
    took = time.monotonic() - t0
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    if done.returncode == 0:
        return ("hung" if "(nsys hung)" in done.stdout else "ok"), "", took
    if "(nsys hung)" in last:
        return "hung", "", took
    return "failed", last, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="captures per option set")
    default_nsys = "/usr/lib/nsight-systems/bin/nsys"
    parser.add_argument(
        "--nsys", default=default_nsys if Path(default_nsys).exists() else shutil.which("nsys")
    )
    parser.add_argument("--server", default=str(ROOT / ".venv/bin/llama-server-vulkan"))
    parser.add_argument("--model", help="a GGUF model [default: a tiny one written now]")
    parser.add_argument("--report-timeout", type=float, default=15.0)
    parser.add_argument(
        "--set", action="append", metavar="LABEL=NSYS_ARGS", help="an option set (repeatable)"
    )
    args = parser.parse_args()
    if not args.nsys:
        parser.error("no nsys found; give --nsys")
    sets = dict(s.split("=", 1) for s in args.set) if args.set else SETS
    with tempfile.TemporaryDirectory(prefix="nsys-hang-rate-") as tmp:
        folder = Path(tmp)
        args.model = args.model or str(_tiny_model(folder))
        counts = {label: {"ok": 0, "hung": 0, "failed": 0} for label in sets}
        left_total = 0
        print(f"nsys {args.nsys}; {args.runs} captures per set, taking turns", flush=True)
        for i in range(args.runs):
            for k, (label, nsys_args) in enumerate(sets.items()):
                mark = uuid.uuid4().hex
                result, why, took = _capture(
                    args, nsys_args, folder / "reports", f"r{i}-{k}", mark
                )
                time.sleep(0.5)
                left = _left(mark)
                left_total += len(left)
                counts[label][result] += 1
                print(
                    f"{i + 1:3d} {result:6s} {took:6.1f} s  left {len(left)}  {label}"
                    + (f"  {why}" if why else ""),
                    flush=True,
                )
                for line in left:
                    print(f"      left running: {line[:160]}", flush=True)
        print()
        for label, c in counts.items():
            runs = sum(c.values())
            print(f"{label}: {c['hung']} of {runs} hung, {c['ok']} ok, {c['failed']} failed")
        print(f"processes left after the captures: {left_total}")
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
