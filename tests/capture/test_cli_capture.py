"""``llamaprof capture`` as a user runs it: a real llama-server under the real nsys.

nsys is Debian's Nsight Systems 2022.4.2; ``tests/fakes/hanging_nsys`` makes it hang.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from capture.processes import wait_until_none_left

pytestmark = pytest.mark.server

LLAMAPROF = str(Path(sys.executable).parent / "llamaprof")


def run_cli(*args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run(
        [LLAMAPROF, "capture", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


NO_CUDA_WARNING = (
    "llamaprof: warning: no NVIDIA driver answers (nvidia-smi failed with status 9: "
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver): the report "
    "will hold no CUDA data (no kernels, CUDA API calls or memory copies), only what nsys "
    "traces on the CPU; capturing anyway"
)


def test_cli_captures_and_records(llama_server, tiny_model, real_nsys, reports, no_driver):
    """Exit 0; a warning that no driver answers, then progress on stderr; a summary on
    stdout; report, export and record written."""
    done = run_cli(
        "--server",
        llama_server,
        "--model",
        str(tiny_model),
        "--nsys",
        real_nsys,
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
    assert stderr[:2] == [NO_CUDA_WARNING, f"capturing 1 run into {reports}"]
    assert "[GGML_CUDA_GRAPH_OPT=1 -c 512 -np 1] sending requests 2/2" in done.stderr
    steps = [line.split("] ", 1)[1].split(" (")[0] for line in stderr if line.startswith("[")]
    assert list(dict.fromkeys(steps))[-5:] == [
        "stopping llama-server",
        "waiting for nsys to write its report",
        "exporting SQLite",
        "writing the record",
        "done",
    ]
    assert stderr[-1].startswith("[GGML_CUDA_GRAPH_OPT=1 -c 512 -np 1] done (")
    log_lines = [line[4:] for line in stderr if line.startswith("  | ")]
    assert any("listening on http://127.0.0.1:" in line for line in log_lines)
    record = json.loads((reports / "cli.llamaprof.json").read_text())
    # Each log line shown once, in order: what was shown is a subsequence of the log.
    log = iter(record["server_log_tail"])
    assert all(any(line == logged for logged in log) for line in log_lines)
    assert record["commands"]["nsys"][3:8] == [
        str(reports / ".cli.capture-tmp" / "cli"),
        "--trace=cuda,nvtx,osrt",
        "--cpuctxsw=none",
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
        (
            ["--no-profile", "--report-timeout", "5"],
            "llamaprof: --report-timeout was given with --no-profile",
        ),
        (
            ["--nsys", "/x/nsys", "--nsys-args", "-o out"],
            "llamaprof: nsys not found: /x/nsys; give --nsys PATH or capture with --no-profile",
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
def test_interrupt_cancels_cleanly(llama_server, tiny_model, real_nsys, reports, test_mark, sig):
    """Ctrl-C or SIGTERM to llamaprof stops llama-server, nsys and its agent, keeps nothing,
    exits 130, and says so truly: nothing of the capture is left in the process table."""
    proc = subprocess.Popen(
        [
            LLAMAPROF,
            "capture",
            "--server",
            llama_server,
            "--model",
            str(tiny_model),
            "--nsys",
            real_nsys,
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
    assert wait_until_none_left(test_mark) == []
    assert list(reports.iterdir()) == []


def test_cli_hung_nsys_fails_in_one_line(
    llama_server, tiny_model, hanging_nsys, reports, monkeypatch, test_mark
):
    """nsys that never writes its report: after --report-timeout the capture ends with one
    line naming the cause, the progress says what it waited for, nothing is left."""
    monkeypatch.setenv("HANGING_NSYS_MODE", "hang-no-report")
    done = run_cli(
        "--server", llama_server, "--model", str(tiny_model), "--nsys", hanging_nsys,
        "--reports", str(reports), "--requests", "1", "--n-predict", "4",
        "--report-timeout", "2", "--", "-c", "512", "-np", "1",
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-1] == (
        "llamaprof: nsys did not write its report within 2 s after llama-server exited; "
        "it was stopped (nsys hung)"
    )
    assert lines[-2] == "---"  # after the end of the log, which says how nsys was stopped
    assert (
        lines[-3] == f"llamaprof: stopping nsys: SIGINT to sleep (PID {lines[-3].split('PID ')[1]}"
    )
    where = "[-c 512 -np 1] "
    steps = [line[len(where) :].split(" (")[0] for line in lines if line.startswith(where)]
    assert list(dict.fromkeys(steps))[-2:] == [
        "stopping llama-server",
        "waiting for nsys to write its report",
    ]
    assert wait_until_none_left(test_mark) == []
    assert list(reports.iterdir()) == []


def test_captured_cuda_data_reaches_the_summaries(llama_server, tiny_model, fake_nsys, reports):
    """A captured run's kernels come out of `llamaprof stats` as nsys would print them.

    The profiler here is the stand-in (tests/fakes/fake_nsys.py), on purpose: this needs CUDA
    data in the captured report, and no capture on a machine without a GPU has any (the real
    nsys records OS runtime calls only here). Its report holds six fixed kernels.
    """
    done = run_cli(
        "--server", llama_server, "--model", str(tiny_model), "--nsys", fake_nsys,
        "--reports", str(reports), "--name", "cuda", "--requests", "1", "--n-predict", "4",
        "--", "-c", "512", "-np", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stats = subprocess.run(
        [LLAMAPROF, "stats", str(reports / "cuda.nsys-rep"), "--report", "cuda_gpu_kern_sum",
         "--format", "csv"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines() == [
        "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name",
        '98.0,240000,4,60000.0,60000.0,60000,60000,0.0,"void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, const float *)"',
        '2.0,5000,2,2500.0,2500.0,2500,2500,0.0,"void rms_norm_f32<(int)1024>(const float *, float *, int)"',
    ]
