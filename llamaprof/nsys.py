"""The nsys executable: finding it, asking its version, and exporting a report to SQLite.

One place for what both the report reader (``sources.nsys_rep``: a ``.nsys-rep`` is read
through its export) and captures (``capture``: export right after profiling) need.

- ``find_nsys(explicit=None)``: ``explicit``, else ``$LLAMAPROF_NSYS``, else ``nsys`` on PATH,
  else a known install folder (``KNOWN_NSYS``); NsysNotFound otherwise.
- ``export_sqlite(nsys, report, sqlite, timeout_s=…, cancel=…)``: ``nsys export --type
  sqlite`` as an argument list, stopped on timeout or cancel; ExportFailed
  with the tail of nsys's output when it fails.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from llamaprof.errors import CaptureCancelled, CaptureFailed, ExportFailed, NsysNotFound
from llamaprof.orphans import CANNOT_START, die_with_parent
from llamaprof.versions import version_output

__all__ = [
    "DEFAULT_HINT",
    "GRAPH_NODES_OPTION",
    "KNOWN_NSYS",
    "NSYS_ENV",
    "ExportFailed",
    "build_export_command",
    "export_sqlite",
    "find_nsys",
    "nsys_version",
    "resolve_executable",
]

#: The ``nsys profile`` option that traces CUDA graphs node by node (llama.cpp decodes in CUDA
#: graphs: traced at graph level, their kernels are not kernel rows of the report).
GRAPH_NODES_OPTION = "--cuda-graph-trace=node"
#: Environment variable naming the nsys executable to use (before PATH and known folders).
NSYS_ENV = "LLAMAPROF_NSYS"
#: Where NVIDIA installers put nsys when it is not on PATH (CUDA toolkit, standalone .run/.deb);
#: glob patterns, newest version first within each.
KNOWN_NSYS = (
    "/usr/local/cuda/bin/nsys",
    "/usr/local/cuda-*/bin/nsys",
    "/opt/nvidia/nsight-systems/*/bin/nsys",
    "/usr/local/cuda-*/nsight-systems-*/bin/nsys",
)
#: What ``find_nsys``'s errors suggest unless the caller knows better (capture: ``--nsys``).
DEFAULT_HINT = f"set {NSYS_ENV} to the nsys executable"
#: Lines of nsys's output kept in an export failure.
_TAIL_LINES = 20
_POLL_S = 0.05

_VERSION = re.compile(r"version\s+(\S+)", re.IGNORECASE)


def resolve_executable(path: str, what: str) -> str:
    """``path`` as an executable file: a name is looked up on PATH, a path must exist.

    Raises CaptureFailed("<what> not found: <path>") otherwise.
    """
    if os.sep not in path:
        found = shutil.which(path)
        if found:
            return found
        raise CaptureFailed(f"{what} not found: {path!r} is not on PATH")
    if not Path(path).is_file():
        raise CaptureFailed(f"{what} not found: {path}")
    if not os.access(path, os.X_OK):
        raise CaptureFailed(f"{what} is not executable: {path}")
    return str(Path(path).absolute())


def find_nsys(explicit: str | None = None, *, hint: str = DEFAULT_HINT) -> str:
    """The nsys to run: ``explicit``, else ``$LLAMAPROF_NSYS``, else PATH, else a known install.

    An ``explicit`` or ``$LLAMAPROF_NSYS`` that names nothing runnable is an error, never
    silently replaced by another nsys. ``hint``: what the error tells the user to do.

    Raises NsysNotFound ("nsys not found…; <hint>").
    """
    configured = os.environ.get(NSYS_ENV)
    for given, source in ((explicit, None), (configured, f"${NSYS_ENV}")):
        if not given:
            continue
        try:
            return resolve_executable(given, "nsys")
        except CaptureFailed as exc:
            where = f" (from {source})" if source else ""
            raise NsysNotFound(f"{exc.reason}{where}; {hint}") from None
    found = shutil.which("nsys")
    if found:
        return found
    for pattern in KNOWN_NSYS:
        for candidate in sorted(glob.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    raise NsysNotFound(
        f"nsys not found on PATH or in /usr/local/cuda*/ or /opt/nvidia/nsight-systems/; {hint}"
    )


def nsys_version(nsys: str, env: dict[str, str] | None = None) -> str | None:
    """``2025.1.3.140-251234567890v0`` from ``nsys --version``, or None if it cannot say."""
    match = _VERSION.search(version_output(nsys, env, timeout_s=30))
    return match.group(1) if match else None


def build_export_command(nsys: str, report: Path | str, sqlite: Path | str) -> list[str]:
    """``nsys export --type sqlite --output SQLITE --force-overwrite true REPORT``."""
    return [
        nsys,
        "export",
        "--type",
        "sqlite",
        "--output",
        str(sqlite),
        "--force-overwrite",
        "true",
        str(report),
    ]


def export_sqlite(
    nsys: str,
    report: Path,
    sqlite: Path,
    *,
    timeout_s: float,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Run ``nsys export --type sqlite`` and check it wrote ``sqlite``; returns the command.

    nsys's output goes to an anonymous temporary file (nothing is left beside the report).
    Raises ExportFailed (``returncode``, ``stderr_tail`` = its last 20 lines)
    on a non-zero status, a timeout, a missing file or an nsys that cannot be started, and
    CaptureCancelled (after stopping nsys) when ``cancel`` is set.
    """
    command = build_export_command(nsys, report, sqlite)
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(
                # killed with llamaprof: never an export writing on after it (into a capture's
                # folder, or a report's hidden temporary export)
                die_with_parent(command, signal.SIGKILL),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise ExportFailed(f"could not run nsys at {nsys} ({exc.strerror or exc})") from None
        deadline = time.monotonic() + timeout_s
        try:
            while proc.poll() is None:
                if cancel is not None and cancel.is_set():
                    raise CaptureCancelled()
                if time.monotonic() > deadline:
                    raise ExportFailed(f"nsys export did not finish within {timeout_s:g} s")
                time.sleep(_POLL_S)
        finally:
            if proc.poll() is None:
                # Its own session: the group holds whatever the export started, too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.seek(0)
        output = log.read().decode("utf-8", "replace").strip()
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    tail = "\n".join(lines[-_TAIL_LINES:])
    if proc.returncode == 127 and lines and lines[-1].startswith(CANNOT_START):
        reason = lines[-1].removeprefix(f"{CANNOT_START}{command[0]}: ")  # the wrapper's line
        raise ExportFailed(f"could not run nsys at {nsys} ({reason})", returncode=127)
    if proc.returncode != 0:
        last = lines[-1].strip() if lines else "no output"
        raise ExportFailed(
            f"nsys export failed with status {proc.returncode}: {last}",
            returncode=proc.returncode,
            stderr_tail=tail,
        )
    if not Path(sqlite).is_file():
        raise ExportFailed(f"nsys export wrote no {Path(sqlite).name}", stderr_tail=tail)
    return command
