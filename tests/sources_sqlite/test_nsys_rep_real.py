"""A real ``.nsys-rep`` read through the real nsys: the same summaries as its own export.

``Pandananana__python-hpc__q1_1.nsys-rep`` was written by nsys 2022.4.2 for a Numba CUDA
program on two V100s, and published with the SQLite export its author made of it
(``sqlite/Pandananana__python-hpc__q1_1.sqlite``). The real nsys here (Debian's 2022.4.2)
exports the report again; llamaprof must read the same four CUDA summaries from both, row
for row. CUDA data from a real GPU, read through the real nsys: no stand-in involved.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from llamaprof import reports
from llamaprof.model import ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.nsys_rep import NSYS_ENV

from shared_data import shared_file

REPORT = "nsys-rep/Pandananana__python-hpc__q1_1.nsys-rep"
EXPORT = "sqlite/Pandananana__python-hpc__q1_1.sqlite"


def test_real_report_exported_by_the_real_nsys(real_nsys, tmp_path: Path, monkeypatch):
    report, published = shared_file(REPORT), shared_file(EXPORT)
    monkeypatch.setenv(NSYS_ENV, real_nsys)
    folder = tmp_path / "reports"
    folder.mkdir()
    copy = Path(shutil.copy(report, folder))  # never written beside ../shared
    run = load_report(copy)
    assert run.format is ReportFormat.NSYS_REP
    assert (folder / "Pandananana__python-hpc__q1_1.sqlite").is_file()  # exported beside it
    assert run.info.nsys_version == "2022.4.2.1"
    expected = load_report(shutil.copy(published, tmp_path))
    names = [reports.API, reports.KERNELS, reports.MEM_TIME, reports.MEM_SIZE]
    assert all(len(expected.summaries[name]) > 0 for name in names)
    for name in names:
        pd.testing.assert_frame_equal(run.summaries[name], expected.summaries[name])
    assert run.info.gpus == expected.info.gpus
