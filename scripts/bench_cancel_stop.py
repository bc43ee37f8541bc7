#!/usr/bin/env python3
"""Measure how a cancel mid-stream ends: how fast the workload lets go, how fast
llama-server exits on one SIGINT afterwards.

Starts llama-server (no profiler) on the tiny test model (written by
tests/fakes/tiny_model.py, which needs the ``gguf`` package of the test extra) or on
``--model``, sends a streamed workload of long answers, and sets the cancel once the first
answer is complete, so the next one is mid-stream. Then, as a capture does on a cancel,
``ServerProcess.kill`` sends llama-server one SIGINT. For each of ``--runs`` runs it prints:

- ``let go``: from the cancel to the workload's return (its sockets shut by
  ``RequestAborter``; the client notices within its 0.1 s poll);
- ``exit``: from the SIGINT to llama-server's exit, reaped;
- whether anything had to be escalated (SIGKILL).

llama-server waits for a streaming client it still writes to (it notices a client gone
only when a write fails), so without shutting the sockets the exit would wait for the
answer to end. Not a test: figures depend on the machine.

    .venv/bin/python scripts/bench_cancel_stop.py            # 5 runs, tiny model
    .venv/bin/python scripts/bench_cancel_stop.py --runs 10 --n-predict 2000
    .venv/bin/python scripts/bench_cancel_stop.py --prompt-tokens 2000 --n-predict 8
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from llamaprof.capture.config import Workload
from llamaprof.capture.server import ServerProcess, free_port
from llamaprof.capture.workload import run_workload
from llamaprof.errors import CaptureCancelled

ROOT = Path(__file__).resolve().parents[1]


def tiny_model(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("tiny_model", ROOT / "tests/fakes/tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model(folder / "tiny.gguf")


def one_run(
    server: str, model: Path, folder: Path, n_predict: int, prompt_tokens: int | None
) -> tuple[float, float, bool]:
    port = free_port()
    command = [server, "-m", str(model), "-c", "4096", "-np", "1",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    proc = ServerProcess(command, {}, folder / "server.log", port, profiled=False)
    try:
        proc.wait_healthy(60)
        proc.locate()
        cancel = threading.Event()
        cancelled_at: list[float] = []

        def first_answer(done: int) -> None:
            if not cancel.is_set():
                cancelled_at.append(time.monotonic())
                cancel.set()

        workload = Workload(
            requests=40,
            n_predict=n_predict,
            prompt=None if prompt_tokens else "Hello",
            prompt_tokens=prompt_tokens,
            ignore_eos=True,
        )
        with contextlib.suppress(CaptureCancelled):
            run_workload(proc.base_url, workload, cancel=cancel, on_request=first_answer)
        let_go = time.monotonic() - cancelled_at[0]
    finally:
        outcome = proc.kill()
    return let_go, outcome.stop_s, outcome.escalated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server", default=str(Path(sys.executable).parent / "llama-server-vulkan")
    )
    parser.add_argument("--model", type=Path, help="a GGUF model (default: the tiny test model)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n-predict", type=int, default=1000, help="tokens per answer")
    parser.add_argument(
        "--prompt-tokens",
        type=int,
        help="a prompt of N tokens (long: the cancel lands while it is processed)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llamaprof-bench-") as tmp:
        folder = Path(tmp)
        model = args.model or tiny_model(folder)
        rows = []
        for i in range(args.runs):
            let_go, exit_s, escalated = one_run(
                args.server, model, folder, args.n_predict, args.prompt_tokens
            )
            rows.append((let_go, exit_s))
            print(f"run {i + 1}: let go {let_go * 1e3:.0f} ms, exit after SIGINT "
                  f"{exit_s * 1e3:.0f} ms{', ESCALATED' if escalated else ''}")  # fmt: skip
    print(f"median: let go {statistics.median(r[0] for r in rows) * 1e3:.0f} ms, "
          f"exit after SIGINT {statistics.median(r[1] for r in rows) * 1e3:.0f} ms, "
          f"max exit {max(r[1] for r in rows) * 1e3:.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
