"""Real report files (../shared/data/nsys/nsys-rep, copied) read through the real `nsys export`.

The installed nsys 2022.4.2 exports reports written by 2022.4 and older (2020.5 .qdrep,
2022.4.1, 2022.4.2); each read equals the read of the SQLite export of the same run that
the shared data holds. A report written by a newer nsys cannot be exported by it: one line
names both versions and what to do. Reports in a read-only folder are exported into the
user cache, never beside the report, even when the tests run as root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.nsys_rep import NSYS_ENV, nsys_rep_version
from llamaprof.sources.sqlite_export import read_sqlite
from llamaprof.writable import may_write

from shared_data import shared_file

PANDA_1 = "Pandananana__python-hpc__q1_1"
PANDA_3 = "Pandananana__python-hpc__q1_3"
KMEANS = "martisu1631998__kmeans-parallel__report2@81dae01"
PIRO = "PiroJOJO__Parallel_2__report2"
NEWER = "0x822a5b87__test-cuda__report1"


def _copy(name: str, folder: Path) -> Path:
    suffix = ".qdrep" if name == KMEANS else ".nsys-rep"
    source = shared_file(f"nsys-rep/{name}{suffix}")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    shutil.copyfile(source, copy)
    return copy


@pytest.fixture
def nsys_env(real_nsys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real nsys for reading reports; the user cache in this test's folder."""
    monkeypatch.setenv(NSYS_ENV, real_nsys)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return real_nsys


@pytest.mark.parametrize(
    ("name", "version"),
    [(PANDA_1, "2022.4.2.1"), (PIRO, "2022.4.1.21"), (KMEANS, "2020.5.1.85"),
     (NEWER, "2026.1.1.204")],
)  # fmt: skip
def test_the_version_that_wrote_a_report(name: str, version: str, tmp_path: Path) -> None:
    """2024+ headers name the build; older reports (header "1.") carry it further inside."""
    assert nsys_rep_version(_copy(name, tmp_path)) == version


@pytest.mark.parametrize("name", [PANDA_1, PANDA_3, KMEANS])
def test_a_report_reads_as_the_export_of_the_same_run(
    name: str, tmp_path: Path, nsys_env: str
) -> None:
    """Exported by the real nsys beside the copy; every summary equals the shared export's."""
    report = _copy(name, tmp_path / "reports")
    run = load_report(report)
    assert run.format is ReportFormat.NSYS_REP and run.path == report
    assert report.with_suffix(".sqlite").is_file()
    reference = read_sqlite(shared_file(f"sqlite/{name}.sqlite"))
    assert list(run.summaries) == list(reports.REPORT_NAMES) == list(reference.summaries)
    for report_name, frame in reference.summaries.items():
        ours = run.summaries[report_name]
        if report_name in (reports.MEM_TIME, reports.MEM_SIZE) and name == KMEANS:
            # the 2020.5 export has no ENUM table (short labels); the 2022.4 export has one
            ours, frame = ours.drop(columns="operation"), frame.drop(columns="operation")
        pd.testing.assert_frame_equal(ours, frame, check_dtype=False)
    assert run.info.nsys_version == nsys_rep_version(report)


def test_a_2022_4_1_report_reads_with_the_nsys_that_exported_it_noted(
    tmp_path: Path, nsys_env: str
) -> None:
    """A report of an older 2022.4 build: its own version is the run's, the exporter noted."""
    run = load_report(_copy(PIRO, tmp_path))
    assert run.info.nsys_version == "2022.4.1.21"
    assert "Exported to SQLite by nsys 2022.4.2.1." in run.info.notes
    api = run.summaries[reports.API]
    assert int(api["count"].sum()) == 20  # the 20 CUDA runtime calls of that run


def test_a_newer_report_names_both_versions_and_the_way_out(tmp_path: Path, nsys_env: str) -> None:
    """A 2026.1 report: one line with both versions and the export command; nothing left."""
    report = _copy(NEWER, tmp_path / "reports")
    with pytest.raises(ReportParseError) as caught:
        load_report(report)
    assert str(caught.value) == (
        f"{NEWER}.nsys-rep: was written by nsys 2026.1.1 and the installed nsys is 2022.4.2: "
        f"export it with nsys 2026.1 or newer (`nsys export --type sqlite {NEWER}.nsys-rep`) "
        "and add the .sqlite"
    )
    assert sorted(p.name for p in report.parent.iterdir()) == [report.name]


def test_a_2023_1_style_report_names_its_build(tmp_path: Path, nsys_env: str) -> None:
    """A report whose header says only "1." and whose build string (2023.1) is inside: the
    export fails (2022.4 cannot parse it) and the reason names both versions."""
    report = tmp_path / "run.nsys-rep"
    body = b"\x0bLocal (CLI)\x12\x08\x08\x7f" + bytes(range(256)) * 40
    report.write_bytes(
        b"NVIDIA Tegra Profiler Report 1.\n" + body + b"\x12\x132023.1.1.127-3236574\x00" * 3
    )
    assert nsys_rep_version(report) == "2023.1.1.127"
    with pytest.raises(ReportParseError) as caught:
        load_report(report)
    assert caught.value.reason == (
        "was written by nsys 2023.1.1 and the installed nsys is 2022.4.2: export it with "
        "nsys 2023.1 or newer (`nsys export --type sqlite run.nsys-rep`) and add the .sqlite"
    )


def test_a_report_in_a_read_only_folder_exports_into_the_user_cache(
    tmp_path: Path, nsys_env: str
) -> None:
    """dr-xr-xr-x: untouched even for root (access(2) would say yes); the export goes to
    $XDG_CACHE_HOME/llamaprof/exports and is reused from there."""
    folder = tmp_path / "shared"
    report = _copy(PANDA_3, folder)
    folder.chmod(0o555)
    try:
        assert not may_write(folder)
        run = load_report(report)
        assert sorted(p.name for p in folder.iterdir()) == [report.name]
        exports = list((tmp_path / "user-cache" / "llamaprof" / "exports").iterdir())
        assert [p.suffix for p in exports] == [".sqlite"]
        assert exports[0].name.startswith(PANDA_3 + "-")
        assert len(run.summaries[reports.KERNELS]) == 2
        mtime = exports[0].stat().st_mtime_ns
        load_report(report)  # reused, not exported again
        assert exports[0].stat().st_mtime_ns == mtime
    finally:
        folder.chmod(0o755)


def test_may_write_follows_the_mode_bits_even_for_root(tmp_path: Path) -> None:
    """The shared rule: mode bits and access(2) must both allow writing."""
    folder = tmp_path / "f"
    folder.mkdir()
    assert may_write(folder) and may_write(folder / "new-sub")
    folder.chmod(0o555)
    try:
        assert not may_write(folder) and not may_write(folder / "new-sub")
        assert os.access(folder, os.W_OK) == (os.geteuid() == 0)  # root: access(2) says yes
    finally:
        folder.chmod(0o755)


def test_the_version_is_found_without_reading_a_huge_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 GiB report (sparse): its build string near the end is found reading 1 MiB."""
    report = tmp_path / "huge.nsys-rep"
    with report.open("wb") as fh:
        fh.write(b"NVIDIA Tegra Profiler Report 1.\n")
        fh.seek(4 * 2**30)
        fh.write(b"\x12\x122022.4.2.1-df9881f\x00")
    read = []
    real_open = Path.open

    def counting_open(self, *args, **kwargs):
        fh = real_open(self, *args, **kwargs)
        real_read = fh.read

        def read_counted(n=-1):
            data = real_read(n)
            read.append(len(data))
            return data

        fh.read = read_counted
        return fh

    monkeypatch.setattr(Path, "open", counting_open)
    assert nsys_rep_version(report) == "2022.4.2.1"
    assert sum(read) <= 2**20 + 512
