"""A capture that crashes half-way leaves the reports folder consistent and says so.

No real llama-server is needed: the stand-in ``tests/fakes/fake_server.py`` (a server that
stays "loading" forever) is enough to be mid-capture. Two crashes: a bug raising inside
the capture (in process), and the capturing process killed with SIGKILL (nothing of
llamaprof runs any more to clean up).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from app.support import make_app

from llamaprof.capture import runner
from llamaprof.capture.config import CaptureConfig
from llamaprof.capture.runner import (
    BackgroundCapture,
    capture_running,
    interrupted_captures,
    plan_runs,
    run_capture,
)
from llamaprof.capture.server import descendants, free_port, listening_pid, pid_alive
from llamaprof.discover import scan_reports
from llamaprof.record import list_records

FAKES = Path(__file__).resolve().parents[1] / "fakes"


@pytest.fixture
def fake_server(tmp_path: Path) -> str:
    """An executable llama-server stand-in that never finishes loading."""
    path = tmp_path / "bin" / "fake-loading-server"
    path.parent.mkdir()
    path.write_text(
        f"#!{sys.executable}\nimport runpy, sys\n"
        f"runpy.run_path({str(FAKES / 'fake_server.py')!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: str):
    """Reports folder, model file, and a capture lock of this test's own."""
    monkeypatch.setenv("LLAMAPROF_CAPTURE_LOCK", str(tmp_path / "capture.lock"))
    reports = tmp_path / "reports"
    reports.mkdir()
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + b"\x00" * 64)
    return reports, model, fake_server


def _config(reports: Path, model: Path, server: str, **extra) -> CaptureConfig:
    return CaptureConfig(
        server=server, model=str(model), server_args=[], profile=False, nsys=None,
        reports_dir=reports, name="crashed", health_timeout_s=60, stop_timeout_s=5, **extra,
    )  # fmt: skip


def test_bug_mid_capture_stops_the_server_and_keeps_nothing(setup, monkeypatch) -> None:
    """An unexpected exception while waiting for the server: server killed, folder empty."""
    reports, model, server = setup
    seen: dict[str, object] = {}

    def broken_wait(self, *args, **kwargs):
        deadline = time.monotonic() + 10
        while listening_pid(self.port, [self.root.pid]) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the stand-in is up and answering 503
        seen["pid"] = self.root.pid
        seen["tmp"] = sorted(p.name for p in reports.iterdir())
        raise RuntimeError("a bug in the capture code")

    monkeypatch.setattr(runner.ServerProcess, "wait_healthy", broken_wait)
    with pytest.raises(RuntimeError, match="a bug in the capture code"):
        run_capture(_config(reports, model, server))
    assert seen["tmp"] == [".crashed.capture-tmp"]  # it was writing under a hidden name
    assert list(reports.iterdir()) == []
    assert not pid_alive(seen["pid"])
    assert not capture_running()

    job = BackgroundCapture()  # the app's runner turns the bug into its one-line error
    job.start(_config(reports, model, server))
    assert job.wait(30)
    assert str(job.error) == "unexpected error: RuntimeError: a bug in the capture code"
    assert list(reports.iterdir()) == []
    assert descendants(os.getpid()) == []


_CAPTURE = """
import sys
from pathlib import Path
from llamaprof.capture.config import CaptureConfig
from llamaprof.capture.runner import run_capture
reports, model, server, port = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
run_capture(CaptureConfig(server=server, model=model, server_args=[], profile=False,
            reports_dir=reports, name="crashed", health_timeout_s=120, port=port))
"""


def test_killed_capture_leaves_only_a_hidden_folder_and_is_reported(setup, tmp_path) -> None:
    """SIGKILL mid-capture: the server stops, no run appears, the leftover is reported."""
    reports, model, server = setup
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CAPTURE, str(reports), str(model), server, str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    server_pid = None
    try:
        deadline = time.monotonic() + 20
        while server_pid is None and time.monotonic() < deadline:
            server_pid = listening_pid(port, descendants(proc.pid))
            time.sleep(0.05)
        assert server_pid is not None, proc.stderr.read() if proc.poll() is not None else ""
        assert capture_running()  # the lock names a live process...
        assert interrupted_captures(reports) == []  # ...so its folder is not a leftover
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # The kernel stops the server (its own session) once llamaprof is gone: no
        # llama-server is left holding a GPU.
        deadline = time.monotonic() + 10
        while pid_alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(server_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        if server_pid is not None and pid_alive(server_pid):
            os.killpg(server_pid, signal.SIGKILL)

    assert sorted(p.name for p in reports.iterdir()) == [".crashed.capture-tmp"]
    assert scan_reports(reports) == [] and list_records(reports) == []
    assert not capture_running()
    assert interrupted_captures(reports) == [reports / ".crashed.capture-tmp"]
    (planned,) = plan_runs(_config(reports, model, server))
    assert planned.name == "crashed-2"  # the leftover's name is never reused

    # The app says what happened, in the sidebar, and every page still works.
    os.environ["LLAMAPROF_NO_WATCH"] = "1"
    st.cache_data.clear()
    try:
        at = make_app(reports).run()
        assert not at.exception
        (note,) = [c.value for c in at.sidebar.caption if "interrupted" in c.value]
        assert note.startswith(":orange[:material/warning:] .crashed.capture-tmp: a capture was")
    finally:
        del os.environ["LLAMAPROF_NO_WATCH"]


_PROFILED_CAPTURE = """
import sys
from pathlib import Path
from llamaprof.capture.config import CaptureConfig
from llamaprof.capture.runner import run_capture
reports, model, server, nsys = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
run_capture(CaptureConfig(server=server, model=model, server_args=[], nsys=nsys,
            reports_dir=reports, name="crashed", health_timeout_s=120))
"""


def test_killed_capture_under_nsys_leaves_no_process(setup, real_nsys, monkeypatch) -> None:
    """SIGKILL to llamaprof while nsys profiles: the kernel tells the supervisor (SIGTERM),
    which stops nsys, its detached agent and the server; none of them outlives llamaprof."""
    from capture.processes import MARK_ENV, marked_processes, wait_until_none_left

    reports, model, server = setup
    mark = f"crash-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv(MARK_ENV, mark)
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROFILED_CAPTURE, str(reports), str(model), server, real_nsys],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        running: list[str] = []
        while time.monotonic() < deadline:  # until the stand-in server runs under nsys
            running = marked_processes(mark)
            if any("--start-agent" in p for p in running) and any(
                "fake-loading-server" in p and "profile" not in p for p in running
            ):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"nsys never started its target: {running}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until_none_left(mark) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert sorted(p.name for p in reports.iterdir()) == [".crashed.capture-tmp"]
    assert interrupted_captures(reports) == [reports / ".crashed.capture-tmp"]
