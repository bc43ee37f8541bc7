"""The on-disk run cache: exact round trips, invalidation, damage and concurrency."""

from __future__ import annotations

import json
import multiprocessing
import os
import struct
from pathlib import Path

import pandas as pd
import pytest

from llamaprof import cache
from llamaprof.cache import cached_run, file_identity, load_run_cached
from llamaprof.errors import ReportParseError


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A report file in its own folder."""
    folder = tmp_path / "reports"
    folder.mkdir()
    path = folder / "run1.txt"
    path.write_text("first version of the report")
    return path


@pytest.fixture(autouse=True)
def _isolated_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user cache inside the test's folder and ignore any LLAMAPROF_CACHE_DIR."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv(cache.ENV_CACHE_DIR, raising=False)


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.run")) if folder.exists() else []


def test_second_read_comes_from_cache_and_equals_fresh(report, loader, assert_same_run, make_run):
    """A second read does not call the loader and returns exactly what the loader returned."""
    first = load_run_cached(report, loader=loader)
    second = load_run_cached(report, loader=loader)
    assert loader.calls == 1
    assert_same_run(first, make_run(report))
    assert_same_run(second, make_run(report))
    assert len(_entries(report.parent / ".llamaprof-cache")) == 1


def test_object_columns_keep_their_exact_na_markers(report, loader):
    """None, pd.NA and NaN in object columns come back as the same markers, in place."""
    load_run_cached(report, loader=loader)
    df = cached_run(report).summaries["cuda_gpu_kern_sum"]
    assert df["demangled_name"].tolist()[0] == "first version of the report"
    assert df["demangled_name"].tolist()[1] is None
    assert df["demangled_name"].tolist()[2] is pd.NA
    assert isinstance(df["base_name"].tolist()[0], float)
    assert df["grid"].tolist() == [pd.NA, pd.NA, pd.NA]
    assert str(df["count"].dtype) == "Int64"
    assert str(df["label"].dtype) == "string"


def test_changed_mtime_is_read_again(report, loader):
    """Touching the file (new mtime) makes the next read go to the loader."""
    load_run_cached(report, loader=loader)
    st = report.stat()
    os.utime(report, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    load_run_cached(report, loader=loader)
    assert loader.calls == 2


def test_same_size_and_mtime_other_content_is_read_again(report, loader):
    """Content rewritten in place, size and mtime put back (touch -d), is not served stale."""
    load_run_cached(report, loader=loader)
    st = report.stat()
    report.write_text("FIRST VERSION OF THE REPORT")  # same length
    os.utime(report, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert report.stat().st_size == st.st_size and report.stat().st_mtime_ns == st.st_mtime_ns
    run = load_run_cached(report, loader=loader)
    assert loader.calls == 2
    assert run.summaries["cuda_gpu_kern_sum"]["name"][0] == "FIRST VERSION OF THE REPORT"


def test_content_check_alone_tells_same_size_and_mtime_apart(tmp_path):
    """The edge hash differs for two files of equal size and mtime, at the start or the end."""
    size = 300 * 1024
    a, b, c = (tmp_path / n for n in "abc")
    a.write_bytes(b"x" * size)
    b.write_bytes(b"y" + b"x" * (size - 1))
    c.write_bytes(b"x" * (size - 1) + b"y")
    for p in (a, b, c):
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    edges = {file_identity(p)["edges"] for p in (a, b, c)}
    assert len(edges) == 3
    assert {file_identity(p)["size"] for p in (a, b, c)} == {size}


def test_file_replaced_by_rename_is_read_fresh(report, loader):
    """A new file renamed over the report, even with the old size and mtime, is read again."""
    load_run_cached(report, loader=loader)
    st = report.stat()
    new = report.with_name("incoming.tmp")
    new.write_text("second version of the report")  # same length as the first
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, report)
    run = load_run_cached(report, loader=loader)
    assert loader.calls == 2
    assert run.summaries["cuda_gpu_kern_sum"]["name"][0] == "second version of the report"
    assert len(_entries(report.parent / ".llamaprof-cache")) == 1  # overwritten, not added


@pytest.mark.parametrize(
    "damage",
    [
        "edit-a-value",
        "flip-payload-byte",
        "truncate",
        "garbage",
        "empty",
        "header-not-json",
        "header-wrong-shape",
    ],
)
def test_damaged_entry_is_rebuilt_not_trusted(report, loader, assert_same_run, make_run, damage):
    """A corrupt or partial entry is never served: the report is read again and re-cached."""
    load_run_cached(report, loader=loader)
    (entry,) = _entries(report.parent / ".llamaprof-cache")
    data = bytearray(entry.read_bytes())
    if damage == "edit-a-value":  # still valid Parquet: only the checksum can tell
        at = data.rindex(b"first version of the report")
        data[at] = ord("F")
    elif damage == "flip-payload-byte":
        data[-100] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif damage == "empty":
        data = bytearray()
    else:
        header = b"{not json" if damage == "header-not-json" else json.dumps([1, 2]).encode()
        data = bytearray(cache._MAGIC + struct.pack("<Q", len(header)) + header)
    entry.write_bytes(bytes(data))
    assert cached_run(report) is None
    run = load_run_cached(report, loader=loader)
    assert loader.calls == 2
    assert_same_run(run, make_run(report))
    assert_same_run(cached_run(report), make_run(report))  # the rebuilt entry is good again


def test_unwritable_report_folder_falls_back_to_user_cache(report, loader, tmp_path):
    """When the cache folder beside the report cannot be made, the user cache is used."""
    (report.parent / ".llamaprof-cache").write_text("a file where the folder would go")
    load_run_cached(report, loader=loader)
    load_run_cached(report, loader=loader)
    assert loader.calls == 1
    assert len(_entries(tmp_path / "user-cache" / "llamaprof")) == 1


def test_read_only_report_folder_is_left_untouched(report, loader, tmp_path):
    """A report folder without write permission bits gets no cache folder, even for root."""
    report.parent.chmod(0o555)
    try:
        load_run_cached(report, loader=loader)
        load_run_cached(report, loader=loader)
        assert not (report.parent / ".llamaprof-cache").exists()
    finally:
        report.parent.chmod(0o755)
    assert loader.calls == 1
    assert len(_entries(tmp_path / "user-cache" / "llamaprof")) == 1


def test_no_writable_cache_still_reads(report, loader, tmp_path):
    """With no folder to write to, every read goes to the loader and nothing fails."""
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    first = load_run_cached(report, cache_dir=blocked, loader=loader)
    second = load_run_cached(report, cache_dir=blocked, loader=loader)
    assert loader.calls == 2
    assert first.info == second.info


def test_env_variable_picks_the_cache_folder(report, loader, tmp_path, monkeypatch):
    """LLAMAPROF_CACHE_DIR puts entries in that one folder."""
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "env-cache"))
    load_run_cached(report, loader=loader)
    assert len(_entries(tmp_path / "env-cache")) == 1
    assert not (report.parent / ".llamaprof-cache").exists()


def test_other_code_version_is_not_served(report, loader, monkeypatch):
    """An entry written by other reader code (another fingerprint) is rebuilt."""
    load_run_cached(report, loader=loader)
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another-version")
    load_run_cached(report, loader=loader)
    assert loader.calls == 2


def test_file_changing_during_the_read_is_not_cached(report, make_run, tmp_path):
    """What was read from a file that changed meanwhile is returned but not stored."""

    def changing_loader(path: Path):
        run = make_run(path)
        path.write_text("changed while it was being read")
        return run

    load_run_cached(report, cache_dir=tmp_path / "c", loader=changing_loader)
    assert _entries(tmp_path / "c") == []


def test_frame_that_would_not_round_trip_is_not_cached(report, make_run, tmp_path):
    """A frame with values the format cannot hold exactly is returned but not cached."""

    def odd_loader(path: Path):
        run = make_run(path)
        run.summaries["cuda_api_sum"] = pd.DataFrame({"name": pd.Series([1, "a"], dtype=object)})
        return run

    run = load_run_cached(report, cache_dir=tmp_path / "c", loader=odd_loader)
    assert run.summaries["cuda_api_sum"]["name"].tolist() == [1, "a"]
    assert _entries(tmp_path / "c") == []


@pytest.mark.parametrize("kind", ["missing", "folder", "empty"])
def test_unreadable_report_raises_the_readers_error(tmp_path, kind):
    """A missing file, a folder or an empty file fails with load_report's one-line error."""
    target = tmp_path / "report.sqlite"
    if kind == "folder":
        target.mkdir()
    elif kind == "empty":
        target.write_bytes(b"")
    with pytest.raises(ReportParseError):
        load_run_cached(target)
    assert not (tmp_path / ".llamaprof-cache").exists()


def test_concurrent_writers_never_leave_a_broken_entry(report, make_run, tmp_path):
    """Two processes rewriting one entry while a third reads: every read finds a whole entry."""
    folder = tmp_path / "shared-cache"
    identity = file_identity(report)
    runs = {}
    for tag in ("A", "B"):
        run = make_run(report)
        run.info.process_name = tag
        runs[tag] = run

    def writer(tag: str) -> None:
        for _ in range(40):
            cache._store(runs[tag], identity, [folder])

    cache._store(runs["A"], identity, [folder])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=writer, args=(tag,)) for tag in runs]
    for proc in procs:
        proc.start()
    while any(proc.is_alive() for proc in procs):
        hit = cached_run(report, cache_dir=folder)
        assert hit is not None  # replaced atomically: never missing, never half-written
        expected = runs[hit.info.process_name]
        pd.testing.assert_frame_equal(
            hit.summaries["cuda_gpu_kern_sum"], expected.summaries["cuda_gpu_kern_sum"]
        )
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    final = cached_run(report, cache_dir=folder)
    assert final is not None and final.info.process_name in {"A", "B"}
    assert _entries(folder) == [folder / cache._entry_name(identity)]
    assert list(folder.glob(".tmp-*")) == []
