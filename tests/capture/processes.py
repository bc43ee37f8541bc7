"""The process table, as the capture tests read it: what a test started and left running.

Each capture test runs with its own mark in the environment (``MARK_ENV``). Every process it
starts inherits it, wherever it ends up in the process tree: nsys's agent detaches itself
(parent PID 1 without a subreaper), llama-server runs in a session of its own. So "nothing
of the test is left" is: no live process carries the mark.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from llamaprof.capture.server import descendants

MARK_ENV = "LLAMAPROF_TEST_MARK"


def marked_processes(mark: str) -> list[str]:
    """``PID STATE COMMAND`` of every live process whose environment holds ``mark``: all
    that a test started, wherever they were reparented (nsys's agent detaches itself)."""
    wanted = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ and state not in ("Z", "X") and int(entry.name) != os.getpid():
            found.append(f"{entry.name} {state} {_cmdline(int(entry.name))}")
    return found


def wait_until_none_left(mark: str, timeout_s: float = 15) -> list[str]:
    """Poll the process table until no process of the test runs, and no child of this
    process is a zombie (the app runs captures in its long-lived process: none may pile
    up there), or the deadline passes; returns what is left, [] when nothing is."""
    deadline = time.monotonic() + timeout_s
    while True:
        below = descendants(os.getpid())
        left = (
            marked_processes(mark)
            + [f"{p} {_cmdline(p)}" for p in below if _alive(p)]
            + [f"{p} <defunct>" for p in below if _state(p) == "Z"]
        )
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return str(pid)
