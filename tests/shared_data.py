"""Where the real nsys outputs live (../shared/data/nsys), and skipping when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Real nsys outputs from other people's programs (see its SOURCES.md); never copied here.
SHARED_NSYS = ROOT.parent / "shared" / "data" / "nsys"
_SHARED_SEED = SHARED_NSYS / "stats-text" / "seed__llama-server-gemma3-4b-f16__nsys2025.1.3.txt"
#: The seed's real `nsys stats` output. The app ships the same bytes as an example run
#: (reports/, checked in tests/app/test_example_reports.py), so tests needing it still run
#: where ../shared is absent.
SEED_TEXT = (
    _SHARED_SEED if _SHARED_SEED.exists() else ROOT / "reports" / "gemma3-4b-f16-fa-seed.txt"
)


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data/nsys, skipping the test when it is absent."""
    path = SHARED_NSYS / relative
    if not path.exists():
        pytest.skip(f"real nsys data not available: {path} (../shared is absent)")
    return path


def shared_files(pattern: str) -> list[Path]:
    """Files under ../shared/data/nsys matching ``pattern``, for parametrize (empty if absent)."""
    if not SHARED_NSYS.exists():
        return []
    return sorted(SHARED_NSYS.glob(pattern))


#: The folder no test may change: ../shared/data (real outputs, read-only for everyone but
#: root, and CI runs as root, so mode bits alone do not protect it).
SHARED_DATA = SHARED_NSYS.parent


def snapshot(folder: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """Every entry under ``folder`` (itself included): kind, size, mtime (ns), mode bits and
    a hash of a file's content (the shared data is ~20 MB: hashed in well under a second).

    A file added, removed, rewritten (even to the same size and mtime), touched or chmod-ed,
    or a folder made inside (a ``.llamaprof-cache/``, an export ``.sqlite``), changes it.
    """
    import hashlib
    import os

    entries: dict[str, tuple[str, int, int, int, str]] = {}
    if not folder.exists():
        return entries
    for root, dirs, files in os.walk(folder):
        for name in [".", *dirs, *files]:
            path = Path(root) / name
            st = path.lstat()
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            digest = ""
            if kind == "file":
                with path.open("rb") as fh:
                    digest = hashlib.file_digest(fh, "blake2b").hexdigest()[:32]
            entry = (kind, st.st_size, st.st_mtime_ns, st.st_mode, digest)
            entries[str(path.relative_to(folder))] = entry
    return entries


def snapshot_changes(before: dict, after: dict) -> list[str]:
    """What differs between two snapshots, one line per entry, sorted."""
    changes = [f"added {p}" for p in after.keys() - before.keys()]
    changes += [f"removed {p}" for p in before.keys() - after.keys()]
    changes += [
        f"changed {p}: {before[p]} -> {after[p]}"
        for p in before.keys() & after.keys()
        if before[p] != after[p]
    ]
    return sorted(changes)
