"""The capture's supervisor (llamaprof/capture/supervisor.py), with small Python stand-ins
for nsys: what it passes on, what it reaps, and how it stops what is left.

The real nsys under it is in test_capture.py and test_real_nsys.py; these show the rules
one by one, fast, without nsys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from capture.processes import wait_until_none_left

from llamaprof.capture import supervisor
from llamaprof.capture.server import pid_alive, supervised

PYTHON = Path(sys.executable).name  # how the supervisor's log names these stand-ins (-c:
# a first argument is named only when it is a --long option, like nsys's --start-agent)

# A "nsys" that starts a detached daemon (double fork + setsid, as nsys starts its agent),
# writes the daemon's PID to argv[1], and exits with status 3. The daemon ignores SIGTERM
# when argv[2] == "stubborn", else runs until signalled.
DETACHING = """
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        if sys.argv[2] == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(sys.argv[1] + ".part", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".part", sys.argv[1])
        time.sleep(600)
    os._exit(0)
os.wait()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
sys.exit(3)
"""


def _run(command: list[str], log: Path, **popen) -> subprocess.Popen:
    """``command`` under the supervisor, with short linger and grace times."""
    return subprocess.Popen(
        supervised(command, linger_s=0.2, grace_s=0.5),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **popen,
    )


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _wait_for(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return int(path.read_text())


def test_passes_on_the_exit_status_and_reaps_a_detached_daemon(tmp_path, test_mark):
    """The daemon is reparented to the supervisor (not PID 1), gets SIGTERM once "nsys" has
    exited and the linger time has passed, and the supervisor exits with nsys's status."""
    log = tmp_path / "log"
    proc = _run([sys.executable, "-c", DETACHING, str(tmp_path / "pid"), "plain"], log)
    daemon = _wait_for(tmp_path / "pid")
    deadline = time.monotonic() + 10
    while _parent(daemon) != proc.pid:  # the intermediate process exits first
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert proc.wait(30) == 3
    assert not pid_alive(daemon)
    assert log.read_text().splitlines() == [
        f"llamaprof: still running after nsys exited: SIGTERM to {PYTHON} (PID {daemon})"
    ]
    assert wait_until_none_left(test_mark) == []


def test_a_daemon_that_ignores_sigterm_gets_sigkill(tmp_path, test_mark):
    log = tmp_path / "log"
    proc = _run([sys.executable, "-c", DETACHING, str(tmp_path / "pid"), "stubborn"], log)
    daemon = _wait_for(tmp_path / "pid")
    assert proc.wait(30) == 3
    assert not pid_alive(daemon)
    lines = log.read_text().splitlines()
    assert [line.split(" to ")[0] for line in lines] == [
        "llamaprof: still running after nsys exited: SIGTERM",
        "llamaprof: still running after nsys exited: SIGKILL",
    ]
    assert all(line.endswith(f"(PID {daemon})") for line in lines)
    assert wait_until_none_left(test_mark) == []


def test_sigint_is_passed_on_and_nsys_signal_death_too(tmp_path, test_mark):
    """SIGINT to the supervisor reaches "nsys"; nsys dying of it, so does the supervisor."""
    log = tmp_path / "log"
    ready = tmp_path / "ready"
    script = f"import pathlib, time\npathlib.Path({str(ready)!r}).touch()\ntime.sleep(600)\n"
    proc = _run([sys.executable, "-c", script], log)
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == -signal.SIGINT
    assert log.read_text().splitlines()[-1] == "KeyboardInterrupt"
    assert wait_until_none_left(test_mark) == []


def test_sigterm_stops_everything_step_by_step(tmp_path, test_mark):
    """SIGTERM (cancel, a hung nsys, llamaprof gone): SIGINT to nsys; what ignores it gets
    SIGTERM after the grace time, then SIGKILL."""
    log = tmp_path / "log"
    ready = tmp_path / "ready"
    script = (
        "import pathlib, signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(600)\n"
    )
    proc = _run([sys.executable, "-c", script], log)
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (child,) = [
        int(p.name)
        for p in Path("/proc").glob("[0-9]*")
        if (p / "stat").exists() and _safe_parent(p) == proc.pid
    ]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGKILL  # "nsys" died of SIGKILL: so does the supervisor
    assert log.read_text().splitlines() == [
        f"llamaprof: stopping nsys: SIGINT to {PYTHON} (PID {child})",
        f"llamaprof: still running 0.5 s after SIGINT: SIGTERM to {PYTHON} (PID {child})",
        f"llamaprof: still running after SIGTERM: SIGKILL to {PYTHON} (PID {child})",
    ]
    assert wait_until_none_left(test_mark) == []


def _safe_parent(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_command_that_cannot_start(tmp_path):
    log = tmp_path / "log"
    proc = _run([str(tmp_path / "no-nsys"), "profile"], log)
    assert proc.wait(10) == 127
    assert log.read_text() == (
        f"llamaprof: cannot start {tmp_path / 'no-nsys'}: No such file or directory\n"
    )


def test_supervisor_runs_isolated_from_the_environment(tmp_path):
    """It runs with -I -S: a PYTHONPATH or a broken site-packages cannot break it."""
    log = tmp_path / "log"
    (tmp_path / "signal.py").write_text("raise SystemExit('shadowed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = _run([sys.executable, "-c", "print('ran')"], log, env=env, cwd=tmp_path)
    assert proc.wait(10) == 0
    assert log.read_text() == "ran\n"


# A "nsys" whose target leaves a semaphore named after its PID in /dev/shm (as nsys's
# injection does) and ignores SIGINT and SIGTERM, so that only SIGKILL ends it.
LEAVES_SHM = """
import os, pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(f"/dev/shm/sem.nsys_sem_{os.getpid()}").write_bytes(b"x" * 32)
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(600)
"""


def test_what_a_killed_nsys_leaves_in_dev_shm_is_removed(tmp_path, test_mark):
    log = tmp_path / "log"
    proc = _run([sys.executable, "-c", LEAVES_SHM, str(tmp_path / "pid")], log)
    child = _wait_for(tmp_path / "pid")
    time.sleep(1.2)  # the supervisor looks at its tree once a second
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGKILL
    assert not Path(f"/dev/shm/sem.nsys_sem_{child}").exists()
    assert log.read_text().splitlines()[-1] == (
        f"llamaprof: removed what nsys left in /dev/shm: sem.nsys_sem_{child}"
    )
    assert wait_until_none_left(test_mark) == []


def test_nsys_session_registry_removed_only_when_no_nsys_runs(tmp_path, monkeypatch):
    """nsys 2022.4's /dev/shm/NSys-<version> is removed after a kill only while no nsys
    process runs anywhere (another user's session would still need it)."""
    monkeypatch.setattr(supervisor, "_SHM", str(tmp_path))
    registry = tmp_path / "NSys-2022.4.2.1"
    sup = supervisor.Supervisor(["nsys"], linger_s=1, grace_s=1)
    sup.killed = True
    registry.write_bytes(b"")
    monkeypatch.setattr(supervisor, "_nsys_running", lambda: True)
    sup.clean_shm()
    assert registry.exists()
    monkeypatch.setattr(supervisor, "_nsys_running", lambda: False)
    sup.killed = False  # a clean end: nsys removed it itself, or another session owns it
    sup.clean_shm()
    assert registry.exists()
    sup.killed = True
    sup.clean_shm()
    assert not registry.exists()


def test_a_supervisor_whose_parent_is_gone_starts_nothing(tmp_path):
    """``--parent`` names the llamaprof process: when the supervisor's parent is another one
    (llamaprof died before the supervisor could ask the kernel for a signal on its death),
    it starts nothing and exits 1."""
    marker = tmp_path / "started"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", supervisor.__file__, "--parent=1", "--", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "llamaprof: llamaprof exited before the capture started; nothing started\n",
    )
    assert not marker.exists()
    here = subprocess.run(
        [sys.executable, "-I", "-S", supervisor.__file__, f"--parent={os.getpid()}", "--",
         *command],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert here.returncode == 0 and marker.exists()
