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
