"""The reports folder under stress: vanishing files, permission errors, thousands of files,
bursts of events, half-written files, and two processes writing into one folder at once.

Tests run as root here, so ``chmod 000`` does not stop a read: permission errors are
made by patching ``Path.open`` to raise PermissionError for one file (the same exception
a non-root user meets), besides the chmod for runs as a normal user.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llamaprof.discover import (
    FolderWatcher,
    folder_signature,
    save_upload,
    scan_reports,
)
from llamaprof.errors import LlamaprofError
from llamaprof.model import ReportFormat

from shared_data import SEED_TEXT, shared_file

OLD = 1_600_000_000  # an mtime long past: finished files
SQLITE_HEAD = b"SQLite format 3\x00" + b"\x00" * 84
CSV_HEADER = (
    b"Time (%),Total Time (ns),Num Calls,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name\n"
)
ROOT = Path(__file__).resolve().parents[2]


def _finished(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- scanning ------------------------------------------------------------------------------


def test_scan_while_files_vanish(tmp_path: Path) -> None:
    """Scanning while another thread deletes files and folders never raises."""
    for i in range(400):
        _finished(tmp_path / f"d{i % 20}" / f"r{i}.csv", CSV_HEADER)
    stop = threading.Event()

    def delete() -> None:
        for path in sorted(tmp_path.rglob("*.csv"), reverse=True):
            path.unlink()
            time.sleep(0.0005)  # spread over several scans
            if stop.is_set():
                return
        for folder in tmp_path.glob("d*"):
            folder.rmdir()

    thread = threading.Thread(target=delete)
    thread.start()
    scans: list = []
    try:
        while thread.is_alive():
            scans.append(scan_reports(tmp_path))
            folder_signature(tmp_path)
    finally:
        stop.set()
        thread.join()
    # Each scan lists files as readable, or (vanished between listing and reading) with a reason.
    for entries in scans:
        for e in entries:
            assert e.format is ReportFormat.STATS_CSV or e.error, e
            assert e.error in (None, "cannot be read (No such file or directory)"), e.error
    assert len(scans) >= 2  # several scans ran while files were vanishing
    assert scan_reports(tmp_path) == []


def test_file_vanishing_between_listing_and_reading(tmp_path: Path, monkeypatch) -> None:
    """A file deleted after it was listed but before it is sniffed is listed with the reason."""
    import llamaprof.sources

    _finished(tmp_path / "a.txt", SEED_TEXT.read_bytes())
    _finished(tmp_path / "b.txt", SEED_TEXT.read_bytes())
    real_sniff = llamaprof.sources.sniff

    def sniff_after_delete(path):
        if Path(path).name == "a.txt":
            Path(path).unlink()
        return real_sniff(path)

    monkeypatch.setattr(llamaprof.sources, "sniff", sniff_after_delete)
    entries = [(e.rel, e.format, e.error) for e in scan_reports(tmp_path)]
    assert entries == [
        ("a.txt", None, "cannot be read (No such file or directory)"),
        ("b.txt", ReportFormat.STATS_TEXT, None),
    ]
    monkeypatch.undo()
    assert [e.rel for e in scan_reports(tmp_path)] == ["b.txt"]


def test_unreadable_file_is_listed_with_its_reason(tmp_path: Path, monkeypatch) -> None:
    """A file that raises PermissionError on open is listed as unreadable; the others read."""
    locked = _finished(tmp_path / "locked.txt", SEED_TEXT.read_bytes())
    _finished(tmp_path / "open.txt", SEED_TEXT.read_bytes())
    locked.chmod(0)  # bites for a normal user; as root the patch below does
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    entries = {e.rel: e for e in scan_reports(tmp_path)}
    assert entries["locked.txt"].error == "cannot be read (Permission denied)"
    assert entries["open.txt"].format is ReportFormat.STATS_TEXT
    from llamaprof.sources import load_report

    with pytest.raises(LlamaprofError, match=r"^locked.txt: cannot be read \(Permission denied\)$"):
        load_report(locked)


def test_unlistable_subfolder_is_skipped(tmp_path: Path, monkeypatch) -> None:
    """A subfolder that cannot be listed is passed over; the rest of the folder is scanned."""
    _finished(tmp_path / "a.txt", SEED_TEXT.read_bytes())
    _finished(tmp_path / "secret" / "b.txt", SEED_TEXT.read_bytes())
    real_scandir = os.scandir

    def guarded_scandir(path="."):
        if Path(path).name == "secret":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    assert [e.rel for e in scan_reports(tmp_path)] == ["a.txt"]
    assert [s[0] for s in folder_signature(tmp_path)] == ["a.txt"]


def test_three_thousand_files_are_all_listed(tmp_path: Path) -> None:
    """3,000 files (reports and junk, in 30 folders): each listed once, half of them readable."""
    kinds = [CSV_HEADER, SQLITE_HEAD, b"not a report\n", b""]
    for i in range(3000):
        _finished(tmp_path / f"f{i % 30:02d}" / f"r{i:04d}.csv", kinds[i % 4])
    entries = scan_reports(tmp_path)
    assert len(entries) == 3000
    assert entries[0].rel == "f00/r0000.csv" and entries[-1].rel == "f29/r2999.csv"
    assert sum(e.readable for e in entries) == 1500
    # f00 holds r0000, r0030, r0060...: kinds 0 (CSV), 2 (junk), 0 (CSV).
    assert [e.rel for e in entries if e.readable][:2] == ["f00/r0000.csv", "f00/r0060.csv"]
    assert [s[0] for s in folder_signature(tmp_path)] == [e.rel for e in entries]


# --- watching ------------------------------------------------------------------------------


def test_burst_of_events_is_survived_and_the_scan_shows_the_end_state(tmp_path: Path) -> None:
    """500 files written, renamed and half deleted at once: the watcher keeps up, no crash."""
    folder = tmp_path / "reports"
    folder.mkdir()
    watcher = FolderWatcher()
    try:
        assert watcher.watch(folder)
        g0 = watcher.generation
        for i in range(500):
            tmp = folder / f".r{i}.csv.part"
            tmp.write_bytes(CSV_HEADER)
            os.utime(tmp, (OLD, OLD))
            os.replace(tmp, folder / f"r{i}.csv")
        for i in range(0, 500, 2):
            (folder / f"r{i}.csv").unlink()
        assert _wait_for(lambda: watcher.generation >= g0 + 500)
        # The observer thread is alive and still reports changes after the burst.
        assert watcher._observer.is_alive()
        g1 = watcher.generation
        _finished(folder / "last.csv", CSV_HEADER)
        assert _wait_for(lambda: watcher.generation > g1)
        assert watcher.watch(folder)  # same folder, same watch: no new events, no error
    finally:
        watcher.stop()
    entries = scan_reports(folder)
    assert len(entries) == 251 and all(e.readable for e in entries)
    assert {e.rel for e in entries} == {f"r{i}.csv" for i in range(1, 500, 2)} | {"last.csv"}


def test_watcher_survives_the_folder_deleted_and_recreated_twice(tmp_path: Path) -> None:
    """Deleting and re-creating the folder twice: each new folder is watched again."""
    import shutil

    folder = tmp_path / "reports"
    watcher = FolderWatcher()
    try:
        assert watcher.watch(folder) is False  # absent: not an error
        for round_ in range(2):
            folder.mkdir()
            assert watcher.watch(folder)
            g = watcher.generation
            save_upload(folder, f"r{round_}.csv", CSV_HEADER)
            assert _wait_for(lambda g=g: watcher.generation > g)
            shutil.rmtree(folder)
            assert _wait_for(lambda: watcher.watch(folder) is False)
        assert watcher._observer.is_alive()
    finally:
        watcher.stop()


def test_watcher_survives_a_folder_it_may_not_watch(tmp_path: Path, monkeypatch) -> None:
    """A folder the watcher is refused (PermissionError, inotify limit) falls back to polling."""
    folder = tmp_path / "reports"
    folder.mkdir()
    watcher = FolderWatcher()
    try:
        real_schedule = watcher._observer.schedule

        def refused(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(watcher._observer, "schedule", refused)
        assert watcher.watch(folder) is False  # the app then polls folder_signature
        monkeypatch.setattr(watcher._observer, "schedule", real_schedule)
        assert watcher.watch(folder) is True  # retried on the next refresh
        g = watcher.generation
        save_upload(folder, "r.csv", CSV_HEADER)
        assert _wait_for(lambda: watcher.generation > g)
    finally:
        watcher.stop()


# --- half-written files --------------------------------------------------------------------


def test_a_file_being_written_is_not_read_and_temp_names_are_never_listed(tmp_path: Path):
    """A fresh file is ``settling`` (not read); ``*.part``, ``*.tmp`` and hidden files never show."""
    fresh = tmp_path / "copying.txt"
    fresh.write_bytes(SEED_TEXT.read_bytes()[:300])
    for name in ("x.txt.part", ".x.txt.1a2b.part", "y.tmp", ".hidden.txt", "z.crdownload"):
        _finished(tmp_path / name, SEED_TEXT.read_bytes())
    (entry,) = scan_reports(tmp_path)
    assert (entry.rel, entry.settling, entry.format, entry.error) == (
        "copying.txt", True, None, None,
    )  # fmt: skip
    (entry,) = scan_reports(tmp_path, now_ns=fresh.stat().st_mtime_ns + 10**9)
    assert (entry.settling, entry.readable) == (False, True)


class _FailingStream:
    """An upload stream that yields 3 MiB and then fails, like a dropped connection."""

    def __init__(self, exc: BaseException) -> None:
        self.sent = 0
        self.exc = exc

    def read(self, size: int = -1) -> bytes:
        if self.sent >= 3 << 20:
            raise self.exc
        self.sent += 1 << 20
        return b"x" * (1 << 20)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), RuntimeError("gone")])
def test_upload_failing_mid_write_leaves_nothing(tmp_path: Path, exc: BaseException) -> None:
    """A write that fails half-way leaves no file, not even the hidden temporary one."""
    folder = tmp_path / "reports"
    _finished(folder / "run.txt", b"old")
    with pytest.raises(LlamaprofError if isinstance(exc, OSError) else RuntimeError):
        save_upload(folder, "run.txt", _FailingStream(exc))
    assert sorted(p.name for p in folder.iterdir()) == ["run.txt"]
    assert (folder / "run.txt").read_bytes() == b"old"


def test_upload_interrupted_by_fsync_failure_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    """A failure after the last byte (fsync on a full disk) is reported; nothing stays."""
    folder = tmp_path / "reports"
    folder.mkdir()

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(LlamaprofError, match=r"^cannot write to .*: Input/output error$"):
        save_upload(folder, "run.txt", b"data")
    assert list(folder.iterdir()) == []


# --- two processes, one folder -------------------------------------------------------------

_UPLOADER = """
import sys, time
from pathlib import Path
from llamaprof.discover import save_upload
folder, tag, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
for i in range(25):
    save_upload(folder, "same.nsys-rep", f"{tag}-{i}".encode())
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT,
    )  # fmt: skip


def test_two_processes_saving_one_name_lose_nothing(tmp_path: Path) -> None:
    """Two processes saving 25 uploads each under one name at once: 50 distinct files."""
    folder = tmp_path / "reports"
    folder.mkdir()
    go = tmp_path / "go"
    procs = [_spawn(_UPLOADER, str(folder), tag, str(go)) for tag in ("A", "B")]
    time.sleep(0.3)
    go.touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    files = sorted(folder.iterdir())
    assert len(files) == 50
    assert sorted(p.read_text() for p in files) == sorted(
        f"{tag}-{i}" for tag in "AB" for i in range(25)
    )
    assert not any(p.name.startswith(".") for p in files)


_CACHE_FILLER = """
import hashlib, json, sys, time
from pathlib import Path
from llamaprof.cache import load_run_cached
report, cache, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
run = load_run_cached(report, cache_dir=cache)
print(json.dumps({k: hashlib.sha256(v.to_csv().encode()).hexdigest()
                  for k, v in sorted(run.summaries.items())}))
"""


def _digest(run) -> dict[str, str]:
    return {
        k: hashlib.sha256(v.to_csv().encode()).hexdigest() for k, v in sorted(run.summaries.items())
    }


@pytest.mark.parametrize("kind", ["sqlite", "text"])
def test_two_processes_filling_the_cache_at_once(tmp_path: Path, kind: str) -> None:
    """Two processes read one uncached report at once: both get the right run, the entry is valid."""
    from llamaprof.cache import cached_run
    from llamaprof.sources import load_report

    source = (
        shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite")
        if kind == "sqlite"
        else SEED_TEXT
    )
    report = _finished(tmp_path / f"report.{kind}", source.read_bytes())
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    expected = _digest(load_report(report))
    procs = [_spawn(_CACHE_FILLER, str(report), str(cache), str(go)) for _ in range(2)]
    time.sleep(0.5)
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out) == expected
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert len(entries) == 1, entries  # one entry, no temporary file left
    hit = cached_run(report, cache_dir=cache)
    assert hit is not None and _digest(hit) == expected
