"""Helpers of the app tests: the shipped examples, copying reports in, an AppTest factory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.media_file_storage import MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "streamlit_app.py"
EXAMPLES = ROOT / "reports"
SEED = EXAMPLES / "gemma3-4b-f16-fa-seed.txt"
GENERATED = EXAMPLES / "gemma3-4b-f16-nofa-generated.txt"
OLD = 1_600_000_000  # an mtime long past: the files count as finished (not settling)


def copy_report(src: Path, folder: Path, name: str | None = None) -> Path:
    """Copy ``src`` into ``folder`` with an old mtime, as a finished report."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / (name or src.name)
    shutil.copyfile(src, dest)
    os.utime(dest, (OLD, OLD))
    return dest


def make_app(folder: Path) -> AppTest:
    """The app from its entrypoint, looking at ``folder``."""
    at = AppTest.from_file(str(ENTRYPOINT), default_timeout=60)
    at.session_state["reports_dir"] = str(folder)
    return at


class RecordingMediaStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, remembering each instance so tests read downloads."""

    instances: ClassVar[list[MemoryMediaFileStorage]] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        RecordingMediaStorage.instances.append(self)


class RecordingMediaManager(MediaFileManager):
    """AppTest's media file manager, remembered so tests run deferred downloads."""

    instances: ClassVar[list[MediaFileManager]] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        RecordingMediaManager.instances.append(self)


def downloaded(at: AppTest, key: str) -> bytes:
    """The bytes the download button ``key`` offers, written now if the button defers them to
    the click (as a click would; needs the ``downloads`` fixture)."""
    proto = at.download_button(key=key).proto
    url = proto.url
    if proto.deferred_file_id:
        for manager in reversed(RecordingMediaManager.instances):
            try:
                url = manager.execute_deferred(proto.deferred_file_id)
                break
            except MediaFileStorageError:
                continue
        else:
            raise AssertionError(f"no deferred download {proto.deferred_file_id}")
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    for storage in reversed(RecordingMediaStorage.instances):
        try:
            return storage.get_file(file_id).content
        except MediaFileStorageError:
            continue
    raise AssertionError(f"no media file behind {url}")


def open_tab(at: AppTest, title: str, key: str = "compare_tab") -> AppTest:
    """Open the tab ``title`` of the tabs ``key`` (only the open tab is drawn) and rerun."""
    at.session_state[key] = title
    return at.run()


def tab(at: AppTest, title: str):
    """The tab block titled ``title``."""
    return next(t for t in at.tabs if t.label == title)


def timed_record(
    report: Path,
    session_start_ns: int,
    requests: list[tuple[int, int, int]],
    *,
    args: list[str],
    group: str,
    index: int = 1,
    of: int = 1,
    totals: dict | None = None,
) -> Path:
    """A schema-2 capture record beside ``report``: ``requests`` as (start, first token, end)
    ns on the report's nsys timeline, written as wall-clock times (``session_start_ns`` +
    offset) as ``llamaprof capture`` writes them; 10 prompt and 20 generated tokens each."""
    record = {
        "schema": 2,
        "name": report.name.split(".")[0],
        "settings": {"args": args, "env": {}},
        "set": {"id": group.split("/")[0], "config_index": 0},
        "repeat": {"group": group, "index": index, "of": of},
        "requests": [
            {
                "index": i,
                "start_ns": session_start_ns + start,
                "first_token_ns": session_start_ns + first,
                "end_ns": session_start_ns + end,
                "timings": {"prompt_n": 10, "predicted_n": 20, "cache_n": 0},
            }
            for i, (start, first, end) in enumerate(requests)
        ],
        "totals": {"generated_tokens": 20 * len(requests), "requests": len(requests)}
        | (totals or {}),
    }
    path = report.with_name(report.name.split(".")[0] + ".llamaprof.json")
    path.write_text(json.dumps(record), encoding="utf-8")
    os.utime(path, (OLD, OLD))
    return path
