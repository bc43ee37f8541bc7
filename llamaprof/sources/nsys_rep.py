"""Read an nsys report (``.nsys-rep`` / ``.qdrep``) through its SQLite export.

The report format is NVIDIA's own; only ``nsys export --type sqlite`` reads it. The export is
made once, beside the report as ``<stem>.sqlite`` (the name ``nsys stats`` itself uses), or in
``~/.cache/llamaprof/exports`` when the report's folder is not writable; later reads reuse it
while it is newer than the report. Without nsys, a report with a fresh export beside it still
reads; otherwise the error says how to get one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from llamaprof.errors import ReportParseError
from llamaprof.model import ReportFormat, Run
from llamaprof.sources.sqlite_export import read_sqlite

#: Environment variable naming the nsys executable to use (else ``nsys`` on PATH).
NSYS_ENV = "LLAMAPROF_NSYS"
#: How long one ``nsys export`` may take; a seed-scale report exports in well under a minute.
EXPORT_TIMEOUT_S = 900

_MAGIC = b"NVIDIA Tegra Profiler Report"
_HEADER_BYTES = 512
# from ~2024 the magic is followed by the writing build: "Report 2025@5@1@121-2554…v0."
_VERSION_RE = re.compile(rb"NVIDIA Tegra Profiler Report\s*(\d{4})@(\d+)@(\d+)(?:@(\d+))?")


def nsys_rep_version(path: str | Path) -> str | None:
    """Version of the nsys that wrote the report, from its header; None if not recorded.

    >>> nsys_rep_version("report1.nsys-rep")  # doctest: +SKIP
    '2025.5.1.121'

    Raises ReportParseError if the file cannot be read or is not an nsys report.
    """
    head = _header(Path(path))
    match = _VERSION_RE.match(head)
    if match is None:
        return None
    return ".".join(part.decode() for part in match.groups() if part is not None)


def find_nsys() -> str | None:
    """The nsys executable: ``$LLAMAPROF_NSYS`` if set, else ``nsys`` on PATH; None if neither."""
    configured = os.environ.get(NSYS_ENV)
    if configured:
        found = shutil.which(configured)
        return found if found else None
    return shutil.which("nsys")


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
    if run.info.nsys_version is None:
        run.info.nsys_version = version
    return run


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_BYTES)
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head.startswith(_MAGIC):
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
    nsys = find_nsys()
    if nsys is None:
        where = f"${NSYS_ENV} ({os.environ[NSYS_ENV]})" if os.environ.get(NSYS_ENV) else "PATH"
        raise ReportParseError(
            path,
            f"is an nsys report{written_by}; nsys is needed to read it and was not found on "
            f"{where}. Set {NSYS_ENV}, or run `nsys export --type sqlite {path.name}` and "
            "add the .sqlite",
        )
    target = path.with_suffix(".sqlite")
    if not os.access(path.parent, os.W_OK):
        target = _cache_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
    # a hidden temporary name in the same folder, so the final rename is atomic
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp.sqlite")
    command = [nsys, "export", "--type", "sqlite", "--force-overwrite", "true"]
    command += ["--output", str(tmp), str(path)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=EXPORT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise ReportParseError(
            path, f"nsys export took longer than {EXPORT_TIMEOUT_S} s and was stopped"
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise ReportParseError(path, f"could not run nsys at {nsys} ({reason})") from None
    if done.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {done.returncode}"
        raise ReportParseError(path, f"nsys export failed{written_by}: {detail}")
    os.replace(tmp, target)
    return target
