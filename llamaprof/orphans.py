"""Children that end when llamaprof ends, without a ``preexec_fn``.

A child started in a session of its own (so that a Ctrl-C in the terminal reaches llamaprof
only, and llamaprof decides how to stop it) is not stopped by anything when llamaprof is
killed (SIGKILL, the OOM killer): an ``nsys export`` would go on writing, a llama-server run
without a profiler would keep its port and GPU memory. Linux's parent-death signal
(``prctl(PR_SET_PDEATHSIG)``) fixes that, but it must be set in the child, between fork and
exec, and a ``preexec_fn`` there is unsafe in a process with threads (the app's server), as
Python's documentation warns. So the child is first a tiny stdlib Python program that sets
the signal and then *becomes* the command (``exec``: same PID, same session), or says in one
line that it cannot start it (exit status 127).

The signal comes when the *thread* that started the child ends: start it from a thread that
lives as long as the child should.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["CANNOT_START", "die_with_parent"]

#: How the wrapper's one line starts when the command cannot be started.
CANNOT_START = "llamaprof: cannot start "

_WRAPPER = """\
import os, sys
parent, sig, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4:]
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG
except (ImportError, OSError, AttributeError):
    pass
if os.getppid() != parent:  # llamaprof died before the call: start nothing
    sys.exit(1)
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("llamaprof: cannot start %s: %s\\n" % (argv[0], exc.strerror or exc))
    sys.stderr.flush()
    os._exit(127)
"""


def die_with_parent(command: list[str], sig: int = signal.SIGTERM) -> list[str]:
    """``command``, started so that it gets ``sig`` when this process (its starting thread)
    dies; unchanged where Linux's parent-death signal does not exist.

    >>> die_with_parent(["nsys", "export"])[-2:]
    ['nsys', 'export']
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [
        sys.executable,
        "-I",  # isolated: no PYTHON* variables, no user site, not the working directory
        "-S",  # stdlib only
        "-c",
        _WRAPPER,
        str(os.getpid()),
        str(int(sig)),
        "--",
        *command,
    ]
