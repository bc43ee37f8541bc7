"""The ways a capture ends early, beyond ``llamaprof.errors.CaptureFailed``."""

from __future__ import annotations

from llamaprof.errors import CaptureFailed


class CaptureCancelled(CaptureFailed):
    """The user cancelled the capture; every process was stopped and nothing was kept."""

    def __init__(self, reason: str = "capture cancelled; nothing was kept") -> None:
        super().__init__(reason)


class CaptureBusy(CaptureFailed):
    """Another capture is running; only one runs at a time."""


class ConfigError(CaptureFailed):
    """The capture settings are wrong before anything was started."""


class CaptureRefused(CaptureFailed):
    """Captures are not allowed here (the app listens off loopback, or they are switched off)."""
