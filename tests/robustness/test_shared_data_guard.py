"""The guard of ../shared/data (tests/conftest.py ``shared_data_untouched``) sees every change.

The guard compares a listing of ../shared/data before and after the session; these tests show
that listing changes for each way a test could write there, on a folder of their own.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared_data import SHARED_DATA, snapshot, snapshot_changes


def test_snapshot_sees_every_kind_of_write(tmp_path: Path) -> None:
    """Added, rewritten in place, removed: each shows up."""
    data = tmp_path / "data"
    (data / "sqlite").mkdir(parents=True)
    report = data / "sqlite" / "run.sqlite"
    report.write_bytes(b"x" * 10)
    os.utime(report, ns=(1, 1))
    base = snapshot(data)
    assert snapshot_changes(base, snapshot(data)) == []

    (data / "sqlite" / ".llamaprof-cache").mkdir()  # a cache folder beside a report
    changes = snapshot_changes(base, snapshot(data))
    assert "added sqlite/.llamaprof-cache" in changes
    assert any(c.startswith("changed sqlite:") for c in changes)  # the folder's mtime
    (data / "sqlite" / ".llamaprof-cache").rmdir()
    base = snapshot(data)  # the folder's mtime moved; start again from here

    report.write_bytes(b"y" * 10)
    os.utime(report, ns=(1, 1))  # the same size and mtime: the content hash tells
    assert snapshot_changes(base, snapshot(data)) == [
        f"changed sqlite/run.sqlite: {base['sqlite/run.sqlite']} -> "
        f"{snapshot(data)['sqlite/run.sqlite']}"
    ]
    report.unlink()
    assert "removed sqlite/run.sqlite" in snapshot_changes(base, snapshot(data))


def test_the_guarded_folder_is_the_shared_data() -> None:
    """The session guard watches ../shared/data, where the real nsys outputs are."""
    assert SHARED_DATA.name == "data" and SHARED_DATA.parent.name == "shared"
