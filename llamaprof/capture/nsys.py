"""Finding the nsys executable, asking its version, and exporting a report to SQLite."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from llamaprof.capture.command import build_export_command
from llamaprof.capture.errors import CaptureCancelled
from llamaprof.errors import CaptureFailed, NsysNotFound

# Where NVIDIA installers put nsys when it is not on PATH (CUDA toolkit, standalone .run/.deb).
_KNOWN_NSYS = (
    "/usr/local/cuda/bin/nsys",
    "/usr/local/cuda-*/bin/nsys",
    "/opt/nvidia/nsight-systems/*/bin/nsys",
    "/usr/local/cuda-*/nsight-systems-*/bin/nsys",
)


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


def find_nsys(explicit: str | None = None) -> str:
    """The nsys to run: ``explicit`` if given, else nsys on PATH, else a known install.

    Raises NsysNotFound with what to do about it.
    """
    if explicit:
        try:
            return resolve_executable(explicit, "nsys")
        except CaptureFailed as exc:
            raise NsysNotFound(f"{exc}; give --nsys PATH or capture with --no-profile") from None
    found = shutil.which("nsys")
    if found:
        return found
    for pattern in _KNOWN_NSYS:
        for candidate in sorted(glob.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    raise NsysNotFound(
        "nsys not found on PATH or in /usr/local/cuda*/ or /opt/nvidia/nsight-systems/; "
        "give --nsys PATH or capture with --no-profile"
    )


_VERSION = re.compile(r"version\s+(\S+)", re.IGNORECASE)


def nsys_version(nsys: str, env: dict[str, str] | None = None) -> str | None:
    """``2025.1.3.140-251234567890v0`` from ``nsys --version``, or None if it cannot say."""
    try:
        done = subprocess.run(
            [nsys, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stdout + done.stderr)
    return match.group(1) if match else None


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

    Raises CaptureFailed with nsys's output on a non-zero status, a timeout or a missing
    file, and CaptureCancelled (after stopping nsys) when ``cancel`` is set.
    """
    command = build_export_command(nsys, report, sqlite)
    log_path = sqlite.with_name(sqlite.name + ".export.log")
    with open(log_path, "w+b") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        try:
            while proc.poll() is None:
                if cancel is not None and cancel.is_set():
                    raise CaptureCancelled()
                if time.monotonic() > deadline:
                    raise CaptureFailed(f"nsys export did not finish within {timeout_s:g} s")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.seek(0)
        output = log.read().decode("utf-8", "replace").strip()
    log_path.unlink()
    tail = "\n".join(output.splitlines()[-20:])
    if proc.returncode != 0:
        raise CaptureFailed(
            f"nsys export failed with status {proc.returncode}: "
            f"{tail.splitlines()[-1] if tail else 'no output'}",
            returncode=proc.returncode,
            stderr_tail=tail,
        )
    if not sqlite.is_file():
        raise CaptureFailed(f"nsys export wrote no {sqlite.name}", stderr_tail=tail)
    return command
