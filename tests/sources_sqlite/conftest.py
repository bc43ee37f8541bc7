"""Fixtures for the SQLite-export and .nsys-rep readers: exports built from SQL text."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sources_sqlite.export_fixtures import MODERN_SCHEMA

ExportBuilder = Callable[..., Path]


@pytest.fixture
def build_export(tmp_path: Path) -> ExportBuilder:
    """Return ``build(sql, name="run.sqlite", schema=MODERN_SCHEMA) -> Path``."""

    def build(sql: str, name: str = "run.sqlite", schema: str = MODERN_SCHEMA) -> Path:
        path = tmp_path / name
        con = sqlite3.connect(path)
        try:
            con.executescript(schema + sql)
            con.commit()
        finally:
            con.close()
        return path

    return build
