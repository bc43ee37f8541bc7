"""nsys for captures: the shared lookup and export (``llamaprof.nsys``) with capture's advice."""

from __future__ import annotations

from llamaprof.nsys import (
    export_sqlite,
    nsys_version,
    resolve_executable,
)
from llamaprof.nsys import find_nsys as _find_nsys

__all__ = ["export_sqlite", "find_nsys", "nsys_version", "resolve_executable"]

#: What a capture tells the user to do when nsys cannot be found.
HINT = "give --nsys PATH or capture with --no-profile"


def find_nsys(explicit: str | None = None) -> str:
    """The nsys a capture runs (``--nsys``, ``$LLAMAPROF_NSYS``, PATH, known installs).

    Raises NsysNotFound ending in what to do: give --nsys or capture without a profiler.
    """
    return _find_nsys(explicit, hint=HINT)
