"""The real nsys does what captures rely on (Debian's Nsight Systems 2022.4.2, no GPU).

Each run goes through the capture's supervisor, as in a capture, so nothing outlives a
test even when nsys misbehaves. What this nsys does differently from the old stand-in is
written where the capture depends on it (llamaprof/capture/server.py, supervisor.py):
it starts a detached agent, runs its target in a session of its own, ignores SIGTERM while
it profiles, and writes its temporary files into $TMPDIR.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from capture.processes import wait_until_none_left

from llamaprof.capture.nsys import export_sqlite, nsys_version
from llamaprof.capture.server import descendants, supervised

pytestmark = pytest.mark.server

# A target that runs until SIGINT, then exits with status 3.
TARGET = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, lambda *a: sys.exit(3))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
OPTIONS = ["--trace=osrt", "--sample=none", "--cpuctxsw=none"]


def test_version(real_nsys):
    """`nsys --version` is parsed into the version it prints."""
    said = subprocess.run([real_nsys, "--version"], capture_output=True, text=True, timeout=60)
    version = nsys_version(real_nsys)
    assert re.fullmatch(r"20\d\d\.\d+\.\d+(\.\d+)?-\w+", version)
    assert said.stdout.strip() == f"NVIDIA Nsight Systems version {version}"


def _profile(real_nsys: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """``nsys profile`` of TARGET under the supervisor, $TMPDIR in tmp_path/tmp; returns
    once the target has said it is ready."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        supervised([real_nsys, "profile", "-o", str(tmp_path / name), *OPTIONS,
                    sys.executable, "-c", TARGET]),
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the target never started"
        time.sleep(0.05)
    return proc, log


def _target(root: int) -> int:
    (pid,) = [
        p
        for p in descendants(root)
        if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[1:2] == [b"-c"]
        and b"ready" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    return pid


def test_report_written_after_the_target_exits_and_exported(real_nsys, tmp_path, test_mark):
    """SIGINT to the target ends it; the report appears only then; nsys exits with the
    target's status; its temporary file went to $TMPDIR; the export names the target."""
    proc, log = _profile(real_nsys, tmp_path, "r")
    target = _target(proc.pid)
    time.sleep(0.2)
    assert not (tmp_path / "r.nsys-rep").exists()
    subprocess.run(["kill", "-INT", str(target)], check=True)
    assert proc.wait(60) == 3
    lines = log.read_text().replace("\r", "\n").splitlines()
    assert lines[-2:] == ["Generated:", f"    {tmp_path}/r.nsys-rep"]
    (generating,) = [ln for ln in lines if ln.startswith("Generating ")]
    assert re.fullmatch(rf"Generating '{tmp_path}/tmp/nsys-report-[0-9a-f]+\.qdstrm'", generating)
    assert (tmp_path / "r.nsys-rep").read_bytes().startswith(b"NVIDIA Tegra Profiler Report")
    command = export_sqlite(
        real_nsys, tmp_path / "r.nsys-rep", tmp_path / "r.sqlite", timeout_s=120
    )
    assert command[1:4] == ["export", "--type", "sqlite"]
    db = sqlite3.connect(tmp_path / "r.sqlite")
    assert db.execute("select pid from PROCESSES where pid = ?", (target,)).fetchall() == [
        (target,)
    ]
    db.close()
    assert wait_until_none_left(test_mark) == []


def test_sigint_to_nsys_stops_its_target_cleanly(real_nsys, tmp_path, test_mark):
    """SIGINT to nsys (passed on by the supervisor) reaches the target, which exits cleanly;
    nsys writes its report and exits with the target's status."""
    proc, log = _profile(real_nsys, tmp_path, "s")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 3
    assert (tmp_path / "s.nsys-rep").exists()
    assert log.read_text().replace("\r", "\n").splitlines()[-1] == f"    {tmp_path}/s.nsys-rep"
    assert wait_until_none_left(test_mark) == []
