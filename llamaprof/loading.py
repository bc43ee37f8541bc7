"""Loading runs for the command line and the app: cached on disk, every failure one line.

``load_run(path)`` reads any supported report through the on-disk cache
(``llamaprof.cache.load_run_cached``), so a report once read opens in milliseconds the next
time. A pipe or device (``<(nsys stats …)``, ``/dev/stdin``) is read directly: it has no
stable identity to cache under, and reading it to compute one would consume it.

``load_entry(path)`` is the loading step of a comparison: the report (or a capture record
alone, for runs captured without a profiler) and the capture record beside it, each read and
parsed once into a ``LoadedRun``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llamaprof.cache import load_run_cached
from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.model import ReportFormat, Run, label_from_name
from llamaprof.record import RECORD_SUFFIX, CaptureRecord, read_record, record_path, run_stem
from llamaprof.sources import is_stream, load_report

__all__ = ["LoadedRun", "load_entry", "load_run"]


def load_run(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    format: ReportFormat | None = None,
) -> Run:
    """``load_report`` through the on-disk cache, any reader failure turned into one line.

    ``cache_dir``: the one cache folder to use (default: see ``llamaprof.cache``).
    ``format``: the file's format when a sniff already said (``load_report``).
    Library errors pass through; anything else is a bug in a reader, and still must not
    reach a user as a traceback: it becomes ReportParseError ``could not be read (<first
    line of the error>)``.
    """
    try:
        if is_stream(Path(path)):
            return load_report(path)
        if format is None:
            return load_run_cached(path, cache_dir=cache_dir, loader=load_report)
        return load_run_cached(
            path, cache_dir=cache_dir, loader=lambda p: load_report(p, format=format)
        )
    except LlamaprofError:
        raise
    except Exception as exc:  # a reader bug must still read as one line, not a traceback
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportParseError(path, f"could not be read ({detail})") from exc


@dataclass(frozen=True)
class LoadedRun:
    """A run as a comparison sees it: where it came from, its data and its capture record.

    ``key``: a stable id (the path as given on the command line, or relative to the app's
    reports folder); ``run``: the report's data, None for a capture record alone (a capture
    without a profiler); ``record``: the typed capture record, None without one (or when it
    cannot be read: ``record_problem`` then says why, in one line).
    """

    key: str
    path: Path
    run: Run | None
    record: CaptureRecord | None = None
    record_problem: str | None = None

    @property
    def file_label(self) -> str:
        """The label from the file name: the name without its report or record extension."""
        if self.path.name.endswith(RECORD_SUFFIX):
            return run_stem(self.path)
        return label_from_name(self.path.name)


def load_entry(
    path: str | Path,
    *,
    key: str | None = None,
    cache_dir: str | Path | None = None,
    format: ReportFormat | None = None,
) -> LoadedRun:
    """The report at ``path`` and its capture record, or a capture record and its report.

    A record (``NAME.llamaprof.json``) whose capture left an export or report beside it
    loads that too; one without (``--no-profile``) loads alone. A record that cannot be read
    is no record, with ``record_problem`` saying why: it costs only the record's features.
    ``format``: the report's format when a sniff already said it (see ``load_report``).
    Raises ReportParseError for a report that cannot be read.
    """
    path = Path(path)
    key = key if key is not None else str(path)
    if path.name.endswith(RECORD_SUFFIX):
        record = read_record(path)  # a record asked for by name must read, or it is an error
        report = _report_of(path, record)
        run = load_run(report, cache_dir=cache_dir) if report is not None else None
        return LoadedRun(key, path, run, record)
    run = load_run(path, cache_dir=cache_dir, format=format)
    if is_stream(path):
        return LoadedRun(key, path, run)
    try:
        return LoadedRun(key, path, run, read_record(path))
    except ReportParseError as exc:
        return LoadedRun(key, path, run, None, exc.reason)


def _report_of(record_file: Path, record: CaptureRecord | None) -> Path | None:
    """The export (preferred: no nsys needed) or report a record's capture left beside it."""
    names = []
    if record is not None:
        names = [str(record.data.get(k)) for k in ("sqlite", "report") if record.data.get(k)]
    stem = run_stem(record_file)
    names += [stem + ".sqlite", stem + ".nsys-rep"]
    for name in names:
        candidate = record_file.with_name(Path(name).name)
        if candidate.is_file() and record_path(candidate) == record_file:
            return candidate
    return None
