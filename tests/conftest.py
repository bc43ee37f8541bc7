"""Shared test fixtures: where the real nsys outputs live, and how to skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import (
    ROOT,
    SEED_TEXT,
    SHARED_DATA,
    SHARED_NSYS,
    shared_file,
    shared_files,
    snapshot,
    snapshot_changes,
)

__all__ = ["ROOT", "SEED_TEXT", "SHARED_NSYS", "shared_file", "shared_files"]


@pytest.fixture(scope="session", autouse=True)
def shared_data_untouched():
    """Fails the session (an error at teardown) if any test changed ../shared/data.

    Tests read the real nsys outputs in place, but must never write there: no export
    ``.sqlite`` beside a shared ``.nsys-rep``, no ``.llamaprof-cache/``. CI runs as root,
    for whom the read-only mode bits stop nothing, so the listing (sizes, mtimes, modes)
    before and after the session is compared instead.
    """
    before = snapshot(SHARED_DATA)
    yield
    changes = snapshot_changes(before, snapshot(SHARED_DATA))
    if changes:
        shown = "\n  ".join(changes[:20])
        pytest.fail(f"tests changed {SHARED_DATA} ({len(changes)} entries):\n  {shown}")


@pytest.fixture
def shared_nsys() -> Path:
    """The ../shared/data/nsys folder; skips when it is absent."""
    if not SHARED_NSYS.exists():
        pytest.skip("real nsys data not available: ../shared/data/nsys is absent")
    return SHARED_NSYS


#: CI sets this to 1 after installing the real Nsight Systems: a test that needs it then
#: fails instead of skipping, so a broken install cannot turn the real-nsys tests green.
REQUIRE_NSYS_ENV = "LLAMAPROF_REQUIRE_NSYS"
#: Where Debian's nsight-systems package puts nsys (../shared/docs/real-nsys.md).
DEBIAN_NSYS = Path("/usr/lib/nsight-systems/bin/nsys")


@pytest.fixture(scope="session")
def real_nsys() -> str:
    """The real nsys executable (full path: started by its bare name it hangs more often).

    Skips when it is not installed, unless ``LLAMAPROF_REQUIRE_NSYS=1`` (CI), where it fails.
    """
    import os
    import shutil

    found = str(DEBIAN_NSYS) if DEBIAN_NSYS.exists() else shutil.which("nsys")
    if found:
        return str(Path(found).resolve())
    message = "the real nsys is not installed (make test installs Debian's nsight-systems)"
    if os.environ.get(REQUIRE_NSYS_ENV) == "1":
        pytest.fail(message)
    pytest.skip(message)


#: The four CUDA summaries under the names nsys 2022.4 knows (2023.1+ knows both).
NSYS_STATS_REPORTS = "cudaapisum,gpukernsum,gpumemtimesum,gpumemsizesum"
#: Every value of ``nsys stats --format`` (2022.4 and later).
NSYS_STATS_FORMATS = ("column", "table", "csv", "tsv", "json", "hdoc", "htable")


@pytest.fixture(scope="session")
def shared_exports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Writable copies of every SQLite export in ../shared/data/nsys/sqlite, made once.

    Tests hand these to nsys and llamaprof, never the shared files: whatever either writes
    beside a file it reads lands in a temporary folder. Skips when ../shared is absent.
    """
    import shutil

    sources = shared_files("sqlite/*.sqlite")
    if not sources:
        pytest.skip("real nsys data not available: ../shared/data/nsys/sqlite is absent")
    folder = tmp_path_factory.mktemp("shared-exports")
    copies = []
    for source in sources:
        copy = folder / source.name
        shutil.copyfile(source, copy)
        copies.append(copy)
    return copies


@pytest.fixture(scope="session")
def nsys_stats(real_nsys: str, tmp_path_factory: pytest.TempPathFactory):
    """``nsys_stats(export, fmt) -> Path``: a file holding what the real nsys prints for
    the four CUDA summaries of ``export`` with ``--format fmt`` (its whole stdout:
    ``Processing`` and ``SKIPPED`` lines included, as a user saves it). One nsys run per
    export and format, all four reports at once, made on first use and kept for the session.
    """
    import subprocess

    folder = tmp_path_factory.mktemp("nsys-stats")
    made: dict[tuple[Path, str], Path] = {}

    def stats(export: Path, fmt: str) -> Path:
        key = (export, fmt)
        if key not in made:
            out = folder / f"{export.stem}.{fmt}"
            with out.open("wb") as fh:
                proc = subprocess.run(
                    [real_nsys, "stats", "--report", NSYS_STATS_REPORTS, "--format", fmt,
                     str(export)],
                    stdout=fh, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                    cwd=folder, timeout=120, check=False,
                )  # fmt: skip
            assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
            made[key] = out
        return made[key]

    return stats
