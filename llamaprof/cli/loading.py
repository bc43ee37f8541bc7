"""Loading reports for the commands: every failure, even a reader bug, is one line."""

from __future__ import annotations

from pathlib import Path

from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.model import Run
from llamaprof.sources import load_report


def load_run(path: str | Path) -> Run:
    """``load_report``, with any reader failure turned into a one-line library error.

    Library errors pass through; anything else is a bug in a reader, and still must not
    reach a user as a traceback (the command's group prints ``llamaprof: <reason>``).
    """
    try:
        return load_report(path)
    except LlamaprofError:
        raise
    except Exception as exc:  # a reader bug must still read as one line, not a traceback
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportParseError(path, f"could not be read ({detail})") from exc
