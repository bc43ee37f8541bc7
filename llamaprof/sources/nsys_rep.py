"""Read an nsys report (``.nsys-rep`` / ``.qdrep``) through its SQLite export.

The report format is NVIDIA's own; only ``nsys export --type sqlite`` reads it. The export is
made once, beside the report as ``<stem>.sqlite`` (the name ``nsys stats`` itself uses), or in
``~/.cache/llamaprof/exports`` when the report's folder may not be written
(``llamaprof.writable.may_write``: a read-only folder stays untouched even for root); later
reads reuse it while it is newer than the report. Without nsys, a report with a fresh export
beside it still reads; otherwise the error says how to get one.

Which nsys wrote a report: from 2024 its header says (``NVIDIA Tegra Profiler Report
2025@5@1@121-…``); older reports carry only ``1.`` there and name the build further inside
(``2022.4.2.1-df9881f``, near the end of the file), which is searched in the file's last and
first ``_SCAN_BYTES`` only, never by reading a large file whole. nsys cannot export reports
written by a newer nsys; that failure is reported with both versions and the way out.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from llamaprof import nsys as nsys_tool
from llamaprof.errors import NsysNotFound, ReportParseError
from llamaprof.model import ReportFormat, Run
from llamaprof.nsys import NSYS_ENV
from llamaprof.sources.magic import NSYS_REP_MAGIC
from llamaprof.sources.sqlite_export import read_sqlite
from llamaprof.writable import may_write

__all__ = ["EXPORT_TIMEOUT_S", "NSYS_ENV", "find_nsys", "nsys_rep_version", "read_nsys_rep"]

#: How long one ``nsys export`` may take; a seed-scale report exports in well under a minute.
EXPORT_TIMEOUT_S = 900

_HEADER_BYTES = 512
# from ~2024 the magic is followed by the writing build: "Report 2025@5@1@121-2554…v0."
_VERSION_RE = re.compile(rb"NVIDIA Tegra Profiler Report\s*(\d{4})@(\d+)@(\d+)(?:@(\d+))?")
# up to 2023 the build string inside the file: "2022.4.2.1-df9881f", "2020.5.1.85-5ee086b"
_BUILD_RE = re.compile(
    rb"(?<![0-9.])(20\d\d)\.(\d{1,2})\.(\d{1,3})(?:\.(\d{1,4}))?-[0-9a-f]{7,12}\b"
)
#: How much of each end of a report is searched for its build string.
_SCAN_BYTES = 1 << 20


def nsys_rep_version(path: str | Path) -> str | None:
    """Version of the nsys that wrote the report; None if the file does not say.

    From the header (2024 and later), else from the build string inside the file
    (2023.1 and older), searched in its last and first MiB.

    >>> nsys_rep_version("report1.nsys-rep")  # doctest: +SKIP
    '2025.5.1.121'

    Raises ReportParseError if the file cannot be read or is not an nsys report.
    """
    path = Path(path)
    head = _header(path)
    match = _VERSION_RE.match(head)
    if match is None:
        match = _build_string(path)
    if match is None:
        return None
    return ".".join(part.decode() for part in match.groups() if part is not None)


def _build_string(path: Path) -> re.Match[bytes] | None:
    """The last build string in the report's tail, else the first in its head."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - _SCAN_BYTES))
            tail = fh.read(_SCAN_BYTES)
            found = list(_BUILD_RE.finditer(tail))
            if found:
                return found[-1]
            if size <= _SCAN_BYTES:
                return None
            fh.seek(0)
            return _BUILD_RE.search(fh.read(_SCAN_BYTES))
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None


def _version_key(version: str) -> tuple[int, ...]:
    """``"2022.4.2.1-df9881f"`` -> ``(2022, 4, 2, 1)``, to compare versions."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("-")[0])[:4])


def _short(version: str, parts: int = 3) -> str:
    """``"2026.1.1.204"`` -> ``"2026.1.1"`` (``parts=2``: ``"2026.1"``)."""
    return ".".join(version.split("-")[0].split(".")[:parts])


def find_nsys() -> str | None:
    """The nsys that reads reports (see ``llamaprof.nsys.find_nsys``); None if there is none."""
    try:
        return nsys_tool.find_nsys()
    except NsysNotFound:
        return None


def read_nsys_rep(path: str | Path) -> Run:
    """Read a ``.nsys-rep``/``.qdrep`` report into a ``Run`` via its SQLite export.

    >>> run = read_nsys_rep("report1.nsys-rep")  # doctest: +SKIP

    Reuses ``<stem>.sqlite`` beside the report (or in the cache) when newer than the report;
    otherwise runs ``nsys export`` once. The Run keeps the report's path, has format
    ``NSYS_REP``, and takes its nsys version from the header when the export lacks one.

    Raises ReportParseError when nsys is needed but missing, or when the export fails.
    """
    path = Path(path)
    version = nsys_rep_version(path)
    export = _fresh_export(path)
    if export is None:
        export = _export(path, version)
    run = read_sqlite(export)
    run.path = path
    run.format = ReportFormat.NSYS_REP
    exporter = run.info.nsys_version
    if version is not None:  # the nsys that recorded the run, not the one that exported it
        run.info.nsys_version = version
        if exporter and _version_key(exporter) != _version_key(version):
            run.info.notes.append(f"Exported to SQLite by nsys {exporter}.")
    return run


def existing_export(path: str | Path) -> Path | None:
    """The SQLite export of the report at ``path`` made earlier (beside it or in the cache)
    and at least as new as the report; None when there is none. Never runs nsys."""
    try:
        return _fresh_export(Path(path))
    except OSError:
        return None


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_BYTES)
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head.startswith(NSYS_REP_MAGIC):
        raise ReportParseError(path, "is not an nsys report (no NVIDIA report header)")
    return head


def _export_candidates(path: Path) -> list[Path]:
    """Where an export of ``path`` may live: beside it, then in the user cache."""
    return [path.with_suffix(".sqlite"), _cache_path(path)]


def _cache_path(path: Path) -> Path:
    """``~/.cache/llamaprof/exports/<stem>-<hash of the report's folder>.sqlite``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(path.resolve().parent).encode()).hexdigest()[:12]
    return base / "llamaprof" / "exports" / f"{path.stem}-{digest}.sqlite"


def _fresh_export(path: Path) -> Path | None:
    """An existing export at least as new as the report, if any."""
    report_mtime = path.stat().st_mtime_ns
    for candidate in _export_candidates(path):
        try:
            if candidate.stat().st_mtime_ns >= report_mtime and candidate.stat().st_size:
                return candidate
        except OSError:
            continue
    return None


def _export(path: Path, version: str | None) -> Path:
    """Run ``nsys export`` into a temporary file, then rename it into place atomically."""
    written_by = f" (nsys {version})" if version else ""
    try:
        nsys = nsys_tool.find_nsys()
    except NsysNotFound:
        configured = os.environ.get(NSYS_ENV)
        where = f"on ${NSYS_ENV} ({configured})" if configured else "on PATH"
        raise ReportParseError(
            path,
            f"is an nsys report{written_by}; nsys is needed to read it and was not found "
            f"{where}. Set {NSYS_ENV}, or run `nsys export --type sqlite {path.name}` and "
            "add the .sqlite",
            transient=True,
        ) from None
    target = path.with_suffix(".sqlite")
    if not may_write(path.parent):
        target = _cache_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
    # a hidden temporary name in the same folder, so the final rename is atomic
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp.sqlite")
    try:
        nsys_tool.export_sqlite(nsys, path, tmp, timeout_s=EXPORT_TIMEOUT_S)
    except nsys_tool.ExportFailed as exc:
        tmp.unlink(missing_ok=True)
        if exc.returncode is None:  # timeout, nothing written, nsys not runnable
            raise ReportParseError(path, exc.reason, transient=True) from None
        newer = _newer_than_installed(nsys, version, path.name)
        if newer is not None:
            raise ReportParseError(path, newer) from None
        detail = exc.stderr_tail.splitlines()[-1].strip() if exc.stderr_tail else ""
        detail = detail or f"exit status {exc.returncode}"
        raise ReportParseError(path, f"nsys export failed{written_by}: {detail}") from None
    os.replace(tmp, target)
    return target


def _newer_than_installed(nsys: str, version: str | None, name: str) -> str | None:
    """The reason to give when a failed export is a report newer than the installed nsys."""
    if version is None:
        return None
    installed = nsys_tool.nsys_version(nsys)
    if installed is None or _version_key(version) <= _version_key(installed):
        return None
    return (
        f"was written by nsys {_short(version)} and the installed nsys is {_short(installed)}: "
        f"export it with nsys {_short(version, 2)} or newer (`nsys export --type sqlite "
        f"{name}`) and add the .sqlite"
    )
