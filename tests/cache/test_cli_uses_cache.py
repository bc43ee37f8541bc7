"""The commands read reports through the on-disk cache (``llamaprof.loading.load_run``)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from llamaprof import cache, loading
from llamaprof.cli import main
from llamaprof.errors import ReportParseError

DATA = Path(__file__).parents[1] / "sources_text" / "data"
REPORT = "nsys2022.4_timeunit_ms.txt"


@pytest.fixture(autouse=True)
def _isolated_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user cache inside the test's folder and ignore any LLAMAPROF_CACHE_DIR."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv(cache.ENV_CACHE_DIR, raising=False)


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the real reader is asked to read, in order."""
    calls: list[Path] = []
    real = loading.load_report

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(loading, "load_report", counting)
    return calls


def test_stats_reads_a_report_once_then_serves_it_from_the_cache(tmp_path, counted_reads):
    """Two `llamaprof stats` runs: one read, one cache entry, and the same output twice."""
    report = tmp_path / REPORT
    shutil.copyfile(DATA / REPORT, report)
    first = CliRunner().invoke(main, ["stats", str(report)], catch_exceptions=False)
    entries = sorted((tmp_path / cache.CACHE_FOLDER).glob("*"))
    assert [e.suffix for e in entries] == [".run"]
    second = CliRunner().invoke(main, ["stats", str(report)], catch_exceptions=False)
    assert counted_reads == [report]
    assert sorted((tmp_path / cache.CACHE_FOLDER).glob("*")) == entries
    assert (second.exit_code, second.stdout, second.stderr) == (
        first.exit_code,
        first.stdout,
        first.stderr,
    )
    assert first.exit_code == 0 and "cuda_gpu_kern_sum" in first.stdout


def test_compare_reads_each_report_once_across_two_runs(tmp_path, counted_reads):
    """`llamaprof compare` twice on two reports reads each file once."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    shutil.copyfile(DATA / REPORT, a)
    shutil.copyfile(DATA / REPORT, b)
    for _ in range(2):
        result = CliRunner().invoke(main, ["compare", str(a), str(b)], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    assert counted_reads == [a, b]
    assert len(list((tmp_path / cache.CACHE_FOLDER).glob("*.run"))) == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_bypasses_the_cache(tmp_path, counted_reads):
    """A named pipe is read directly (no identity to cache under) and leaves no entry."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    text = (DATA / REPORT).read_bytes()
    writer = threading.Thread(target=pipe.write_bytes, args=(text,), daemon=True)
    writer.start()  # blocks in open() until the reader opens the pipe
    run = loading.load_run(pipe)
    writer.join(timeout=10)
    assert counted_reads == [pipe]
    assert run.path == pipe and run.summaries
    assert not (tmp_path / cache.CACHE_FOLDER).exists()
    assert not (tmp_path / "user-cache").exists()


def test_a_reader_bug_becomes_one_line(tmp_path, monkeypatch):
    """An unexpected reader exception becomes ReportParseError with its first line."""
    report = tmp_path / REPORT
    shutil.copyfile(DATA / REPORT, report)

    def broken(path):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(loading, "load_report", broken)
    with pytest.raises(ReportParseError) as caught:
        loading.load_run(report)
    assert caught.value.reason == "could not be read (boom)"
