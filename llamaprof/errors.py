"""The exceptions llamaprof raises; the CLI and the app turn them into one-line messages.

Kept streamlit-free and click-free: only the boundaries (``llamaprof.cli``,
``llamaprof.ui``) translate these into user-facing output.
"""

from __future__ import annotations

from pathlib import Path


class LlamaprofError(Exception):
    """Base class of every error llamaprof reports to a user as one line."""


class ReportParseError(LlamaprofError):
    """A report file could not be read."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class UnknownReportFormat(ReportParseError):
    """The file is none of the formats llamaprof reads."""


class NsysNotFound(LlamaprofError):
    """An operation needs the nsys executable and none was found."""


class CaptureFailed(LlamaprofError):
    """A capture (llama-server under nsys) did not complete."""

    def __init__(self, reason: str, returncode: int | None = None, stderr_tail: str = "") -> None:
        self.reason = reason
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(reason)
