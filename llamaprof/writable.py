"""Whether llamaprof may write into a folder: the one rule every writer shares.

``access(2)`` alone is not enough: it says yes to root for every folder, so a report folder
marked read-only (``dr-xr-xr-x``, such as shared test data or a colleague's reports) would be
written into when llamaprof runs as root (CI, containers). A folder is writable for llamaprof
only when its mode bits give someone write permission *and* access(2) agrees.

Used by the on-disk cache (``llamaprof.cache``) and by the ``.nsys-rep`` reader, which puts
its SQLite export beside the report only where this allows, else in the user cache.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["may_write"]


def may_write(folder: str | Path) -> bool:
    """Whether ``folder`` (or, when it does not exist yet, the folder it would be made in)
    is meant to be written.

    >>> import tempfile; may_write(tempfile.gettempdir())
    True
    """
    folder = Path(folder)
    existing = folder if folder.exists() else folder.parent
    try:
        mode = existing.stat().st_mode
    except OSError:
        return not folder.exists()  # an absent parent: mkdir(parents=True) decides
    return bool(mode & 0o222) and os.access(existing, os.W_OK)
