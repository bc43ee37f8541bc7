"""``llamaprof.orphans.die_with_parent``: a child in a session of its own ends with llamaprof."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from llamaprof.orphans import die_with_parent

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

# A stand-in for llamaprof: starts the child as nsys.export_sqlite does (own session), prints
# its PID, then waits to be killed.
PARENT = """
import signal, subprocess, sys, time
from llamaprof.orphans import die_with_parent
child = subprocess.Popen(die_with_parent(["sleep", "100"], signal.SIGKILL), start_new_session=True)
print(child.pid, flush=True)
time.sleep(100)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_child_dies_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
        assert time.monotonic() < deadline, "the wrapper never became the command"
        time.sleep(0.02)  # the wrapper execs the command under the same PID
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, f"pid {child} outlived its parent"
        time.sleep(0.05)


def test_a_command_that_cannot_start_says_so_in_one_line(tmp_path):
    done = subprocess.run(
        die_with_parent([str(tmp_path / "no-such-program"), "x"]), capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        127,
        "",
        f"llamaprof: cannot start {tmp_path / 'no-such-program'}: No such file or directory\n",
    )


def test_the_command_runs_with_its_arguments_and_status():
    done = subprocess.run(die_with_parent(["sh", "-c", "echo $0 $1; exit 3", "a", "b c"]),
                          capture_output=True, text=True)  # fmt: skip
    assert (done.returncode, done.stdout) == (3, "a b c\n")
