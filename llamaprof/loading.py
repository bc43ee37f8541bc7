"""Loading a run for the command line and the app: cached on disk, every failure one line.

``load_run(path)`` reads any supported report through the on-disk cache
(``llamaprof.cache.load_run_cached``), so a report once read opens in milliseconds the next
time. A pipe or device (``<(nsys stats …)``, ``/dev/stdin``) is read directly: it has no
stable identity to cache under, and reading it to compute one would consume it.
"""

from __future__ import annotations

from pathlib import Path

from llamaprof.cache import load_run_cached
from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.model import Run
from llamaprof.sources import is_stream, load_report

__all__ = ["load_run"]


def load_run(path: str | Path, *, cache_dir: str | Path | None = None) -> Run:
    """``load_report`` through the on-disk cache, any reader failure turned into one line.

    ``cache_dir``: the one cache folder to use (default: see ``llamaprof.cache``).
    Library errors pass through; anything else is a bug in a reader, and still must not
    reach a user as a traceback: it becomes ReportParseError ``could not be read (<first
    line of the error>)``.
    """
    try:
        if is_stream(Path(path)):
            return load_report(path)
        return load_run_cached(path, cache_dir=cache_dir, loader=load_report)
    except LlamaprofError:
        raise
    except Exception as exc:  # a reader bug must still read as one line, not a traceback
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportParseError(path, f"could not be read ({detail})") from exc
