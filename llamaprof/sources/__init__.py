"""Sources: detect a report's format from its content and read it into a ``Run``.

One reader per format: ``sqlite_export`` (SQLite exports), ``nsys_rep`` (``.nsys-rep`` /
``.qdrep`` through ``nsys export``), and for what ``nsys stats`` prints: ``stats_text``
(``--format column`` and ``table``), ``stats_csv`` (``csv``, ``tsv``), ``stats_json``
(``json``) and ``stats_html`` (``hdoc``, ``htable``). ``load_report`` is the single entry
point; the format is found from the content, never from the file's name. JSON and HTML
outputs are ``ReportFormat.STATS_TEXT`` runs (the model has no value of their own).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from llamaprof.errors import ReportParseError, UnknownReportFormat
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.magic import NSYS_REP_MAGIC, SQLITE_MAGIC

_SNIFF_BYTES = 64 * 1024


def sniff(path: str | Path) -> ReportFormat:
    """Detect the format of ``path`` from its first bytes, never from its name.

    Raises ReportParseError (unreadable, empty) or UnknownReportFormat.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except IsADirectoryError:
        raise ReportParseError(path, "is a folder, not a report file") from None
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ReportParseError(path, "is empty")
    if head.startswith(SQLITE_MAGIC):
        return ReportFormat.SQLITE
    if head.startswith(NSYS_REP_MAGIC):
        return ReportFormat.NSYS_REP
    from llamaprof.sources.stats_text import sniff_text_format

    fmt = sniff_text_format(head)
    if fmt is None:
        raise UnknownReportFormat(
            path,
            "is not an nsys report (expected an SQLite export, .nsys-rep, "
            "or what `nsys stats` prints: text, CSV, JSON or HTML)",
        )
    return fmt


def load_report(path: str | Path, *, format: ReportFormat | None = None) -> Run:
    """Read any supported nsys output into a ``Run``.

    >>> run = load_report("report1.sqlite")        # doctest: +SKIP
    >>> run.summaries["cuda_gpu_kern_sum"].head()  # doctest: +SKIP

    ``format``: what ``sniff`` already said of this file (the app's folder scan sniffs each
    file once), so it is not sniffed again; None sniffs. Raises ReportParseError (or its
    subclass UnknownReportFormat) with a one-line reason for anything it cannot read.
    """
    path = Path(path)
    if is_stream(path):
        return _load_stream(path)
    fmt = format if format is not None else sniff(path)
    if fmt is ReportFormat.SQLITE:
        from llamaprof.sources.sqlite_export import read_sqlite

        return read_sqlite(path)
    if fmt is ReportFormat.NSYS_REP:
        from llamaprof.sources.nsys_rep import read_nsys_rep

        return read_nsys_rep(path)
    if fmt is ReportFormat.STATS_CSV:
        from llamaprof.sources.stats_csv import read_stats_csv

        return read_stats_csv(path)
    from llamaprof.sources.stats_text import read_stats_text

    return read_stats_text(path)


def is_stream(path: str | Path) -> bool:
    """True for a pipe or device (``<(nsys stats ...)``, ``/dev/stdin``): readable only once."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _load_stream(path: Path) -> Run:
    """Read a pipe once into a temporary file (up to the text size limit), then read that."""
    from llamaprof.sources.stats_markers import MAX_TEXT_BYTES

    try:
        with path.open("rb") as src, tempfile.TemporaryDirectory(prefix="llamaprof-") as tmp:
            spool = Path(tmp) / "stream"
            data = src.read(MAX_TEXT_BYTES + 1)
            if len(data) > MAX_TEXT_BYTES:
                limit = MAX_TEXT_BYTES // 2**20
                raise ReportParseError(path, f"is over {limit} MB read as a stream")
            spool.write_bytes(data)
            run = load_report(spool)
    except ReportParseError as exc:
        raise ReportParseError(path, exc.reason) from None
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    run.path = path
    return run
