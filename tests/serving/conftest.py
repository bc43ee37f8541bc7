"""Fixtures for windows, phases, timelines and serving findings: exports with known intervals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nsys_builder import ExportBuilder

WriteExport = Callable[..., Path]


@pytest.fixture
def write_export(tmp_path: Path) -> WriteExport:
    """``write(builder, name="run", record=None) -> Path``: the export ``<name>.sqlite`` in a
    temporary folder, and its capture record ``<name>.llamaprof.json`` when one is given."""

    def write(builder: ExportBuilder, name: str = "run", record: dict | None = None) -> Path:
        path = builder.write(tmp_path / f"{name}.sqlite")
        if record is not None:
            text = json.dumps(record, indent=1)
            (tmp_path / f"{name}.llamaprof.json").write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's on-disk cache goes to this test's folder, never the user's."""
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "cache"))
