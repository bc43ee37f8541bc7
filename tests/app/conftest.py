"""Fixtures of the app tests: clean Streamlit caches, no watcher, example reports folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from app.support import (
    GENERATED,
    SEED,
    RecordingMediaManager,
    RecordingMediaStorage,
    copy_report,
)


@pytest.fixture(autouse=True)
def _clean_streamlit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Each test starts with empty Streamlit caches, no watchdog thread, its own disk cache."""
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    """A reports folder holding copies of the two shipped example runs."""
    folder = tmp_path / "reports"
    copy_report(SEED, folder)
    copy_report(GENERATED, folder)
    return folder


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    """An empty reports folder."""
    folder = tmp_path / "empty-reports"
    folder.mkdir()
    return folder


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``support.downloaded`` read what download buttons offer (AppTest keeps it in memory)."""
    RecordingMediaStorage.instances.clear()
    RecordingMediaManager.instances.clear()
    monkeypatch.setattr(
        "streamlit.testing.v1.app_test.MemoryMediaFileStorage", RecordingMediaStorage
    )
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", RecordingMediaManager)
