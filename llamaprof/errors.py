"""Every exception llamaprof raises on purpose; the CLI and the app turn them into one line.

Kept streamlit-free and click-free: only the boundaries (``llamaprof.cli``, ``llamaprof.ui``)
translate these into what a user sees (``llamaprof: <reason>`` and exit status 1, or
``st.error``). The hierarchy is small on purpose::

    LlamaprofError
    ├── ReportParseError(path, reason)      a report or capture record cannot be read
    │   └── UnknownReportFormat             none of the formats llamaprof reads
    ├── NsysNotFound                        an operation needs nsys and none was found
    ├── NsysFailed(reason, returncode, stderr_tail)
    │   └── ExportFailed                    ``nsys export`` failed, timed out, wrote nothing
    ├── WindowError                         a time window that cannot apply to a run
    ├── NotNormalizable                     totals cannot be divided per token / request
    ├── NoData                              nothing to compare or print
    ├── OptionError                         an option names what is not there
    └── CaptureFailed(reason, returncode, stderr_tail)
        ├── CaptureCancelled                the user cancelled; every process was stopped
        ├── CaptureBusy                     another capture holds the lock
        ├── ConfigError                     the capture settings are wrong
        └── CaptureRefused                  captures are not allowed from here
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CaptureBusy",
    "CaptureCancelled",
    "CaptureFailed",
    "CaptureRefused",
    "ConfigError",
    "ExportFailed",
    "LlamaprofError",
    "NoData",
    "NotNormalizable",
    "NsysFailed",
    "NsysNotFound",
    "OptionError",
    "ReportParseError",
    "UnknownReportFormat",
    "WindowError",
]


class LlamaprofError(Exception):
    """Base class of every error llamaprof reports to a user as one line."""

    @property
    def reason(self) -> str:
        """The one-line message (subclasses with a path keep the reason without it)."""
        return str(self)


class ReportParseError(LlamaprofError):
    """A report file (or the capture record beside it) could not be read.

    ``transient``: the cause lies outside the file (nsys missing, an export that timed out),
    so a later try may read the same bytes; a cache of reasons must not keep it.
    """

    def __init__(self, path: str | Path, reason: str, *, transient: bool = False) -> None:
        self.path = Path(path)
        self._reason = reason
        self.transient = transient
        super().__init__(f"{self.path.name}: {reason}")

    @property
    def reason(self) -> str:
        return self._reason


class UnknownReportFormat(ReportParseError):
    """The file is none of the formats llamaprof reads."""


class NsysNotFound(LlamaprofError):
    """An operation needs the nsys executable and none was found."""


class _WithTail(LlamaprofError):
    """An error of an external program: its exit status and the last lines it printed."""

    def __init__(self, reason: str, returncode: int | None = None, stderr_tail: str = "") -> None:
        self._reason = reason
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(reason)

    @property
    def reason(self) -> str:
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value
        self.args = (value,)


class NsysFailed(_WithTail):
    """An nsys command failed; ``stderr_tail`` holds the end of what it printed."""


class ExportFailed(NsysFailed):
    """``nsys export`` failed, timed out or wrote nothing."""


class WindowError(LlamaprofError):
    """A time window that cannot apply: unknown phase, bad syntax, or a report without times."""


class NotNormalizable(LlamaprofError):
    """A run cannot be normalised: it has no capture record, or the record lacks the count.

    The message is the command line's (``--normalize per-token: ... (use --normalize none)``);
    ``reason`` says the same without the option, for the app.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self._reason = reason if reason is not None else message

    @property
    def reason(self) -> str:
        return self._reason


class NoData(LlamaprofError):
    """Nothing to print or compare (no run holds the report asked for)."""


class OptionError(LlamaprofError):
    """An option names something that is not there (a baseline that is none of the runs)."""


class CaptureFailed(_WithTail):
    """A capture (llama-server under nsys) did not complete."""


class CaptureCancelled(CaptureFailed):
    """The user cancelled the capture; every process was stopped and nothing was kept."""

    def __init__(
        self, reason: str = "capture cancelled; every process was stopped, nothing kept"
    ) -> None:
        super().__init__(reason)


class CaptureBusy(CaptureFailed):
    """Another capture is running; only one runs at a time."""


class ConfigError(CaptureFailed):
    """The capture settings are wrong before anything was started."""


class CaptureRefused(CaptureFailed):
    """Captures are not allowed here (the app listens off loopback, or they are switched off)."""
