"""Shared test fixtures: where the real nsys outputs live, and how to skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import ROOT, SEED_TEXT, SHARED_NSYS, shared_file, shared_files

__all__ = ["ROOT", "SEED_TEXT", "SHARED_NSYS", "shared_file", "shared_files"]


@pytest.fixture
def shared_nsys() -> Path:
    """The ../shared/data/nsys folder; skips when it is absent."""
    if not SHARED_NSYS.exists():
        pytest.skip("real nsys data not available: ../shared/data/nsys is absent")
    return SHARED_NSYS
