"""The reports folder: which files are runs, when they are finished, how new ones are saved."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from llamaprof.discover import (
    FolderWatcher,
    add_by_path,
    folder_signature,
    is_relevant_path,
    safe_name,
    save_upload,
    scan_reports,
    split_suffix,
    unique_path,
)
from llamaprof.errors import LlamaprofError
from llamaprof.model import ReportFormat
from llamaprof.policy import folder_choice_allowed

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "reports" / "gemma3-4b-f16-fa-seed.txt"
SQLITE_HEAD = b"SQLite format 3\x00" + b"\x00" * 84
OLD = 1_600_000_000  # seconds: an mtime long past, so files count as finished


def _write(path: Path, data: bytes, *, old: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if old:
        os.utime(path, (OLD, OLD))
    return path


def test_scan_lists_reports_recursively_with_format_and_size(tmp_path: Path) -> None:
    """Reports in subfolders are found, sorted by relative path, with sniffed format and size."""
    text = SEED.read_bytes()
    _write(tmp_path / "b" / "run2.txt", text)
    _write(tmp_path / "a.sqlite", SQLITE_HEAD)
    entries = scan_reports(tmp_path)
    assert [(e.rel, e.format, e.size, e.error) for e in entries] == [
        ("a.sqlite", ReportFormat.SQLITE, 100, None),
        ("b/run2.txt", ReportFormat.STATS_TEXT, len(text), None),
    ]
    assert all(e.readable for e in entries)


def test_scan_skips_temporary_hidden_cache_and_side_files(tmp_path: Path) -> None:
    """Files being written, hidden files, the cache folder and non-report files are not runs."""
    for name in (
        "x.txt.part", ".upload.abc.part", "y.tmp", ".hidden.txt", "README.md",
        "run.llamaprof.json", "notes.json", ".llamaprof-cache/k.pkl", ".git/HEAD",
    ):  # fmt: skip
        _write(tmp_path / name, b"data")
    _write(tmp_path / "real.sqlite", SQLITE_HEAD)
    assert [e.rel for e in scan_reports(tmp_path)] == ["real.sqlite"]


def test_sqlite_export_beside_nsys_rep_is_one_run(tmp_path: Path) -> None:
    """``X.sqlite`` next to ``X.nsys-rep`` is its export: only the .nsys-rep is listed."""
    _write(tmp_path / "run.nsys-rep", b"NVIDIA Tegra Profiler Report" + b"\x00" * 10)
    _write(tmp_path / "run.sqlite", SQLITE_HEAD)
    _write(tmp_path / "other.sqlite", SQLITE_HEAD)
    entries = scan_reports(tmp_path)
    assert [(e.rel, e.format) for e in entries] == [
        ("other.sqlite", ReportFormat.SQLITE),
        ("run.nsys-rep", ReportFormat.NSYS_REP),
    ]
    assert entries[1].export == tmp_path / "run.sqlite"


def test_unreadable_file_is_listed_with_its_reason(tmp_path: Path) -> None:
    """An empty file and a file of another kind are listed with a one-line reason."""
    _write(tmp_path / "empty.txt", b"")
    _write(tmp_path / "photo.bin", b"\x89PNG\r\n\x1a\n....")
    entries = {e.rel: e for e in scan_reports(tmp_path)}
    assert entries["empty.txt"].error == "is empty"
    assert entries["photo.bin"].error.startswith("is not an nsys report")
    assert not entries["photo.bin"].readable


def test_recently_written_file_is_settling(tmp_path: Path) -> None:
    """A file changed less than 0.5 s ago is not read yet; later it is."""
    path = _write(tmp_path / "new.txt", SEED.read_bytes(), old=False)
    mtime = path.stat().st_mtime_ns
    (entry,) = scan_reports(tmp_path, now_ns=mtime + 100_000_000)
    assert (entry.settling, entry.format, entry.readable) == (True, None, False)
    (entry,) = scan_reports(tmp_path, now_ns=mtime + 600_000_000)
    assert (entry.settling, entry.format, entry.readable) == (False, ReportFormat.STATS_TEXT, True)
    (entry,) = scan_reports(tmp_path, now_ns=mtime - 60 * 10**9)  # mtime far in the future
    assert entry.settling is False


def test_missing_folder_scans_empty(tmp_path: Path) -> None:
    """A folder that does not exist has no reports (and no error)."""
    assert scan_reports(tmp_path / "nope") == []
    assert folder_signature(tmp_path / "nope") == ()


def test_signature_changes_on_add_change_remove(tmp_path: Path) -> None:
    """The cheap folder fingerprint changes when a report appears, changes or disappears."""
    s0 = folder_signature(tmp_path)
    path = _write(tmp_path / "r.txt", b"abc")
    s1 = folder_signature(tmp_path)
    _write(path, b"abcd")
    s2 = folder_signature(tmp_path)
    path.unlink()
    assert s0 == () and s1 == (("r.txt", 3, OLD * 10**9),) and s2 == (("r.txt", 4, OLD * 10**9),)
    assert folder_signature(tmp_path) == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run.nsys-rep", "run.nsys-rep"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\run 1 (fa).sqlite", "run_1_fa.sqlite"),
        ("..", "report"),
        (".bashrc", "bashrc"),
        ("", "report"),
        ("x.part", "x_part"),
        ("résumé.txt", "r_sum.txt"),
        ("a/b/.nsys-rep", "report.nsys-rep"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    """User-given names lose folder parts, odd characters and leading dots, keep the extension."""
    assert safe_name(name) == expected


def test_split_suffix_keeps_nsys_rep_whole() -> None:
    """``.nsys-rep`` is one extension; other names split at the last dot."""
    assert split_suffix("a.b.nsys-rep") == ("a.b", ".nsys-rep")
    assert split_suffix("a.b.csv") == ("a.b", ".csv")
    assert split_suffix(".nsys-rep") == ("", ".nsys-rep")
    assert split_suffix(".bashrc") == (".bashrc", "")


def test_save_upload_never_overwrites(tmp_path: Path) -> None:
    """Saving the same name three times gives name, name-2, name-3; the first keeps its bytes."""
    first = save_upload(tmp_path, "run.nsys-rep", b"one")
    second = save_upload(tmp_path, "run.nsys-rep", b"two")
    third = save_upload(tmp_path, "../run.nsys-rep", io.BytesIO(b"three"))
    assert [p.name for p in (first, second, third)] == [
        "run.nsys-rep", "run-2.nsys-rep", "run-3.nsys-rep",
    ]  # fmt: skip
    assert [p.read_bytes() for p in (first, second, third)] == [b"one", b"two", b"three"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run-2.nsys-rep",
        "run-3.nsys-rep",
        "run.nsys-rep",
    ]  # fmt: skip: no temporary file left behind


def test_save_upload_concurrent_same_name(tmp_path: Path) -> None:
    """Eight threads saving one name at once get eight distinct files, none overwritten."""
    results: list[Path] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        path = save_upload(tmp_path, "same.txt", str(i).encode())
        with lock:
            results.append(path)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in results}) == 8
    assert sorted(p.read_text() for p in results) == [str(i) for i in range(8)]


def test_save_upload_creates_missing_folder(tmp_path: Path) -> None:
    """The reports folder is created when absent."""
    path = save_upload(tmp_path / "new" / "folder", "r.txt", b"x")
    assert path == tmp_path / "new" / "folder" / "r.txt"


def test_reports_named_like_readme_license_or_sources_are_listed(tmp_path: Path) -> None:
    """Only the extension decides: ``sources_of_latency.txt`` is a run, ``README.md`` is not."""
    for name in ("sources_of_latency.txt", "Readme-run.txt", "LICENSE-gpu.csv", "README.md"):
        _write(tmp_path / name, SEED.read_bytes())
    entries = scan_reports(tmp_path)
    assert [(e.rel, e.format) for e in entries] == [
        ("LICENSE-gpu.csv", ReportFormat.STATS_TEXT),
        ("Readme-run.txt", ReportFormat.STATS_TEXT),
        ("sources_of_latency.txt", ReportFormat.STATS_TEXT),
    ]


@pytest.mark.parametrize(
    ("existing", "name", "expected"),
    [
        ("x.nsys-rep", "x.sqlite", "x-2.sqlite"),
        ("x.qdrep", "x.sqlite", "x-2.sqlite"),
        ("x.sqlite", "x.nsys-rep", "x-2.nsys-rep"),
        ("x.sqlite", "x.qdrep", "x-2.qdrep"),
        ("x.nsys-rep", "x.txt", "x.txt"),
        ("x.txt", "x.sqlite", "x.sqlite"),
    ],
)
def test_unique_path_keeps_report_and_export_pairs_apart(
    tmp_path: Path, existing: str, name: str, expected: str
) -> None:
    """A new X.sqlite beside X.nsys-rep (or the reverse) would pair with it: it gets -2."""
    (tmp_path / existing).write_bytes(b"")
    assert unique_path(tmp_path, name) == tmp_path / expected


def test_uploaded_sqlite_does_not_take_over_an_existing_report(tmp_path: Path) -> None:
    """Uploading run.sqlite next to run.nsys-rep saves run-2.sqlite, listed as its own run."""
    _write(tmp_path / "run.nsys-rep", b"rep")
    saved = save_upload(tmp_path, "run.sqlite", SQLITE_HEAD)
    os.utime(saved, (OLD, OLD))
    assert saved == tmp_path / "run-2.sqlite"
    assert [(e.rel, e.export) for e in scan_reports(tmp_path)] == [
        ("run-2.sqlite", None),
        ("run.nsys-rep", None),
    ]


def test_claim_without_hard_links_never_overwrites(tmp_path: Path, monkeypatch) -> None:
    """Where hard links fail, a name taken between the check and the write is skipped, not replaced."""
    import llamaprof.discover as discover

    _write(tmp_path / "run.txt", b"old")
    offered = iter([tmp_path / "run.txt", tmp_path / "run-2.txt"])  # the first lost a race

    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(discover.os, "link", no_link)
    monkeypatch.setattr(discover, "unique_path", lambda folder, name: next(offered))
    saved = save_upload(tmp_path, "run.txt", b"new")
    assert saved == tmp_path / "run-2.txt"
    assert (tmp_path / "run.txt").read_bytes() == b"old"
    assert saved.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-2.txt", "run.txt"]


@pytest.mark.parametrize(
    ("address", "environ", "allowed", "why"),
    [
        ("127.0.0.1", {}, True, "The app listens on 127.0.0.1 only, so only this machine picks the folder."),
        ("localhost", {}, True, "The app listens on localhost only, so only this machine picks the folder."),
        ("::1", {}, True, "The app listens on ::1 only, so only this machine picks the folder."),
        ("0.0.0.0", {}, False, "Fixed by the server: this app listens on 0.0.0.0, so visitors cannot point it at other files. Set LLAMAPROF_REPORTS_DIR when starting it, or LLAMAPROF_ALLOW_FOLDER_CHANGE=1 to allow changing it from the browser."),
        ("", {}, False, "Fixed by the server: this app listens on every network interface, so visitors cannot point it at other files. Set LLAMAPROF_REPORTS_DIR when starting it, or LLAMAPROF_ALLOW_FOLDER_CHANGE=1 to allow changing it from the browser."),
        (None, {}, False, "Fixed by the server: this app listens on every network interface, so visitors cannot point it at other files. Set LLAMAPROF_REPORTS_DIR when starting it, or LLAMAPROF_ALLOW_FOLDER_CHANGE=1 to allow changing it from the browser."),
        ("192.168.1.5", {"LLAMAPROF_ALLOW_FOLDER_CHANGE": "0"}, False, "Fixed by the server: this app listens on 192.168.1.5, so visitors cannot point it at other files. Set LLAMAPROF_REPORTS_DIR when starting it, or LLAMAPROF_ALLOW_FOLDER_CHANGE=1 to allow changing it from the browser."),
        ("0.0.0.0", {"LLAMAPROF_ALLOW_FOLDER_CHANGE": "1"}, True, "LLAMAPROF_ALLOW_FOLDER_CHANGE=1 lets every visitor pick the folder."),
    ],
)  # fmt: skip
def test_folder_choice_only_on_loopback_or_opted_in(address, environ, allowed, why) -> None:
    """Visitors pick the folder (and add by path) only on loopback or with the opt-in."""
    assert folder_choice_allowed(address, environ) == (allowed, why)


def test_unique_path_counts_up(tmp_path: Path) -> None:
    """The first free name of ``stem-N.ext`` is chosen."""
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "a-2.txt").write_text("")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a-3.txt"


def test_add_by_path_links_a_report(tmp_path: Path) -> None:
    """A report elsewhere is linked into the folder under a free name; non-reports are refused."""
    outside = tmp_path / "elsewhere"
    src = _write(outside / "big.sqlite", SQLITE_HEAD)
    folder = tmp_path / "reports"
    added = add_by_path(folder, src)
    assert added == folder / "big.sqlite" and added.is_symlink()
    assert add_by_path(folder, src) == folder / "big-2.sqlite"
    assert [e.rel for e in scan_reports(folder)] == ["big-2.sqlite", "big.sqlite"]
    bad = _write(outside / "notes.bin", b"hello")
    with pytest.raises(LlamaprofError, match="is not an nsys report"):
        add_by_path(folder, bad)
    with pytest.raises(LlamaprofError, match="is not a file"):
        add_by_path(folder, outside / "missing.sqlite")


def test_relevant_paths(tmp_path: Path) -> None:
    """Events in the cache folder and on temporary files do not refresh the run list."""
    assert is_relevant_path(tmp_path, str(tmp_path / "r.txt"))
    assert is_relevant_path(tmp_path, str(tmp_path / "sub" / "r.sqlite"))
    assert not is_relevant_path(tmp_path, str(tmp_path / ".llamaprof-cache" / "x.pkl"))
    assert not is_relevant_path(tmp_path, str(tmp_path / ".r.txt.1234.part"))
    assert is_relevant_path(tmp_path, str(tmp_path))


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_watcher_sees_changes_and_survives_folder_removal(tmp_path: Path) -> None:
    """The generation grows on add/change/remove, and again after the folder is recreated."""
    folder = tmp_path / "reports"
    folder.mkdir()
    watcher = FolderWatcher()
    try:
        assert watcher.watch(folder)
        g0 = watcher.generation
        save_upload(folder, "r.txt", b"abc")
        assert _wait_for(lambda: watcher.generation > g0)
        g1 = watcher.generation
        (folder / "r.txt").unlink()
        assert _wait_for(lambda: watcher.generation > g1)
        shutil.rmtree(folder)
        assert _wait_for(lambda: not watcher.watch(folder))
        folder.mkdir()
        assert watcher.watch(folder)
        g2 = watcher.generation
        (folder / "again.txt").write_text("x")
        assert _wait_for(lambda: watcher.generation > g2)
    finally:
        watcher.stop()


def test_watcher_ignores_cache_writes(tmp_path: Path) -> None:
    """Writing into the cache folder does not bump the generation."""
    cache = tmp_path / ".llamaprof-cache"
    cache.mkdir()
    watcher = FolderWatcher()
    try:
        watcher.watch(tmp_path)
        g0 = watcher.generation
        (cache / "entry.pkl").write_bytes(b"x" * 10)
        time.sleep(0.5)
        assert watcher.generation == g0
    finally:
        watcher.stop()


def test_scan_sniffs_each_file_state_once(tmp_path: Path, monkeypatch) -> None:
    """A second scan reuses the sniff of an unchanged file; a new mtime or size sniffs again."""
    import llamaprof.sources as sources

    calls: list[str] = []
    real = sources.sniff

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(sources, "sniff", counting)
    report = _write(tmp_path / "a.sqlite", SQLITE_HEAD)
    _write(tmp_path / "junk.txt", b"not a report at all\n")
    first = scan_reports(tmp_path)
    assert sorted(calls) == ["a.sqlite", "junk.txt"]
    second = scan_reports(tmp_path)
    assert sorted(calls) == ["a.sqlite", "junk.txt"]  # nothing opened again
    assert [(e.format, e.error) for e in second] == [(e.format, e.error) for e in first]
    assert second[1].format is None and second[1].error.startswith("is not an nsys report")
    _write(report, SEED.read_bytes())  # same path, new content and size
    os.utime(report, (OLD + 5, OLD + 5))
    third = scan_reports(tmp_path)
    assert sorted(calls) == ["a.sqlite", "a.sqlite", "junk.txt"]
    assert third[0].format is ReportFormat.STATS_TEXT


def test_sniff_cache_stays_bounded(tmp_path: Path, monkeypatch) -> None:
    """The sniff cache drops its oldest entries beyond SNIFF_CACHE_SIZE."""
    from llamaprof import discover

    monkeypatch.setattr(discover, "SNIFF_CACHE_SIZE", 2)
    monkeypatch.setattr(discover, "_sniffed", discover.OrderedDict())
    paths = [_write(tmp_path / f"r{i}.sqlite", SQLITE_HEAD) for i in range(3)]
    for path in paths:
        assert discover.sniff_cached(path, 100, OLD * 10**9) == (ReportFormat.SQLITE, None)
    assert [key[0] for key in discover._sniffed] == [str(paths[1]), str(paths[2])]
