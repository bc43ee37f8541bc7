"""Fixtures of the nsys stats text/CSV reader tests: the self-made layout samples."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """Folder of the self-made nsys text fixtures (layouts of spec §4, invented numbers)."""
    return DATA
