"""The .nsys-rep reader: header version, export once through nsys, reuse, and its errors.

nsys cannot be installed here, so each test writes a tiny fake ``nsys`` (a Python script)
into tmp_path. The fake report is a real header followed by SQL text; the fake
``nsys export`` builds the SQLite export from that SQL and logs each call to a file.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.nsys_rep import NSYS_ENV, nsys_rep_version, read_nsys_rep

HEADER_2025 = b"NVIDIA Tegra Profiler Report 2025@5@1@121-255436116512v0.\n\x0bLocal (CLI)\x12\n"
PAYLOAD = b"\x00-- SQL --\n"
SQL = """
CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER, end INTEGER, nameId INTEGER);
INSERT INTO StringIds VALUES (1, 'cudaLaunchKernel_v7000');
INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (0, 10, 1), (20, 50, 1);
"""

FAKE_NSYS = """#!{python}
import sqlite3, sys
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["--version"]:
    print("NVIDIA Nsight Systems version 2025.5.1.121-255436116512v0")
    sys.exit(0)
args = sys.argv[1:]
assert args[:3] == ["export", "--type", "sqlite"], args
output, report = args[args.index("--output") + 1], args[-1]
data = open(report, "rb").read()
if b"-- SQL --" not in data:
    print("Importing data... failed", file=sys.stderr)
    print("Error: {{report}} is not a valid report file".format(report=report), file=sys.stderr)
    sys.exit(1)
con = sqlite3.connect(output)
con.executescript(data.split(b"-- SQL --\\n", 1)[1].decode())
con.commit()
print("Exported successfully to", output)
"""


@pytest.fixture
def fake_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake nsys in tmp_path/bin, named by $LLAMAPROF_NSYS; returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "nsys-calls.log"
    script = bin_dir / "nsys-fake"
    script.write_text(FAKE_NSYS.format(python=sys.executable, log=str(log)))
    script.chmod(0o755)
    monkeypatch.setenv(NSYS_ENV, str(script))
    return log


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _report(folder: Path, header: bytes = HEADER_2025, sql: str = SQL) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "report1.nsys-rep"
    path.write_bytes(header + PAYLOAD + sql.encode())
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


def test_exports_once_then_reuses_the_sqlite(tmp_path: Path, fake_nsys: Path):
    """The first read runs nsys export into <stem>.sqlite; the second reads that, no nsys."""
    report = _report(tmp_path / "reports")
    run = load_report(report)
    assert run.format is ReportFormat.NSYS_REP
    assert run.path == report
    assert run.label == "report1"
    assert run.summaries[reports.API][["name", "total_ns", "count"]].values.tolist() == [
        ["cudaLaunchKernel", 40, 2]
    ]
    assert run.info.nsys_version == "2025.5.1.121"  # the export has no metadata: header's
    (call,) = _calls(fake_nsys)
    export = report.with_suffix(".sqlite")
    words = call.split(" ")
    assert words[:4] == ["export", "--type", "sqlite", "--output"]
    assert words[5:] == ["--force-overwrite", "true", str(report)]
    assert Path(words[4]).parent == report.parent  # a temporary name, renamed into place
    assert export.exists()
    assert sorted(p.name for p in report.parent.iterdir()) == ["report1.nsys-rep", "report1.sqlite"]

    again = read_nsys_rep(report)
    assert len(_calls(fake_nsys)) == 1
    assert again.summaries[reports.API].equals(run.summaries[reports.API])


def test_a_stale_export_is_redone(tmp_path: Path, fake_nsys: Path):
    """An export older than the report (the report was re-captured) is exported again."""
    report = _report(tmp_path / "reports")
    read_nsys_rep(report)
    old = time.time() - 100
    os.utime(report.with_suffix(".sqlite"), (old, old))
    read_nsys_rep(report)
    assert len(_calls(fake_nsys)) == 2


def test_existing_export_is_read_without_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With no nsys at all, a fresh .sqlite beside the report is enough."""
    import sqlite3

    report = _report(tmp_path / "reports")
    con = sqlite3.connect(report.with_suffix(".sqlite"))
    con.executescript(SQL)
    con.commit()
    con.close()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(NSYS_ENV, raising=False)
    run = read_nsys_rep(report)
    assert run.summaries[reports.API]["total_ns"].tolist() == [40]


def test_without_nsys_the_message_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No nsys and no export: one line naming the report's nsys version and the way out."""
    report = _report(tmp_path / "reports")
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
    report = _report(tmp_path / "reports")
    monkeypatch.setenv(NSYS_ENV, str(tmp_path / "no-such-nsys"))
    with pytest.raises(ReportParseError, match=r"was not found on \$LLAMAPROF_NSYS \("):
        read_nsys_rep(report)


def test_llamaprof_nsys_wins_over_path(tmp_path: Path, fake_nsys: Path, monkeypatch):
    """$LLAMAPROF_NSYS is used even when another nsys is on PATH."""
    other = tmp_path / "path-bin"
    other.mkdir()
    decoy = other / "nsys"
    decoy.write_text("#!/bin/sh\necho decoy >&2\nexit 3\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    read_nsys_rep(_report(tmp_path / "reports"))
    assert len(_calls(fake_nsys)) == 1


def test_export_failure_gives_the_last_stderr_line(tmp_path: Path, fake_nsys: Path):
    """A failing nsys export is reported with its last stderr line; no file is left behind."""
    folder = tmp_path / "reports"
    folder.mkdir()
    report = folder / "broken.nsys-rep"
    report.write_bytes(HEADER_2025 + b"\x00 not a report body")
    with pytest.raises(ReportParseError) as caught:
        read_nsys_rep(report)
    assert caught.value.reason == (
        f"nsys export failed (nsys 2025.5.1.121): Error: {report} is not a valid report file"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["broken.nsys-rep"]


def test_read_only_folder_exports_into_the_user_cache(
    tmp_path: Path, fake_nsys: Path, monkeypatch: pytest.MonkeyPatch
):
    """When the report's folder is not writable the export goes to ~/.cache/llamaprof/exports."""
    report = _report(tmp_path / "shared")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != report.parent)
    run = read_nsys_rep(report)
    assert run.summaries[reports.API]["count"].tolist() == [2]
    exports = list((tmp_path / "cache" / "llamaprof" / "exports").iterdir())
    assert len(exports) == 1 and exports[0].name.startswith("report1-")
    assert not report.with_suffix(".sqlite").exists()
    read_nsys_rep(report)
    assert len(_calls(fake_nsys)) == 1
