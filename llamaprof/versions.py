"""Asking a program for its version (``nsys --version``, ``llama-server --version``)."""

from __future__ import annotations

import subprocess


def version_output(
    executable: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> str:
    """What ``executable --version`` prints (stdout and stderr), or "" if it cannot be run."""
    try:
        done = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + "\n" + done.stderr
