"""What keys the compare page's caches: files' identity and options, never records' content."""

from __future__ import annotations

import json
import os
from pathlib import Path

from llamaprof.analyze.fairness import Normalize
from llamaprof.model import ReportFormat, Run
from llamaprof.ui.compare_setup import CompareSetup, setup_identity


def _setup(folder: Path, normalize: Normalize = Normalize.NONE) -> CompareSetup:
    runs = {
        name: Run(path=folder / f"{name}.sqlite", format=ReportFormat.SQLITE) for name in ("a", "b")
    }
    records = {"a": {"totals": {"generated_tokens": 10}}, "b": None}
    return CompareSetup(runs=runs, baseline="a", records=records, normalize=normalize)


def test_setup_identity_follows_the_record_files(tmp_path: Path):
    """Same files and options give the same key; a rewritten record or another option does not."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.sqlite").write_bytes(b"SQLite format 3\x00")
    record = tmp_path / "a.llamaprof.json"
    record.write_text(json.dumps({"totals": {"generated_tokens": 10}}))
    os.utime(record, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    first = setup_identity(_setup(tmp_path))
    assert setup_identity(_setup(tmp_path)) == first
    assert setup_identity(_setup(tmp_path, Normalize.PER_TOKEN)) != first
    record.write_text(json.dumps({"totals": {"generated_tokens": 20}}))
    os.utime(record, ns=(1_600_000_000_000_000_001, 1_600_000_000_000_000_001))
    assert setup_identity(_setup(tmp_path)) != first


def test_setup_identity_of_a_vanished_report_is_the_run_object(tmp_path: Path):
    """A report deleted meanwhile is identified by its run object, so no stale entry is reused."""
    setup = _setup(tmp_path)  # neither report exists
    files = setup_identity(setup)[0]
    assert [entry[:2] for entry in files] == [
        ("a", str(tmp_path / "a.sqlite")),
        ("b", str(tmp_path / "b.sqlite")),
    ]
    assert files[0][2] == id(setup.runs["a"])
