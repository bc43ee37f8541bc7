"""Captures against a real llama-server (CPU build, tiny model) under the real nsys.

nsys is Debian's Nsight Systems 2022.4.2 (no GPU here: it traces OS runtime calls); a hang
is reproduced with ``tests/fakes/hanging_nsys``, the real nsys that then never exits. Every
test also checks, through an autouse fixture, that no process it started is left running,
wherever it was reparented (``wait_until_none_left``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import gguf
import pytest
from capture.processes import wait_until_none_left

from llamaprof.capture import runner as runner_module
from llamaprof.capture import supervisor
from llamaprof.capture.config import Variant, Workload
from llamaprof.capture.runner import (
    DONE,
    EXPORTING,
    HEALTH,
    RECORDING,
    REPORT,
    STARTING,
    STOPPING,
    WORKLOAD,
    BackgroundCapture,
    run_capture,
)
from llamaprof.capture.server import (
    ServerProcess,
    descendants,
    free_port,
    listening_pid,
    pid_alive,
)
from llamaprof.errors import CaptureBusy, CaptureCancelled, CaptureFailed, NsysNotFound
from llamaprof.record import read_record

pytestmark = pytest.mark.server

TIMINGS_KEYS = [
    "cache_n",
    "prompt_n",
    "prompt_ms",
    "prompt_per_token_ms",
    "prompt_per_second",
    "predicted_n",
    "predicted_ms",
    "predicted_per_token_ms",
    "predicted_per_second",
]
RECORD_KEYS = {
    "schema",
    "name",
    "label",
    "config",
    "created",
    "started",
    "ended",
    "profiled",
    "commands",
    "server_args",
    "env",
    "model",
    "versions",
    "gpu",
    "server",
    "workload",
    "requests",
    "totals",
    "metrics",
    "durations",
    "exit",
    "repeat",
    "set",
    "settings",
    "clock",
    "problems",
    "report",
    "sqlite",
    "server_log_tail",
}


REQUEST_KEYS = [
    "index",
    "client",
    "status",
    "start_s",
    "elapsed_s",
    "start_ns",
    "first_token_ns",
    "end_ns",
    "timings",
    "tokens_predicted",
    "tokens_evaluated",
    "stop_type",
]
CLOCK_KEYS = [
    "capture_start_ns",
    "server_ready_ns",
    "workload_start_ns",
    "workload_end_ns",
    "stop_ns",
]


def assert_times_in_order(record: dict) -> None:
    """The wall-clock marks of a run and of its (sequential) requests, in the order they
    happened: capture start < server ready <= workload start <= each request's start <
    its first token < its end <= the next request's start ... <= workload end <= stop."""
    clock = record["clock"]
    assert list(clock) == CLOCK_KEYS
    marks = [clock["capture_start_ns"], clock["server_ready_ns"], clock["workload_start_ns"]]
    for r in record["requests"]:
        marks += [r["start_ns"], r["first_token_ns"], r["end_ns"]]
    marks += [clock["workload_end_ns"], clock["stop_ns"]]
    assert all(isinstance(m, int) for m in marks), marks
    assert marks == sorted(marks), marks
    assert clock["capture_start_ns"] < clock["server_ready_ns"]
    for r in record["requests"]:
        assert r["start_ns"] < r["first_token_ns"] < r["end_ns"]
        # The client's own two clocks agree on the request's length (within 2 ms).
        assert abs((r["end_ns"] - r["start_ns"]) / 1e9 - r["elapsed_s"]) < 0.002


def files_in(folder: Path) -> list[str]:
    """Every entry in ``folder``, hidden ones included, sorted."""
    return sorted(p.name for p in folder.iterdir())


def test_profiled_capture_records_everything(
    make_config, reports, tiny_model, real_nsys, no_driver
):
    """One capture under the real nsys: report, export, log and a complete record.

    The machine has no GPU driver (``no_driver``): nsys traces the OS runtime calls of
    llama-server, and the record says there is no GPU.
    """
    cfg = make_config(
        name="one",
        server_args=["-c", "512", "-np", "1", "--metrics"],
        env={"GGML_CUDA_DISABLE_GRAPHS": "1"},
        workload=Workload(requests=3, n_predict=8, prompt="Hello there"),
    )
    steps = []
    (record,) = run_capture(cfg, on_progress=lambda p: steps.append(p.step))

    assert files_in(reports) == [
        "one.llamaprof.json",
        "one.nsys-rep",
        "one.sqlite",
    ]
    assert set(record) == RECORD_KEYS
    assert (
        read_record(reports / "one.nsys-rep").data
        == json.loads((reports / "one.llamaprof.json").read_text())
        == json.loads(json.dumps(record))
    )
    assert (record["name"], record["label"], record["profiled"]) == (
        "one",
        "GGML_CUDA_DISABLE_GRAPHS=1 -c 512 -np 1 --metrics",
        True,
    )
    assert (record["report"], record["sqlite"]) == ("one.nsys-rep", "one.sqlite")
    # The steps, each once, in order: "waiting for nsys" once llama-server has exited.
    assert list(dict.fromkeys(steps)) == [
        STARTING, HEALTH, WORKLOAD, STOPPING, REPORT, EXPORTING, RECORDING, DONE
    ]  # fmt: skip
    tail = record["server_log_tail"]
    assert any(f"listening on http://127.0.0.1:{record['server']['port']}" in ln for ln in tail)
    assert tail[-2:] == ["Generated:", f"    {reports}/.one.capture-tmp/one.nsys-rep"]
    # nsys kept its temporary file in the run's hidden folder ($TMPDIR), now deleted.
    (generating,) = [ln for ln in tail if ln.startswith("Generating ")]
    assert re.fullmatch(
        rf"Generating '{reports}/\.one\.capture-tmp/nsys-tmp/nsys-report-[0-9a-f]+\.qdstrm'",
        generating,
    )
    # The commands: nsys with the llama-server defaults, the server on loopback.
    port = record["server"]["port"]
    assert record["commands"]["server"] == [
        cfg.server,
        "-m",
        str(tiny_model),
        "-c",
        "512",
        "-np",
        "1",
        "--metrics",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    assert record["commands"]["nsys"] == [
        real_nsys,
        "profile",
        "-o",
        str(reports / ".one.capture-tmp" / "one"),
        "--trace=cuda,nvtx,osrt",
        "--sample=none",
        "--cpuctxsw=none",
        *record["commands"]["server"],
    ]
    assert record["commands"]["export"][1:4] == ["export", "--type", "sqlite"]
    assert record["server_args"] == {
        "-m": str(tiny_model),
        "-c": "512",
        "-np": "1",
        "--metrics": True,
        "--host": "127.0.0.1",
        "--port": str(port),
    }
    assert record["env"]["GGML_CUDA_DISABLE_GRAPHS"] == "1"
    assert "TMPDIR" not in record["env"]
    assert (record["model"]["path"], record["model"]["size_bytes"]) == (
        str(tiny_model),
        tiny_model.stat().st_size,
    )
    nsys_says = subprocess.run([real_nsys, "--version"], capture_output=True, text=True).stdout
    assert nsys_says.strip() == f"NVIDIA Nsight Systems version {record['versions']['nsys']}"
    assert record["versions"]["llama_server"]  # "0.1.0-dev (build 1, commit 7e4c0a9)"
    assert record["gpu"] is None  # nvidia-smi failed: no driver
    # Each request's timings, as llama-server returned them; totals add them up.
    assert [r["index"] for r in record["requests"]] == [0, 1, 2]
    for r in record["requests"]:
        assert list(r) == REQUEST_KEYS
        assert r["status"] == 200
        assert list(r["timings"]) == TIMINGS_KEYS
        assert r["timings"]["predicted_n"] == 8
        assert r["timings"]["cache_n"] == 0  # cache_prompt is off
        # From the stream's final event: "<s> Hello there" is 4 tokens here.
        assert (r["tokens_predicted"], r["stop_type"]) == (8, "limit")
        assert r["tokens_evaluated"] == r["timings"]["prompt_n"]
    assert record["workload"]["stream"] is True
    assert_times_in_order(record)
    # Schema 2: a set of one config, one group; what the user chose, nothing llamaprof chose.
    assert record["schema"] == 2
    assert record["repeat"] == {"group": f"{record['set']['id']}/1", "index": 1, "of": 1}
    assert record["set"] == {
        "id": record["set"]["id"],
        "configs": ["GGML_CUDA_DISABLE_GRAPHS=1 -c 512 -np 1 --metrics"],
        "config_index": 0,
    }
    assert re.fullmatch(r"\d{8}-\d{6}", record["set"]["id"])
    assert record["settings"] == {
        "args": ["-c", "512", "-np", "1", "--metrics"],
        "env": {"GGML_CUDA_DISABLE_GRAPHS": "1"},
    }
    # The model's weights from its GGUF header; the expected sizes from gguf's own reader.
    tensors = gguf.GGUFReader(tiny_model).tensors
    size = {t.name: int(t.n_bytes) for t in tensors}
    assert record["model"]["weights"] == {
        "tensor_bytes": sum(size.values()),
        "token_embd_bytes": size["token_embd.weight"],
        "output_tied": False,
        "expert_tensor_bytes": 0,
        "expert_count": None,
        "expert_used_count": None,
        "architecture": "llama",
    }
    typed = read_record(reports / "one.llamaprof.json")
    assert typed.timed and typed.weights.tensor_bytes == sum(size.values())
    assert [(q.start_ns, q.first_token_ns, q.end_ns) for q in typed.requests] == [
        (r["start_ns"], r["first_token_ns"], r["end_ns"]) for r in record["requests"]
    ]
    totals = record["totals"]
    assert totals["requests"] == 3
    assert totals["generated_tokens"] == 24
    assert totals["prompt_tokens"] == sum(r["timings"]["prompt_n"] for r in record["requests"])
    assert totals["predicted_per_second"] > 0
    # /metrics before and after (the server runs with --metrics).
    before, after = record["metrics"]["before"], record["metrics"]["after"]
    assert (
        after["llamacpp:tokens_predicted_total"] - before["llamacpp:tokens_predicted_total"] == 24
    )
    # Stopped with one SIGINT to llama-server itself (nsys's descendant), none to nsys: nsys
    # wrote its report and exited by itself.
    server_pid = record["server"]["pid"]
    assert record["exit"]["nsys"] == 0
    assert record["exit"]["escalated"] is False
    assert [(s["signal"], s["to"], s["pid"], s["process"]) for s in record["exit"]["signals"]] == [
        ("SIGINT", "llama-server", server_pid, "llama-server")
    ]
    assert not pid_alive(server_pid)
    assert record["problems"] == []
    assert record["repeat"]["index"] == record["repeat"]["of"] == 1
    assert record["workload"]["temperature"] == 0.0 and record["workload"]["seed"] == 42
    assert record["workload"]["cache_prompt"] is False
    # The export is a real SQLite file the app can read without nsys: nsys profiled the very
    # process the record names, and traced its OS runtime calls.
    db = sqlite3.connect(reports / "one.sqlite")
    profiled = db.execute("select pid from PROCESSES where name = ?", (cfg.server,)).fetchall()
    assert profiled == [(server_pid,)]
    assert db.execute("select count(*) from OSRT_API").fetchone()[0] > 0
    db.close()


def test_profiler_free_run_with_concurrent_clients(make_config, reports):
    """--no-profile: same server and workload, tokens/s only; K clients; N prompt tokens."""
    cfg = make_config(
        name="free",
        profile=False,
        nsys=None,
        server_args=["-c", "1024", "-np", "2"],
        workload=Workload(requests=4, concurrency=2, prompt_tokens=40, n_predict=8),
    )
    (record,) = run_capture(cfg)
    assert files_in(reports) == ["free.llamaprof.json"]
    assert record["profiled"] is False
    assert (record["report"], record["sqlite"], record["commands"]["nsys"]) == (None, None, None)
    assert [r["timings"]["prompt_n"] for r in record["requests"]] == [40, 40, 40, 40]
    assert {r["client"] for r in record["requests"]} == {0, 1}
    assert record["totals"]["generated_tokens"] == 32
    assert record["metrics"] == {"before": None, "after": None}  # no --metrics
    assert record["exit"]["server"] == 0 and record["exit"]["nsys"] is None
    assert [(s["signal"], s["to"], s["pid"]) for s in record["exit"]["signals"]] == [
        ("SIGINT", "llama-server", record["server"]["pid"]),
    ]


def test_ab_pair_with_repeats(make_config, reports):
    """Two configs, each twice, one after another with the same workload (no profiler: the
    runs under nsys are in test_failed_config_of_an_ab_set_keeps_the_runs_before_it)."""
    cfg = make_config(
        variants=[Variant.parse("-fa on"), Variant.parse("-fa off")],
        repeat=2,
        profile=False,
        nsys=None,
    )
    seen = []
    records = run_capture(cfg, on_record=lambda r: seen.append(r["name"]))
    assert [(r["label"], r["repeat"]["index"], r["repeat"]["of"]) for r in records] == [
        ("-fa on", 1, 2),
        ("-fa on", 2, 2),
        ("-fa off", 1, 2),
        ("-fa off", 2, 2),
    ]
    assert seen == [r["name"] for r in records]
    stamp = records[0]["set"]["id"]
    assert [r["repeat"]["group"] for r in records] == [f"{stamp}/1"] * 2 + [f"{stamp}/2"] * 2
    typed = [read_record(reports / (r["name"] + ".llamaprof.json")) for r in records]
    groups: dict[str, list] = {}
    for t in typed:
        groups.setdefault(t.group, []).append(t)
    assert {g: [(t.label, t.repeat_index) for t in m] for g, m in groups.items()} == {
        f"{stamp}/1": [("-fa on", 1), ("-fa on", 2)],
        f"{stamp}/2": [("-fa off", 1), ("-fa off", 2)],
    }
    assert [(t.set_id, t.config_index, t.repeat_of) for t in typed] == [
        (stamp, 0, 2),
        (stamp, 0, 2),
        (stamp, 1, 2),
        (stamp, 1, 2),
    ]
    assert all(t.data["set"]["configs"] == ["-fa on", "-fa off"] for t in typed)
    assert [r["settings"] for r in records] == [
        {"args": ["-c", "512", "-np", "1", "-fa", fa], "env": {}}
        for fa in ("on", "on", "off", "off")
    ]
    # What the user chose, never the model, host or port llamaprof set.
    assert [dict(t.settings) for t in typed] == [
        {"arg -c": "512", "arg -np": "1", "arg -fa": fa} for fa in ("on", "on", "off", "off")
    ]
    for r, t in zip(records, typed, strict=True):
        assert_times_in_order(r)
        assert t.request_count == 3 and t.generated_tokens == 24
        assert [q.generated_tokens for q in t.requests] == [8, 8, 8]
    assert [r["name"].split("_", 1)[1] for r in records] == [
        "fa-on_r1",
        "fa-on_r2",
        "fa-off_r1",
        "fa-off_r2",
    ]
    assert [r["config"]["args"] for r in records] == [["-fa", "on"]] * 2 + [["-fa", "off"]] * 2
    assert [r["server_args"]["-fa"] for r in records] == ["on", "on", "off", "off"]
    assert {r["workload"]["n_predict"] for r in records} == {8}
    assert files_in(reports) == sorted(f"{r['name']}.llamaprof.json" for r in records)


def _record_kills(monkeypatch) -> list:
    """The outcome of every ServerProcess.kill() (the clean-up after a failure or cancel)."""
    kills = []
    original_kill = ServerProcess.kill

    def kill(self):
        kills.append(original_kill(self))
        return kills[-1]

    monkeypatch.setattr(ServerProcess, "kill", kill)
    return kills


def _capture_processes(root: int) -> dict[str, int]:
    """{"nsys": pid, "agent": pid, "server": pid} below the supervisor ``root``, from /proc."""
    found = {}
    for pid in descendants(root):
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"--start-agent" in words:
            found["agent"] = pid
        elif words[1:2] == [b"profile"]:
            found["nsys"] = pid
        elif Path(f"/proc/{pid}/comm").read_text().strip() == "llama-server":
            found["server"] = pid
    return found


def test_cancel_mid_workload_stops_everything(make_config, reports, monkeypatch, test_mark):
    """Cancelling during the workload stops llama-server, nsys and nsys's detached agent."""
    cancel = threading.Event()
    steps, seen = [], {}
    original_locate = ServerProcess.locate

    def locate(self):
        pid = original_locate(self)
        seen.update(_capture_processes(self.root.pid), supervisor=self.root.pid)
        seen["agent_parent"] = int(Path(f"/proc/{seen['agent']}/stat").read_text().split()[3])
        return pid

    monkeypatch.setattr(ServerProcess, "locate", locate)

    def on_progress(p):
        steps.append(p.step)
        if p.step == WORKLOAD and p.requests_done >= 1:
            cancel.set()

    kills = _record_kills(monkeypatch)
    cfg = make_config(workload=Workload(requests=40, n_predict=300))
    with pytest.raises(CaptureCancelled) as info:
        run_capture(cfg, on_progress=on_progress, cancel=cancel)
    assert str(info.value) == "capture cancelled; every process was stopped, nothing kept"
    assert WORKLOAD in steps and STOPPING not in steps  # no clean stop: the workload ended
    # nsys started its agent detached from itself; it was reparented to the supervisor (a
    # child subreaper), not to PID 1, so the capture could stop it.
    assert seen["agent_parent"] == seen["supervisor"]
    # llama-server got SIGINT and exited on it; the supervisor was told to stop the rest
    # (it sends nsys SIGINT): no SIGKILL from the capture.
    (outcome,) = kills
    assert [(s.signal, s.role) for s in outcome.signals] == [
        ("SIGINT", "llama-server"),
        ("SIGTERM", "supervisor"),
    ]
    assert outcome.escalated is False and outcome.survivors == []
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []
    assert not Path(f"/dev/shm/quadd-agent-instance-{seen['agent']}").exists()


def test_cancel_after_a_finished_run_keeps_it_and_says_so(make_config, reports, test_mark):
    """Cancelled between the runs of a set (without a profiler here: the rule is the
    runner's): the run that finished stays in the folder, and the one line says so instead
    of "nothing kept"."""
    cancel = threading.Event()
    cfg = make_config(profile=False, nsys=None, repeat=2)
    with pytest.raises(CaptureCancelled) as info:
        run_capture(cfg, cancel=cancel, on_record=lambda record: cancel.set())
    (kept,) = [name.removesuffix(".llamaprof.json") for name in files_in(reports)]
    assert str(info.value) == (
        "capture cancelled; every process was stopped, the run in progress not kept; kept the "
        f"runs finished before it: {kept}"
    )
    assert kept.endswith("_r1")
    assert wait_until_none_left(test_mark) == []


def test_cancel_while_nsys_writes_its_report(
    make_config, reports, hanging_nsys, monkeypatch, test_mark
):
    """Cancelling while waiting for nsys (here: one that never exits) does not wait for it."""
    cancel = threading.Event()
    steps = []

    def on_progress(p):
        steps.append(p.step)
        if p.step == REPORT:
            cancel.set()  # llama-server has exited; nsys "writes its report"

    kills = _record_kills(monkeypatch)
    with pytest.raises(CaptureCancelled) as info:
        run_capture(make_config(nsys=hanging_nsys), on_progress=on_progress, cancel=cancel)
    assert str(info.value) == "capture cancelled; every process was stopped, nothing kept"
    assert steps[-2:] == [STOPPING, REPORT]
    # Only the supervisor is signalled now: it stops nsys (SIGINT), which does not wait for
    # the report timeout (60 s).
    (outcome,) = kills
    assert [(s.signal, s.role) for s in outcome.signals] == [("SIGTERM", "supervisor")]
    assert outcome.survivors == []
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []


def test_hung_nsys_is_stopped_and_its_complete_report_kept(
    make_config, reports, hanging_nsys, test_mark
):
    """nsys that wrote its report but never exits is stopped after the report timeout; the
    report it had completed is kept, exported and recorded, with a note."""
    steps = []
    cfg = make_config(name="hung", nsys=hanging_nsys, report_timeout_s=2)
    (record,) = run_capture(cfg, on_progress=lambda p: steps.append(p.step))
    assert files_in(reports) == ["hung.llamaprof.json", "hung.nsys-rep", "hung.sqlite"]
    assert record["problems"] == [
        "nsys wrote its report but did not exit within 2 s after llama-server exited; "
        "it was stopped (nsys hung)"
    ]
    signals = record["exit"]["signals"]
    assert [(s["signal"], s["to"]) for s in signals] == [
        ("SIGINT", "llama-server"),
        ("SIGTERM", "supervisor"),
    ]
    assert signals[1]["at_s"] >= 2  # not before the timeout
    assert record["exit"]["escalated"] is True
    assert record["exit"]["nsys"] == -2  # the hung "nsys" ended on the supervisor's SIGINT
    assert record["server_log_tail"][-1].startswith("llamaprof: stopping nsys: SIGINT to sleep")
    assert list(dict.fromkeys(steps))[3:6] == [STOPPING, REPORT, EXPORTING]
    assert wait_until_none_left(test_mark) == []


def test_hung_nsys_without_a_report_fails_in_bounded_time(
    make_config, reports, hanging_nsys, monkeypatch, test_mark
):
    """nsys that hangs before its report is written: the capture fails with the cause in one
    line, keeps nothing (nsys's temporary files went with the hidden folder), leaves nothing
    running."""
    monkeypatch.setenv("HANGING_NSYS_MODE", "hang-no-report")
    with pytest.raises(CaptureFailed) as info:
        run_capture(make_config(nsys=hanging_nsys, report_timeout_s=2))
    assert str(info.value) == (
        "nsys did not write its report within 2 s after llama-server exited; "
        "it was stopped (nsys hung)"
    )
    assert "llamaprof: stopping nsys: SIGINT to sleep" in info.value.stderr_tail
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []


def test_nsys_killed_mid_capture(make_config, reports, monkeypatch, test_mark):
    """SIGKILL to the real nsys during the workload: llama-server and nsys's agent, orphaned
    in sessions of their own, are stopped; the message names the cause."""
    seen = {}

    def on_progress(p):
        if p.step == WORKLOAD and p.requests_done >= 1 and not seen:
            seen.update(_capture_processes(holder["proc"].root.pid))
            os.kill(seen["nsys"], signal.SIGKILL)

    holder = {}
    original_locate = ServerProcess.locate

    def locate(self):
        holder["proc"] = self
        return original_locate(self)

    monkeypatch.setattr(ServerProcess, "locate", locate)
    cfg = make_config(workload=Workload(requests=40, n_predict=300))
    with pytest.raises(CaptureFailed) as info:
        run_capture(cfg, on_progress=on_progress)
    assert re.fullmatch(
        r"nsys was killed by SIGKILL during the capture \(then: request \d+ of 40 failed: .+\); "
        r"everything it had started was stopped",
        str(info.value),
    ), str(info.value)
    assert set(seen) == {"nsys", "agent", "server"}
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []
    assert not any(pid_alive(pid) for pid in seen.values())
    # The killed nsys cannot remove what it keeps in /dev/shm (its session registry, left
    # there, makes every later nsys on the machine fail): the supervisor removes what is left
    # and says so (the agent, stopped with SIGTERM, sometimes removes its own first).
    removed = [ln for ln in info.value.stderr_tail.splitlines() if "removed what" in ln]
    assert len(removed) <= 1
    assert all(ln.startswith("llamaprof: removed what nsys left in /dev/shm: ") for ln in removed)
    for pid in seen.values():
        assert not Path(f"/dev/shm/sem.nsys_sem_{pid}").exists()
        assert not Path(f"/dev/shm/quadd-agent-instance-{pid}").exists()
    if not supervisor._nsys_running():  # another user's nsys would still need its registry
        assert not list(Path("/dev/shm").glob("NSys-*"))


def test_second_capture_cannot_start_while_one_runs(make_config, reports):
    """One capture at a time: in this process and in any other (the lock file)."""
    job = BackgroundCapture()
    job.start(make_config(profile=False, nsys=None, workload=Workload(requests=40, n_predict=300)))
    try:
        with pytest.raises(CaptureBusy, match="a capture is already running"):
            job.start(make_config(profile=False, nsys=None))
        with pytest.raises(CaptureBusy, match="another capture is running"):
            run_capture(make_config(profile=False, nsys=None))
        with pytest.raises(CaptureBusy, match="another capture is running"):
            BackgroundCapture().start(make_config(profile=False, nsys=None))
    finally:
        job.cancel()
        assert job.wait(30)
    assert job.cancelled and job.error is None
    assert files_in(reports) == []
    run_capture(make_config(profile=False, nsys=None, name="after"))  # the lock is free again
    assert files_in(reports) == ["after.llamaprof.json"]


# --- failures: a clear message, nothing running, nothing in the reports folder ---------


def test_nsys_missing(make_config, reports, monkeypatch):
    """No nsys at the given path, or none on PATH: NsysNotFound, and what to do."""
    with pytest.raises(NsysNotFound, match=r"^nsys not found: /no/nsys; give --nsys PATH"):
        run_capture(make_config(nsys="/no/nsys"))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("llamaprof.nsys.KNOWN_NSYS", ())
    with pytest.raises(NsysNotFound, match=r"^nsys not found on PATH"):
        run_capture(make_config(nsys=None))
    assert files_in(reports) == []


def test_server_missing(make_config, reports):
    with pytest.raises(CaptureFailed, match=r"^llama-server not found: /no/llama-server$"):
        run_capture(make_config(server="/no/llama-server"))
    assert files_in(reports) == []


def test_model_missing(make_config, reports):
    with pytest.raises(CaptureFailed, match=r"^model not found: /no/model\.gguf$"):
        run_capture(make_config(model="/no/model.gguf"))
    assert files_in(reports) == []


def test_port_in_use(make_config, reports, monkeypatch):
    """A port that is taken is refused up front; if it is taken after the check, the
    server's bind failure is recognised."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(CaptureFailed, match=f"^port {port} on 127.0.0.1 is in use$"):
            run_capture(make_config(port=port))
        monkeypatch.setattr(runner_module, "port_in_use", lambda port: False)
        with pytest.raises(CaptureFailed) as info:
            run_capture(make_config(port=port, profile=False, nsys=None))
    assert str(info.value) == f"llama-server could not listen on 127.0.0.1:{port} (port in use)"
    assert info.value.returncode == 1
    # Its log says so too, when it had time to print (it logs from a thread of its own and
    # sometimes exits before that thread has written anything: 2 of 30 tries here).
    assert info.value.stderr_tail == "" or "couldn't bind" in info.value.stderr_tail
    assert files_in(reports) == []


@pytest.mark.parametrize("profile", [True, False], ids=["nsys", "no-profile"])
def test_server_exits_early(make_config, reports, profile):
    """An unknown flag: llama-server exits at once; its error is the message."""
    cfg = make_config(
        server_args=["-c", "512", "--no-such-flag"],
        profile=profile,
        nsys=make_config().nsys if profile else None,
    )
    with pytest.raises(CaptureFailed) as info:
        run_capture(cfg)
    how = "nsys exited with status 1" if profile else "status 1"
    assert str(info.value) == (
        f"llama-server exited during start-up ({how}): error: invalid argument: --no-such-flag"
    )
    assert files_in(reports) == []


def test_health_timeout(make_config, reports, fake_bin):
    """A server that never answers 200 (a stand-in stuck 'loading'): timeout, log tail.

    Without a profiler: under nsys the stand-in takes longer than this 1 s timeout to start.
    """
    cfg = make_config(
        server=str(fake_bin / "fake-loading-server"),
        health_timeout_s=1.0,
        profile=False,
        nsys=None,
    )
    with pytest.raises(CaptureFailed) as info:
        run_capture(cfg)
    assert str(info.value) == (
        "llama-server did not answer GET /health with 200 within 1 s (last: HTTP 503)"
    )
    assert "loading model forever" in info.value.stderr_tail
    assert files_in(reports) == []


def test_nsys_that_never_starts_llama_server(make_config, reports, tmp_path, test_mark):
    """An nsys stuck while starting (seen with the real one: no target after 30 s) is named
    as the cause, not llama-server. Here a stand-in that is only "nsys" by name (argv[0])."""
    stuck = tmp_path / "stuck-nsys"
    stuck.write_text('#!/bin/bash\n[ "$1" = --version ] && exit 0\nexec -a nsys sleep 600\n')
    stuck.chmod(0o755)
    with pytest.raises(CaptureFailed) as info:
        run_capture(make_config(nsys=str(stuck), health_timeout_s=1.0))
    assert str(info.value) == (
        "nsys did not start llama-server within 1 s (nsys stalled while starting)"
    )
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []


def test_request_error(make_config, reports):
    """A prompt longer than the context: the server's error names the failed request."""
    cfg = make_config(workload=Workload(requests=3, prompt_tokens=600, n_predict=4))
    with pytest.raises(CaptureFailed) as info:
        run_capture(cfg)
    assert str(info.value) == (
        "request 1 of 3 failed: HTTP 400: request (600 tokens) exceeds the available context "
        "size (512 tokens), try increasing it"
    )
    assert "exceeds the available context size" in info.value.stderr_tail
    assert files_in(reports) == []


def test_export_failure(make_config, reports, hanging_nsys, monkeypatch):
    """nsys export fails on a broken report (cut short after nsys wrote it): nothing is kept."""
    monkeypatch.setenv("HANGING_NSYS_MODE", "corrupt-report")
    kills = _record_kills(monkeypatch)
    with pytest.raises(CaptureFailed) as info:
        run_capture(make_config(nsys=hanging_nsys))
    # nsys 2022.4.2 says "Exportation error: Section Table Reference magic number mismatch."
    assert re.fullmatch(r"nsys export failed with status 1: \S.*", str(info.value))
    assert info.value.stderr_tail.splitlines()[-1] in str(info.value)
    assert files_in(reports) == []
    # Everything was stopped and reaped before the export: the cleanup signals nothing.
    assert [(k.signals, k.escalated) for k in kills] == [([], False)]


def test_nsys_writes_no_report(make_config, reports, hanging_nsys, monkeypatch):
    """nsys exits (status 0) without its report: a failure, nothing kept."""
    monkeypatch.setenv("HANGING_NSYS_MODE", "no-report")
    with pytest.raises(CaptureFailed, match=r"^nsys exited with status 0 and wrote no report$"):
        run_capture(make_config(nsys=hanging_nsys))
    assert files_in(reports) == []


def test_failed_config_of_an_ab_set_keeps_the_runs_before_it(make_config, reports):
    """Runs already captured (under nsys) are complete and stay; the message names them."""
    cfg = make_config(
        name="ab", variants=[Variant.parse("-fa on"), Variant.parse("--no-such-flag")]
    )
    with pytest.raises(CaptureFailed) as info:
        run_capture(cfg)
    assert str(info.value) == (
        "ab_no-such-flag: llama-server exited during start-up (nsys exited with status 1): "
        "error: invalid argument: --no-such-flag (kept the runs before it: ab_fa-on)"
    )
    assert files_in(reports) == [
        "ab_fa-on.llamaprof.json",
        "ab_fa-on.nsys-rep",
        "ab_fa-on.sqlite",
    ]


def test_stop_escalates_only_after_the_timeout(tmp_path):
    """A server that ignores SIGINT gets SIGTERM after the stop timeout, and it is recorded."""
    port = free_port()
    script = (
        "import signal, socket, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
        "time.sleep(60)\n"
    )
    proc = ServerProcess([sys.executable, "-c", script], {}, tmp_path / "log", port, profiled=False)
    deadline = time.monotonic() + 10
    while listening_pid(port, [proc.root.pid]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proc.locate() == proc.root.pid
    outcome = proc.stop(stop_timeout_s=0.5, report_timeout_s=5)
    assert outcome.escalated is True
    assert [s.signal for s in outcome.signals] == ["SIGINT", "SIGTERM"]
    assert outcome.signals[1].at_s >= 0.5
    assert outcome.problems == [
        "llama-server did not exit within 0.5 s of SIGINT; sent SIGTERM",
    ]
    assert outcome.server_status == -15


def test_report_kept_when_llama_servers_pid_is_not_found(
    make_config, reports, monkeypatch, test_mark
):
    """Without llama-server's PID (no /proc view of it), SIGINT goes to the supervisor, which
    passes it to nsys: nsys stops llama-server and then writes its report. That wait is the
    report's, not llama-server's stop timeout: even with a stop timeout far shorter than
    nsys needs, the report is kept, and nothing is left running."""
    from llamaprof.capture import server as server_module

    monkeypatch.setattr(server_module, "listening_pid", lambda port, pids: None)
    (record,) = run_capture(make_config(stop_timeout_s=0.05))
    assert record["exit"]["nsys"] == 0
    assert any("PID was not found" in p for p in record["problems"])
    assert not any("did not exit within" in p for p in record["problems"])
    assert sorted(Path(p).suffix for p in files_in(reports)) == [".json", ".nsys-rep", ".sqlite"]
    assert wait_until_none_left(test_mark) == []


def test_an_option_nsys_refuses_is_blamed_on_nsys(make_config, reports, test_mark):
    """``--nsys-args`` with an option the real nsys 2022.4 does not take: nsys prints its
    usage and exits before starting llama-server; the one line says so, quoting nsys."""
    with pytest.raises(CaptureFailed) as info:
        run_capture(make_config(nsys_args=["--bogus"]))
    assert re.fullmatch(
        r"nsys refused its options \(nsys exited with status \d+\): "
        r"unrecognised option '--bogus'",
        str(info.value),
    ), str(info.value)
    assert files_in(reports) == []
    assert wait_until_none_left(test_mark) == []
