"""The files a capture writes: names that never overwrite, the hidden work folder, atomic JSON.

The record's schema and reading live in the core (``llamaprof.record``); this module only
writes. A capture in progress writes into ``<reports>/.<name>.capture-tmp/`` (hidden) and
moves its files into the reports folder once the run is complete.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from llamaprof.record import RECORD_SUFFIX, REPORT_SUFFIX, SQLITE_SUFFIX

#: Lines of the server's output kept in the record.
LOG_TAIL_LINES = 100
#: A capture in progress writes into ``<reports>/.<name>.capture-tmp/`` (hidden).
TMP_DIR_SUFFIX = ".capture-tmp"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a hidden temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_files(reports_dir: Path, name: str) -> list[Path]:
    """The paths a run called ``name`` would own in ``reports_dir`` (existing or not)."""
    return [reports_dir / (name + s) for s in (REPORT_SUFFIX, SQLITE_SUFFIX, RECORD_SUFFIX)] + [
        reports_dir / f".{name}{TMP_DIR_SUFFIX}"
    ]


def unique_name(reports_dir: Path, name: str, taken: set[str] | None = None) -> str:
    """``name``, or ``name-2``, ``name-3``... so that no existing file is ever overwritten."""
    taken = taken or set()
    candidate, n = name, 1
    while candidate in taken or any(p.exists() for p in run_files(reports_dir, candidate)):
        n += 1
        candidate = f"{name}-{n}"
    return candidate
