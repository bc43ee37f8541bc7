"""``llamaprof capture`` as a user runs it: a real llama-server, the stand-in nsys.

The stand-in (tests/fakes/fake_nsys.py) is NOT nsys; see its docstring.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llamaprof.capture.server import pid_alive

pytestmark = pytest.mark.server

LLAMAPROF = str(Path(sys.executable).parent / "llamaprof")


def run_cli(*args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run(
        [LLAMAPROF, "capture", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_cli_captures_and_records(llama_server, tiny_model, fake_nsys, reports):
    """Exit 0; progress on stderr; a summary on stdout; report, export and record written."""
    done = run_cli(
        "--server",
        llama_server,
        "--model",
        str(tiny_model),
        "--nsys",
        fake_nsys,
        "--reports",
        str(reports),
        "--name",
        "cli",
        "--requests",
        "2",
        "--n-predict",
        "4",
        "--prompt",
        "Hi",
        "--env",
        "GGML_CUDA_GRAPH_OPT=1",
        "--nsys-args",
        "--sample=none",
        "--cuda-graph-nodes",
        "--show-log",
        "--",
        "-c",
        "512",
        "-np",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(
        "captured cli (GGML_CUDA_GRAPH_OPT=1 -c 512 -np 1): 2 requests, "
    )
    assert done.stdout.splitlines()[1] == (
        f"  in {reports}: cli.nsys-rep, cli.sqlite, cli.llamaprof.json"
    )
    stderr = done.stderr.splitlines()
    assert stderr[0] == f"capturing 1 run into {reports}"
    assert "[GGML_CUDA_GRAPH_OPT=1 -c 512 -np 1] sending requests 2/2" in done.stderr
    assert stderr[-1].startswith("[GGML_CUDA_GRAPH_OPT=1 -c 512 -np 1] done (")
    log_lines = [line for line in stderr if line.startswith("  | ")]
    assert any("listening on http://127.0.0.1:" in line for line in log_lines)
    assert len(log_lines) == len(set(log_lines))  # each server log line shown once
    record = json.loads((reports / "cli.llamaprof.json").read_text())
    assert record["commands"]["nsys"][3:7] == [
        str(reports / ".cli.capture-tmp" / "cli"),
        "--trace=cuda,nvtx,osrt",
        "--sample=none",
        "--cuda-graph-trace=node",
    ]
    assert record["env"]["GGML_CUDA_GRAPH_OPT"] == "1"
    assert record["workload"]["prompt"] == "Hi"
    assert sorted(p.name for p in reports.iterdir()) == [
        "cli.llamaprof.json",
        "cli.nsys-rep",
        "cli.sqlite",
    ]


def test_cli_ab_without_profiler(llama_server, tiny_model, reports):
    """--config twice with --no-profile: two records labelled by what differs."""
    done = run_cli(
        "--server",
        llama_server,
        "--model",
        str(tiny_model),
        "--no-profile",
        "--reports",
        str(reports),
        "--name",
        "ab",
        "--requests",
        "1",
        "--n-predict",
        "4",
        "--config",
        "-fa on",
        "--config",
        "-fa off",
        "--",
        "-c",
        "512",
        "-np",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert [
        line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("captured")
    ] == ["captured ab_fa-on (-fa on)", "captured ab_fa-off (-fa off)"]
    assert "[1/2 -fa on] sending requests 1/1" in done.stderr
    assert sorted(p.name for p in reports.iterdir()) == [
        "ab_fa-off.llamaprof.json",
        "ab_fa-on.llamaprof.json",
    ]


@pytest.mark.parametrize(
    "extra, reason",
    [
        (
            ["--model", "/no/model.gguf", "--no-profile"],
            "llamaprof: model not found: /no/model.gguf",
        ),
        (
            ["--nsys", "/x/nsys", "--no-profile"],
            "llamaprof: give --nsys PATH or --no-profile, not both",
        ),
        (
            ["--nsys", "/x/nsys"],
            "llamaprof: nsys not found: /x/nsys; give --nsys PATH or capture with --no-profile",
        ),
        (
            ["--no-profile", "--env", "oops"],
            "llamaprof: not an environment setting KEY=VALUE: 'oops'",
        ),
        (
            ["--no-profile", "--", "--port", "80"],
            "llamaprof: remove --port from the server args: the capture chooses the port (--port)",
        ),
    ],
)
def test_cli_failures_are_one_line(llama_server, tiny_model, reports, extra, reason):
    """A failure exits 1 with one line on stderr and writes nothing."""
    args = ["--server", llama_server, "--model", str(tiny_model), "--reports", str(reports)]
    done = run_cli(*args, *extra)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [reason]
    assert list(reports.iterdir()) == []


def test_cli_failure_shows_the_server_log_tail(llama_server, tiny_model, reports):
    """When the server fails, the end of its log comes first, then the one-line reason."""
    done = run_cli(
        "--server",
        llama_server,
        "--model",
        str(tiny_model),
        "--no-profile",
        "--reports",
        str(reports),
        "--",
        "--no-such-flag",
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert "--- last lines of the server's output ---" in lines
    assert lines[-1] == (
        "llamaprof: llama-server exited during start-up (status 1): "
        "error: invalid argument: --no-such-flag"
    )
    assert list(reports.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_cancels_cleanly(llama_server, tiny_model, fake_nsys, reports, nsys_log, sig):
    """Ctrl-C or SIGTERM to llamaprof stops llama-server and nsys, keeps nothing, exits 130."""
    proc = subprocess.Popen(
        [
            LLAMAPROF,
            "capture",
            "--server",
            llama_server,
            "--model",
            str(tiny_model),
            "--nsys",
            fake_nsys,
            "--reports",
            str(reports),
            "--requests",
            "40",
            "--n-predict",
            "300",
            "--",
            "-c",
            "512",
            "-np",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    for line in proc.stderr:
        if "sending requests 1/40" in line:
            break
    else:
        raise AssertionError("the workload never started")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.splitlines()[-1] == (
        "llamaprof: capture cancelled; every process was stopped, nothing kept"
    )
    assert "cancelling: stopping llama-server and nsys..." in err
    events = [json.loads(line) for line in nsys_log.read_text().splitlines()]
    nsys_pid, server_pid = events[0]["pid"], events[0]["child"]
    deadline = time.monotonic() + 5
    while (pid_alive(nsys_pid) or pid_alive(server_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(nsys_pid) and not pid_alive(server_pid)
    assert list(reports.iterdir()) == []
