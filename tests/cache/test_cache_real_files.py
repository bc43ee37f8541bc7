"""Every real nsys output in ../shared comes back from the cache exactly as read fresh."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from llamaprof.cache import cached_run, load_run_cached
from llamaprof.errors import ReportParseError
from llamaprof.sources import load_report

from shared_data import shared_files

REAL_FILES = [
    *shared_files("sqlite/*.sqlite"),
    *shared_files("stats-text/*.txt"),
    *shared_files("stats-csv/*.csv"),
]


@pytest.mark.parametrize("source", REAL_FILES, ids=[p.name for p in REAL_FILES])
def test_cached_run_equals_fresh_read(source: Path, tmp_path: Path, assert_same_run):
    """A cache hit returns the same frames, dtypes, NA markers and facts as load_report."""
    report = tmp_path / source.name
    shutil.copyfile(source, report)  # a writable folder: the entry goes beside the report
    try:
        fresh = load_report(report)
    except ReportParseError as exc:
        with pytest.raises(ReportParseError, match=re.escape(exc.reason)):
            load_run_cached(report)
        assert cached_run(report) is None
        return
    first = load_run_cached(report)
    hit = cached_run(report)
    assert hit is not None, "the run was not cached"
    assert_same_run(first, fresh)
    assert_same_run(hit, fresh)
    assert list((tmp_path / ".llamaprof-cache").glob("*.run"))
