"""The installed ``llamaprof`` command on bad input: one line naming the file, never a traceback.

Every kind of bad input the issue lists goes through ``llamaprof stats`` (and a few
through ``llamaprof compare``) as a subprocess, exactly as a user runs it. Multi-GB
files are sparse (no disk used) and run under a 1 GiB address-space limit, so a reader
that tried to read one whole would fail the test instead of swapping the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from robustness.bad_inputs import EXACT, GIB, GIST, copy_export, loosen, make_bad_folder

from llamaprof.errors import ReportParseError
from llamaprof.sources import stats_markers
from llamaprof.sources.stats_text import read_stats_text

from shared_data import SEED_TEXT, shared_file

CLI = Path(sys.executable).parent / "llamaprof"


def _cli(*args: str, cwd: Path, memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """Run the installed command; the timeout only guards against a hang (not a speed test)."""

    def limit() -> None:
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    env = {**os.environ, "PATH": "/usr/bin:/bin", "LLAMAPROF_NSYS": ""}
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        preexec_fn=limit, env=env,
    )  # fmt: skip


def _assert_one_line_error(result: subprocess.CompletedProcess, name: str, reason: str) -> None:
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"llamaprof: {name}: {reason}\n"


@pytest.fixture(scope="module")
def export() -> Path:
    """A small real SQLite export (577 KB) to damage."""
    return shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite")


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory: pytest.TempPathFactory, export: Path) -> Path:
    """One folder holding every kind of bad input, and ``good.sqlite``."""
    return make_bad_folder(tmp_path_factory.mktemp("bad-inputs"), export)


@pytest.mark.parametrize("name", sorted(EXACT))
def test_stats_refuses_with_one_exact_line(bad_folder: Path, name: str) -> None:
    """Each bad input gives exit 1 and exactly ``llamaprof: <file>: <reason>``, no traceback."""
    result = _cli("stats", name, cwd=bad_folder, memory_limit=GIB)
    _assert_one_line_error(result, name, EXACT[name])


@pytest.mark.parametrize("name", sorted(GIST))
def test_stats_refuses_damaged_sqlite_with_one_line(bad_folder: Path, name: str) -> None:
    """Damaged, foreign and multi-GB SQLite files give one line with the reason.

    The 1 GiB address-space limit proves a multi-GB file is refused without being read in.
    """
    result = _cli("stats", name, cwd=bad_folder, memory_limit=GIB)
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"llamaprof: {name}: ")
    assert GIST[name] in result.stderr


def test_stats_on_export_missing_every_cuda_table_skips_like_nsys(
    tmp_path: Path, export: Path
) -> None:
    """An export without CUDA tables prints nsys's four SKIPPED lines and exits 1."""
    db = copy_export(export, tmp_path / "notables.sqlite")
    for (table,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'CUPTI_ACTIVITY_KIND_%'"
    ).fetchall():
        db.execute(f"DROP TABLE {table}")
    db.commit()
    db.close()
    result = _cli("stats", "notables.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "SKIPPED: notables.sqlite does not contain CUDA trace data.",
        "SKIPPED: notables.sqlite does not contain CUDA kernel data.",
        "SKIPPED: notables.sqlite does not contain GPU memory data.",
        "SKIPPED: notables.sqlite does not contain GPU memory data.",
    ]


def test_stats_on_export_with_nulls_in_not_null_columns(tmp_path: Path, export: Path) -> None:
    """NULL starts and names where nsys writes NOT NULL: those rows are left out, no crash."""
    db = copy_export(export, tmp_path / "nulls.sqlite")
    loosen(db, "CUPTI_ACTIVITY_KIND_KERNEL")
    (kernels,) = db.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()
    db.execute("UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET start = NULL WHERE rowid % 2 = 0")
    db.execute("UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET demangledName = NULL WHERE rowid % 3 = 0")
    db.commit()
    db.close()
    result = _cli("stats", "nulls.sqlite", "-r", "cuda_gpu_kern_sum", "-f", "csv", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert kernels == 4  # rows 2 and 4 lose their start, row 3 its name: one is left
    assert (result.returncode, result.stdout.splitlines()) == (0, [
        "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name",
        '100.0,134200,1,134200.0,134200.0,134200,134200,0.0,'
        '"add_parallel(const float *, const float *, float *, int)"',
    ])  # fmt: skip
    assert result.stderr == (
        "llamaprof: warning: nulls.sqlite: 3 rows of CUPTI_ACTIVITY_KIND_KERNEL "
        "with a missing or non-integer value left out.\n"
    )


def test_stats_on_a_table_cut_off_half_way(tmp_path: Path) -> None:
    """Text whose kernel table is cut mid-row prints the rows before the cut, says so, exit 0."""
    text = SEED_TEXT.read_text()
    cut = text.index("cuda_gpu_kern_sum") + 1500  # inside the kernel table's sixth row
    (tmp_path / "cut.txt").write_text(text[:cut])
    result = _cli("stats", "cut.txt", "-r", "cuda_gpu_kern_sum", "-f", "csv", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        0,
        "llamaprof: warning: cut.txt: cuda_gpu_kern_sum: the table is cut off at line 51; "
        "the 5 rows above it were read.\n",
    )
    rows = result.stdout.splitlines()
    assert rows[0].startswith("Time (%),Total Time (ns),Instances,")
    assert len(rows) == 1 + 5


@pytest.mark.parametrize("name", ["empty.txt", "huge-text.txt", "corrupt.sqlite", "a-folder"])
def test_compare_names_the_bad_run_in_one_line(bad_folder: Path, name: str) -> None:
    """``compare`` with one good and one bad run refuses in one line naming the bad file."""
    result = _cli("compare", "good.sqlite", name, cwd=bad_folder, memory_limit=GIB)
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"llamaprof: {name}: ")


def test_text_reader_refuses_over_the_size_limit(tmp_path: Path, monkeypatch) -> None:
    """A text report over MAX_TEXT_BYTES is refused by size, with the limit in the reason."""
    monkeypatch.setattr(stats_markers, "MAX_TEXT_BYTES", 4 * 2**20)
    path = tmp_path / "big.txt"
    path.write_bytes(SEED_TEXT.read_bytes() * (4 * 2**20 // SEED_TEXT.stat().st_size + 1))
    with pytest.raises(
        ReportParseError, match=r"^big.txt: is too big for a text report \(over 4 MB\)$"
    ):
        read_stats_text(path)
    path.write_bytes(SEED_TEXT.read_bytes())
    assert read_stats_text(path).summaries
