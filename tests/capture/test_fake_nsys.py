"""The stand-in nsys (tests/fakes/fake_nsys.py) behaves like nsys in what its users rely on.

It is NOT nsys; it remains for the tests that need CUDA data in a captured report (the real
nsys is in test_real_nsys.py). These tests pin its behaviour down, so a stand-in bug cannot
hide a bug of the tests that use it.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from llamaprof.capture.nsys import export_sqlite, find_nsys, nsys_version
from llamaprof.errors import ExportFailed, NsysNotFound

# A target that runs until SIGINT, then exits with status 3 after a short cleanup.
TARGET = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, lambda *a: sys.exit(3))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_version_and_lookup(fake_bin, monkeypatch):
    """`nsys --version` is parsed; nsys is found on PATH; a bad path is a clear error."""
    assert nsys_version(str(fake_bin / "nsys")) == "2025.1.3.140-251234567890v0"
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    assert find_nsys() == str(fake_bin / "nsys")
    try:
        find_nsys("/no/such/nsys")
    except NsysNotFound as exc:
        assert str(exc) == (
            "nsys not found: /no/such/nsys; give --nsys PATH or capture with --no-profile"
        )
    else:
        raise AssertionError("no error")


def test_profile_writes_only_after_the_target_exits(fake_nsys, tmp_path, nsys_log):
    """SIGINT to the target ends it; the report appears only then; the status passes on."""
    out = tmp_path / "r"
    proc = subprocess.Popen(
        [
            fake_nsys,
            "profile",
            "-o",
            str(out),
            "--trace=cuda,nvtx,osrt",
            sys.executable,
            "-c",
            TARGET,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    events = [json.loads(line) for line in nsys_log.read_text().splitlines()]
    child = events[0]["child"]
    time.sleep(0.2)
    assert not (tmp_path / "r.nsys-rep").exists()
    assert Path(f"/proc/{child}").exists()
    subprocess.run(["kill", "-INT", str(child)], check=True)
    assert proc.wait(10) == 3
    proc.stdout.close()
    report = (tmp_path / "r.nsys-rep").read_bytes()
    assert report.startswith(b"NVIDIA Tegra Profiler Report 2025@1@3@140\n")
    events = [json.loads(line) for line in nsys_log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "target-exit"]
    assert events[1]["status"] == 3


def test_profile_forwards_signals_to_the_target(fake_nsys, tmp_path, nsys_log):
    """A SIGINT sent to the stand-in itself goes on to the target, as nsys does."""
    proc = subprocess.Popen(
        [fake_nsys, "profile", "-o", str(tmp_path / "f"), sys.executable, "-c", TARGET],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 3
    proc.stdout.close()
    events = [json.loads(line) for line in nsys_log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "signal", "target-exit"]
    assert events[1]["signal"] == "SIGINT"
    assert (tmp_path / "f.nsys-rep").exists()


def test_export_builds_an_sqlite_like_nsys(fake_nsys, tmp_path):
    """`nsys export --type sqlite` gives an SQLite file with the CUDA tables of an export."""
    subprocess.run(
        [fake_nsys, "profile", "-o", str(tmp_path / "e"), sys.executable, "-c", "0"],
        check=True,
        capture_output=True,
    )
    command = export_sqlite(fake_nsys, tmp_path / "e.nsys-rep", tmp_path / "e.sqlite", timeout_s=30)
    assert command[1:4] == ["export", "--type", "sqlite"]
    db = sqlite3.connect(tmp_path / "e.sqlite")
    names = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {
        "StringIds",
        "CUPTI_ACTIVITY_KIND_RUNTIME",
        "CUPTI_ACTIVITY_KIND_KERNEL",
        "CUPTI_ACTIVITY_KIND_MEMCPY",
        "CUPTI_ACTIVITY_KIND_MEMSET",
        "ENUM_CUDA_MEMCPY_OPER",
    } <= names
    assert db.execute("select count(*) from CUPTI_ACTIVITY_KIND_KERNEL").fetchone() == (6,)
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.nsys-rep", "e.sqlite"]


def test_export_failure_is_reported(fake_nsys, tmp_path, monkeypatch):
    """A failing export raises ExportFailed with nsys's last line."""
    subprocess.run(
        [fake_nsys, "profile", "-o", str(tmp_path / "x"), sys.executable, "-c", "0"],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("FAKE_NSYS_EXPORT_FAIL", "1")
    try:
        export_sqlite(fake_nsys, tmp_path / "x.nsys-rep", tmp_path / "x.sqlite", timeout_s=30)
    except ExportFailed as exc:
        assert str(exc) == (
            "nsys export failed with status 1: Exporting failed: stand-in export failure "
            "(FAKE_NSYS_EXPORT_FAIL=1)"
        )
    else:
        raise AssertionError("no error")
