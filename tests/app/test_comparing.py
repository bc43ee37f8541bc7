"""What keys the compare page's caches: the files' identity (report, export, record stamps)
and the options, never the content; and the names runs go by in the list and the links."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.support import GENERATED, OLD, SEED, copy_report

from llamaprof.cache import FileStamp, file_identity
from llamaprof.discover import ReportEntry, run_names, scan_reports
from llamaprof.ui.common import list_runs, readable_runs
from llamaprof.ui.comparing import Selection, comparison_for


def _record(path: Path, tokens: int, mtime: int) -> None:
    path.write_text(json.dumps({"schema": 1, "totals": {"generated_tokens": tokens}}))
    os.utime(path, (mtime, mtime))


def test_entry_identity_is_the_stamps_of_report_export_and_record(tmp_path: Path):
    """A report's identity: its stamp, its export's (for an .nsys-rep) and its record's."""
    copy_report(SEED, tmp_path, "a.txt")
    _record(tmp_path / "a.llamaprof.json", 10, OLD)
    rep = tmp_path / "b.nsys-rep"
    rep.write_bytes(b"NVIDIA Tegra Profiler Report")
    os.utime(rep, (OLD, OLD))
    (tmp_path / "b.sqlite").write_bytes(b"SQLite format 3\x00")
    os.utime(tmp_path / "b.sqlite", (OLD + 5, OLD + 5))
    a, b = scan_reports(tmp_path)
    size = SEED.stat().st_size
    assert a.identity == (
        FileStamp(str(tmp_path / "a.txt"), size, OLD * 10**9),
        None,
        FileStamp(
            str(tmp_path / "a.llamaprof.json"),
            len('{"schema": 1, "totals": {"generated_tokens": 10}}'),
            OLD * 10**9,
        ),
    )
    assert b.identity == (
        FileStamp(str(rep), 28, OLD * 10**9),
        FileStamp(str(tmp_path / "b.sqlite"), 16, (OLD + 5) * 10**9),
        None,
    )


def test_file_identity_of_the_disk_cache_starts_from_the_stamp(tmp_path: Path):
    """The disk cache's identity holds the same path (resolved), size and mtime as the stamp."""
    path = copy_report(SEED, tmp_path)
    identity = file_identity(path)
    assert FileStamp(identity["path"], identity["size"], identity["mtime_ns"]) == FileStamp.of(
        path.resolve()
    )
    assert FileStamp.of(tmp_path / "absent.txt") is None


def test_run_names_are_file_names_unless_ambiguous():
    """A name is the file's stem; where stems collide, the path in the folder without the
    extension; where that collides too, the whole path."""
    rels = ["a.txt", "x/b.sqlite", "y/b.sqlite", "c.txt", "c.csv", "d.nsys-rep", "sub/e.txt"]
    entries = [ReportEntry(Path("/r") / rel, rel, 0, 0) for rel in rels]
    assert run_names(entries) == {
        "a.txt": "a",
        "x/b.sqlite": "x/b",
        "y/b.sqlite": "y/b",
        "c.txt": "c.txt",
        "c.csv": "c.csv",
        "d.nsys-rep": "d",
        "sub/e.txt": "e",
    }


def test_comparison_is_cached_on_file_identity_and_options(tmp_path: Path):
    """Same files and options: the same comparison object; another option, or a record
    rewritten (new stamp), gives a new one that follows it."""
    copy_report(SEED, tmp_path, "a.txt")
    copy_report(GENERATED, tmp_path, "b.txt")
    _record(tmp_path / "a.llamaprof.json", 1000, OLD)
    _record(tmp_path / "b.llamaprof.json", 2000, OLD)
    selection = Selection(("a.txt", "b.txt"), "a.txt", normalize="per-token")
    first = comparison_for(readable_runs(list_runs(tmp_path)), selection)
    again = comparison_for(readable_runs(list_runs(tmp_path)), selection)
    assert again.comparison is first.comparison
    assert first.comparison.caption == "Per generated token: a ÷ 1,000 tokens; b ÷ 2,000 tokens."
    totals = comparison_for(
        readable_runs(list_runs(tmp_path)), Selection(("a.txt", "b.txt"), "a.txt")
    )
    assert totals.comparison is not first.comparison
    _record(tmp_path / "b.llamaprof.json", 4000, OLD + 1)
    rewritten = comparison_for(readable_runs(list_runs(tmp_path)), selection)
    assert rewritten.comparison.caption == (
        "Per generated token: a ÷ 1,000 tokens; b ÷ 4,000 tokens."
    )


def test_a_normalisation_a_run_cannot_take_falls_back_to_totals_with_a_note(tmp_path: Path):
    """Per token with a record that counts no tokens: totals, and one line saying why."""
    copy_report(SEED, tmp_path, "a.txt")
    copy_report(GENERATED, tmp_path, "b.txt")
    _record(tmp_path / "a.llamaprof.json", 1000, OLD)
    (tmp_path / "b.llamaprof.json").write_text(json.dumps({"schema": 1, "totals": {}}))
    selection = Selection(("a.txt", "b.txt"), "a.txt", normalize="per-token")
    prepared = comparison_for(readable_runs(list_runs(tmp_path)), selection)
    assert prepared.comparison.caption == "Totals over the whole capture (not normalised)."
    assert prepared.notes == (
        (
            "warning",
            "Per token: b has no count of tokens. Showing totals.",
        ),
    )


def test_prepare_comparison_cuts_runs_through_the_given_function():
    """``prepare_comparison(cut=...)`` cuts each run to its window through ``cut`` (the app's
    cached one), with the numbers ``apply_window`` gives; without it, ``apply_window``."""
    from llamaprof.analyze.comparison import prepare_comparison
    from llamaprof.analyze.windows import apply_window, parse_window
    from llamaprof.loading import load_entry

    from shared_data import shared_file

    entries = [
        load_entry(shared_file(f"sqlite/0x822a5b87__test-cuda__report{n}.sqlite"), key=f"r{n}")
        for n in (1, 2)
    ]
    calls = []

    def cut(entry, window, label):
        calls.append((entry.key, window.name, label))
        return apply_window(entry.run, window, label=label)

    spec = parse_window("1.4s:1.6s")
    hooked = prepare_comparison(entries, window=spec, cut=cut)
    plain = prepare_comparison(entries, window=spec)
    # Each with its label (file names: no capture records).
    assert calls == [
        ("r1", "1.4s:1.6s", "0x822a5b87__test-cuda__report1"),
        ("r2", "1.4s:1.6s", "0x822a5b87__test-cuda__report2"),
    ]
    assert hooked.view("kernels").long.equals(plain.view("kernels").long)
    # 1.4 s to 1.6 s holds report1's four kernels and report2's first three.
    assert list(hooked.view("kernels").totals.values()) == [
        (536_542.0, 0.0), (1_346_549 + 1_163_807 + 1_172_734, 0.0),
    ]  # fmt: skip
