"""The .nsys-rep reader: header version, export once through nsys, reuse, and its errors.

Exports run the real nsys (2022.4.2, installed by ``make test``) on a real report copied from
../shared/data/nsys/nsys-rep, through a wrapper that logs each call and then execs it, so a
test can count the exports. Headers of newer nsys versions and the "no nsys at all" cases
need no nsys: their reports are a real header followed by filler, never exported.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.nsys_rep import NSYS_ENV, nsys_rep_version, read_nsys_rep
from llamaprof.sources.sqlite_export import read_sqlite

from shared_data import shared_file

HEADER_2025 = b"NVIDIA Tegra Profiler Report 2025@5@1@121-255436116512v0.\n\x0bLocal (CLI)\x12\n"
#: A real report of nsys 2022.4.2 (a CUDA program's, from ../shared/data/nsys).
REAL = "Pandananana__python-hpc__q1_1"

LOGGING_NSYS = """#!/bin/sh
printf '%s\\n' "$*" >> {log}
exec {nsys} "$@"
"""


@pytest.fixture
def logged_nsys(real_nsys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real nsys behind a wrapper named by $LLAMAPROF_NSYS that logs each call; returns
    the log. The user cache goes to this test's folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "nsys-calls.log"
    script = bin_dir / "nsys-logged"
    script.write_text(LOGGING_NSYS.format(log=log, nsys=real_nsys))
    script.chmod(0o755)
    monkeypatch.setenv(NSYS_ENV, str(script))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return log


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _real_report(folder: Path) -> Path:
    """The real 2022.4.2 report, copied into ``folder`` as report1.nsys-rep."""
    folder.mkdir(exist_ok=True)
    path = folder / "report1.nsys-rep"
    shutil.copyfile(shared_file(f"nsys-rep/{REAL}.nsys-rep"), path)
    return path


def _header_only(folder: Path, header: bytes = HEADER_2025) -> Path:
    """A file that reads as a 2025.5 report by its header (never exported)."""
    folder.mkdir(exist_ok=True)
    path = folder / "report1.nsys-rep"
    path.write_bytes(header + b"\x00" * 64)
    return path


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (HEADER_2025, "2025.5.1.121"),
        (b"NVIDIA Tegra Profiler Report 2026@4@1@191-264138605071v0.\n\x0bLocal", "2026.4.1.191"),
        (b"NVIDIA Tegra Profiler Report 2024@6@2", "2024.6.2"),
        (b"NVIDIA Tegra Profiler Report\x00\x00\x01\x02binary", None),
    ],
    ids=["2025", "2026", "no-build", "old"],
)
def test_version_from_header(tmp_path: Path, header: bytes, version: str | None):
    """The writing build is read from the header; older headers carry none."""
    path = tmp_path / "r.nsys-rep"
    path.write_bytes(header + b"\x00" * 64)
    assert nsys_rep_version(path) == version


def test_version_of_a_file_that_is_not_a_report(tmp_path: Path):
    """A file without the NVIDIA header is refused."""
    path = tmp_path / "r.nsys-rep"
    path.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(ReportParseError, match="is not an nsys report"):
        nsys_rep_version(path)


def test_exports_once_then_reuses_the_sqlite(tmp_path: Path, logged_nsys: Path):
    """The first read runs nsys export into <stem>.sqlite (through a temporary name); the
    second reads that, no nsys. The read equals the shared SQLite export of the same run."""
    report = _real_report(tmp_path / "reports")
    run = load_report(report)
    assert run.format is ReportFormat.NSYS_REP
    assert run.path == report
    assert run.label == "report1"
    same_run = read_sqlite(shared_file(f"sqlite/{REAL}.sqlite"))
    for name in (reports.API, reports.KERNELS, reports.MEM_TIME, reports.MEM_SIZE):
        assert run.summaries[name].equals(same_run.summaries[name]), name
    assert run.summaries[reports.API][["name", "count"]].values.tolist()[:3] == [
        ["cuMemcpyHtoD_v2", 5], ["cuMemcpyDtoH_v2", 10], ["cuMemAlloc_v2", 6],
    ]  # fmt: skip
    (call,) = _calls(logged_nsys)
    export = report.with_suffix(".sqlite")
    words = call.split(" ")
    assert words[:4] == ["export", "--type", "sqlite", "--output"]
    assert words[5:] == ["--force-overwrite", "true", str(report)]
    assert Path(words[4]).parent == report.parent  # a temporary name, renamed into place
    assert export.exists()
    assert sorted(p.name for p in report.parent.iterdir()) == ["report1.nsys-rep", "report1.sqlite"]

    again = read_nsys_rep(report)
    assert len(_calls(logged_nsys)) == 1
    assert again.summaries[reports.API].equals(run.summaries[reports.API])


def test_a_stale_export_is_redone(tmp_path: Path, logged_nsys: Path):
    """An export older than the report (the report was re-captured) is exported again."""
    report = _real_report(tmp_path / "reports")
    read_nsys_rep(report)
    old = time.time() - 100
    os.utime(report.with_suffix(".sqlite"), (old, old))
    read_nsys_rep(report)
    assert len(_calls(logged_nsys)) == 2


def test_existing_export_is_read_without_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With no nsys at all, a fresh .sqlite beside the report is enough."""
    report = _header_only(tmp_path / "reports")
    con = sqlite3.connect(report.with_suffix(".sqlite"))
    con.executescript(
        "CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);"
        "CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER, end INTEGER, nameId INTEGER);"
        "INSERT INTO StringIds VALUES (1, 'cudaLaunchKernel_v7000');"
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (0, 10, 1), (20, 50, 1);"
    )
    con.commit()
    con.close()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("llamaprof.nsys.KNOWN_NSYS", ())
    monkeypatch.delenv(NSYS_ENV, raising=False)
    run = read_nsys_rep(report)
    assert run.summaries[reports.API][["name", "total_ns", "count"]].values.tolist() == [
        ["cudaLaunchKernel", 40, 2]
    ]
    assert run.info.nsys_version == "2025.5.1.121"  # the export has no metadata: header's


def test_without_nsys_the_message_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No nsys and no export: one line naming the report's nsys version and the way out."""
    report = _header_only(tmp_path / "reports")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("llamaprof.nsys.KNOWN_NSYS", ())
    monkeypatch.delenv(NSYS_ENV, raising=False)
    with pytest.raises(ReportParseError) as caught:
        load_report(report)
    assert str(caught.value) == (
        "report1.nsys-rep: is an nsys report (nsys 2025.5.1.121); nsys is needed to read it and "
        "was not found on PATH. Set LLAMAPROF_NSYS, or run `nsys export --type sqlite "
        "report1.nsys-rep` and add the .sqlite"
    )


def test_llamaprof_nsys_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """$LLAMAPROF_NSYS naming a missing file is reported as such, not silently ignored."""
    report = _header_only(tmp_path / "reports")
    monkeypatch.setenv(NSYS_ENV, str(tmp_path / "no-such-nsys"))
    with pytest.raises(ReportParseError, match=r"was not found on \$LLAMAPROF_NSYS \("):
        read_nsys_rep(report)


def test_llamaprof_nsys_wins_over_path(tmp_path: Path, logged_nsys: Path, monkeypatch):
    """$LLAMAPROF_NSYS is used even when another nsys is on PATH."""
    other = tmp_path / "path-bin"
    other.mkdir()
    decoy = other / "nsys"
    decoy.write_text("#!/bin/sh\necho decoy >&2\nexit 3\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    read_nsys_rep(_real_report(tmp_path / "reports"))
    assert len(_calls(logged_nsys)) == 1


def test_export_failure_gives_the_last_stderr_line(tmp_path: Path, logged_nsys: Path):
    """A report the real nsys cannot export (its body cut off) is reported with nsys's last
    stderr line; no file is left behind."""
    folder = tmp_path / "reports"
    folder.mkdir()
    report = folder / "broken.nsys-rep"
    whole = shared_file(f"nsys-rep/{REAL}.nsys-rep").read_bytes()
    report.write_bytes(whole[:300] + b"cut off here")
    with pytest.raises(ReportParseError) as caught:
        read_nsys_rep(report)
    assert caught.value.reason == (
        "nsys export failed: Exportation error: Section Table Reference magic number mismatch."
    )
    assert sorted(p.name for p in folder.iterdir()) == ["broken.nsys-rep"]
