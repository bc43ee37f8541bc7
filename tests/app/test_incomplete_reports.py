"""A report the reader could read only in part says so wherever the app shows it."""

from __future__ import annotations

import os
from pathlib import Path

from app.support import OLD, SEED, copy_report, make_app

# Markdown source as the page writes it (underscores escaped so they stay literal).
CUT = r"cuda\_gpu\_kern\_sum: the table is cut off at line 51; the 5 rows above it were read."
CUT_WARNING = "Incomplete: " + CUT


def _cut_seed(folder: Path) -> Path:
    """The seed's text cut inside the kernel table's sixth row, as a finished file."""
    text = SEED.read_text()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cut.txt"
    path.write_text(text[: text.index("cuda_gpu_kern_sum") + 1500])
    os.utime(path, (OLD, OLD))
    return path


def test_single_run_page_warns_about_a_cut_table(tmp_path: Path):
    """The single-run page shows the cut table as a warning and the reader's notes apart."""
    folder = tmp_path / "reports"
    _cut_seed(folder)
    at = make_app(folder).run()
    at.switch_page("app_pages/run.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert [w.value for w in at.main.warning] == ["Incomplete report: " + CUT]
    notes = next(e for e in at.main.expander if e.label == "Notes from the reader")
    assert notes.markdown[0].value.startswith("- Names longer than 100 characters were cut")


def test_compare_cards_warn_about_the_incomplete_run_only(tmp_path: Path):
    """On Compare, only the cut run's card carries the warning."""
    folder = tmp_path / "reports"
    copy_report(SEED, folder)
    _cut_seed(folder)
    at = make_app(folder).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [w.value for w in at.main.warning if w.value.startswith("Incomplete")] == [CUT_WARNING]
